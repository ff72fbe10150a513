"""Checkpoint sweeps that share the frozen trunk (brie.evals.sweep) give the one-at-a-time numbers.

A real run is trained on a 4-layer tiny model with LoRA on its top 2 layers, so layers 0-1 are the
shared trunk; base and three checkpoints are evaluated on perplexity and multiple choice both ways.
"""

import json
from pathlib import Path

import pytest

from brie.evals import parse_benchmarks
from brie.evals.runner import evaluate, sweep_specs
from brie.store import evals as eval_rows
from tests.train_helpers import register_dataset, tiny_config, write_chat_data

MCQ = [{"question": "2+2?", "choices": ["4", "five", "22"], "answer": 0},
       {"question": "Sky?", "choices": {"text": ["blue", "green"], "label": ["A", "B"]}, "answerKey": "A"},
       {"ctx": "The cat", "endings": ["sat down", "flew away quickly"], "label": 1},
       {"question": "Add 7 and 5", "choices": ["12 cheese", "13", "75"], "answer": "12 cheese"}]


@pytest.fixture(scope="module")
def four_layer_model(tmp_path_factory):
    from tests.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny4") / "tiny-llama-4", layers=4, seed=3)


@pytest.fixture
def trained(workspace, four_layer_model, tmp_path):
    from brie.training.lifecycle import train

    data = write_chat_data(tmp_path / "sums")
    register_dataset(workspace, "sums", data)
    # a high learning rate so every checkpoint's numbers differ visibly from the base's
    train(workspace, tiny_config(four_layer_model, "sums", iters=6, save_every=2, eval_every=6,
                                 num_layers=2, learning_rate=2e-2), "top2")
    mcq = tmp_path / "mcq.jsonl"
    mcq.write_text("".join(json.dumps(r) + "\n" for r in MCQ))
    return workspace, f"perplexity:{data},mcq:{mcq}"


def stored(ws, results):
    """Each result as stored, without what differs between two runs of the same thing (ids, times)."""
    out = []
    for r in results:
        row = {k: r[k] for k in ("label", "model", "run", "step", "adapter_sha256", "benchmark", "settings_json",
                                 "n_items", "n_available", "n_done", "status")}
        samples = [{k: s[k] for k in ("item_idx", "item_id", "input", "output", "target", "scores")}
                   for s in eval_rows.samples(ws.store, r["id"])]
        out.append((row, r["metrics"], samples))
    return out


def forget(ws):
    with ws.store.transaction() as db:
        db.execute("delete from eval_samples")
        db.execute("delete from eval_results")


def assert_close(a, b):
    """Equal, with floats equal within float32 rounding."""
    if isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_close(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_close(x, y)
    elif isinstance(a, float):
        assert a == pytest.approx(b, rel=1e-5, abs=1e-5)
    else:
        assert a == b


def test_shared_trunk_sweep_equals_one_model_at_a_time(trained, monkeypatch):
    import brie.models.registry as registry
    from brie.evals.sweep import open_shared, share_groups

    ws, spec_text = trained
    specs = sweep_specs(ws, "top2")
    assert [s.label for s in specs] == ["base", "top2@2", "top2@4", "top2@6"]
    assert share_groups(specs) == [[0, 1, 2, 3]]
    trunk = open_shared(ws, specs[0].model, [s.adapter_path for s in specs])
    assert trunk is not None and trunk.first == 2  # LoRA on layers 2-3 of 4: layers 0-1 are shared

    benches = parse_benchmarks(spec_text)
    alone = [r for spec in specs for r in evaluate(ws, [spec], benches, limit=4)]  # one model per call
    expected = stored(ws, alone)
    forget(ws)

    loads = []
    real_load = registry.load_model
    monkeypatch.setattr(registry, "load_model", lambda *a, **kw: loads.append(a) or real_load(*a, **kw))
    # the base already has two perplexity items stored: a resumed sweep scores the rest for it only
    evaluate(ws, specs[:1], parse_benchmarks(spec_text.split(",")[0]), limit=2)
    assert len(loads) == 1
    progress = []
    shared = evaluate(ws, specs, benches, limit=4, progress=progress.append)
    assert len(loads) == 2  # the base model, once, for all four models and both benchmarks
    assert ("base", benches[0].spec, 2) in {(p.label, p.benchmark, p.skipped) for p in progress}
    got = stored(ws, shared)
    assert [g[0] for g in got] == [e[0] for e in expected]  # same rows, settings and identities, same order
    assert_close([g[1:] for g in got], [e[1:] for e in expected])  # same metrics and per-item scores
    # the checkpoints really differ from the base, so equality above is not trivial
    losses = {r["label"]: r["metrics"]["loss"] for r in shared if r["benchmark"] == benches[0].spec}
    assert len({round(v, 6) for v in losses.values()}) == 4


def test_adapters_of_different_configurations_are_not_shared(trained, tmp_path):
    from dataclasses import replace

    from brie.evals.sweep import share_groups

    ws, _ = trained
    specs = sweep_specs(ws, "top2")
    other = tmp_path / "other"
    other.mkdir()
    config = json.loads((Path(specs[1].adapter_path) / "adapter_config.json").read_text())
    config["num_layers"] = 1
    (other / "adapter_config.json").write_text(json.dumps(config))
    odd = replace(specs[2], adapter_path=str(other))
    # the odd one runs on its own; the base and the two alike still share
    assert share_groups([specs[0], specs[1], odd, specs[3]]) == [[0, 1, 3]]
    assert share_groups([specs[1], odd]) == []  # two checkpoints of different configurations
    assert share_groups([replace(specs[1], model="elsewhere"), specs[0]]) == []


def test_head_at_scored_positions_equals_the_full_logits(four_layer_model):
    """The head runs only where log-probs are read; the numbers are those of the model's full logits."""
    import mlx.core as mx
    from mlx_lm import load

    from brie.evals.loglik import splits_head, token_logprobs

    model, _ = load(str(four_layer_model))
    assert splits_head(model)  # so the split path below is the one brie takes
    sequences = [[5, 9, 12, 7, 3, 30, 2], [5, 9, 12, 7, 44], [5, 9, 12, 7, 8, 8]]
    logits = model(mx.array([s[:-1] + [0] * (7 - len(s)) for s in sequences])).astype(mx.float32)
    logp = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
    for skip in (0, 3):
        direct = [[logp[i, j - 1, s[j]].item() for j in range(skip + 1, len(s))] for i, s in enumerate(sequences)]
        for split in (True, False):
            got = token_logprobs(model, sequences, skip=skip, split=split)
            assert [len(g) for g in got] == [len(d) for d in direct]
            for g, d in zip(got, direct):
                assert g == pytest.approx(d, rel=1e-5, abs=1e-5)


def test_models_with_sliding_window_layers_are_not_shared():
    """The trunk builds one causal mask for every layer: a model whose layers attend through a
    sliding window goes one at a time (the short probe input could not tell the masks apart)."""
    from mlx_lm.models import llama

    from brie.evals.sweep import mixes_attention

    def inner(**extra):
        args = llama.ModelArgs(model_type="llama", hidden_size=16, num_hidden_layers=2, intermediate_size=32,
                               num_attention_heads=2, rms_norm_eps=1e-5, vocab_size=32, num_key_value_heads=2,
                               **extra)
        return llama.Model(args).model

    assert not mixes_attention(inner())
    assert mixes_attention(inner(layer_types=["full_attention", "sliding_attention"], sliding_window=4))


def test_lm_eval_tasks_in_a_shared_sweep_equal_one_model_at_a_time(trained, tmp_path, monkeypatch):
    """An lm-eval log-likelihood task answers every model's requests from one trunk pass per context
    (SharedLoglik), a generation task runs per model on the one loaded model: both store what each
    model alone through mlx-lm's harness adapter stores."""
    pytest.importorskip("lm_eval")
    import brie.evals.sweep as sweep
    import brie.models.registry as registry
    from tests.test_eval_lm_eval import write_generation_task, write_task

    ws, _ = trained
    specs = sweep_specs(ws, "top2")
    (tmp_path / "mc").mkdir()
    (tmp_path / "gen").mkdir()
    mc, _ = write_task(tmp_path / "mc")
    gen = write_generation_task(tmp_path / "gen", ["a", "b", "c", "d", "e"])
    benches = parse_benchmarks(f"lm-eval:{mc},lm-eval:{gen}")
    expected = stored(ws, [r for spec in specs for r in evaluate(ws, [spec], benches)])
    forget(ws)

    loads = []
    real_load = registry.load_model
    monkeypatch.setattr(registry, "load_model", lambda *a, **kw: loads.append(a) or real_load(*a, **kw))
    monkeypatch.setattr(sweep, "TOKENS", 1)  # one model per batch here (the test above: all four in one)
    got = stored(ws, evaluate(ws, specs, benches))
    assert len(loads) == 1
    assert [g[0] for g in got] == [e[0] for e in expected]
    for g, e in zip(got, expected):
        for gs, es in zip(g[2], e[2]):
            assert gs["scores"] == pytest.approx(es["scores"], rel=1e-5, abs=1e-5)
            if g[0]["benchmark"].endswith("tiny_gen.yaml"):
                assert gs["output"] == es["output"]
            else:  # the per-choice log-likelihoods, as the harness printed them
                assert json.loads(gs["output"]) == pytest.approx(json.loads(es["output"]), abs=2e-4)
    logliks = {g[0]["label"]: g[2][0]["output"] for g in got if g[0]["benchmark"].endswith("tiny_mc.yaml")}
    assert len(set(logliks.values())) == 4  # every checkpoint scores differently from the base


def test_shared_loglikelihood_equals_mlx_lms_harness_adapter(trained):
    """SharedLoglik's (log-likelihood, is greedy) per request equal mlx-lm's MLXLM.loglikelihood for
    each model alone, with the context cut from the left (a small max length) and cut away entirely."""
    pytest.importorskip("lm_eval")
    from types import SimpleNamespace

    import mlx.core as mx

    from brie.evals.lm_eval_task import SharedLoglik, _harness_model
    from brie.evals.sweep import open_shared
    from brie.models.registry import load_model

    ws, _ = trained
    specs = sweep_specs(ws, "top2")
    shared = open_shared(ws, specs[0].model, [s.adapter_path for s in specs])
    alone = [load_model(ws, s.model, s.adapter_path) for s in specs]
    contexts = ["Question: What colour is the sky?\nAnswer:", "The cat sat on the", "1 2 3 4 5 6 7 8 9 10 11 12"]
    requests = [SimpleNamespace(args=(c, r)) for c in contexts
                for r in (" blue", " mat and the dog", " " + "x y z " * 12)]
    model, tok = alone[1]  # continuations that are this checkpoint's own greedy pick, where one re-encodes as itself
    for context in ["Say", "Hello there", "A B C", "Once upon a time", "The end", "Why?"] + contexts:
        ids = tok.encode(context)
        pick = mx.argmax(model(mx.array([ids]))[0, -1]).item()
        if tok.encode(context + tok.decode([pick])) == ids + [pick]:
            requests.append(SimpleNamespace(args=(context, tok.decode([pick]))))
    known = SharedLoglik(shared, list(range(len(specs))))
    for max_tokens in (None, 12):  # None: mlx-lm's default length; 12 cuts the contexts
        known.known.clear()
        seen_greedy = seen_cut = False
        for which, (model, tok) in enumerate(alone):
            reference = _harness_model(model, tok, 8)
            view = _harness_model(shared.model, shared.tokenizer, 8, (known, which))
            reference._max_tokens = view._max_tokens = max_tokens
            expected, got = reference.loglikelihood(requests), view.loglikelihood(requests)
            assert [g for _, g in got] == [g for _, g in expected]
            assert [s for s, _ in got] == pytest.approx([s for s, _ in expected], rel=1e-5, abs=1e-4)
            seen_greedy |= any(g for _, g in expected)
            seen_cut |= any(s == float("-inf") for s, _ in expected)
        assert seen_greedy  # the greedy flag is really compared
        assert seen_cut == (max_tokens is not None)


def test_generative_kinds_in_a_shared_sweep_equal_one_model_at_a_time(trained, tmp_path, monkeypatch):
    """gsm8k and overlap answer greedily for every model together (each prompt's lower layers once)
    and store what each model alone stores: the same answers, so the same scores."""
    import brie.models.registry as registry

    ws, _ = trained
    specs = sweep_specs(ws, "top2")
    refs = tmp_path / "refs.jsonl"
    refs.write_text("".join(json.dumps({"prompt": p, "reference": r}) + "\n" for p, r in
                            [("Say hello.", "Hello there."), ("Name a colour you like, and say why.", "Blue, it is calm."),
                             ("Count to three.", "1, 2, 3")]))
    benches = parse_benchmarks(f"gsm8k,overlap:{refs}", max_tokens=10)
    expected = stored(ws, [r for spec in specs for r in evaluate(ws, [spec], benches, limit=3, batch_size=2)])
    forget(ws)

    loads = []
    real_load = registry.load_model
    monkeypatch.setattr(registry, "load_model", lambda *a, **kw: loads.append(a) or real_load(*a, **kw))
    got = stored(ws, evaluate(ws, specs, benches, limit=3, batch_size=2))
    assert len(loads) == 1
    assert [g[0] for g in got] == [e[0] for e in expected]
    assert_close([g[1:] for g in got], [e[1:] for e in expected])
    outputs = {g[0]["label"]: tuple(s["output"] for s in g[2]) for g in got if g[0]["benchmark"] == "gsm8k"}
    assert len(set(outputs.values())) == 4  # every checkpoint answers differently from the base
