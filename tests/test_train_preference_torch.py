"""`brie train --method dpo --backend torch`: TRL's DPO loss and metrics in brie's run loop, on the CPU."""

from __future__ import annotations

import pytest

from tests.test_train_preference import series, write_pairs
from tests.train_helpers import StopAt, tiny_config

pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("trl")

TOL = 1e-5


def test_torch_dpo_learns_resumes_and_writes_mlx_checkpoints(workspace, tiny_model_dir, tmp_path):
    import numpy as np
    from safetensors.numpy import load_file

    from brie.store import runs as run_rows
    from brie.training.lifecycle import resume_training, train

    data = write_pairs(tmp_path / "prefs", n_train=16, n_valid=4)
    settings = dict(method="dpo", backend="torch", iters=6, save_every=3, eval_every=3, steps_per_report=1,
                    batch_size=2, grad_accumulation_steps=2, val_batches=-1, seed=1)
    stopped = train(workspace, tiny_config(tiny_model_dir, data, **settings), "stopped", callback=StopAt(5))
    assert stopped["status"] == "cancelled"
    assert resume_training(workspace, "stopped")["status"] == "completed"
    straight = train(workspace, tiny_config(tiny_model_dir, data, **settings), "straight")
    assert straight["method"] == "dpo lora" and straight["backend"] == "torch"

    margin, loss = series(workspace, "straight", "val_reward_margin"), series(workspace, "straight", "val_loss")
    assert sorted(margin) == [0, 3, 6] and margin[0] == 0 and 0 < margin[3] < margin[6]
    assert abs(loss[0] - 0.6931472) < 1e-5 and loss[6] < loss[3] < loss[0]
    for name in ("train_loss", "reward_margin", "preference_accuracy", "val_loss", "val_reward_margin"):
        a, b = series(workspace, "stopped", name), series(workspace, "straight", name)
        assert sorted(a) == sorted(b) and a, name
        assert max(abs(a[s] - b[s]) for s in b) <= TOL, name

    # The checkpoint holds the trained LoRA in mlx-lm's layout (not TRL's frozen "ref" copy of the start).
    ckpts = run_rows.list_checkpoints(workspace.store, straight["id"])
    assert len({c["adapter_sha256"] for c in ckpts}) == 2
    weights = load_file(str(workspace.runs_dir / "straight" / "checkpoints" / "6" / "adapters.safetensors"))
    assert any(k.endswith("lora_b") and np.abs(v).max() > 0 for k, v in weights.items())
