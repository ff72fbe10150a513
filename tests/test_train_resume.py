"""True resume: a run killed with SIGKILL and resumed ends with the losses of a run never interrupted.

Tolerance: every recorded train and validation loss within 1e-5 (absolute) of the uninterrupted
run's, and the final adapter weights within 1e-5. The run uses dropout (so the random state
matters), gradient accumulation (the kill falls after a checkpoint taken mid-accumulation) and a
warmup + cosine schedule (so the optimizer step count matters).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from brie.store import runs as run_rows
from tests.train_helpers import write_chat_data

TOL = 1e-5
KILL_SCRIPT = """
import json, os, signal, sys
from brie.training.context import TrainCallback
from brie.training.lifecycle import train
from brie.training.config import resolve_config
from brie.workspace import Workspace

class KillAt(TrainCallback):
    def on_step(self, step):
        if step == int(sys.argv[3]):
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no finally: like a power cut

train(Workspace.open(sys.argv[1]), resolve_config(None, json.loads(sys.argv[2])), "killed", callback=KillAt())
"""


def losses(ws, run_name, metric):
    run = run_rows.get_run(ws.store, run_name)
    return {m["step"]: m["value"] for m in run_rows.get_metrics(ws.store, run["id"], metric)}


def test_kill_9_then_resume_matches_uninterrupted(workspace, tiny_model_dir, tmp_path):
    from brie.training.lifecycle import train
    from brie.training.config import resolve_config

    data = write_chat_data(tmp_path / "chat")
    settings = dict(model=str(tiny_model_dir), data=str(data), iters=24, save_every=5, eval_every=5,
                    steps_per_report=1, batch_size=4, grad_accumulation_steps=2, num_layers=-1,
                    learning_rate=2e-3, warmup_steps=3, lr_decay="cosine", dropout=0.2, val_batches=2, seed=7)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    killed = subprocess.run([sys.executable, "-c", KILL_SCRIPT, str(workspace.root), json.dumps(settings), "17"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr
    row = run_rows.get_run(workspace.store, "killed")
    assert row["status"] == "running"  # nobody got to write anything else
    assert [c["step"] for c in run_rows.list_checkpoints(workspace.store, row["id"])] == [5, 10, 15]
    assert max(losses(workspace, "killed", "train_loss")) >= 16  # steps after the checkpoint were recorded…

    from brie.cli import app

    result = CliRunner().invoke(app, ["train", "--resume", "killed"])
    assert result.exit_code == 0, result.output
    assert "was marked failed" in result.output or "Resuming killed from step 15" in result.output

    train(workspace, resolve_config(None, settings), "straight")

    resumed, straight = losses(workspace, "killed", "train_loss"), losses(workspace, "straight", "train_loss")
    assert sorted(resumed) == list(range(1, 25)) == sorted(straight)  # …and were replaced, not doubled
    assert max(abs(resumed[s] - straight[s]) for s in straight) <= TOL
    val_r, val_s = losses(workspace, "killed", "val_loss"), losses(workspace, "straight", "val_loss")
    assert sorted(val_r) == sorted(val_s) == [0, 5, 10, 15, 20, 24]
    assert max(abs(val_r[s] - val_s[s]) for s in val_s) <= TOL
    lr_r, lr_s = losses(workspace, "killed", "learning_rate"), losses(workspace, "straight", "learning_rate")
    assert max(abs(lr_r[s] - lr_s[s]) for s in lr_s) <= 1e-9

    import mlx.core as mx

    a = mx.load(str(workspace.runs_dir / "killed/checkpoints/24/adapters.safetensors"))
    b = mx.load(str(workspace.runs_dir / "straight/checkpoints/24/adapters.safetensors"))
    assert a.keys() == b.keys()
    assert max(float(np.abs(np.array(a[k]) - np.array(b[k])).max()) for k in a) <= TOL
    run = run_rows.get_run(workspace.store, "killed")
    assert run["status"] == "completed" and run["step"] == 24
    assert [c["step"] for c in run_rows.list_checkpoints(workspace.store, run["id"])] == [5, 10, 15, 20, 24]


def test_resume_refuses_running_and_completed(workspace, tiny_model_dir, tmp_path):
    from brie.errors import BrieError
    from brie.training.lifecycle import create_run, resume_training, train
    from tests.train_helpers import tiny_config

    data = write_chat_data(tmp_path / "chat")
    done = train(workspace, tiny_config(tiny_model_dir, data, iters=2, save_every=2), "done")
    with pytest.raises(BrieError, match="already completed"):
        resume_training(workspace, done["name"])
    create_run(workspace, tiny_config(tiny_model_dir, data), "live")  # pending, in this (live) process
    with pytest.raises(BrieError, match="cannot be resumed twice"):
        resume_training(workspace, "live")
