"""One benchmark evaluated with two settings (--shots): plots, the forgetting table and the report
use one settings per benchmark — the one it was evaluated with last — and say what they left out."""

import json
import time

import pytest

from brie.models.specs import resolve_specs
from brie.evals import parse_benchmark
from brie.evals.runner import evaluate, sweep_specs
from brie.evals.forgetting import forgetting_table
from brie.evals.gsm8k import scoring_label
from brie.export.plots import sweep_series
from brie.export.report import build_report
from brie.store import evals as eval_rows
from tests.evalkit import make_adapter, register_run

ROWS = [{"question": f"What is {a} plus {b}?", "answer": f"{a} + {b} = {a + b}\n#### {a + b}"}
        for a, b in [(1, 2), (3, 4), (5, 6), (2, 2), (8, 1)]]


def test_two_settings_of_one_benchmark_never_mix(workspace, tiny_model_dir, tmp_path):
    data = tmp_path / "gsm.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    register_run(workspace, "r1", str(tiny_model_dir), {2: make_adapter(tiny_model_dir, tmp_path / "a2", seed=1),
                                                        4: make_adapter(tiny_model_dir, tmp_path / "a4", seed=2)},
                 best_step=4)
    spec = f"gsm8k:{data}"
    zero = evaluate(workspace, sweep_specs(workspace, "r1"), [parse_benchmark(spec, max_tokens=4)])
    time.sleep(1.1)  # results are ordered by when they finished, stored to the second
    one = evaluate(workspace, resolve_specs(workspace, "base,r1@4"), [parse_benchmark(spec, shots=1, max_tokens=4)])
    assert [r["n_items"] for r in zero] == [5, 5, 5] and [r["n_items"] for r in one] == [4, 4]

    def expect_series(results, steps):
        (entry,) = sweep_series(workspace, "r1").values()
        assert entry["settings"] == results[-1]["settings"]
        assert entry["steps"] == steps
        assert entry["metrics"]["flexible"] == [r["metrics"]["flexible"] for r in results[1:]]
        assert entry["base"] == results[0]["metrics"]

    def expect_table(results, n):
        (delta,) = forgetting_table(workspace, "r1")  # one row for the benchmark, not one per settings
        assert (delta.label, delta.n) == ("r1@4", n)
        base, top = (eval_rows.samples(workspace.store, r["id"]) for r in (results[0], results[-1]))
        assert delta.base == pytest.approx(sum(s["scores"]["flexible"] for s in base) / n)
        assert delta.value == pytest.approx(sum(s["scores"]["flexible"] for s in top) / n)

    # shots=1 was evaluated last: only its results, paired with the 1-shot base
    expect_series(one, [4])
    expect_table(one, 4)
    report = build_report(workspace, "r1")
    assert report.count("| gsm8k:gsm.jsonl | flexible | 4 |") == 1
    scoring = f"scoring={scoring_label()}"  # lm-eval's gsm8k scoring is one of the settings
    assert ("gsm8k:gsm.jsonl: shown with the settings it was evaluated with last "
            f"(max_tokens=4, {scoring}, shots=1); results with other settings (max_tokens=4, {scoring}, shots=0) "
            "are left out") in report

    # the 0-shot sweep run again (nothing to generate): its settings are the latest again
    time.sleep(1.1)
    again = evaluate(workspace, sweep_specs(workspace, "r1"), [parse_benchmark(spec, max_tokens=4)])
    assert [r["id"] for r in again] == [r["id"] for r in zero]
    expect_series(zero, [2, 4])
    expect_table(zero, 5)
    assert (f"(max_tokens=4, {scoring}, shots=0); results with other settings (max_tokens=4, {scoring}, shots=1)"
            in build_report(workspace, "r1"))


def test_perplexity_sweep_plots_loss_and_perplexity_not_the_token_count(workspace, tiny_model_dir, tmp_path):
    data = tmp_path / "text.jsonl"
    data.write_text("".join(json.dumps({"text": f"Cheese number {i} is a fine cheese."}) + "\n" for i in range(3)))
    register_run(workspace, "r1", str(tiny_model_dir), {2: make_adapter(tiny_model_dir, tmp_path / "a2", seed=1)},
                 best_step=2)
    evaluate(workspace, sweep_specs(workspace, "r1"), [parse_benchmark(f"perplexity:{data}")])
    (entry,) = sweep_series(workspace, "r1").values()
    assert sorted(entry["metrics"]) == ["loss", "perplexity"]
    assert entry["base"]["tokens"] > 0  # stored, just not plotted
