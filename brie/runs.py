"""Looking after finished runs: which checkpoints to keep, deleting the rest."""

from __future__ import annotations

import shutil

from brie.errors import BrieError
from brie.store import runs as run_rows
from brie.workspace import Workspace

KEEP_WORDS = ("best", "last", "recommended")


def prune_plan(ws: Workspace, run: dict, keep: str) -> list[dict]:
    """The checkpoints `prune` would delete: all but those named in `keep` (words or step numbers)."""
    if run["status"] in ("pending", "running"):
        raise BrieError(f"run {run['name']!r} is {run['status']}; prune it when it has finished")
    ckpts = run_rows.list_checkpoints(ws.store, run["id"])
    if not ckpts:
        return []
    kept: set[int] = set()
    for word in (w.strip() for w in keep.split(",") if w.strip()):
        if word.isdigit():
            kept.add(int(word))
        elif word == "last":
            kept.add(ckpts[-1]["step"])
        elif word in ("best", "recommended"):
            if run[f"{word}_step"] is not None:
                kept.add(run[f"{word}_step"])
        else:
            raise BrieError(f"--keep {word!r}: use best, last, recommended or step numbers")
    if not kept:
        raise BrieError(f"--keep {keep!r} keeps no checkpoint of {run['name']!r}; refusing to delete them all")
    return [c for c in ckpts if c["step"] not in kept]


def prune(ws: Workspace, run: dict, doomed: list[dict]) -> None:
    """Forget each checkpoint, then delete its folder (a crash in between leaves only a stray folder)."""
    for c in doomed:
        run_rows.delete_checkpoint(ws.store, run["id"], c["step"])
        shutil.rmtree(ws.root / c["path"], ignore_errors=True)
