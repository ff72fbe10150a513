"""Model specs — `base`, `<run>@<step>`, `<run>@best|last|recommended` — resolved to a checkpoint identity.

Every generation, verdict and eval result points at run + step + sha256 of the adapter file. The
hash is checked against the file on disk each time a spec is resolved, so a moved folder or a
symlink to another checkpoint is caught instead of silently evaluated.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from brie.errors import BrieError
from brie.store import runs as run_rows
from brie.workspace import Workspace

ADAPTER_FILE = "adapters.safetensors"


@dataclass(frozen=True)
class ModelSpec:
    label: str  # what the user and the exports see: "base" or "brie-v2@290"
    model: str  # the base model reference (registered name, folder or hub id)
    run: str | None = None
    step: int | None = None
    adapter_path: str | None = None  # the checkpoint folder, for mlx_lm.load(adapter_path=…)
    adapter_sha256: str | None = None

    @property
    def is_base(self) -> bool:
        return self.run is None


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def checkpoint_steps(ws: Workspace, run_name: str, spec: str | None = None) -> list[int]:
    """The step of every checkpoint of run `run_name`, in step order (what `RUN@*` and `brie eval
    --sweep` take); a BrieError, naming `spec` (what the user typed) when given, if the run is
    unknown or has no checkpoint yet."""
    where = spec or run_name
    run = run_rows.get_run(ws.store, run_name)
    if run is None:
        raise BrieError(f"{where!r}: no run named {run_name!r} (see `brie runs list`)")
    steps = [c["step"] for c in run_rows.list_checkpoints(ws.store, run["id"])]
    if not steps:
        raise BrieError(f"{where!r}: run {run_name!r} has no checkpoints yet")
    return steps


def resolve_spec(ws: Workspace, spec: str, base_model: str | None = None) -> ModelSpec:
    """Turn a spec the user typed into a ModelSpec; `base` needs base_model (else the default model)."""
    spec = spec.strip()
    if spec == "base":
        from brie.models.registry import DEFAULT_MODEL

        return ModelSpec(label="base", model=base_model or DEFAULT_MODEL)
    run_name, _, which = spec.partition("@")
    run = run_rows.get_run(ws.store, run_name)
    if run is None:
        raise BrieError(f"{spec!r}: no run named {run_name!r} (see `brie runs list`)")
    which = which or "best"
    checkpoints = run_rows.list_checkpoints(ws.store, run["id"])
    if not checkpoints:
        raise BrieError(f"{spec!r}: run {run_name!r} has no checkpoints yet")
    if which.isdigit():
        step = int(which)
    elif which in ("best", "recommended"):
        step = run[f"{which}_step"]
        if step is None:
            hint = (f"; mark one with `brie runs recommend {run_name} <step>`" if which == "recommended" else "")
            raise BrieError(f"{spec!r}: run {run_name!r} has no {which} checkpoint{hint}")
        if not any(c["step"] == step for c in checkpoints):
            # best/recommended are only ever set to a registered checkpoint: so it was deleted since
            steps = ", ".join(str(c["step"]) for c in checkpoints)
            raise BrieError(f"{spec!r}: the {which} checkpoint of {run_name!r} (step {step}) was pruned; "
                            f"it has: {steps}")
    elif which == "last":
        step = checkpoints[-1]["step"]
    else:
        raise BrieError(f"{spec!r}: after @ give a step number, best, last or recommended")
    row = next((c for c in checkpoints if c["step"] == step), None)
    if row is None:
        steps = ", ".join(str(c["step"]) for c in checkpoints)
        raise BrieError(f"{spec!r}: run {run_name!r} has no checkpoint at step {step} (it has: {steps})")
    folder = ws.path_of(row["path"])
    weights = folder / ADAPTER_FILE
    if not weights.exists():
        raise BrieError(f"{spec!r}: adapter file missing: {weights}")
    actual = sha256_file(weights)
    if actual != row["adapter_sha256"]:
        raise BrieError(
            f"{spec!r}: {weights} does not match the registered checkpoint "
            f"(sha256 {actual[:12]}… on disk, {row['adapter_sha256'][:12]}… registered)"
        )
    return ModelSpec(label=f"{run_name}@{step}", model=run["model"], run=run_name, step=step,
                     adapter_path=str(folder), adapter_sha256=actual)


def resolve_specs(ws: Workspace, specs: str, base_model: str | None = None) -> list[ModelSpec]:
    """A comma-separated list; `base` means the base model of the runs named alongside it."""
    parts = [p for p in (s.strip() for s in specs.split(",")) if p]
    resolved = {p: resolve_spec(ws, p) for p in parts if p != "base"}
    bases = {s.model for s in resolved.values()}
    if base_model is None and len(bases) == 1:
        base_model = bases.pop()
    elif base_model is None and len(bases) > 1:
        raise BrieError(f"runs {', '.join(resolved)} have different base models; say which with --base-model")
    return [resolve_spec(ws, p, base_model) if p == "base" else resolved[p] for p in parts]
