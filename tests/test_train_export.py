"""`brie export model run@step --fuse`: the fused model answers exactly as the adapter model does.

mlx-lm's fuse has dropped fine-tunes before (mlx-lm issues #654, #1172, #1564); this catches that.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from brie.errors import BrieError
from brie.export.model import export_model
from brie.training.lifecycle import train
from tests.train_helpers import tiny_config, write_chat_data

PROMPTS = ["add 1 2", "add 40 9", "hello there", "what is cheese?"]


def greedy(model, tokenizer, prompt):
    from brie.generation.mlx_engine import stream_answer

    return "".join(stream_answer(model, tokenizer, prompt, max_tokens=12))


def last_logits(model, tokenizer, prompt):
    import mlx.core as mx

    from brie.generation.chat import chat_prompt

    ids = tokenizer.encode(chat_prompt(tokenizer, [{"role": "user", "content": prompt}]), add_special_tokens=False)
    return np.array(model(mx.array([ids]))[0, -1].astype(mx.float32))


def test_fused_greedy_equals_adapter_greedy(workspace, tiny_model_dir, tmp_path):
    from mlx_lm import load

    data = write_chat_data(tmp_path / "chat")
    train(workspace, tiny_config(tiny_model_dir, data, iters=40, save_every=20, learning_rate=1e-2), "fz")
    out = export_model(workspace, "fz@last")
    assert out == workspace.exports_dir / "models" / "fz-40"
    meta = json.loads((out / "brie_export.json").read_text())
    assert meta["run"] == "fz" and meta["step"] == 40 and len(meta["adapter_sha256"]) == 64

    fused = load(str(out))
    adapted = load(str(tiny_model_dir), adapter_path=str(workspace.runs_dir / "fz/checkpoints/40"))
    base = load(str(tiny_model_dir))
    answers = [greedy(*adapted, p) for p in PROMPTS]
    assert [greedy(*fused, p) for p in PROMPTS] == answers
    assert answers != [greedy(*base, p) for p in PROMPTS]  # the fine-tune changed something to lose
    # and beyond the argmax: the fused logits are the adapter model's, up to float32 rounding
    for p in PROMPTS:
        a, f, b = (last_logits(m, tok, p) for m, tok in (adapted, fused, base))
        assert np.abs(a - f).max() <= 1e-3 * max(1.0, np.abs(a).max())
        assert np.abs(a - b).max() > 0.1

    with pytest.raises(BrieError, match="never overwritten"):
        export_model(workspace, "fz@last")
    r = CliRunner().invoke(__import__("brie.cli", fromlist=["app"]).app,
                           ["export", "model", "fz@20", "--no-fuse", "--out", str(tmp_path / "adapter-only")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "adapter-only" / "adapters.safetensors").exists()
