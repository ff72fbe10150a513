"""Greedy generation for the base and several checkpoints at once shares the frozen trunk
(brie.generation.mlx_engine.generate_shared) and gives each model's one-at-a-time answers.

A 4-layer tiny model with LoRA adapters (random, large weights) on its top 2 layers: layers 0-1 are
the shared trunk. The suite has prompts of different lengths (left padding) and a two-turn one,
whose second turn differs per model (each model is fed its own first answer).
"""

import json

import pytest

from tests.judge_fixtures import make_adapter, register_run, write_suite

LINES = [{"id": "p1", "prompt": "Say hello.", "category": "chat"},
         {"id": "p2", "prompt": "Name a colour you like and tell me why, in one sentence.", "category": "chat"},
         {"id": "p3", "turns": ["Pick a fruit.", "Now a vegetable."], "category": "chat"}]


@pytest.fixture
def ws(workspace, tmp_path):
    from brie.data.suites import import_suite
    from brie.models.registry import add_model
    from tests.tiny import make_tiny_model

    model_dir = make_tiny_model(tmp_path / "tiny4", layers=4, seed=3)
    add_model(workspace, str(model_dir), "tiny4")
    for seed, step in ((1, 10), (2, 20), (3, 30)):
        register_run(workspace, "tiny4", "r", step, make_adapter(model_dir, tmp_path / "runs" / "r" / str(step), seed))
    import_suite(workspace, write_suite(tmp_path / "s.jsonl", LINES), "s")
    return workspace


def answers(ws) -> dict[tuple[str, str], list[str]]:
    """{(label, prompt text): answers} of every stored generation."""
    prompts = {r["id"]: r["turns_json"] for r in ws.store.db["prompts"].rows}
    return {(g["label"], prompts[g["prompt_row_id"]]): json.loads(g["answers_json"])
            for g in ws.store.db["generations"].rows}


def test_shared_generation_equals_each_model_alone(ws, monkeypatch):
    import brie.models.registry as registry
    from brie.evals.sweep import open_shared
    from brie.generation.runner import generate_suite
    from brie.models.specs import resolve_specs

    specs = resolve_specs(ws, "base,r@10,r@20,r@30")
    assert open_shared(ws, specs[0].model, [s.adapter_path for s in specs]).first == 2
    for spec in specs:  # one model per call: nothing to share
        generate_suite(ws, "s", [spec], max_tokens=12)
    alone = answers(ws)
    with ws.store.transaction() as db:
        db.execute("delete from generations")

    loads = []
    real_load = registry.load_model
    monkeypatch.setattr(registry, "load_model", lambda *a, **kw: loads.append(a) or real_load(*a, **kw))
    progress = []
    generate_suite(ws, "s", specs, max_tokens=12, progress=lambda *a: progress.append(a))
    assert len(loads) == 1  # the base model, once, for all four
    assert len(progress) == 12 and {p[0] for p in progress} == {s.label for s in specs}
    shared = answers(ws)
    assert shared == alone
    # the checkpoints answer differently from the base and each other, so the equality is not trivial
    assert len({tuple(v) for (label, _), v in shared.items() if "fruit" in _}) == 4
    rows = list(ws.store.db["generations"].rows)
    assert {(r["label"], r["engine"], r["temperature"]) for r in rows} == {(s.label, "mlx", 0.0) for s in specs}


def test_sampled_generation_is_not_shared(ws, monkeypatch):
    import brie.models.registry as registry
    from brie.generation.runner import generate_suite
    from brie.models.specs import resolve_specs

    loads = []
    real_load = registry.load_model
    monkeypatch.setattr(registry, "load_model", lambda *a, **kw: loads.append(a) or real_load(*a, **kw))
    generate_suite(ws, "s", resolve_specs(ws, "base,r@10"), temperature=0.7, max_tokens=4)
    assert len(loads) == 2  # sampling draws per model, as one model alone would


def test_rows_that_stop_early_leave_the_batch_and_the_rest_go_on(ws):
    """End-of-sequence tokens chosen from the answers themselves, so rows stop at different steps
    (the longest prompt's rows among the first): the finished rows leave the batch (its caches
    shift left) and every answer still equals mlx-lm's batch_generate for that model alone."""
    from mlx_lm import batch_generate

    from brie.evals.sweep import open_shared
    from brie.generation.chat import chat_prompt
    from brie.generation.mlx_engine import generate_batch, generate_shared
    from brie.models.registry import load_model
    from brie.models.specs import resolve_specs

    specs = resolve_specs(ws, "base,r@10,r@20,r@30")
    prompts = [[{"role": "user", "content": line["prompt"]}] for line in LINES[:2]] + \
              [[{"role": "user", "content": "Say something else entirely, at some length."}]]
    alone = [load_model(ws, s.model, s.adapter_path) for s in specs]
    tok = alone[0][1]

    def token_ids(model, tokenizer):
        encoded = [tokenizer.encode(chat_prompt(tokenizer, c), add_special_tokens=False) for c in prompts]
        return batch_generate(model, tokenizer, encoded, max_tokens=16, return_token_ids=True).token_ids

    # stop each model's answer to the longest prompt at its third token
    stops = {token_ids(m, t)[1][2] for m, t in alone} | set(tok.eos_token_ids)
    for _, t in alone:
        t.eos_token_ids = stops
    lengths = {len(ids) for m, t in alone for ids in token_ids(m, t)}
    assert min(lengths) <= 3 and max(lengths) >= 8  # rows really stop at different steps
    expected = [generate_batch(m, t, prompts, max_tokens=16, batch_size=3) for m, t in alone]

    shared = open_shared(ws, specs[0].model, [s.adapter_path for s in specs])
    shared.tokenizer.eos_token_ids = stops
    rows = [(j, i) for i in range(len(prompts)) for j in range(len(specs))]
    got = generate_shared(shared, [j for j, _ in rows], [prompts[i] for _, i in rows], max_tokens=16)
    assert got == [expected[j][i] for j, i in rows]


def test_a_resumed_shared_generation_answers_only_what_is_missing(ws):
    from brie.generation.runner import generate_suite
    from brie.models.specs import resolve_specs

    specs = resolve_specs(ws, "base,r@10,r@20,r@30")
    generate_suite(ws, "s", specs, max_tokens=8)
    before = answers(ws)
    with ws.store.transaction() as db:  # as if killed part-way: two models lack one answer each
        db.execute("delete from generations where (label = 'r@20' and prompt_row_id = "
                   "(select min(id) from prompts)) or (label = 'base' and prompt_row_id = (select max(id) from prompts))")
    assert ws.store.db["generations"].count == 10
    seen = []
    generate_suite(ws, "s", specs, max_tokens=8, progress=lambda *a: seen.append(a))
    assert sorted(p[0] for p in seen) == ["base", "r@20"]
    assert answers(ws) == before
