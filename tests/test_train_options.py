"""Training options that had no test: dora, full, epochs, grad checkpointing, keys, optimizers,
weight decay, gradient clipping, lr_schedule (both backends), and .tmp-N cleanup on resume.

Each trains the tiny model built in code for a few steps and checks what the option should change."""

from __future__ import annotations

import importlib.util
import json
import math

import pytest
import yaml
from safetensors import safe_open

from brie.errors import BrieError
from brie.store import runs as run_rows
from brie.training.lifecycle import create_run, resume_training, train
from tests.train_helpers import StopAt, tiny_config, write_chat_data

HAS_TORCH = all(importlib.util.find_spec(m) for m in ("torch", "peft", "accelerate"))


@pytest.fixture
def data_dir(tmp_path):
    return write_chat_data(tmp_path / "chat")


def adapter_keys(folder) -> list[str]:
    with safe_open(str(folder / "adapters.safetensors"), "np") as f:
        return list(f.keys())


def metric(ws, run, name) -> dict[int, float]:
    return {m["step"]: m["value"] for m in run_rows.get_metrics(ws.store, run["id"], name)}


def check_trained(ws, run, total: int) -> tuple[dict, list[str]]:
    """Completed, finite losses, the model changed, every checkpoint complete; (config.yaml, last adapter keys)."""
    assert run["status"] == "completed" and run["step"] == total, run["error"]
    train_loss, val_loss = metric(ws, run, "train_loss"), metric(ws, run, "val_loss")
    assert train_loss and all(math.isfinite(v) for v in train_loss.values())
    assert math.isfinite(val_loss[total]) and val_loss[total] != val_loss[0]  # the weights moved
    ckpts = run_rows.list_checkpoints(ws.store, run["id"])
    assert ckpts[-1]["step"] == total
    for c in ckpts:
        folder = ws.root / c["path"]
        for name in ("adapters.safetensors", "adapter_config.json", "trainer_state.json"):
            assert (folder / name).exists(), (folder, name)
    config = yaml.safe_load((ws.root / run["path"] / "config.yaml").read_text())
    return config, adapter_keys(ws.root / ckpts[-1]["path"])


MLX_CASES = {
    "dora": dict(fine_tune_type="dora"),
    "full": dict(fine_tune_type="full", num_layers=1, learning_rate=1e-4),
    "epochs": dict(epochs=0.5, iters=1000),  # 48 examples / batch 4 = 12 steps an epoch: 6 steps
    "grad-checkpoint": dict(grad_checkpoint=True),
    "keys": dict(keys=["self_attn.q_proj"]),
    "adamw-weight-decay": dict(optimizer="adamw", weight_decay=0.1),
    "sgd-grad-clip": dict(optimizer="sgd", learning_rate=0.05, grad_clip=0.5),
    "adafactor": dict(optimizer="adafactor", optimizer_config={"adafactor": {"relative_step": False}}),
}


@pytest.mark.parametrize("case", MLX_CASES, ids=list(MLX_CASES))
def test_mlx_option_trains_and_is_recorded(workspace, tiny_model_dir, data_dir, case):
    from mlx_lm.models.llama import TransformerBlock

    block_call = TransformerBlock.__call__
    kw = {**dict(iters=4, save_every=2, eval_every=2, steps_per_report=1, val_batches=1), **MLX_CASES[case]}
    run = train(workspace, tiny_config(tiny_model_dir, data_dir, **kw), f"opt-{case}")
    # mlx-lm's grad_checkpoint patches the class; later runs in this process must not inherit it
    assert TransformerBlock.__call__ is block_call
    total = 6 if case == "epochs" else 4
    config, keys = check_trained(workspace, run, total)
    for field, value in MLX_CASES[case].items():
        assert config[field] == value, field
    adapter_cfg = json.loads((workspace.root / run["path"] / "adapter_config.json").read_text())
    assert adapter_cfg["fine_tune_type"] == config["fine_tune_type"]
    if case == "dora":  # DoRA layers have a magnitude vector `m` next to lora_a/lora_b
        assert any(k.endswith(".m") for k in keys) and any(k.endswith(".lora_a") for k in keys)
    elif case == "full":  # whole weights of the last block only, no LoRA
        assert not any("lora" in k for k in keys)
        assert any(k == "model.layers.1.self_attn.q_proj.weight" for k in keys)
        assert not any(k.startswith("model.layers.0.") for k in keys)
    elif case == "keys":
        assert keys and all(".self_attn.q_proj.lora_" in k for k in keys)
    elif case == "epochs":
        last = run_rows.list_checkpoints(workspace.store, run["id"])[-1]
        assert run["total_steps"] == 6 and last["epoch"] == pytest.approx(0.5)
    else:  # LoRA on every linear layer
        assert any(".mlp.down_proj.lora_a" in k for k in keys)


def test_resume_removes_a_leftover_tmp_checkpoint(workspace, tiny_model_dir, data_dir):
    cfg = tiny_config(tiny_model_dir, data_dir, iters=4, save_every=2, eval_every=2, val_batches=1)
    cut = train(workspace, cfg, "tmp-left", callback=StopAt(3))
    assert cut["status"] == "cancelled"
    ckdir = workspace.root / cut["path"] / "checkpoints"
    # what a crash in the middle of writing a checkpoint leaves; step 3 is never written again,
    # so only resume's cleanup removes it
    half = ckdir / ".tmp-3"
    half.mkdir()
    (half / "adapters.safetensors").write_bytes(b"half a file")
    resumed = resume_training(workspace, "tmp-left")
    assert resumed["status"] == "completed" and resumed["step"] == 4
    assert sorted(p.name for p in ckdir.iterdir()) == ["2", "4"]
    assert (ckdir / "4" / "trainer_state.json").exists()


# ---------------------------------------------------------------- lr_schedule and the torch backend


def _cosine(init, steps, end, s):
    return end + 0.5 * (1 + math.cos(math.pi * min(s, steps) / steps)) * (init - end)


# (config, {update: learning rate}) computed by hand from mlx.optimizers' definitions
SCHEDULE_VALUES = [
    (dict(), {0: 1e-3, 7: 1e-3}),
    (dict(warmup_steps=3), {0: 0.0, 1: 1e-3 / 3, 3: 1e-3, 10: 1e-3}),
    (dict(lr_decay="cosine", min_lr=1e-5), {0: 1e-3, 10: _cosine(1e-3, 20, 1e-5, 10), 20: 1e-5}),
    (dict(lr_decay="cosine", min_lr=1e-5, warmup_steps=4), {2: 5e-4, 4: 1e-3, 12: _cosine(1e-3, 16, 1e-5, 8)}),
    # mlx-lm's build_schedule: linear warmup from warmup_init, the main schedule from update warmup + 1
    (dict(lr_schedule={"name": "cosine_decay", "arguments": [1e-3, 12, 1e-5], "warmup": 3}),
     {0: 0.0, 2: 2e-3 / 3, 4: 1e-3, 10: _cosine(1e-3, 12, 1e-5, 6)}),
    (dict(lr_schedule={"name": "linear_schedule", "arguments": [1e-3, 0.0, 10], "warmup": 2, "warmup_init": 1e-5}),
     {0: 1e-5, 1: (1e-5 + 1e-3) / 2, 8: 1e-3 * 0.5}),
    (dict(lr_schedule={"name": "exponential_decay", "arguments": [1e-3, 0.9]}), {0: 1e-3, 5: 1e-3 * 0.9 ** 5}),
    (dict(lr_schedule={"name": "step_decay", "arguments": [1e-3, 0.5, 4], "warmup": 1}), {0: 0.0, 2: 1e-3, 10: 2.5e-4}),
]


@pytest.mark.parametrize("kw, expected", SCHEDULE_VALUES,
                         ids=[kw.get("lr_schedule", {}).get("name") or str(kw) for kw, _ in SCHEDULE_VALUES])
def test_both_engines_follow_the_one_learning_rate_schedule(kw, expected):
    """The MLX optimizer's schedule and the per-update rate the torch engine reads are one schedule,
    and it gives the values mlx.optimizers' formulas give."""
    from brie.training.mlx_engine import build_optimizer
    from brie.training.schedules import learning_rate_at

    cfg = tiny_config("m", "d", learning_rate=1e-3, **kw)
    optimizer = build_optimizer(cfg, 20)
    mlx_lr = optimizer._schedulers.get("learning_rate")
    torch_lr = learning_rate_at(cfg, 20)
    for step, value in expected.items():
        assert torch_lr(step) == pytest.approx(value, rel=1e-5, abs=1e-9), step
        on_mlx = float(mlx_lr(step)) if mlx_lr is not None else float(optimizer.learning_rate)
        assert on_mlx == pytest.approx(value, rel=1e-5, abs=1e-9), step


@pytest.mark.parametrize("backend, kw, message", [
    ("torch", dict(lr_schedule={"name": "cosine_restarts", "arguments": [1e-3, 10]}),
     r"lr_schedule=.*mlx-lm cannot build it"),  # one schedule for both engines: the same check
    ("torch", dict(lr_schedule={"name": "cosine_decay", "arguments": [1e-3]}),
     r"lr_schedule=.*'arguments': \[0.001\].*mlx-lm cannot build it"),
    ("mlx", dict(lr_schedule={"name": "cosine_restarts", "arguments": [1e-3, 10]}),
     r"lr_schedule=.*mlx-lm cannot build it"),
    ("torch", dict(fine_tune_type="dora"), r"fine_tune_type=dora: the torch backend trains lora or full"),
    ("torch", dict(optimizer="adafactor"), r"optimizer='adafactor': the torch backend has adam, adamw, sgd"),
])
def test_unsupported_options_fail_before_the_run_exists(workspace, tiny_model_dir, data_dir, backend, kw, message):
    if backend == "torch" and not HAS_TORCH:
        pytest.skip("torch, peft, accelerate not installed")
    cfg = tiny_config(tiny_model_dir, data_dir, backend=backend, **kw)
    with pytest.raises(BrieError, match=message):
        create_run(workspace, cfg, "refused")
    assert run_rows.list_runs(workspace.store) == [] and not any(workspace.runs_dir.iterdir())


TORCH_CASES = {
    "full": dict(fine_tune_type="full", num_layers=1, learning_rate=1e-4),
    "grad-checkpoint-adamw": dict(grad_checkpoint=True, optimizer="adamw", weight_decay=0.1),
    "sgd-grad-clip-keys": dict(optimizer="sgd", learning_rate=0.05, grad_clip=0.5, keys=["self_attn.q_proj"]),
    "lr-schedule": dict(lr_schedule={"name": "cosine_decay", "arguments": [2e-3, 4, 1e-4], "warmup": 1}),
}


@pytest.mark.skipif(not HAS_TORCH, reason="torch, peft, accelerate not installed")
@pytest.mark.parametrize("case", TORCH_CASES, ids=list(TORCH_CASES))
def test_torch_option_trains_and_is_recorded(workspace, tiny_model_dir, data_dir, case):
    from brie.training.schedules import learning_rate_at

    kw = dict(backend="torch", iters=4, save_every=2, eval_every=2, steps_per_report=1, val_batches=1,
              **TORCH_CASES[case])
    cfg = tiny_config(tiny_model_dir, data_dir, **kw)
    run = train(workspace, cfg, f"t-{case}")
    config, keys = check_trained(workspace, run, 4)
    for field, value in TORCH_CASES[case].items():
        assert config[field] == value, field
    if case == "full":
        assert not any("lora" in k for k in keys) and "model.layers.1.mlp.down_proj.weight" in keys
        assert not any(k.startswith("model.layers.0.") for k in keys)
    elif case.endswith("keys"):
        assert keys and all(".self_attn.q_proj.lora_" in k for k in keys)
    else:
        assert any(".mlp.down_proj.lora_a" in k for k in keys)
    # the recorded learning rate is the schedule's after each update
    lr = learning_rate_at(cfg, 4)
    assert metric(workspace, run, "learning_rate") == pytest.approx({s: lr(s) for s in range(1, 5)})
