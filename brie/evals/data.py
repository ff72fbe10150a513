"""Benchmark data from a local file or a Hugging Face dataset id."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

from brie.errors import BrieError

# Copies of the benchmark files brie uses by default, with their licences, so they work offline.
SHIPPED = Path(__file__).resolve().with_name("benchmarks")


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise BrieError(f"{path}:{n}: invalid JSON ({e.msg})") from None
            if not isinstance(row, dict):
                raise BrieError(f"{path}:{n}: expected a JSON object per line")
            rows.append(row)
    if not rows:
        raise BrieError(f"{path}: no rows")
    return rows


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def hub_reachable(timeout: float = 3.0) -> str | None:
    """None when the Hugging Face hub (HF_ENDPOINT, default huggingface.co) accepts a connection,
    else why not. Without this check `datasets` spends ~25 s in retries before saying it is offline."""
    url = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host, port = url.hostname or "huggingface.co", url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return None
    except OSError as e:
        return f"cannot reach {host}:{port} ({e.strerror or type(e).__name__})"


def go_offline_if_unreachable(what: str, instead: str) -> bool:
    """True when the hub is not to be used: HF_HUB_OFFLINE / HF_DATASETS_OFFLINE is set, or the hub
    does not answer — then HF_HUB_OFFLINE is set for this process so `datasets` tries its cache
    alone, with no retries. `datasets` reads the flag once, when imported; if it already was, no
    cache lookup is possible and this raises "<what>: <why>; <instead>" at once."""
    if _truthy("HF_HUB_OFFLINE") or _truthy("HF_DATASETS_OFFLINE"):
        return True
    why = hub_reachable()
    if why is None:
        return False
    if "datasets" in sys.modules:
        raise BrieError(f"{what}: {why}; {instead}")
    os.environ["HF_HUB_OFFLINE"] = "1"
    return True


def load_records(source: str, split: str = "test", config: str | None = None,
                 local_hint: str | None = None) -> list[dict]:
    """Rows from a .jsonl/.json file, else from the hub through `datasets` (cached or downloaded).

    Offline (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE, or no connection to the hub) only a cached copy
    can load, and a miss fails at once, saying to pass a local file (`local_hint`: an example).
    """
    path = Path(source).expanduser()
    if path.is_file():
        if path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, list):
                raise BrieError(f"{path}: expected a JSON list of objects")
            return data
        return read_jsonl(path)
    if path.exists() or "/" not in source or source.startswith((".", "/", "~")):
        raise BrieError(f"{source!r}: no such file, and not a Hugging Face dataset id (owner/name)")
    use_file = f"pass a local file instead, e.g. {local_hint}" if local_hint else "pass a local .jsonl file instead"
    offline = go_offline_if_unreachable(f"cannot load dataset {source!r}", use_file)
    try:
        import datasets

        return list(datasets.load_dataset(source, config, split=split))
    except Exception as e:  # datasets raises many kinds; one line is what helps
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        if offline:
            raise BrieError(f"cannot load dataset {source!r}: offline and not in the Hugging Face cache; "
                            f"{use_file}") from None
        raise BrieError(f"cannot load dataset {source!r} (split {split}): {first}") from None
