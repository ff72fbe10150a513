"""Benchmarks run on the tiny model with real adapters, stored per item, resumable."""

import json
import math

import pytest

from brie.models.specs import ModelSpec, resolve_specs
from brie.evals import parse_benchmark, parse_benchmarks
from brie.evals.runner import evaluate, sweep_specs
from brie.store import evals as eval_rows
from tests.evalkit import make_adapter, register_run


@pytest.fixture(scope="module")
def adapters(tiny_model_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("adapters")
    return {2: make_adapter(tiny_model_dir, root / "2", seed=1), 4: make_adapter(tiny_model_dir, root / "4", seed=2)}


@pytest.fixture
def run_ws(workspace, tiny_model_dir, adapters):
    register_run(workspace, "r1", str(tiny_model_dir), adapters, best_step=4,
                 losses={2: (3.0, 3.2), 4: (2.5, 2.9)})
    return workspace


def test_gsm8k_stores_every_item_and_resumes_after_interrupt(run_ws):
    specs = resolve_specs(run_ws, "base,r1@2")
    bench = parse_benchmarks("gsm8k", max_tokens=6)  # the shipped test split

    class Interrupted(Exception):
        pass

    seen = []

    def stop_after_three(p):
        seen.append((p.label, p.done))
        if p.done == 3 and p.label == "base":
            raise Interrupted

    with pytest.raises(Interrupted):
        evaluate(run_ws, specs, bench, limit=5, batch_size=2, progress=stop_after_three)
    # both models answer together (their trunk is shared), so the checkpoint stopped part-way too
    rows = {r["label"]: r for r in eval_rows.list_results(run_ws.store)}
    assert rows["base"]["status"] == "running" and rows["base"]["n_done"] == 3
    assert rows["r1@2"]["status"] == "running" and rows["r1@2"]["n_done"] < 5

    resumed = []
    results = evaluate(run_ws, specs, bench, limit=5, batch_size=2, progress=resumed.append)
    assert resumed[0].skipped == 3  # the stored items were not generated again
    assert [r["label"] for r in results] == ["base", "r1@2"]
    for r in results:
        rows = eval_rows.samples(run_ws.store, r["id"])
        assert [s["item_idx"] for s in rows] == [0, 1, 2, 3, 4]  # each item exactly once
        assert r["status"] == "completed" and r["metrics"]["n"] == 5
        flexible = sum(s["scores"]["flexible"] for s in rows) / 5
        assert r["metrics"]["flexible"] == pytest.approx(flexible)
        assert rows[0]["target"] == "18"
    # a third run does nothing but re-read
    again = []
    evaluate(run_ws, specs, bench, limit=5, batch_size=2, progress=again.append)
    assert [p.skipped for p in again] == [5, 5]
    assert run_ws.store.db["eval_samples"].count == 10


def test_mcq_log_likelihood_agrees_with_a_direct_computation(run_ws, tmp_path, tiny_model_dir):
    import mlx.core as mx
    from mlx_lm import load

    from brie.evals.loglik import continuation_logliks

    f = tmp_path / "mcq.jsonl"
    rows = [{"question": "2+2?", "choices": ["4", "five", "22"], "answer": 0},
            {"question": "Sky?", "choices": {"text": ["blue", "green"], "label": ["A", "B"]}, "answerKey": "A"},
            {"ctx": "The cat", "endings": ["sat down", "flew"], "label": 1}]
    f.write_text("\n".join(json.dumps(r) for r in rows))
    model, tok = load(str(tiny_model_dir))
    # direct: one sequence at a time, summing log-softmax at each continuation position
    ctx = tok.encode("Question: 2+2?\nAnswer:")
    direct = []
    for c in [" 4", " five", " 22"]:
        ids = ctx + tok.encode(c, add_special_tokens=False)
        logits = model(mx.array(ids)[None])[0].astype(mx.float32)
        logp = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
        direct.append(sum(logp[j - 1, ids[j]].item() for j in range(len(ctx), len(ids))))
    got = continuation_logliks(model, tok, "Question: 2+2?\nAnswer:", [" 4", " five", " 22"])
    assert got == pytest.approx(direct, abs=1e-3)

    (result,) = evaluate(run_ws, resolve_specs(run_ws, "base", str(tiny_model_dir)), [parse_benchmark(f"mcq:{f}")])
    samples = eval_rows.samples(run_ws.store, result["id"])
    assert samples[0]["scores"]["logliks"] == pytest.approx(direct, abs=1e-3)
    expected_acc = int(max(range(3), key=lambda i: direct[i]) == 0)
    assert samples[0]["scores"]["acc"] == expected_acc
    assert result["metrics"]["acc"] == pytest.approx(sum(s["scores"]["acc"] for s in samples) / 3)
    assert result["metrics"]["n"] == 3


def test_perplexity_is_the_token_weighted_loss_of_mlx_lm_tokenization(run_ws, tmp_path, tiny_model_dir):
    import mlx.core as mx
    from mlx_lm import load
    from mlx_lm.tuner.datasets import CacheDataset, create_dataset
    from mlx_lm.tuner.trainer import evaluate as mlx_evaluate
    from types import SimpleNamespace

    data = tmp_path / "chatdata"
    data.mkdir()
    rows = [{"messages": [{"role": "user", "content": f"hi {i}"}, {"role": "assistant", "content": "hello " * i}]}
            for i in range(1, 5)]
    (data / "test.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    (result,) = evaluate(run_ws, resolve_specs(run_ws, "base", str(tiny_model_dir)),
                         [parse_benchmark(f"perplexity:{data}")])
    model, tok = load(str(tiny_model_dir))
    dataset = create_dataset(rows, tok, SimpleNamespace())
    nll, count = 0.0, 0
    for n in range(len(rows)):  # by hand: every next-token log-prob of each tokenized row
        ids = dataset.process(dataset[n])[0]
        logits = model(mx.array(ids)[None])[0].astype(mx.float32)
        logp = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
        nll -= sum(logp[j - 1, ids[j]].item() for j in range(1, len(ids)))
        count += len(ids) - 1
    assert result["metrics"]["tokens"] == count
    assert result["metrics"]["loss"] == pytest.approx(nll / count, rel=1e-4)
    assert result["metrics"]["perplexity"] == pytest.approx(math.exp(nll / count), rel=1e-4)
    # mlx-lm's own evaluate also scores one padding target after each row; the difference is that alone
    padded = mlx_evaluate(model, CacheDataset(dataset), batch_size=1, num_batches=-1)
    extra = 0.0
    for n in range(len(rows)):
        ids = dataset.process(dataset[n])[0] + [0]
        logits = model(mx.array(ids)[None])[0, -2].astype(mx.float32)
        extra -= (logits - mx.logsumexp(logits))[0].item()
    assert padded == pytest.approx((nll + extra) / (count + len(rows)), rel=1e-4)


def test_overlap_file_and_sweep_forgetting_and_plot(run_ws, tmp_path):
    from brie.evals.forgetting import forgetting_table
    from brie.export.plots import plot_sweep

    f = tmp_path / "refs.jsonl"
    f.write_text("\n".join(json.dumps({"prompt": f"Say {w}", "reference": f"{w} indeed"})
                           for w in ["yes", "no", "maybe"]))
    specs = sweep_specs(run_ws, "r1")
    assert [s.label for s in specs] == ["base", "r1@2", "r1@4"]
    benches = [parse_benchmark(f"overlap:{f}", max_tokens=5)]
    results = evaluate(run_ws, specs, benches)
    for r in results:
        samples = eval_rows.samples(run_ws.store, r["id"])
        from brie.evals.overlap import corpus_scores

        expected = corpus_scores([s["output"] for s in samples], [s["target"] for s in samples])
        assert r["metrics"]["bleu"] == pytest.approx(expected["bleu"])
        assert r["metrics"]["rougeL"] == pytest.approx(expected["rougeL"])
    deltas = forgetting_table(run_ws, "r1")  # best_step = 4
    assert [(d.label, d.n) for d in deltas] == [("r1@4", 3)]
    base_vals = [s["scores"]["rougeL"] for s in eval_rows.samples(run_ws.store, results[0]["id"])]
    top_vals = [s["scores"]["rougeL"] for s in eval_rows.samples(run_ws.store, results[2]["id"])]
    assert deltas[0].delta == pytest.approx(sum(top_vals) / 3 - sum(base_vals) / 3)
    pngs = plot_sweep(run_ws, "r1")
    assert pngs and all(p.suffix == ".png" and p.stat().st_size > 1000 for p in pngs)
    assert pngs[0].parent == run_ws.exports_dir / "r1"


def test_unknown_benchmark_and_missing_file_are_one_line_errors(run_ws):
    from brie.errors import BrieError

    with pytest.raises(BrieError, match="unknown benchmark"):
        parse_benchmark("hellaswag2")
    with pytest.raises(BrieError, match="no-such.jsonl"):
        evaluate(run_ws, [ModelSpec("base", "x")], [parse_benchmark("mcq:no-such.jsonl")])


def test_named_dataset_and_suite_sources(run_ws, tmp_path, tiny_model_dir):
    from brie.evals.overlap import Overlap
    from brie.evals.perplexity import resolve_data

    folder = run_ws.data_dir / "chat" / "v2"
    folder.mkdir(parents=True)
    (folder / "valid.jsonl").write_text(json.dumps({"text": "hello there"}) + "\n")
    with run_ws.store.transaction() as db:
        for v in (1, 2):
            db["datasets"].insert({"name": "chat", "version": v, "sha256": str(v), "format": "text",
                                   "path": f"data/chat/v{v}" if v == 2 else "data/gone"})
        suite = db["suites"].insert({"name": "refs", "n_prompts": 2}).last_pk
        db["prompts"].insert_all([
            {"suite_id": suite, "prompt_id": "a", "idx": 0, "turns_json": json.dumps(["Say hi"]),
             "reference_json": json.dumps(["hi"])},
            {"suite_id": suite, "prompt_id": "b", "idx": 1, "turns_json": json.dumps(["No ref"]),
             "reference_json": None}])
    assert resolve_data(run_ws, "chat") == folder / "valid.jsonl"  # newest version; no test.jsonl there
    items = Overlap("overlap:refs", "refs").items(run_ws)
    assert [(i.id, i.input, i.target) for i in items] == [("a", "Say hi", "hi")]  # prompts without a reference skip
    (result,) = evaluate(run_ws, resolve_specs(run_ws, "base", str(tiny_model_dir)),
                         [parse_benchmark("perplexity:chat")])
    assert result["metrics"]["n"] == 1 and result["metrics"]["tokens"] > 0


def test_hub_id_unreachable_is_a_one_line_error(monkeypatch):
    from brie.errors import BrieError
    from brie.evals.data import load_records

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BrieError, match="cannot load dataset 'nobody-here/no-such-set'") as err:
        load_records("nobody-here/no-such-set")
    assert "\n" not in str(err.value)
    with pytest.raises(BrieError, match="no such file"):
        load_records("./missing.jsonl")


def test_a_larger_limit_extends_the_same_result(run_ws, tmp_path, tiny_model_dir):
    f = tmp_path / "mcq.jsonl"
    f.write_text("\n".join(json.dumps({"question": f"{i}?", "choices": ["a", "b"], "answer": i % 2})
                           for i in range(5)))
    specs = resolve_specs(run_ws, "base", str(tiny_model_dir))
    bench = [parse_benchmark(f"mcq:{f}")]
    (small,) = evaluate(run_ws, specs, bench, limit=2)
    seen = []
    (big,) = evaluate(run_ws, specs, bench, limit=4, progress=seen.append)
    assert big["id"] == small["id"] and seen[0].skipped == 2
    assert (big["n_items"], big["n_available"], big["metrics"]["n"]) == (4, 5, 4)
    # a smaller limit later keeps what is stored: the result still covers all 4 items, n and metrics alike
    (again,) = evaluate(run_ws, specs, bench, limit=2)
    assert again["id"] == big["id"] and again["metrics"] == big["metrics"]
    assert (again["n_items"], again["n_done"], again["metrics"]["n"]) == (4, 4, 4)
    assert eval_rows.get_result(run_ws.store, big["id"])["metrics"]["n"] == 4
    assert run_ws.store.db["eval_samples"].count == 4


def test_perplexity_row_with_no_token_to_score_is_a_clear_error(run_ws, tmp_path, tiny_model_dir):
    from brie.errors import BrieError

    data = tmp_path / "short.jsonl"
    # max_seq_length 1: the row keeps one token, and the first token is never a target
    data.write_text(json.dumps({"text": "hello there"}) + "\n")
    bench = parse_benchmark(f"perplexity:{data}")
    bench.max_seq_length = 1
    with pytest.raises(BrieError, match=r"short.jsonl:1: the row leaves no token to score"):
        evaluate(run_ws, resolve_specs(run_ws, "base", str(tiny_model_dir)), [bench])
