"""`mlx.launch` with two local processes (ring backend over 127.0.0.1) training one run, and
resuming one: one run row and folder, every metric once, checkpoints from rank 0 only, and the
losses of a one-process run with the same global batch. Rank 1 has a workspace of its own, as the
second Mac of a multi-Mac launch has."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from brie.store import runs as run_rows
from brie.training.lifecycle import train
from tests.test_train_launch import equal_length_data, free_port
from tests.train_helpers import StopAt, tiny_config

# Two processes sum their gradients in another order than one process: float32 rounding only.
# Measured on the tiny model: at most 3e-6 for a launched run and 6e-5 for one resumed under the launcher.
TOLERANCE = 2e-4


def launch(workspace, other, *args):
    """`mlx.launch … brie train ARGS`, rank 1 with a workspace of its own (`other`), as on a second
    Mac: it must not need the run, the registered model or the dataset in its store."""
    launcher = Path(sys.executable).parent / "mlx.launch"
    env = {**os.environ, "BRIE_HOME": str(workspace.root), "OMP_NUM_THREADS": "1", "OTHER_HOME": str(other.root)}
    script = 'if [ "$MLX_RANK" != 0 ]; then export BRIE_HOME="$OTHER_HOME"; fi; exec "$0" -m brie train "$@"'
    r = subprocess.run([str(launcher), "--backend", "ring", "-n", "2", "--hosts", "127.0.0.1",
                        "--starting-port", str(free_port()), "--", "bash", "-c", script, sys.executable, *args],
                       env=env, capture_output=True, text=True, timeout=300)
    # mlx.launch exits 0 even when a rank failed (it prints a warning): so look for that too
    assert r.returncode == 0 and "exited with code" not in r.stderr and "was killed" not in r.stderr, \
        r.stdout + r.stderr
    return r


@pytest.mark.slow
def test_mlx_launch_two_processes_train_and_resume_one_run(workspace, tiny_model_dir, tmp_path):
    data = equal_length_data(tmp_path / "even")
    opts = dict(iters=6, save_every=3, eval_every=3, steps_per_report=1, batch_size=4, learning_rate=5e-3,
                val_batches=2)
    from brie.models.registry import add_model
    from brie.workspace import Workspace

    add_model(workspace, str(tiny_model_dir), "tiny")  # a name only the main process's store knows
    other = Workspace.open(tmp_path / "other-mac", create=True)
    # the data is inside the workspace (as stored: "even"), so the other Mac has its copy at the same place
    import shutil

    shutil.copytree(data, other.root / data.relative_to(workspace.root))
    args = ["--model", "tiny", "--data", str(data), "--num-layers", "-1"]
    for k, v in opts.items():
        args += ["--" + k.replace("_", "-"), str(v)]

    one = train(workspace, tiny_config(tiny_model_dir, data, **opts), "one")  # the one-process reference
    r = launch(workspace, other, *args, "--name", "two")
    assert r.stdout.count("Run two (mlx") == 1 and r.stdout.count("Run two completed") == 1  # rank 0 prints
    # interrupted in one process after the checkpoint at 3, resumed by two
    assert train(workspace, tiny_config(tiny_model_dir, data, **opts), "half", callback=StopAt(5))["status"] == "cancelled"
    r = launch(workspace, other, "--resume", "half")
    assert r.stderr.count("Resuming half from step 3") == 1

    runs = {r["name"]: r for r in run_rows.list_runs(workspace.store)}
    assert sorted(runs) == ["half", "one", "two"]
    assert sorted(p.name for p in workspace.runs_dir.iterdir()) == ["half", "one", "two"]

    def values(run, name):
        return {m["step"]: m["value"] for m in run_rows.get_metrics(workspace.store, run["id"], name)}

    for name in ("two", "half"):
        run = runs[name]
        assert run["status"] == "completed" and run["step"] == 6, run
        # rank 0 alone wrote the checkpoints: registered once, no other folders, no leftovers
        ckpts = run_rows.list_checkpoints(workspace.store, run["id"])
        assert [c["step"] for c in ckpts] == [3, 6]
        assert sorted(p.name for p in (workspace.runs_dir / name / "checkpoints").iterdir()) == ["3", "6"]
        lines = [json.loads(l) for l in (workspace.runs_dir / name / "metrics.jsonl").read_text().splitlines()]
        assert sorted(l["step"] for l in lines if "train_loss" in l) == list(range(1, 7))  # once each
        assert sorted(l["step"] for l in lines if "val_loss" in l) == [0, 3, 6]
        rows = run_rows.get_metrics(workspace.store, run["id"])
        assert len(rows) == len({(m["name"], m["step"]) for m in rows})  # no metric twice in the store
        assert values(run, "trained_tokens")[6] == values(one, "trained_tokens")[6]  # split, not repeated
        for metric in ("train_loss", "val_loss"):
            a, b = values(run, metric), values(one, metric)
            assert sorted(a) == sorted(b)
            assert max(abs(a[s] - b[s]) for s in a) <= TOLERANCE, (name, metric, a, b)
    assert run_rows.list_runs(other.store) == [] and not any(other.runs_dir.iterdir())  # rank 1 wrote nothing
    assert values(runs["two"], "val_loss")[6] < values(runs["two"], "val_loss")[0] - 0.5  # it did learn
