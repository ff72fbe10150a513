"""Benchmark data from a local file or a Hugging Face dataset id."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

from brie.errors import BrieError

# Copies of the benchmark files brie uses by default, with their licences, so they work offline.
SHIPPED = Path(__file__).resolve().with_name("benchmarks")
NEWLINE = b"\n"


def _where(path: Path, line: int | None) -> str:
    return f"{path}:{line}" if line is not None else str(path)


def parse_json(text: str, path: Path, line: int | None = None):
    """One JSON document, read as data import reads it (brie.data.read.parse_json: NaN, too deep
    nesting, huge integers and lone surrogates refused); anything malformed is a BrieError naming
    the file, the line and what is wrong."""
    from brie.data.read import JsonProblem, parse_json as parse

    try:
        return parse(text)
    except JsonProblem as e:
        at = line if line is not None else e.line
        raise BrieError(f"{_where(path, at)}: {e}") from None


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise BrieError(f"{path}: cannot read ({e.strerror or type(e).__name__})") from None


def _decode(raw: bytes, path: Path, line: int | None = None) -> str:
    """UTF-8 text (a leading byte-order mark dropped); other bytes are a BrieError naming where."""
    try:
        return raw.decode("utf-8-sig" if line in (None, 1) else "utf-8")
    except UnicodeDecodeError as e:
        at = f"{path}:{line if line is not None else raw.count(NEWLINE, 0, e.start) + 1}"
        raise BrieError(f"{at}: not UTF-8 (byte 0x{raw[e.start]:02x}); save the file as UTF-8") from None


def read_jsonl_located(path: Path) -> list[tuple[str, dict]]:
    """("file:line", row) for each non-blank line of a JSONL file, each line a JSON object."""
    rows = []
    for n, raw in enumerate(_read_bytes(path).split(NEWLINE), 1):
        line = _decode(raw, path, n)
        if not line.strip():
            continue
        row = parse_json(line, path, n)
        if not isinstance(row, dict):
            raise BrieError(f"{path}:{n}: expected a JSON object per line, got {type(row).__name__}")
        rows.append((f"{path}:{n}", row))
    if not rows:
        raise BrieError(f"{path}: no rows")
    return rows


def read_jsonl(path: Path) -> list[dict]:
    return [row for _, row in read_jsonl_located(path)]


def read_json_list_located(path: Path) -> list[tuple[str, dict]]:
    """("file: item N", row) for each object of a .json file holding a list of objects."""
    data = parse_json(_decode(_read_bytes(path), path), path)
    if not isinstance(data, list):
        raise BrieError(f"{path}: expected a JSON list of objects, got {type(data).__name__}")
    for n, row in enumerate(data, 1):
        if not isinstance(row, dict):
            raise BrieError(f"{path}: item {n} of the list is {type(row).__name__}, not an object")
    if not data:
        raise BrieError(f"{path}: no rows")
    return [(f"{path}: item {n}", row) for n, row in enumerate(data, 1)]


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


def load_located(source: str, split: str = "test", config: str | None = None,
                 local_hint: str | None = None) -> list[tuple[str, dict]]:
    """(where, row) pairs from a .jsonl/.json file, else from the hub through `datasets` (cached or
    downloaded); `where` names the file and line (or the dataset and row) for error messages.

    Offline (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE, or no connection to the hub) only a cached copy
    can load, and a miss fails at once, saying to pass a local file (`local_hint`: an example).
    """
    path = Path(source).expanduser()
    if path.is_file():
        if path.suffix == ".json":
            return read_json_list_located(path)
        return read_jsonl_located(path)
    if path.exists() or "/" not in source or source.startswith((".", "/", "~")):
        raise BrieError(f"{source!r}: no such file, and not a Hugging Face dataset id (owner/name)")
    use_file = f"pass a local file instead, e.g. {local_hint}" if local_hint else "pass a local .jsonl file instead"
    offline = go_offline_if_unreachable(f"cannot load dataset {source!r}", use_file)
    try:
        import datasets

        rows = list(datasets.load_dataset(source, config, split=split))
    except Exception as e:  # datasets raises many kinds; one line is what helps
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        if offline:
            raise BrieError(f"cannot load dataset {source!r}: offline and not in the Hugging Face cache; "
                            f"{use_file}") from None
        raise BrieError(f"cannot load dataset {source!r} (split {split}): {first}") from None
    return [(f"{source} ({split}) row {n}", row) for n, row in enumerate(rows, 1)]


def load_records(source: str, split: str = "test", config: str | None = None,
                 local_hint: str | None = None) -> list[dict]:
    """The rows of load_located, without where they came from."""
    return [row for _, row in load_located(source, split, config, local_hint)]
