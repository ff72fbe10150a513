"""MT-Bench single-answer grading through the real openai SDK against a local judge server."""

import json

import pytest

from brie.evals import parse_benchmark
from brie.evals.mtbench import make_judge
from brie.evals.runner import evaluate
from brie.models.specs import resolve_specs
from brie.store import evals as eval_rows
from tests import judge_server

UNRATEABLE = "Start every sentence with the letter A."  # question 81's second turn


def behaviour(call):
    user = call["user"]
    if user.count("### User:") == 1:
        return {"text": "Clear and helpful. Rating: [[8]]"}
    if UNRATEABLE in user:
        return {"text": "I would rather not give a number."}  # never parses: 3 attempts, then a failure
    return {"text": "The second answer drifts. Rating: [[4]]"}


def test_mt_bench_grades_both_turns_and_averages_by_hand(workspace, tiny_model_dir):
    with judge_server.JudgeServer(behaviour) as server:
        judge = make_judge(f"openai-compatible:judge@{server.url}/v1", workspace)
        bench = parse_benchmark("mt-bench", max_tokens=4)  # the shipped questions
        specs = resolve_specs(workspace, "base", str(tiny_model_dir))
        (result,) = evaluate(workspace, specs, [bench], limit=2, judge=judge)
        calls = len(server.calls)
        evaluate(workspace, specs, [bench], limit=2, judge=judge)  # stored items are not graded again
        assert len(server.calls) == calls
    m = result["metrics"]
    # item 81: turn 1 = 8, turn 2 unparsed after 3 tries; item 82: 8 and 4
    assert m["score"] == pytest.approx((8 + 8 + 4) / 3)
    assert (m["turn_1"], m["turn_2"]) == (8, 4)
    assert m["category:writing"] == pytest.approx(20 / 3)
    assert m["parse_failure_rate"] == pytest.approx(1 / 4)
    assert calls == 1 + 3 + 1 + 1
    samples = eval_rows.samples(workspace.store, result["id"])
    assert [s["scores"]["score"] for s in samples] == [8, 6]
    assert json.loads(samples[0]["output"])["judge"][1] == "I would rather not give a number."
    assert result["settings"]["judge"] == f"openai-compatible:judge@{server.url}/v1"


def test_mt_bench_without_a_judge_is_a_one_line_error(workspace, tiny_model_dir):
    from brie.errors import BrieError

    bench = parse_benchmark("mt-bench")
    with pytest.raises(BrieError, match="needs a judge.*anthropic:claude-sonnet-5-5"):
        evaluate(workspace, resolve_specs(workspace, "base", str(tiny_model_dir)), [bench])
