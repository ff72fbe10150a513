"""Looking after finished runs: which checkpoints to keep, deleting the rest, deleting whole runs."""

from __future__ import annotations

import os
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path

from brie.errors import BrieError
from brie.store import runs as run_rows
from brie.words import plural
from brie.workspace import Workspace

KEEP_WORDS = ("best", "last", "recommended")


def size_text(n_bytes: int) -> str:
    """Bytes in binary units, labelled as such (1 MiB = 1024² bytes)."""
    n = float(n_bytes)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def prune_plan(ws: Workspace, run: dict, keep: str, force: bool = False) -> list[dict]:
    """The checkpoints `prune` would delete: all but those named in `keep` (words or step numbers)
    and, unless `force`, those that generations, judgments or evaluations were made from (deleting
    them would leave those rows naming a checkpoint that is gone). Each comes with "references":
    what was made from it, as `run_references` counts it (empty for one nothing refers to)."""
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
    if not kept & {c["step"] for c in ckpts}:
        raise BrieError(f"--keep {keep!r} keeps no checkpoint of {run['name']!r}; refusing to delete them all "
                        f"(use `brie runs delete {run['name']}` to delete the whole run)")
    doomed = [{**c, "references": run_rows.run_references(ws.store, run["name"], c["step"])}
              for c in ckpts if c["step"] not in kept]
    return doomed if force else [c for c in doomed if not c["references"]]


def checkpoint_references_text(ckpts: list[dict]) -> str:
    """'2 (1 eval result), 4 (1 generation, 1 comparison)': what was made from each checkpoint."""
    return ", ".join(f"{c['step']} ({references_text(c['references'])})" for c in ckpts)


def prune_notes(run: dict, doomed: list[dict]) -> list[str]:
    """What deleting `doomed` does to the run's best and recommended checkpoints, in words."""
    steps = {c["step"] for c in doomed}
    notes = []
    if run["recommended_step"] in steps:
        notes.append(f"the recommended checkpoint (step {run['recommended_step']}) goes: {run['name']} will have "
                     f"no recommended checkpoint until you mark one (`brie runs recommend {run['name']} <step>`)")
    if run["best_step"] in steps:
        notes.append(f"the best checkpoint (step {run['best_step']}) goes: it stays recorded as the best, "
                     f"but {run['name']}@best will no longer load")
    return notes


def prune(ws: Workspace, run: dict, doomed: list[dict], force: bool = False) -> list[dict]:
    """Forget each checkpoint, then delete its folder (a crash in between leaves only a stray folder);
    return those kept because, unless `force`, something was made from them since the plan (another
    process may have evaluated one while the user read the plan).

    A recommended checkpoint that goes is unmarked first, so the run never points at a deleted one.
    The best step stays recorded (it is a fact about the training); `<run>@best` then says it was pruned.
    """
    kept = []
    for c in doomed:
        if not force and not c["references"] and run_rows.run_references(ws.store, run["name"], c["step"]):
            kept.append(c)
            continue
        if c["step"] == run["recommended_step"]:
            run_rows.clear_recommended(ws.store, run["id"])
        run_rows.delete_checkpoint(ws.store, run["id"], c["step"])
        shutil.rmtree(ws.root / c["path"], ignore_errors=True)
    return kept


# ---------------------------------------------------------------- deleting a whole run


@dataclass
class DeletePlan:
    run: dict
    folder: Path
    size_bytes: int
    checkpoints: list[int]
    references: dict[str, int] = field(default_factory=dict)  # other areas' rows about its checkpoints

    def describe(self) -> str:
        what = f"run {self.run['name']} ({self.run['status']}): {self.folder}"
        if self.folder.exists():
            what += f" ({size_text(self.size_bytes)})"
        else:
            what += " (folder already gone)"
        what += ", " + (plural(len(self.checkpoints), "checkpoint") + " (" + ", ".join(map(str, self.checkpoints)) + ")"
                        if self.checkpoints else "no checkpoints")
        if self.references:
            what += "; and what refers to it: " + references_text(self.references)
        return what


def references_text(refs: dict[str, int]) -> str:
    """'1 generation, 3 judgments' (the keys are plural nouns)."""
    return ", ".join(plural(n, k[:-1], k) for k, n in refs.items())


def cancel_run(ws: Workspace, name: str) -> int:
    """Ask a run's process to stop (SIGTERM, as the UI does): `brie train` then marks the run
    cancelled and exits, its checkpoints kept for `--resume`. Returns the process id."""
    import signal

    from brie.training.lifecycle import alive

    run = run_rows.get_run(ws.store, name)
    if run is None:
        raise BrieError(f"no run named {name!r} (see `brie runs list`)")
    if run["status"] not in run_rows.ACTIVE:
        raise BrieError(f"run {name!r} is not running (it is {run['status']})")
    if run["host"] not in (None, socket.gethostname()):
        raise BrieError(f"run {name!r} runs on {run['host']} (process {run['pid']}); cancel it there")
    if run["pid"] is None or run["pid"] == os.getpid() or not alive(run["pid"]):
        raise BrieError(f"run {name!r} has no live process; the next `brie train` or `brie runs list` marks it failed")
    os.kill(run["pid"], signal.SIGTERM)
    return run["pid"]


def delete_plan(ws: Workspace, name: str, force: bool = False) -> DeletePlan:
    """What `brie runs delete` would remove; refuses a live run, and (without force) a referenced one."""
    from brie.training.lifecycle import alive

    run = run_rows.get_run(ws.store, name)
    if run is None:
        raise BrieError(f"no run named {name!r} (see `brie runs list`)")
    if run["status"] in run_rows.ACTIVE and run["pid"] is not None:
        if run["host"] not in (None, socket.gethostname()):
            raise BrieError(f"run {name!r} is {run['status']} on {run['host']} (process {run['pid']}); "
                            "stop it there first")
        if alive(run["pid"]) and run["pid"] != os.getpid():
            raise BrieError(f"run {name!r} is {run['status']} (process {run['pid']} is alive); "
                            f"stop it first: `brie runs cancel {name}`")
    folder = ws.root / run["path"]
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0
    steps = [c["step"] for c in run_rows.list_checkpoints(ws.store, run["id"])]
    refs = run_rows.run_references(ws.store, name)
    if refs and not force:
        raise BrieError(f"run {name!r} is referenced by {references_text(refs)}"
                        + f" made from its checkpoints; `brie runs delete {name} --force` deletes those too")
    return DeletePlan(run, folder, size, steps, refs)


def delete_run(ws: Workspace, plan: DeletePlan) -> None:
    """Remove the run: its folder is first renamed aside (so a failure leaves nothing half-deleted
    under its name), then its rows go in one transaction, then the renamed folder."""
    run = plan.run
    aside = None
    if plan.folder.exists():
        aside = plan.folder.with_name(f".deleting-{plan.folder.name}-{os.getpid()}")
        os.rename(plan.folder, aside)
    try:
        run_rows.delete_run(ws.store, run["id"], run["name"])
    except BaseException:
        if aside is not None:
            os.rename(aside, plan.folder)
        raise
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)
