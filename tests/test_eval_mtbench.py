"""MT-Bench as FastChat runs it, through the real openai SDK against a local judge server and real
MLX generation on the tiny model. The prompt texts themselves are checked against FastChat's
formatting in tests/conformance/test_mtbench_fastchat.py."""

import json

import pytest

from brie.evals import parse_benchmark
from brie.evals.mtbench import (MAX_TOKENS, NEED_REF_CATS, TEMPERATURE, judge_prompt, judge_prompts, make_judge,
                                protocol_label, reference_answers)
from brie.evals.runner import evaluate
from brie.models.specs import resolve_specs
from brie.store import evals as eval_rows
from tests import judge_server

UNRATEABLE = "Start every sentence with the letter A."  # question 81's second turn


def behaviour(call):
    user = call["user"]
    if "[Question]" in user:  # single-v1: turn 1
        return {"text": "Clear and helpful. Rating: [[8]]"}
    if UNRATEABLE in user:  # single-v1-multi-turn of question 81
        # quotes the format and rates: two [[N]], which brie does not guess at; FastChat's pattern reads one
        return {"text": 'The format is "[[rating]]", for example "Rating: [[5]]". Rating: [[3]]'}
    return {"text": "The second answer drifts. Rating: [[4]]"}


def test_mt_bench_grades_each_turn_with_fastchat_templates(workspace, tiny_model_dir):
    with judge_server.JudgeServer(behaviour) as server:
        judge = make_judge(f"openai-compatible:judge@{server.url}/v1", workspace)
        bench = parse_benchmark("mt-bench", max_tokens=4)  # the shipped questions
        specs = resolve_specs(workspace, "base", str(tiny_model_dir))
        (result,) = evaluate(workspace, specs, [bench], limit=2, judge=judge)
        calls = list(server.calls)
        evaluate(workspace, specs, [bench], limit=2, judge=judge)  # stored items are not graded again
        assert len(server.calls) == len(calls)
    m = result["metrics"]
    # item 81: turn 1 = 8, turn 2 unparsed after 3 tries; item 82: 8 and 4
    assert m["score"] == pytest.approx((8 + 8 + 4) / 3)
    assert (m["turn_1"], m["turn_2"]) == (8, 4)
    assert m["category:writing"] == pytest.approx(20 / 3)
    assert m["parse_failure_rate"] == pytest.approx(1 / 4)
    assert m["unparsed_ratings"] == 1 and m["fastchat_would_read"] == 1
    assert len(calls) == 1 + 3 + 1 + 1
    # turn 2 is graded with the multi-turn template: its system prompt focuses on the second answer
    prompts = judge_prompts()
    systems = [c["body"]["messages"][0]["content"] for c in calls]
    assert systems[0] == prompts["single-v1"]["system_prompt"] == "You are a helpful assistant."
    assert systems[1] == prompts["single-v1-multi-turn"]["system_prompt"]
    assert "second user question" in systems[1]
    samples = eval_rows.samples(workspace.store, result["id"])
    assert [s["scores"]["score"] for s in samples] == [8, 6]
    assert samples[0]["scores"]["templates"] == ["single-v1", "single-v1-multi-turn"]
    assert len(set(samples[0]["scores"]["prompt_sha256"] + samples[1]["scores"]["prompt_sha256"])) == 4
    answers = json.loads(samples[0]["output"])["answers"]
    # what the judge saw is FastChat's template filled with the model's own answers
    assert calls[0]["user"] == prompts["single-v1"]["prompt_template"].format(
        question=samples[0]["input"], answer=answers[0])
    assert json.loads(samples[0]["output"])["judge"][1].endswith("Rating: [[3]]")
    assert result["settings"]["judge"] == f"openai-compatible:judge@{server.url}/v1"
    assert result["settings"]["max_tokens"] == 4 and result["settings"]["protocol"] == "fastchat-single-v1"
    label = protocol_label(result)
    assert label.startswith(f"MT-Bench (FastChat single-v1 protocol, judge openai-compatible:judge@{server.url}/v1)")
    for differs in ("not GPT-4", "2 of 80 questions (--limit)", "answers up to 4 tokens, not 1024",
                    "1 ratings unparsed", "would read 1 of them",
                    "2 ratings asked again after an unreadable answer (FastChat asks once)"):
        assert differs in label


def test_mt_bench_defaults_are_fastchats():
    bench = parse_benchmark("mt-bench")
    assert bench.max_tokens == MAX_TOKENS == 1024
    assert parse_benchmark("mt-bench", max_tokens=300).max_tokens == 300
    assert parse_benchmark("gsm8k").max_tokens == 256  # other kinds keep their own default
    assert set(TEMPERATURE) == {"writing", "roleplay", "extraction", "math", "coding", "reasoning", "stem",
                                "humanities"}


def test_references_only_for_fastchats_reference_categories(workspace):
    items = parse_benchmark("mt-bench").items(workspace)
    gpt4 = reference_answers()
    by_cat = {}
    for it in items:
        by_cat.setdefault(it.data["category"], []).append(it)
    for cat, its in by_cat.items():
        for it in its:
            if cat in NEED_REF_CATS:  # FastChat's GPT-4 answers, not the question file's `reference`
                assert it.data["reference"] == gpt4[it.id] and len(it.data["reference"]) == 2
            else:
                assert it.data["reference"] is None
    # question 95 (roleplay) carries a `reference` in question.jsonl; FastChat does not use it
    assert next(it for it in items if it.id == "95").data["reference"] is None
    # turn 2 of a math question: both references interleaved with both questions, in order
    q = next(it for it in items if it.data["category"] == "math")
    name, _, user = judge_prompt(judge_prompts(), 2, "math", q.data["turns"], ["A1", "A2"], q.data["reference"])
    assert name == "single-math-v1-multi-turn"
    ref1, ref2 = q.data["reference"]
    assert (user.index(q.data["turns"][0]) < user.index(ref1) < user.index(q.data["turns"][1])
            < user.index(ref2) < user.index("A1") < user.index("A2"))


def test_sampled_answers_do_not_depend_on_their_batch(workspace, tiny_model_dir):
    """A writing question (temperature 0.7) answers the same alone and next to others: its seed is its own."""
    from brie.models.registry import load_model

    bench = parse_benchmark("mt-bench", max_tokens=6)
    items = bench.items(workspace)
    writing = [it for it in items if it.data["category"] == "writing"][:2]
    math = [it for it in items if it.data["category"] == "math"][:1]
    model, tok = load_model(workspace, str(tiny_model_dir), None)
    alone = bench.answer(model, tok, writing[1:], batch_size=4)
    together = bench.answer(model, tok, math + writing, batch_size=4)
    again = bench.answer(model, tok, math + writing, batch_size=4)
    assert together[2] == alone[0]
    assert together == again


def test_mt_bench_without_a_judge_is_a_one_line_error(workspace, tiny_model_dir):
    from brie.errors import BrieError

    bench = parse_benchmark("mt-bench")
    with pytest.raises(BrieError, match="needs a judge.*anthropic:claude-sonnet-5-5"):
        evaluate(workspace, resolve_specs(workspace, "base", str(tiny_model_dir)), [bench])


def test_a_reference_category_without_references_is_a_one_line_error(workspace, tmp_path):
    """FastChat grades math, reasoning and coding against a reference per turn: a file without one is
    refused when it is read, before any answer is generated (not a KeyError after generation)."""
    from brie.errors import BrieError

    rows = [{"question_id": 1, "category": "writing", "turns": ["Write a haiku."]},
            {"question_id": 2, "category": "math", "turns": ["2+2?", "And 3+3?"], "reference": ["4"]}]
    path = tmp_path / "q.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(BrieError, match=r"row 2: category math needs 'reference' with one answer per turn \(2\)"):
        parse_benchmark(f"mt-bench:{path}").items(workspace)


def test_a_local_probability_judge_is_refused_for_mt_bench(workspace):
    """MT-Bench's figure is FastChat's protocol: a judge writing its rating. A `local:` judge reads
    one from probabilities instead, so it is sent to `brie grade`, not silently used."""
    from brie.errors import BrieError

    with pytest.raises(BrieError, match=r"use `brie grade --judge local:default`"):
        make_judge("local:default", workspace)
