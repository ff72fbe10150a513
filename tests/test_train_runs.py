"""brie train on a tiny model: checkpoints, store records, never-overwrite, dry runs, config, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from brie.models.specs import resolve_spec, sha256_file
from brie.errors import BrieError
from brie.store import runs as run_rows
from brie.training.lifecycle import create_run, reap_dead_runs, train
from brie.training.config import resolve_config
from tests.train_helpers import StopAt, register_dataset, tiny_config, write_chat_data, write_text_data


@pytest.fixture
def data_dir(tmp_path):
    return write_chat_data(tmp_path / "chat")


def cli(*args):
    from brie.cli import app

    result = CliRunner().invoke(app, list(args))
    return result


def test_train_writes_checkpoints_and_records(workspace, tiny_model_dir, data_dir):
    register_dataset(workspace, "sums", data_dir)
    cfg = tiny_config(tiny_model_dir, "sums", dropout=0.1)
    run = train(workspace, cfg, "r1")
    assert run["status"] == "completed" and run["step"] == 12 and run["total_steps"] == 12
    assert run["dataset_id"] is not None and run["dry_run"] == 0 and run["pid"] == os.getpid()
    ckpts = run_rows.list_checkpoints(workspace.store, run["id"])
    assert [c["step"] for c in ckpts] == [4, 8, 12]
    for c in ckpts:
        folder = workspace.root / c["path"]
        assert sorted(p.name for p in folder.iterdir()) == [
            "adapter_config.json", "adapters.safetensors", "optimizer.safetensors", "trainer_state.json"]
        assert sha256_file(folder / "adapters.safetensors") == c["adapter_sha256"]
        assert c["val_loss"] is not None and c["train_loss"] is not None
    # best is the lowest validation loss; recommended follows it until a user picks one
    best = min(ckpts, key=lambda c: c["val_loss"])["step"]
    assert run["best_step"] == best and run["recommended_step"] == best
    names = {m["name"] for m in run_rows.get_metrics(workspace.store, run["id"])}
    assert {"train_loss", "val_loss", "tokens_per_second", "learning_rate", "peak_memory_gb"} <= names
    val0 = run_rows.get_metrics(workspace.store, run["id"], "val_loss")[0]
    assert val0["step"] == 0  # the base model's validation loss comes first
    # the resolved config is in the run folder and the store, with the LoRA scale spelled out
    folder = workspace.root / run["path"]
    assert "lora_scale: 2.0" in (folder / "config.yaml").read_text()
    assert json.loads(run["config_json"])["lora_scale"] == 2.0
    assert (folder / "adapters.safetensors").read_bytes() == (folder / "checkpoints/12/adapters.safetensors").read_bytes()
    assert not list((folder / "checkpoints").glob(".tmp-*"))

    # the checkpoint loads the way mlx-lm loads adapters, and the spec resolver accepts it
    spec = resolve_spec(workspace, "r1@best")
    assert spec.step == best and spec.model == str(tiny_model_dir)
    from mlx_lm import generate, load

    model, tok = load(str(tiny_model_dir), adapter_path=spec.adapter_path)
    assert isinstance(generate(model, tok, "add 2 3", max_tokens=3), str)


def test_never_overwrite_and_dry_runs(workspace, tiny_model_dir, data_dir):
    first = create_run(workspace, tiny_config(tiny_model_dir, data_dir), "same")
    with pytest.raises(BrieError, match="already exists"):
        create_run(workspace, tiny_config(tiny_model_dir, data_dir), "same")
    second = create_run(workspace, tiny_config(tiny_model_dir, data_dir), "same", suffix=True)
    assert second["name"] == "same-2" and first["path"] != second["path"]
    (workspace.runs_dir / "stray").mkdir()  # a folder the store does not know is still taken
    with pytest.raises(BrieError, match="already exists"):
        create_run(workspace, tiny_config(tiny_model_dir, data_dir), "stray")
    with pytest.raises(BrieError, match="run name"):
        create_run(workspace, tiny_config(tiny_model_dir, data_dir), "bad@name")

    dry = train(workspace, tiny_config(tiny_model_dir, data_dir, max_steps=3), "dry")
    assert dry["dry_run"] == 1 and dry["total_steps"] == 3 and dry["status"] == "completed"
    assert [c["step"] for c in run_rows.list_checkpoints(workspace.store, dry["id"])] == [3]
    dry2 = create_run(workspace, tiny_config(tiny_model_dir, data_dir, dry_run=True), "dry2")
    assert dry2["dry_run"] == 1 and (workspace.runs_dir / "dry2").is_dir()


def test_config_precedence_and_mlx_lm_yaml(tmp_path, data_dir):
    yml = tmp_path / "lora.yaml"
    yml.write_text("model: some/model\nfine_tune_type: lora\nnum_layers: 8\nbatch_size: 2\niters: 50\n"
                   "steps_per_eval: 25\ntrain: true\nadapter_path: adapters\n"
                   "lora_parameters:\n  rank: 8\n  scale: 20.0\n  dropout: 0.05\n")
    cfg = resolve_config(yml, {"data": str(data_dir), "iters": 7})
    assert (cfg.model, cfg.num_layers, cfg.batch_size, cfg.eval_every) == ("some/model", 8, 2, 25)
    assert cfg.iters == 7  # the command line beats the file
    assert cfg.alpha == 160.0 and cfg.lora_scale == 20.0  # mlx-lm's scale becomes alpha = scale × rank
    assert cfg.lora_parameters() == {"rank": 8, "scale": 20.0, "dropout": 0.05}
    bad = tmp_path / "bad.yaml"
    bad.write_text("iters: 3\nlearning_rat: 0.1\n")
    with pytest.raises(BrieError, match=r"bad.yaml line 2: unknown key 'learning_rat' \(did you mean 'learning_rate'"):
        resolve_config(bad, {"data": "x"})
    broken = tmp_path / "broken.yaml"
    broken.write_text("iters: [3\n")
    with pytest.raises(BrieError, match="broken.yaml line"):
        resolve_config(broken, {"data": "x"})
    with pytest.raises(BrieError, match="--optimizer rmsprop: choose one of adam"):
        resolve_config(None, {"data": "x", "optimizer": "rmsprop"})


def test_cli_train_runs_recommend_prune(workspace, tiny_model_dir, data_dir):
    r = cli("train", "--model", str(tiny_model_dir), "--data", str(data_dir), "--name", "c1", "--iters", "6",
            "--save-every", "2", "--eval-every", "2", "--num-layers", "-1", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["status"] == "completed"
    r = cli("train", "--model", str(tiny_model_dir), "--data", str(data_dir), "--name", "c1", "--iters", "2")
    assert r.exit_code == 1 and "already exists" in r.output and "Traceback" not in r.output

    listed = json.loads(cli("runs", "list", "--json").output)
    assert [x["name"] for x in listed] == ["c1"]
    shown = json.loads(cli("runs", "show", "c1", "--json").output)
    assert [c["step"] for c in shown["checkpoints"]] == [2, 4, 6] and shown["config"]["lora_scale"] == 2.0
    assert cli("runs", "show", "c1").exit_code == 0

    assert cli("runs", "recommend", "c1", "4").exit_code == 0
    assert cli("runs", "recommend", "c1", "5").exit_code == 1
    run = run_rows.get_run(workspace.store, "c1")
    assert run["recommended_step"] == 4 and run["recommended_by"] == "user"
    keep = {4, 6, run["best_step"]}
    r = cli("runs", "prune", "c1", "--keep", "recommended,last", "--json", "--yes")
    assert r.exit_code == 0, r.output
    gone = json.loads(r.output)["deleted"]
    assert set(gone) == {2, 4, 6} - {4, 6}
    left = {c["step"] for c in run_rows.list_checkpoints(workspace.store, run["id"])}
    assert left == {4, 6} and not (workspace.runs_dir / "c1/checkpoints/2").exists()
    assert keep >= left


def test_dead_process_is_reaped(workspace, tiny_model_dir, data_dir):
    run = create_run(workspace, tiny_config(tiny_model_dir, data_dir), "ghost")
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    run_rows.update_run(workspace.store, run["id"], status="running", pid=int(done.stdout))
    r = cli("runs", "list", "--json")
    assert json.loads(r.stdout)[0]["status"] == "failed"
    row = run_rows.get_run(workspace.store, "ghost")
    assert "ended without finishing" in row["error"] and reap_dead_runs(workspace) == []


def test_ctrl_c_cancels_and_keeps_checkpoints(workspace, tiny_model_dir, data_dir):
    run = train(workspace, tiny_config(tiny_model_dir, data_dir), "cc", callback=StopAt(6))
    assert run["status"] == "cancelled" and "cancelled" in run["stop_reason"]
    assert [c["step"] for c in run_rows.list_checkpoints(workspace.store, run["id"])] == [4]
    assert resolve_spec(workspace, "cc@last").step == 4


def test_early_stopping_and_forgetting_guard(workspace, tiny_model_dir, data_dir, tmp_path):
    # min_delta so large that no evaluation counts as better: stops after `patience` evaluations
    run = train(workspace, tiny_config(tiny_model_dir, data_dir, iters=40, eval_every=2, save_every=10,
                                       early_stopping_patience=2, early_stopping_min_delta=100.0), "es")
    assert run["status"] == "completed" and run["step"] == 4
    assert run["stop_reason"].startswith("early stopping at step 4")
    assert [c["step"] for c in run_rows.list_checkpoints(workspace.store, run["id"])] == [4]

    guard = write_text_data(tmp_path / "general")
    # answers that are one letter over and over, learned fast, make the model worse at plain prose
    zzz = write_chat_data(tmp_path / "zzz", word="z" * 40)
    stopped = train(workspace, tiny_config(tiny_model_dir, zzz, iters=40, eval_every=4, save_every=20,
                                           learning_rate=3e-2, guard_data=str(guard), guard_threshold=0.05,
                                           guard_batches=2), "guard")
    guard_losses = run_rows.get_metrics(workspace.store, stopped["id"], "guard_loss")
    assert guard_losses[0]["step"] == 0
    assert stopped["stop_reason"] and stopped["stop_reason"].startswith("forgetting guard")
    assert stopped["step"] < 40 and guard_losses[-1]["value"] > guard_losses[0]["value"] * 1.05

    warned = train(workspace, tiny_config(tiny_model_dir, zzz, iters=12, eval_every=4, learning_rate=3e-2,
                                          guard_data=str(guard), guard_threshold=0.05, guard_action="warn",
                                          guard_batches=2), "guard-warn")
    assert warned["step"] == 12 and warned["stop_reason"] is None
    assert "forgetting guard" in json.loads(warned["warnings"])[0]


def test_sigterm_from_the_ui_cancels_the_process(workspace, tiny_model_dir, data_dir):
    """The UI launches `brie train` as its own process and stops it with SIGTERM."""
    import signal
    import time
    from pathlib import Path

    from brie.training.lifecycle import launch

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    log = workspace.root / "launch.log"
    p = launch(workspace, ["--model", str(tiny_model_dir), "--data", str(data_dir), "--name", "long",
                           "--iters", "100000", "--save-every", "5", "--eval-every", "1000", "--num-layers", "-1"],
               log=log, env=env)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:  # wait (not a timed assertion) for the first checkpoint
        run = run_rows.get_run(workspace.store, "long")
        if run and run_rows.list_checkpoints(workspace.store, run["id"]):
            break
        time.sleep(0.2)
    assert run["status"] == "running" and run["pid"] == p.pid
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=120)
    assert p.returncode == 130, log.read_text()
    run = run_rows.get_run(workspace.store, "long")
    assert run["status"] == "cancelled" and run["ended_at"]
    assert run_rows.list_checkpoints(workspace.store, run["id"])


def test_backend_auto_picks_mlx_without_cuda():
    import platform

    from brie.training.lifecycle import pick_backend

    try:
        import torch

        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    mac = platform.system() == "Darwin" and platform.machine() == "arm64"
    assert pick_backend("auto") == ("mlx" if mac or not cuda else "torch")
    assert pick_backend("torch") == "torch" and pick_backend("mlx") == "mlx"
