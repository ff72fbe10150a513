"""The torch generation engine (transformers + peft) on the tiny model, on CPU here (CUDA on a GPU box)."""

import json

import pytest

from tests.judge_fixtures import make_adapter, setup_workspace

torch = pytest.importorskip("torch")
pytest.importorskip("peft")


def _peft_adapter(model_dir, out):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    peft_model = get_peft_model(model, LoraConfig(r=4, lora_alpha=32, target_modules=["q_proj", "v_proj"]))
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 1.0)  # peft starts B at zero: make the adapter change the answers
    peft_model.save_pretrained(out / "peft")


def test_torch_engine_matches_mlx_on_base_and_applies_the_peft_adapter(workspace, tiny_model_dir, tmp_path):
    from brie.models.specs import resolve_specs
    from brie.generation.runner import generate_suite

    ckpt = make_adapter(tiny_model_dir, tmp_path / "runs" / "r1" / "10")
    _peft_adapter(tiny_model_dir, ckpt)
    setup_workspace(workspace, tiny_model_dir, ckpt)
    specs = resolve_specs(workspace, "base,r1@10")
    torch_gens = generate_suite(workspace, "s", specs, max_tokens=6, engine="torch")
    # Another seed makes these other generations (greedy ignores it), so MLX really generates.
    mlx_gens = generate_suite(workspace, "s", specs[:1], max_tokens=6, seed=1, engine="mlx")
    rows = {r["id"]: r for r in workspace.store.db["generations"].rows}
    answers = {gid: json.loads(rows[gid]["answers_json"]) for gid in rows}
    assert {rows[g]["engine"] for g in torch_gens["base"].values()} == {"torch"}
    assert {rows[g]["engine"] for g in mlx_gens["base"].values()} == {"mlx"}
    for key, gid in torch_gens["base"].items():  # greedy: both engines give the same base answers
        assert answers[gid] == answers[mlx_gens["base"][key]]
    assert any(answers[torch_gens["base"][k]] != answers[torch_gens["r1@10"][k]] for k in torch_gens["base"])


def test_auto_engine_is_mlx_without_cuda(workspace, tiny_model_dir, tmp_path):
    from brie.models.specs import resolve_specs
    from brie.generation.torch_engine import wants_torch

    setup_workspace(workspace, tiny_model_dir, make_adapter(tiny_model_dir, tmp_path / "ad"))
    with workspace.store.transaction() as db:
        db.execute("update runs set backend = 'torch'")
    assert wants_torch(workspace, resolve_specs(workspace, "base,r1@10")) == torch.cuda.is_available()
