"""--backend torch (transformers + peft) on CPU: same run layout, mlx-loadable checkpoints, true resume."""

from __future__ import annotations

import numpy as np
import pytest

from brie.store import runs as run_rows
from brie.training.lifecycle import resume_training, train
from tests.train_helpers import StopAt, tiny_config, write_chat_data

pytest.importorskip("torch")
pytest.importorskip("peft")


def test_torch_backend_run_loads_in_mlx_and_resumes(workspace, tiny_model_dir, tmp_path):
    import mlx.core as mx
    import torch
    from mlx_lm import load
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    data = write_chat_data(tmp_path / "chat")
    settings = dict(backend="torch", iters=10, save_every=4, eval_every=4, steps_per_report=1, dropout=0.1,
                    grad_accumulation_steps=2, warmup_steps=2, lr_decay="cosine", learning_rate=5e-3)
    straight = train(workspace, tiny_config(tiny_model_dir, data, **settings), "t-straight")
    assert straight["status"] == "completed" and straight["backend"] == "torch"
    ckpts = run_rows.list_checkpoints(workspace.store, straight["id"])
    assert [c["step"] for c in ckpts] == [4, 8, 10]
    folder = workspace.root / ckpts[-1]["path"]
    assert (folder / "peft" / "adapter_model.safetensors").exists()

    # the converted adapter, loaded by mlx-lm, computes what the peft model computes
    ids = [[5, 17, 99, 3, 42, 7]]
    m, _ = load(str(tiny_model_dir), adapter_path=str(folder))
    mlx_logits = np.array(m(mx.array(ids)).astype(mx.float32))
    peft = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(str(tiny_model_dir)), str(folder / "peft")).eval()
    with torch.no_grad():
        torch_logits = peft(input_ids=torch.tensor(ids)).logits.numpy()
    base = load(str(tiny_model_dir))[0]
    base_logits = np.array(base(mx.array(ids)).astype(mx.float32))
    assert np.abs(mlx_logits - torch_logits).max() <= 1e-3
    assert np.abs(mlx_logits - base_logits).max() > 1e-2

    # cancelled at step 7 (after the checkpoint at 4), then resumed from 4
    cut = train(workspace, tiny_config(tiny_model_dir, data, **settings), "t-cut", callback=StopAt(7))
    assert cut["status"] == "cancelled"
    resumed = resume_training(workspace, "t-cut")
    assert resumed["status"] == "completed" and resumed["step"] == 10

    def losses(run):
        return {m["step"]: m["value"] for m in run_rows.get_metrics(workspace.store, run["id"], "train_loss")}

    a, b = losses(straight), losses(resumed)
    assert sorted(a) == sorted(b) == list(range(1, 11))
    assert max(abs(a[s] - b[s]) for s in a) <= 1e-5
