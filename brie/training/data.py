"""Where a run's data is: a registered dataset (its exact version) or a folder, and the guard's file."""

from __future__ import annotations

from pathlib import Path

from brie.errors import BrieError
from brie.workspace import Workspace


def resolve_data(ws: Workspace, data: str) -> tuple[Path, dict | None]:
    """(folder with train/valid/test.jsonl, dataset row or None) for a dataset name or a folder."""
    from brie.data.datasets import get_dataset

    row = None
    path = ws.find(data)
    if path.is_dir():
        folder = path.resolve()
    else:
        try:
            row = get_dataset(ws, data)
        except BrieError:
            raise BrieError(f"--data {data!r}: no dataset of that name (see `brie data list`) and no such folder") from None
        folder = Path(row["path"])
    if not (folder / "train.jsonl").exists():
        raise BrieError(f"{folder}: no train.jsonl (a training folder needs train.jsonl, ideally valid.jsonl)")
    return folder, row


def guard_file(ws: Workspace, guard: str) -> Path:
    """The held-out file of the forgetting guard: its valid.jsonl, else test.jsonl, else a .jsonl file."""
    path = ws.find(guard)
    if path.is_file():
        return path
    if path.is_dir():
        folder = path
    else:
        from brie.data.datasets import get_dataset

        try:
            row = get_dataset(ws, guard)
        except BrieError:
            raise BrieError(f"--guard-data {guard!r}: no dataset of that name (see `brie data list`), "
                            "no such folder or .jsonl file") from None
        folder = Path(row["path"])
    for name in ("valid.jsonl", "test.jsonl", "train.jsonl"):
        if (folder / name).exists():
            return folder / name
    raise BrieError(f"--guard-data {guard!r}: no valid.jsonl, test.jsonl or train.jsonl in {folder}")


def count_rows(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())
