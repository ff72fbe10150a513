"""The torch backend's packages checked before a run exists; the dataset version in runs list/show
and the start line; `accelerate launch` with two processes (CPU, gloo) writing one run."""

from __future__ import annotations

import importlib.util
import json
import os
import random
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brie.errors import BrieError
from brie.store import runs as run_rows
from brie.training.lifecycle import create_run, train
from tests.train_helpers import register_dataset, tiny_config, write_chat_data

HAS_TORCH = all(importlib.util.find_spec(m) for m in ("torch", "peft", "accelerate"))


def cli(*args):
    from brie.cli import app

    return CliRunner().invoke(app, list(args))


def no_runs(ws):
    return run_rows.list_runs(ws.store) == [] and not any(ws.runs_dir.iterdir())


@pytest.mark.parametrize("module", ["peft", "torch", "accelerate"])
def test_missing_torch_packages_fail_before_the_run_exists(workspace, tiny_model_dir, tmp_path, monkeypatch, module):
    data = write_chat_data(tmp_path / "chat")
    monkeypatch.setitem(sys.modules, module, None)  # `import <module>` now raises ImportError
    cfg = tiny_config(tiny_model_dir, data, backend="torch")
    # (without torch, peft cannot be imported either)
    with pytest.raises(BrieError, match=rf"--backend torch needs [a-z, ]*\b{module}\b[a-z, ]*, which cannot be "
                                        r"imported; pip install 'brie\[cuda\]'$"):
        create_run(workspace, cfg, "burnt")
    assert no_runs(workspace)
    r = cli("train", "--backend", "torch", "--model", str(tiny_model_dir), "--data", str(data), "--name", "burnt")
    assert r.exit_code == 1 and "Traceback" not in r.output
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --backend torch needs ") and module in lines[0]
    assert lines[0].endswith("pip install 'brie[cuda]'")
    assert no_runs(workspace)


def test_a_launcher_that_does_not_match_the_backend_is_refused_on_every_process(workspace, tiny_model_dir,
                                                                                tmp_path, monkeypatch):
    data = write_chat_data(tmp_path / "chat")
    monkeypatch.setenv("WORLD_SIZE", "2")  # as `accelerate launch` sets it; rank 1 must not wait on rank 0
    for rank in ("0", "1"):
        monkeypatch.setenv("RANK", rank)
        with pytest.raises(BrieError, match=r"--backend mlx under accelerate launch: use `accelerate launch` "
                                            r"with --backend torch, or `mlx.launch` with --backend mlx"):
            create_run(workspace, tiny_config(tiny_model_dir, data, backend="mlx"), "mixed")
    assert no_runs(workspace)


def test_dataset_version_and_ratio_in_start_line_runs_list_and_show(workspace, tiny_model_dir, tmp_path):
    folder = write_chat_data(tmp_path / "chat")
    dataset_id = register_dataset(workspace, "a-rather-long-dataset-name", folder, version=3)
    with workspace.store.transaction() as db:
        db["datasets"].update(dataset_id, {"sample_ratio": 0.5})
    r = cli("train", "--model", str(tiny_model_dir), "--data", "a-rather-long-dataset-name", "--name",
            "with-data", "--iters", "2", "--save-every", "2", "--num-layers", "-1", "--val-batches", "1")
    assert r.exit_code == 0, r.output
    assert "; data a-rather-long-dataset-name v3, sample ratio 0.5) → runs/with-data/" in " ".join(r.output.split())
    train(workspace, tiny_config(tiny_model_dir, folder, iters=2, save_every=2), "from-folder")

    listed = cli("runs", "list")
    assert listed.exit_code == 0, listed.output
    assert all(len(line) <= 80 for line in listed.output.splitlines()), listed.output
    lines = listed.output.splitlines()
    header = next(line for line in lines if " data " in line)
    start, end = header.index(" data ") + 1, header.index(" step ")
    column = "".join(line[start:end].strip() for line in lines[lines.index(header) + 2:])  # the data column folds
    assert column.replace(" ", "") == "a-rather-long-dataset-namev3(50%)chat/"
    rows = {r["name"]: r for r in json.loads(cli("runs", "list", "--json").output)}
    assert rows["with-data"]["dataset"] == {"id": dataset_id, "name": "a-rather-long-dataset-name",
                                            "version": 3, "sample_ratio": 0.5}
    assert rows["from-folder"]["dataset"] is None

    shown = cli("runs", "show", "with-data")
    assert "a-rather-long-dataset-name v3, sample ratio 0.5" in " ".join(shown.output.split())
    assert json.loads(cli("runs", "show", "with-data", "--json").output)["run"]["dataset"]["version"] == 3


# ---------------------------------------------------------------- two processes


def equal_length_data(folder: Path, n_train: int = 32, n_valid: int = 8) -> Path:
    """Every example the same number of tokens, so the mean over two half-batches is the mean over
    the batch and two processes must give one process's losses."""
    folder.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(0)

    def example():
        a, b = rnd.randint(10, 49), rnd.randint(10, 49)
        return {"messages": [{"role": "user", "content": f"add {a} {b}"},
                             {"role": "assistant", "content": f"{a + b} cheese"}]}

    for split, n in (("train", n_train), ("valid", n_valid)):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(example()) + "\n" for _ in range(n)))
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TORCH, reason="torch, peft, accelerate not installed")
def test_accelerate_launch_two_cpu_processes_make_one_run(workspace, tiny_model_dir, tmp_path):
    """`accelerate launch --multi_gpu --num_processes 2` on CPU (gloo): one run row and folder,
    metrics written once, each process half of every batch, gradients averaged (losses equal a
    one-process run's)."""
    data = equal_length_data(tmp_path / "even")
    args = ["--backend", "torch", "--model", str(tiny_model_dir), "--data", str(data), "--iters", "6",
            "--save-every", "3", "--eval-every", "3", "--steps-per-report", "1", "--batch-size", "4",
            "--num-layers", "-1", "--learning-rate", "5e-3", "--val-batches", "2"]
    accelerate = Path(sys.executable).parent / "accelerate"
    env = {**os.environ, "BRIE_HOME": str(workspace.root), "OMP_NUM_THREADS": "1"}
    r = subprocess.run([str(accelerate), "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                        "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
                        "-m", "brie", "train", *args, "--name", "two"], env=env, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("Run two (torch") == 1  # only the main process prints
    one = cli("train", *args, "--name", "one")
    assert one.exit_code == 0, one.output

    runs = {r["name"]: r for r in run_rows.list_runs(workspace.store)}
    assert sorted(runs) == ["one", "two"] and sorted(p.name for p in workspace.runs_dir.iterdir()) == ["one", "two"]
    two = runs["two"]
    assert two["status"] == "completed" and two["step"] == 6
    assert [c["step"] for c in run_rows.list_checkpoints(workspace.store, two["id"])] == [3, 6]
    lines = (workspace.runs_dir / "two" / "metrics.jsonl").read_text().splitlines()
    assert sorted(json.loads(l)["step"] for l in lines if "train_loss" in l) == list(range(1, 7))  # once each

    def values(run, name):
        return {m["step"]: m["value"] for m in run_rows.get_metrics(workspace.store, run["id"], name)}

    # the same examples in total (split, not repeated), and the same training
    assert values(two, "trained_tokens")[6] == values(runs["one"], "trained_tokens")[6]
    for name in ("train_loss", "val_loss"):
        a, b = values(two, name), values(runs["one"], name)
        assert sorted(a) == sorted(b) and max(abs(a[s] - b[s]) for s in a) <= 1e-4, name
    assert values(two, "val_loss")[6] < values(two, "val_loss")[0] - 0.05
