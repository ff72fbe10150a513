"""Benchmark data from a local file or a Hugging Face dataset id."""

from __future__ import annotations

import json
from pathlib import Path

from brie.errors import BrieError


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


def load_records(source: str, split: str = "test", config: str | None = None) -> list[dict]:
    """Rows from a .jsonl/.json file, else from the hub through `datasets` (cached or downloaded)."""
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
    try:
        import datasets

        return list(datasets.load_dataset(source, config, split=split))
    except Exception as e:  # datasets raises many kinds; one line is what helps
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise BrieError(f"cannot load dataset {source!r} (split {split}): {first}") from None
