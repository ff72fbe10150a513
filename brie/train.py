"""Training runs: creating them, running them (through an engine), resuming them, reaping dead ones.

The engines (brie/train_mlx.py, brie/train_torch.py) only train; this module owns the run folder,
the store records, checkpoints (written to a temporary folder and renamed), early stopping and the
forgetting guard, so both engines behave the same.

A run is `runs/<run>/`:
    config.yaml                 the resolved TrainConfig
    adapters.safetensors        the latest checkpoint's adapter (so --adapter-path runs/<run> works)
    adapter_config.json
    metrics.jsonl               one line per report / evaluation
    checkpoints/<step>/         adapters.safetensors + adapter_config.json (mlx_lm.load loads it),
                                optimizer.safetensors, trainer_state.json (step, data position,
                                RNG seed, early-stopping state)
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from brie.checkpoints import ADAPTER_FILE, sha256_file
from brie.errors import BrieError
from brie.words import plural
from brie.store import runs as run_rows
from brie.store import utcnow
from brie.train_config import TrainConfig
from brie.workspace import Workspace

NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
STATE_FILE = "trainer_state.json"
CONFIG_FILE = "adapter_config.json"


class TrainCallback:
    """What a training run tells its caller. The CLI draws a progress bar; tests kill the process."""

    def on_start(self, run: dict, start_step: int, total_steps: int) -> None: ...
    def on_step(self, step: int) -> None: ...
    def on_report(self, step: int, metrics: dict) -> None: ...
    def on_eval(self, step: int, metrics: dict) -> None: ...
    def on_checkpoint(self, step: int, row: dict) -> None: ...
    def on_message(self, text: str) -> None: ...
    def on_end(self, run: dict) -> None: ...


def rng_seed(seed: int, step: int) -> int:
    """The seed the random state is reset to after the checkpoint at `step`.

    MLX cannot set its global random key back to a saved value, so instead every run reseeds at
    each checkpoint from (seed, step); a resumed run reseeds the same way and draws the same dropout
    masks as the run that was never interrupted.
    """
    return (seed * 1_000_003 + step) % (2**31)


# ---------------------------------------------------------------- data


def resolve_data(ws: Workspace, data: str) -> tuple[Path, dict | None]:
    """(folder with train/valid/test.jsonl, dataset row or None) for a dataset name or a folder."""
    from brie.datasets import get_dataset

    row = None
    path = Path(data).expanduser()
    if path.is_dir():
        folder = path.resolve()
    else:
        try:
            row = get_dataset(ws, data)
        except BrieError:
            raise BrieError(f"--data {data!r}: no dataset of that name (see `brie data list`) and no such folder") from None
        folder = Path(row["path"])
        if not folder.is_absolute():
            folder = ws.root / folder
    if not (folder / "train.jsonl").exists():
        raise BrieError(f"{folder}: no train.jsonl (a training folder needs train.jsonl, ideally valid.jsonl)")
    return folder, row


def guard_file(ws: Workspace, guard: str) -> Path:
    """The held-out file of the forgetting guard: its valid.jsonl, else test.jsonl, else a .jsonl file."""
    path = Path(guard).expanduser()
    if path.is_file():
        return path
    if path.is_dir():
        folder = path
    else:
        from brie.datasets import get_dataset

        try:
            row = get_dataset(ws, guard)
        except BrieError:
            raise BrieError(f"--guard-data {guard!r}: no dataset of that name (see `brie data list`), "
                            "no such folder or .jsonl file") from None
        folder = Path(row["path"]) if Path(row["path"]).is_absolute() else ws.root / row["path"]
    for name in ("valid.jsonl", "test.jsonl", "train.jsonl"):
        if (folder / name).exists():
            return folder / name
    raise BrieError(f"--guard-data {guard!r}: no valid.jsonl, test.jsonl or train.jsonl in {folder}")


# ---------------------------------------------------------------- creating runs


def pick_backend(requested: str) -> str:
    """mlx on Apple Silicon; torch where CUDA is present; otherwise mlx (faster than torch on CPU here)."""
    if requested != "auto":
        return requested
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return "mlx"
    # No NVIDIA driver, no CUDA: skip importing torch (seconds, and its own threads and memory).
    if not Path("/proc/driver/nvidia").exists() and not shutil.which("nvidia-smi"):
        return "mlx"
    try:
        import torch

        if torch.cuda.is_available():
            return "torch"
    except ImportError:
        pass
    return "mlx"


def _free_name(ws: Workspace, name: str, suffix: bool) -> str:
    def taken(n: str) -> bool:
        return run_rows.get_run(ws.store, n) is not None or (ws.runs_dir / n).exists()

    if not taken(name):
        return name
    if not suffix:
        raise BrieError(f"run {name!r} already exists (runs are never overwritten); pick another --name, "
                        "add --suffix to get one, or --resume it")
    n = 2
    while taken(f"{name}-{n}"):
        n += 1
    return f"{name}-{n}"


def _count_rows(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


# What each engine imports, and the install line that provides it.
BACKEND_PACKAGES = {
    "torch": (("torch", "transformers", "peft", "accelerate", "mlx_lm"), "pip install 'brie[cuda]'"),
    "mlx": (("mlx.core", "mlx_lm"), "pip install mlx mlx-lm (on Linux: pip install 'mlx[cpu]' mlx-lm)"),
}


def check_backend(cfg: TrainConfig) -> None:
    """The engine's packages import, and it supports the options asked for (cfg.backend is resolved)."""
    import importlib

    names, fix = BACKEND_PACKAGES[cfg.backend]
    missing = []
    for module in names:
        try:
            importlib.import_module(module)
        except ImportError:  # also a package set to None in sys.modules, or one whose own imports fail
            missing.append(module.split(".")[0])
    if missing:
        raise BrieError(f"--backend {cfg.backend} needs {', '.join(missing)}, which cannot be imported; {fix}")
    if cfg.backend == "torch":
        from brie.train_torch import check_options
    else:
        from brie.train_mlx import check_options
    check_options(cfg)
    rank, size = launch_rank()
    if size > 1 and cfg.batch_size % size:
        raise BrieError(f"batch_size={cfg.batch_size}: with {size} processes it must be a multiple of {size} "
                        "(each process takes an equal share of every batch)")


def preflight(ws: Workspace, cfg: TrainConfig, data_path: Path) -> None:
    """Every check that can be made before a run exists, so a mistake never leaves a failed run
    behind (and its name taken): the engine's packages and options, model, data size, layers,
    reporting packages, early stopping."""
    import importlib.util

    from brie.models import resolve_model

    check_backend(cfg)
    if cfg.guard_data:
        guard_file(ws, cfg.guard_data)
    target = Path(resolve_model(ws, cfg.model))
    n_train = _count_rows(data_path / "train.jsonl")
    if n_train == 0:
        raise BrieError(f"{data_path / 'train.jsonl'}: no examples")
    if n_train < cfg.batch_size:
        raise BrieError(f"{data_path / 'train.jsonl'}: {plural(n_train, 'example')}, fewer than "
                        f"batch_size={cfg.batch_size}; lower --batch-size to {n_train} or less")
    if cfg.early_stopping_patience is not None and _count_rows(data_path / "valid.jsonl") == 0:
        raise BrieError(f"early_stopping_patience={cfg.early_stopping_patience}: early stopping watches the "
                        f"validation loss, and {data_path / 'valid.jsonl'} is missing or empty")
    if cfg.num_layers != -1 and (target / "config.json").exists():
        layers = json.loads((target / "config.json").read_text()).get("num_hidden_layers")
        if isinstance(layers, int) and cfg.num_layers > layers:
            raise BrieError(f"num_layers={cfg.num_layers}: the model has only {plural(layers, 'layer')} (-1 for all)")
    for target_name in [t.strip().lower() for t in (cfg.report_to or "").split(",") if t.strip()]:
        if target_name == "wandb" and importlib.util.find_spec("wandb") is None:
            raise BrieError("--report-to wandb needs wandb (pip install wandb)")
        if target_name == "tensorboard" and not any(importlib.util.find_spec(m) for m in ("tensorboard", "tensorboardX")):
            raise BrieError("--report-to tensorboard needs tensorboard (pip install tensorboard torch) or tensorboardX")


# ---------------------------------------------------------------- several processes


def launch_rank() -> tuple[int, int]:
    """(rank, number of processes) of this process: `accelerate launch` and torchrun set RANK and
    WORLD_SIZE, `mlx.launch` sets MLX_RANK (its size is the group's); (0, 1) when run alone."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return int(os.environ.get("RANK", "0")), int(os.environ["WORLD_SIZE"])
    if "MLX_RANK" in os.environ:
        import mlx.core as mx

        group = mx.distributed.init()
        return group.rank(), group.size()
    return 0, 1


def share(backend: str, value):
    """The main process's `value`, on every process of a launch (the others pass None)."""
    if backend == "torch":
        import torch
        from accelerate import PartialState
        from accelerate.utils import broadcast_object_list

        # joins the process group the launcher set up (gloo without CUDA, as train_torch's Accelerator)
        PartialState(cpu=not torch.cuda.is_available())
        box = [value]
        broadcast_object_list(box, from_process=0)
        return box[0]
    import pickle

    import mlx.core as mx
    import numpy as np

    # mx.distributed has no broadcast: every rank adds its bytes, and only rank 0's are not zeros.
    group = mx.distributed.init()
    data = np.frombuffer(pickle.dumps(value), np.uint8) if group.rank() == 0 else np.zeros(0, np.uint8)
    n = int(mx.distributed.all_sum(mx.array([data.size], mx.int32), stream=mx.cpu).item())
    buf = np.zeros(n, np.int32)
    buf[:data.size] = data
    total = mx.distributed.all_sum(mx.array(buf), stream=mx.cpu)
    return pickle.loads(np.array(total).astype(np.uint8).tobytes())


def on_main(backend: str, make):
    """make() on the main process only, its result (or its error) on every process: so under a
    multi-process launch one process creates or updates the run in the store and the rest follow."""
    rank, size = launch_rank()
    if size == 1:
        return make()
    # Every process sees the same environment, so each raises this itself: nobody waits on another.
    launcher = "accelerate launch" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else "mlx.launch"
    if (launcher == "accelerate launch") != (backend == "torch"):
        raise BrieError(f"--backend {backend} under {launcher}: use `accelerate launch` with --backend torch, "
                        "or `mlx.launch` with --backend mlx")
    if rank == 0:
        try:
            result = make()
        except BaseException as e:  # Ctrl-C too: the others must not wait on the broadcast for ever
            share(backend, (None, str(e) or type(e).__name__))
            raise
        share(backend, (result, None))
        return result
    result, error = share(backend, None)
    if error is not None:
        raise BrieError(error)
    return result


def create_run(ws: Workspace, cfg: TrainConfig, name: str | None = None, suffix: bool = False) -> dict:
    """A new run: its own folder and a pending row. Never touches an existing run.

    Everything that can be checked is checked before the folder and the row are made. Under a
    multi-process launch only the main process makes them; the others get its row.
    """
    return on_main(pick_backend(cfg.backend), lambda: _create_run(ws, cfg, name, suffix))


def _create_run(ws: Workspace, cfg: TrainConfig, name: str | None, suffix: bool) -> dict:
    reap_dead_runs(ws)
    cfg.validate()
    data_path, dataset = resolve_data(ws, cfg.data)
    if name is None:
        stem = Path(cfg.data).name if dataset is None else dataset["name"]
        name = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    if not NAME_OK.match(name):
        raise BrieError(f"run name {name!r}: use letters, digits, '.', '_' and '-' (no '@' or ',')")
    name = _free_name(ws, name, suffix)
    cfg.backend = pick_backend(cfg.backend)
    preflight(ws, cfg, data_path)
    folder = ws.runs_dir / name
    folder.mkdir(parents=True, exist_ok=False)
    (folder / "checkpoints").mkdir()
    (folder / "config.yaml").write_text(cfg.to_yaml())
    return run_rows.insert_run(ws.store, {
        "name": name, "model": cfg.model, "dataset_id": dataset["id"] if dataset else None,
        "data": str(data_path) if dataset is None else cfg.data,
        "backend": cfg.backend, "method": cfg.fine_tune_type, "dry_run": int(cfg.is_dry_run),
        "config_json": cfg.to_json(), "path": f"runs/{name}", "pid": os.getpid(),
        "host": socket.gethostname(), "recommended_by": "auto",
    })


def step_text(step: int | None, at: str = "at") -> str:
    """'at step 12', or 'before the first step' for a run that never finished one."""
    return f"{at} step {step}" if step else "before the first step"


# ---------------------------------------------------------------- dead runs


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():  # a killed child not yet waited for is a zombie: dead for our purposes
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return True
    return True


def reap_dead_runs(ws: Workspace) -> list[str]:
    """Mark failed every pending/running run on this machine whose process is gone. Returns their names."""
    host = socket.gethostname()
    reaped = []
    for run in run_rows.active_runs(ws.store):
        if run["host"] not in (None, host) or run["pid"] is None or _alive(run["pid"]):
            continue
        run_rows.update_run(ws.store, run["id"], status="failed", ended_at=utcnow(),
                            error=f"process {run['pid']} ended without finishing (killed or crashed) "
                                  f"{step_text(run['step'], 'near')}; `brie train --resume {run['name']}` continues it")
        reaped.append(run["name"])
    return reaped


# ---------------------------------------------------------------- early stopping and the forgetting guard


@dataclass
class Monitor:
    """Early stopping on validation loss and the forgetting guard; saved in every checkpoint."""

    patience: int | None
    min_delta: float
    guard_threshold: float
    guard_action: str
    best_val: float | None = None
    bad_evals: int = 0
    guard_base: float | None = None
    guard_warned: bool = False

    def state(self) -> dict:
        return {"best_val": self.best_val, "bad_evals": self.bad_evals,
                "guard_base": self.guard_base, "guard_warned": self.guard_warned}

    def load(self, state: dict) -> None:
        for k, v in state.items():
            setattr(self, k, v)

    def after_eval(self, step: int, val_loss: float | None, guard_loss: float | None) -> tuple[str | None, str | None]:
        """(stop reason or None, warning or None)."""
        stop = warning = None
        if val_loss is not None:
            if self.best_val is None or val_loss < self.best_val - self.min_delta:
                self.best_val, self.bad_evals = val_loss, 0
            else:
                self.bad_evals += 1
                if self.patience is not None and self.bad_evals >= self.patience:
                    stop = (f"early stopping at step {step}: validation loss has not improved on "
                            f"{self.best_val:.4f} for {plural(self.bad_evals, 'evaluation')}")
        if guard_loss is not None:
            if self.guard_base is None:
                self.guard_base = guard_loss
            else:
                rise = (guard_loss - self.guard_base) / self.guard_base
                if rise > self.guard_threshold:
                    message = (f"forgetting guard at step {step}: held-out loss {guard_loss:.4f} is "
                               f"{rise:.0%} above the base model's {self.guard_base:.4f} "
                               f"(threshold {self.guard_threshold:.0%})")
                    if self.guard_action == "stop":
                        stop = stop or message
                    elif not self.guard_warned:
                        warning, self.guard_warned = message, True
        return stop, warning


# ---------------------------------------------------------------- the run context an engine works in


@dataclass
class RunContext:
    ws: Workspace
    run: dict
    cfg: TrainConfig
    data_path: Path
    callback: TrainCallback
    resume: bool = False
    main: bool = True  # False on the other processes of a launch: they train, only the main one writes
    stop_reason: str | None = None
    monitor: Monitor = field(init=False)
    _reporters: list = field(default_factory=list)

    def __post_init__(self):
        c = self.cfg
        self.monitor = Monitor(c.early_stopping_patience, c.early_stopping_min_delta, c.guard_threshold, c.guard_action)

    @property
    def folder(self) -> Path:
        return self.ws.root / self.run["path"]

    @property
    def guard_path(self) -> Path | None:
        return guard_file(self.ws, self.cfg.guard_data) if self.cfg.guard_data else None

    def set_total(self, total: int) -> None:
        if not self.main:
            return
        run_rows.update_run(self.ws.store, self.run["id"], total_steps=total)
        self.run["total_steps"] = total

    def adapter_config(self, num_layers: int) -> dict:
        """adapter_config.json as mlx-lm's load_adapters reads it, plus what brie knows."""
        c = self.cfg
        return {"fine_tune_type": c.fine_tune_type, "num_layers": num_layers,
                "lora_parameters": c.lora_parameters(), "model": self.run["model"],
                "brie_run": self.run["name"], "rank": c.rank, "alpha": c.alpha, "lora_scale": c.lora_scale}

    # -- resume

    def resume_point(self) -> tuple[Path, dict] | None:
        """The last registered checkpoint whose folder is complete, with its trainer state; cleans the rest.

        Under a launch the main process alone looks and cleans (the others would race its deletions);
        every process gets its point and loads the same early-stopping state, so all stop together."""
        if not self.resume:
            return None
        point = on_main(self.run["backend"], self._find_resume_point)
        if point:
            self.monitor.load(point[1].get("monitor", {}))
        return point

    def _find_resume_point(self) -> tuple[Path, dict] | None:
        ckpts = run_rows.list_checkpoints(self.ws.store, self.run["id"])
        point = None
        for row in reversed(ckpts):
            folder = self.ws.root / row["path"]
            if (folder / STATE_FILE).exists() and (folder / ADAPTER_FILE).exists() \
                    and sha256_file(folder / ADAPTER_FILE) == row["adapter_sha256"]:
                point = (folder, json.loads((folder / STATE_FILE).read_text()))
                break
        step = point[1]["step"] if point else 0
        # Whatever the dead process left after that point is redone: its metrics, half-written
        # temporary folders, and a renamed folder it did not live to register.
        registered = {str(r["step"]) for r in ckpts if r["step"] <= step}
        for child in (self.folder / "checkpoints").iterdir():
            if child.name.startswith(".tmp-") or (child.name.isdigit() and int(child.name) > step
                                                  and child.name not in registered):
                shutil.rmtree(child)
        for row in ckpts:
            if row["step"] > step:
                run_rows.delete_checkpoint(self.ws.store, self.run["id"], row["step"])
        run_rows.delete_metrics_after(self.ws.store, self.run["id"], step)
        self._trim_metrics_file(step)
        return point

    def _trim_metrics_file(self, step: int) -> None:
        path = self.folder / "metrics.jsonl"
        if path.exists():
            keep = [l for l in path.read_text().splitlines() if l.strip() and json.loads(l)["step"] <= step]
            path.write_text("".join(l + "\n" for l in keep))

    # -- records

    def record(self, step: int, metrics: dict) -> None:
        """Metrics into the store (one transaction), metrics.jsonl and any --report-to service."""
        if not self.main:
            return
        metrics = {k: float(v) for k, v in metrics.items() if v is not None}
        run_rows.insert_metrics(self.ws.store, self.run["id"], step, metrics)
        with (self.folder / "metrics.jsonl").open("a") as f:
            f.write(json.dumps({"step": step, **metrics}) + "\n")
        for reporter in self._reporters:
            reporter.log(step, metrics)

    def no_validation(self) -> None:
        """Say what a run without validation data does instead (once, not again on resume)."""
        if self.resume:
            return
        self.warn(f"no validation set ({self.data_path / 'valid.jsonl'} is missing or empty): no validation "
                  "loss is computed, so the best checkpoint is simply the last one and early stopping is off; "
                  "training goes on normally")

    def warn(self, message: str) -> None:
        if not self.main:
            return
        run_rows.add_warning(self.ws.store, self.run["id"], message)
        self.callback.on_message("warning: " + message)

    def save_checkpoint(self, step: int, epoch: float, train_loss: float | None, val_loss: float | None,
                        write_files, state: dict) -> dict:
        """Write a checkpoint folder atomically (temporary name, then rename) and register it.

        Returns None on the other processes of a launch, which write nothing."""
        if not self.main:
            return None
        ckdir = self.folder / "checkpoints"
        final, tmp = ckdir / str(step), ckdir / f".tmp-{step}"
        if final.exists():
            raise BrieError(f"{final} already exists; refusing to overwrite a checkpoint")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        write_files(tmp)
        (tmp / STATE_FILE).write_text(json.dumps({
            "step": step, "epoch": epoch, "batches_seen": step, "train_loss": train_loss, "val_loss": val_loss,
            "seed": self.cfg.seed, "rng_seed": rng_seed(self.cfg.seed, step), "monitor": self.monitor.state(),
            **state}, indent=1))
        _fsync_folder(tmp)
        os.rename(tmp, final)
        sha = sha256_file(final / ADAPTER_FILE)
        size = sum(p.stat().st_size for p in final.rglob("*") if p.is_file())
        existing = run_rows.list_checkpoints(self.ws.store, self.run["id"])
        best = self._best_step(existing + [{"step": step, "val_loss": val_loss}])
        run = run_rows.get_run_by_id(self.ws.store, self.run["id"])
        row = run_rows.insert_checkpoint(self.ws.store, {
            "run_id": self.run["id"], "step": step, "epoch": epoch, "train_loss": train_loss,
            "val_loss": val_loss, "path": str(final.relative_to(self.ws.root)), "adapter_sha256": sha,
            "size_bytes": size}, best_step=best, follow_best=run["recommended_by"] != "user")
        # The run folder's own adapter is always the latest checkpoint's (replaced atomically).
        for name in (ADAPTER_FILE, CONFIG_FILE):
            shutil.copyfile(final / name, self.folder / f".{name}.tmp")
            os.replace(self.folder / f".{name}.tmp", self.folder / name)
        self.callback.on_checkpoint(step, row)
        return row

    @staticmethod
    def _best_step(ckpts: list[dict]) -> int:
        """Lowest validation loss; without validation losses, the last checkpoint."""
        scored = [c for c in ckpts if c["val_loss"] is not None]
        if not scored:
            return max(c["step"] for c in ckpts)
        return min(scored, key=lambda c: (c["val_loss"], -c["step"]))["step"]


def _fsync_folder(folder: Path) -> None:
    for p in folder.rglob("*"):
        if not p.is_file():
            continue
        with p.open("rb") as f:
            os.fsync(f.fileno())


# ---------------------------------------------------------------- reporting to wandb / tensorboard


class _TensorBoard:
    def __init__(self, logdir: Path):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            try:
                from tensorboardX import SummaryWriter
            except ImportError:
                raise BrieError("--report-to tensorboard needs tensorboard (pip install tensorboard torch) "
                                "or tensorboardX") from None
        self.writer = SummaryWriter(str(logdir))

    def log(self, step, metrics):
        for k, v in metrics.items():
            self.writer.add_scalar(k, v, step)
        self.writer.flush()


class _WandB:
    def __init__(self, cfg: TrainConfig, run: dict, folder: Path):
        try:
            import wandb
        except ImportError:
            raise BrieError("--report-to wandb needs wandb (pip install wandb)") from None
        self.wandb = wandb
        wandb.init(project=cfg.project_name or "brie", name=run["name"], dir=str(folder), config=cfg.to_dict())

    def log(self, step, metrics):
        self.wandb.log(metrics, step=step)


def _reporters(cfg: TrainConfig, run: dict, folder: Path) -> list:
    out = []
    for target in [t.strip().lower() for t in (cfg.report_to or "").split(",") if t.strip()]:
        if target == "wandb":
            out.append(_WandB(cfg, run, folder))
        elif target == "tensorboard":
            out.append(_TensorBoard(folder / "tensorboard"))
        else:
            raise BrieError(f"--report-to {target!r}: choose wandb or tensorboard")
    return out


# ---------------------------------------------------------------- running


def run_training(ws: Workspace, name: str, callback: TrainCallback | None = None, resume: bool = False) -> dict:
    """Train run `name` in this process until it completes, stops early, fails or is cancelled."""
    callback = callback or TrainCallback()
    run = run_rows.get_run(ws.store, name)
    if run is None:
        raise BrieError(f"no run named {name!r} (see `brie runs list`)")
    cfg = TrainConfig.from_json(run["config_json"])
    if run["dataset_id"] is None:
        data_path, _ = resolve_data(ws, run["data"])
    else:  # the exact dataset version the run started with, not a newer one
        from brie.store.datasets import get_dataset_by_id

        row = get_dataset_by_id(ws.store, run["dataset_id"])
        data_path = Path(row["path"]) if Path(row["path"]).is_absolute() else ws.root / row["path"]
        if not (data_path / "train.jsonl").exists():
            raise BrieError(f"run {name!r}: its dataset version is gone ({data_path / 'train.jsonl'} is missing)")
    if resume:  # the model, data or packages may have changed since the run was created
        preflight(ws, cfg, data_path)
    main = launch_rank()[0] == 0
    if main:
        run_rows.update_run(ws.store, run["id"], status="running", pid=os.getpid(), host=socket.gethostname(),
                            started_at=run["started_at"] or utcnow(), ended_at=None, error=None)
        run = run_rows.get_run(ws.store, name)
    else:  # the other processes of a launch train in step with the main one, silently
        callback = TrainCallback()
    ctx = RunContext(ws, run, cfg, data_path, callback, resume=resume, main=main)
    status, error = "completed", None
    try:
        ctx._reporters = _reporters(cfg, run, ctx.folder) if main else []
        if run["backend"] == "torch":
            from brie.train_torch import train_torch as engine
        else:
            from brie.train_mlx import train_mlx as engine
        engine(ctx)
    except KeyboardInterrupt:
        status = "cancelled"
        ctx.stop_reason = f"cancelled by the user {step_text(run_rows.get_run(ws.store, name)['step'], 'near')}"
    except BrieError as e:
        status, error = "failed", str(e)
        raise
    except Exception as e:
        status, error = "failed", f"{type(e).__name__}: {e}"
        raise
    finally:
        if main:
            run_rows.update_run(ws.store, run["id"], status=status, error=error, ended_at=utcnow(),
                                stop_reason=ctx.stop_reason)
        final = run_rows.get_run(ws.store, name)
        callback.on_end(final)
    return final


def resume_training(ws: Workspace, name: str, callback: TrainCallback | None = None) -> dict:
    """Continue a failed or cancelled run from its last complete checkpoint (weights, optimizer, step, data)."""
    run = run_rows.get_run(ws.store, name)
    if run is None:
        raise BrieError(f"no run named {name!r} (see `brie runs list`)")

    def check():
        reap_dead_runs(ws)
        run = run_rows.get_run(ws.store, name)
        if run["status"] in ("pending", "running"):
            raise BrieError(f"run {name!r} is {run['status']} (process {run['pid']}); it cannot be resumed twice")
        if run["status"] == "completed":
            raise BrieError(f"run {name!r} already completed ({run['stop_reason'] or 'all steps done'})")

    on_main(run["backend"], check)
    return run_training(ws, name, callback, resume=True)


def train(ws: Workspace, cfg: TrainConfig, name: str | None = None, suffix: bool = False,
          callback: TrainCallback | None = None) -> dict:
    run = create_run(ws, cfg, name, suffix)
    return run_training(ws, run["name"], callback)


def launch(ws: Workspace, args: list[str], log: Path | str | None = None, env: dict | None = None):
    """Start `brie train <args>` as its own process, for the UI, which then follows the run in the store.

    The process gets its own session, so closing the UI (or its terminal) does not stop the run;
    stop it with `process.terminate()` (SIGTERM), which marks the run cancelled. Its output (the
    progress bar, or an error before the run exists) goes to `log` when given.
    """
    import subprocess
    import sys

    out = open(log, "a") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen([sys.executable, "-m", "brie", "--home", str(ws.root), "train", *args],
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)
    finally:
        if log:
            out.close()
