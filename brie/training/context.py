"""The contract between the run lifecycle and an engine.

An engine (`train` in mlx_engine and torch_engine) is a function of one RunContext: it
reads the config, data folder and resume point from it and reports through it (metrics, warnings,
checkpoints, the callback). The context owns the run folder, the store records, checkpoints
(written to a temporary folder and renamed), early stopping and the forgetting guard, so both
engines behave the same and neither imports the lifecycle that drives it.

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
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from brie.errors import BrieError
from brie.models.specs import ADAPTER_FILE, sha256_file
from brie.store import runs as run_rows
from brie.training.config import TrainConfig
from brie.training.data import guard_file
from brie.training.distributed import on_main
from brie.training.monitor import Monitor
from brie.workspace import Workspace

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
    reporters: list = field(default_factory=list)

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

    def plan_steps(self, n_train: int, has_validation: bool) -> tuple[int, int]:
        """(total steps, steps per epoch) for `n_train` training rows; the total is stored as the
        run's, and a run without validation data says once what it does instead."""
        if not has_validation:
            self.no_validation()
        total = self.cfg.total_steps(n_train)
        self.set_total(total)
        return total, max(n_train // self.cfg.batch_size, 1)

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
            missing = [f for f in (STATE_FILE, ADAPTER_FILE) if not (folder / f).exists()]
            why = f"{' and '.join(missing)} missing from {folder}" if missing else None
            if not missing:
                sha = sha256_file(folder / ADAPTER_FILE)
                if sha == row["adapter_sha256"]:
                    point = (folder, json.loads((folder / STATE_FILE).read_text()))
                    break
                why = (f"its {ADAPTER_FILE} has sha256 {sha[:12]}…, not the {row['adapter_sha256'][:12]}… "
                       "registered when it was written (changed on disk since)")
            # Said, not silent: the steps since the checkpoint it falls back to are trained again.
            self.warn(f"resume skipped checkpoint {row['step']}: {why}")
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
        for reporter in self.reporters:
            reporter.log(step, metrics)

    def trained(self, step: int, train_loss: float, learning_rate: float, tokens: int, steps: int, seconds: float,
                trained_tokens: int, peak_memory_gb: float, extra: dict | None = None) -> None:
        """A training report (the same metrics from both engines, plus a method's own `extra`, such as
        DPO's rewards), recorded and told to the callback."""
        metrics = {"train_loss": train_loss, "learning_rate": learning_rate, "tokens_per_second": tokens / seconds,
                   "iterations_per_second": steps / seconds, "trained_tokens": trained_tokens,
                   "peak_memory_gb": peak_memory_gb, **(extra or {})}
        self.record(step, metrics)
        self.callback.on_report(step, metrics)

    def evaluated(self, step: int, val_loss: float | None, guard_loss: float | None,
                  extra: dict | None = None) -> str | None:
        """An evaluation's losses (and a method's own `extra` metrics), recorded and told to early
        stopping and the forgetting guard; returns why the run should stop now, or None."""
        stop, warning = self.monitor.after_eval(step, val_loss, guard_loss)
        metrics = {"val_loss": val_loss, "guard_loss": guard_loss, **(extra or {})}
        if guard_loss is not None and self.monitor.guard_base:
            metrics["guard_rise"] = (guard_loss - self.monitor.guard_base) / self.monitor.guard_base
        self.record(step, metrics)
        self.callback.on_eval(step, {k: v for k, v in metrics.items() if v is not None})
        if warning:
            self.warn(warning)
        return stop

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
        sha = sha256_file(tmp / ADAPTER_FILE)
        (tmp / STATE_FILE).write_text(json.dumps({
            "adapter_sha256": sha,  # the checkpoint's identity travels with it (`brie runs import` checks it)
            "step": step, "epoch": epoch, "batches_seen": step, "train_loss": train_loss, "val_loss": val_loss,
            "seed": self.cfg.seed, "rng_seed": rng_seed(self.cfg.seed, step), "monitor": self.monitor.state(),
            **state}, indent=1))
        fsync_folder(tmp)
        os.rename(tmp, final)
        size = sum(p.stat().st_size for p in final.rglob("*") if p.is_file())
        existing = run_rows.list_checkpoints(self.ws.store, self.run["id"])
        best = self._best_step(existing + [{"step": step, "val_loss": val_loss}])
        run = run_rows.get_run_by_id(self.ws.store, self.run["id"])
        row = run_rows.insert_checkpoint(self.ws.store, {
            "run_id": self.run["id"], "step": step, "epoch": epoch, "train_loss": train_loss,
            "val_loss": val_loss, "path": self.ws.stored_path(final), "adapter_sha256": sha,
            "size_bytes": size}, best_step=best, follow_best=run["recommended_by"] not in ("user", "judged"))
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


def fsync_folder(folder: Path) -> None:
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


def make_reporters(cfg: TrainConfig, run: dict, folder: Path) -> list:
    out = []
    for target in [t.strip().lower() for t in (cfg.report_to or "").split(",") if t.strip()]:
        if target == "wandb":
            out.append(_WandB(cfg, run, folder))
        elif target == "tensorboard":
            out.append(_TensorBoard(folder / "tensorboard"))
        else:
            raise BrieError(f"--report-to {target!r}: choose wandb or tensorboard")
    return out
