"""The run lifecycle: checking and creating a run, running it through its engine, resuming it,
reaping runs whose process died, and starting `brie train` as its own process for the UI.

What an engine gets and gives is the RunContext (brie.training.context); the engines never import
this module.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import time
from pathlib import Path

from brie.errors import BrieError
from brie.store import models as model_rows
from brie.store import runs as run_rows
from brie.store import utcnow
from brie.training.config import TrainConfig
from brie.training.context import RunContext, TrainCallback, make_reporters
from brie.training.data import count_rows, guard_file, resolve_data
from brie.training.distributed import check_launcher, launch_rank, launcher_backend, on_main
from brie.words import plural
from brie.workspace import Workspace

NAME_OK = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# The engine of each backend: a function of one RunContext, and a check of the options it supports.
ENGINES = {"mlx": "brie.training.mlx_engine", "torch": "brie.training.torch_engine"}
# The engine of each backend for --method dpo|orpo.
PREFERENCE_ENGINES = {"mlx": "brie.training.preference", "torch": "brie.training.torch_preference"}


def engine_of(cfg: TrainConfig, backend: str) -> str:
    # Both tables have every backend (TrainConfig.backend's choices), so there is no method a backend lacks.
    return (ENGINES if cfg.method == "sft" else PREFERENCE_ENGINES)[backend]


def method_of(cfg: TrainConfig) -> str:
    """runs.method: the adapter kind, after the objective when it is not sft ("lora", "dpo lora")."""
    return cfg.fine_tune_type if cfg.method == "sft" else f"{cfg.method} {cfg.fine_tune_type}"


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


def _taken(ws: Workspace, name: str) -> bool:
    return run_rows.get_run(ws.store, name) is not None or (ws.runs_dir / name).exists()


def _taken_error(name: str) -> BrieError:
    # Also for a folder whose row is not written yet: another process may be creating that run now.
    return BrieError(f"run {name!r} already exists (runs are never overwritten); pick another --name, "
                     "add --suffix to get one, or --resume it")


def _free_name(ws: Workspace, name: str, suffix: bool) -> str:
    """`name`, or with --suffix the first of name-2, name-3, … not taken. Only a hint: the name is
    claimed by making its folder (`_claim`), which another process may do first."""
    if not _taken(ws, name):
        return name
    if not suffix:
        raise _taken_error(name)
    n = 2
    while _taken(ws, f"{name}-{n}"):
        n += 1
    return f"{name}-{n}"


def _claim(ws: Workspace, name: str, suffix: bool) -> tuple[str, Path]:
    """Make the run's folder: the one atomic step that claims a name (mkdir fails when it exists),
    so of two processes starting a run of the same name at once exactly one gets it. The loser
    fails with the one-line "already exists" error, or with --suffix (or a generated name) takes
    the next free one."""
    base, n = name, 1
    while True:
        folder = ws.runs_dir / name
        try:
            folder.mkdir()
            return name, folder
        except FileExistsError:
            if not suffix:
                raise _taken_error(name) from None
            n += 1
            name = f"{base}-{n}"
        except OSError as e:
            raise BrieError(f"{folder}: cannot make the run folder ({e.strerror or e})") from None


def check_writable(folder: Path) -> None:
    """`folder` exists (made if missing) and a file can be written in it, tried for real (a
    permission check alone says yes to root on a read-only mount)."""
    import tempfile

    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".brie-write-check-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise BrieError(f"{folder}: cannot write there ({e.strerror or e}); runs are written under "
                        "the workspace's runs/ folder") from None


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
    importlib.import_module(engine_of(cfg, cfg.backend)).check_options(cfg)
    rank, size = launch_rank()
    if size > 1 and cfg.batch_size % size:
        raise BrieError(f"batch_size={cfg.batch_size}: with {size} processes it must be a multiple of {size} "
                        "(each process takes an equal share of every batch)")


def preflight(ws: Workspace, cfg: TrainConfig, data_path: Path, folder: Path | None = None) -> None:
    """Every check that can be made before a run exists, so a mistake never leaves a failed run
    behind (and its name taken): the folder runs are written to (`folder`, default runs/) can be
    written, the engine's packages and options (lr_schedule included), the model (a folder mlx-lm
    can load, or a Hugging Face id in the local cache or on the hub), data size, layers, reporting
    packages, early stopping."""
    import importlib.util

    from brie.models.registry import check_model

    check_writable(folder or ws.runs_dir)
    check_backend(cfg)
    if cfg.guard_data:
        guard_file(ws, cfg.guard_data)
    target = Path(check_model(ws, cfg.model))
    n_train = count_rows(data_path / "train.jsonl")
    if n_train == 0:
        raise BrieError(f"{data_path / 'train.jsonl'}: no examples")
    if n_train < cfg.batch_size:
        raise BrieError(f"{data_path / 'train.jsonl'}: {plural(n_train, 'example')}, fewer than "
                        f"batch_size={cfg.batch_size}; lower --batch-size to {n_train} or less")
    check_method_data(cfg, data_path)
    if cfg.early_stopping_patience is not None and count_rows(data_path / "valid.jsonl") == 0:
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


def check_method_data(cfg: TrainConfig, data_path: Path) -> None:
    """dpo/orpo train on preference rows (prompt/chosen/rejected), sft on the others: the first row says which."""
    with (data_path / "train.jsonl").open("rb") as f:
        first = next((line for line in f if line.strip()), b"{}")
    try:
        keys = set(json.loads(first))
    except (ValueError, TypeError, RecursionError):
        return  # the engine's reader names the file and line
    preference = {"chosen", "rejected"} <= keys
    if cfg.method == "sft" and preference:
        raise BrieError(f"{data_path / 'train.jsonl'} holds preference pairs (prompt/chosen/rejected): "
                        "train on them with --method dpo or --method orpo")
    if cfg.method != "sft" and not preference:
        raise BrieError(f"--method {cfg.method} trains on preference pairs (prompt/chosen/rejected), and "
                        f"{data_path / 'train.jsonl'} has {', '.join(sorted(keys)) or 'no fields'}; make a preference "
                        "dataset with `brie data import --from-judgments` or from a prompt/chosen/rejected JSONL file")


def resolve_start(ws: Workspace, cfg: TrainConfig) -> None:
    """--from RUN@STEP: the checkpoint it names (its sha256 checked), its model and LoRA shape into cfg,
    and init_from pinned to its step (so `@best` means the same checkpoint on resume)."""
    from brie.models.specs import resolve_spec

    spec = resolve_spec(ws, cfg.init_from)
    if spec.is_base:
        cfg.init_from = None
        return
    adapter_cfg = json.loads((Path(spec.adapter_path) / "adapter_config.json").read_text())
    params = adapter_cfg.get("lora_parameters", {})
    cfg.model = spec.model
    cfg.fine_tune_type = adapter_cfg.get("fine_tune_type", cfg.fine_tune_type)
    cfg.num_layers = adapter_cfg.get("num_layers", cfg.num_layers)
    if "rank" in params:
        cfg.rank = params["rank"]
        cfg.alpha = params.get("scale", cfg.lora_scale) * params["rank"]
    cfg.keys = params.get("keys") or cfg.keys
    cfg.init_from = f"{spec.run}@{spec.step}"


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
    generated = name is None
    if name is None:
        stem = Path(cfg.data).name if dataset is None else dataset["name"]
        name = f"{stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    if not NAME_OK.match(name):
        raise BrieError(f"run name {name!r}: use letters, digits, '.', '_' and '-' (no '@' or ',')")
    name = _free_name(ws, name, suffix or generated)
    cfg.backend = pick_backend(cfg.backend)
    if cfg.init_from:
        resolve_start(ws, cfg)
    # A model or guard given as a path is kept as the store keeps paths (relative to the workspace
    # when inside it), so the run resumes and its checkpoints load after the workspace moves.
    if model_rows.get_model(ws.store, cfg.model) is None and Path(cfg.model).expanduser().exists():
        cfg.model = ws.stored_path(cfg.model)
    if cfg.guard_data and Path(cfg.guard_data).expanduser().exists():
        cfg.guard_data = ws.stored_path(cfg.guard_data)
    preflight(ws, cfg, data_path)
    # A generated name was not chosen by the user: if another process took it meanwhile (two
    # starts in the same second), take the next one rather than fail.
    name, folder = _claim(ws, name, suffix or generated)
    try:
        (folder / "checkpoints").mkdir()
        (folder / "config.yaml").write_text(cfg.to_yaml())
        run = run_rows.insert_run(ws.store, {
            "name": name, "model": cfg.model, "dataset_id": dataset["id"] if dataset else None,
            "data": ws.stored_path(data_path) if dataset is None else cfg.data,
            "backend": cfg.backend, "method": method_of(cfg), "dry_run": int(cfg.is_dry_run),
            "config_json": cfg.to_json(), "path": ws.stored_path(folder), "pid": os.getpid(),
            "host": socket.gethostname(), "recommended_by": "auto",
        })
        if run is None:  # a row of that name whose folder was gone
            raise _taken_error(name)
        return run
    except BaseException as e:  # no row of ours: give the name back (the folder is ours, made above)
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(e, OSError):
            raise BrieError(f"{folder}: cannot write the run folder ({e.strerror or e})") from None
        raise


def step_text(step: int | None, at: str = "at") -> str:
    """'at step 12', or 'before the first step' for a run that never finished one."""
    return f"{at} step {step}" if step else "before the first step"


# ---------------------------------------------------------------- dead runs


def alive(pid: int) -> bool:
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
        if run["host"] not in (None, host) or run["pid"] is None or alive(run["pid"]):
            continue
        run_rows.update_run(ws.store, run["id"], status="failed", ended_at=utcnow(),
                            error=f"process {run['pid']} ended without finishing (killed or crashed) "
                                  f"{step_text(run['step'], 'near')}; `brie train --resume {run['name']}` continues it")
        reaped.append(run["name"])
    return reaped

def run_training(ws: Workspace, name: str, callback: TrainCallback | None = None, resume: bool = False) -> dict:
    """Train run `name` in this process until it completes, stops early, fails or is cancelled."""
    callback = callback or TrainCallback()
    main = launch_rank()[0] == 0
    # Under a launch only the main process reads and writes the store; the others (on other Macs,
    # each with a workspace of its own) get the run, its config, data folder and model from it.
    run, cfg_json, where = on_main(launcher_backend(), lambda: _start_training(ws, name, resume))
    cfg = TrainConfig.from_json(cfg_json)
    data_path = ws.path_of(where["data"])
    if not main:  # the other processes of a launch train in step with the main one, silently
        callback = TrainCallback()
        for key in ("model", "guard_data"):
            if where.get(key):  # a path inside the workspace is found in this process's workspace
                setattr(cfg, key, str(ws.path_of(where[key])) if ws.path_of(where[key]).exists() else where[key])
    ctx = RunContext(ws, run, cfg, data_path, callback, resume=resume, main=main)
    status, error = "completed", None
    try:
        ctx.reporters = make_reporters(cfg, run, ctx.folder) if main else []
        import importlib

        importlib.import_module(engine_of(cfg, run["backend"])).train(ctx)
    except KeyboardInterrupt:
        status = "cancelled"
        ctx.stop_reason = f"cancelled by the user {step_text((run_rows.get_run(ws.store, name) if main else run)['step'], 'near')}"
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
        final = run_rows.get_run(ws.store, name) if main else run
        callback.on_end(final)
    return final


def _start_training(ws: Workspace, name: str, resume: bool) -> tuple[dict, str, dict]:
    """On the main process: the run marked running, its config, and where its data (and, under a
    launch, its model and guard set) are, as the store keeps paths."""
    run = run_rows.get_run(ws.store, name)
    if run is None:
        raise BrieError(f"no run named {name!r} (see `brie runs list`)")
    cfg = TrainConfig.from_json(run["config_json"])
    if run["dataset_id"] is None:
        data_path, _ = resolve_data(ws, str(ws.path_of(run["data"])))  # a folder, as stored
    else:  # the exact dataset version the run started with, not a newer one
        from brie.store.datasets import get_dataset_by_id

        row = get_dataset_by_id(ws.store, run["dataset_id"])
        data_path = ws.path_of(row["path"])
        if not (data_path / "train.jsonl").exists():
            raise BrieError(f"run {name!r}: its dataset version is gone ({data_path / 'train.jsonl'} is missing)")
    if resume:  # the model, data or packages may have changed since the run was created
        cfg.validate()  # also types an older run's values as the YAML loader now does (lr_schedule)
        folder = ws.path_of(run["path"])
        preflight(ws, cfg, data_path, folder if folder.is_dir() else None)
    where = {"data": ws.stored_path(data_path)}
    if launch_rank()[1] > 1:
        from brie.models.registry import resolve_model

        model = resolve_model(ws, cfg.model)  # a registered name means nothing to another machine's store
        where["model"] = ws.stored_path(model) if Path(model).exists() else model
        if cfg.guard_data:
            where["guard_data"] = ws.stored_path(guard_file(ws, cfg.guard_data))
    run_rows.update_run(ws.store, run["id"], status="running", pid=os.getpid(), host=socket.gethostname(),
                        started_at=run["started_at"] or utcnow(), ended_at=None, error=None)
    return run_rows.get_run(ws.store, name), cfg.to_json(), where


def resume_training(ws: Workspace, name: str, callback: TrainCallback | None = None) -> dict:
    """Continue a failed or cancelled run from its last complete checkpoint (weights, optimizer, step, data)."""
    def check():  # on the main process only: the others of a launch may have no store of this run
        reap_dead_runs(ws)
        run = run_rows.get_run(ws.store, name)
        if run is None:
            raise BrieError(f"no run named {name!r} (see `brie runs list`)")
        check_launcher(run["backend"])
        if run["status"] in ("pending", "running"):
            raise BrieError(f"run {name!r} is {run['status']} (process {run['pid']}); it cannot be resumed twice")
        if run["status"] == "completed":
            raise BrieError(f"run {name!r} already completed ({run['stop_reason'] or 'all steps done'})")

    on_main(launcher_backend(), check)
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
