"""Metric definitions against hand-computed values (no model)."""

import math

import pytest

from brie.evals.gsm8k import extract, gold_of, score_output
from brie.evals.mcq import normalize_row, pick
from brie.evals.forgetting import (bootstrap_ci, mcnemar_exact, mean_change_text, paired_delta, summarize,
                                   weighted_bootstrap_ci, worst_text)


@pytest.mark.parametrize("output, strict, flexible", [
    ("16 - 3 - 4 = 9 eggs, 9 * 2 = 18\n#### 18", "18", "18"),
    ("She makes $18 every day.", "[invalid]", "$18"),
    ("#### 1,000\nso that is 1000 dollars, or 999 after tax", "1,000", "999"),  # strict reads ####, flexible the last
    ("The answer is $1,234.", "[invalid]", "$1,234."),
    ("no digits here", "[invalid]", "[invalid]"),
    ("#### -7", "-7", "-7"),
])
def test_gsm8k_extraction_is_lm_evals_filters(output, strict, flexible):
    # what lm-eval's strict-match and flexible-extract keep; the metric then drops ',', '$', a final '.'
    assert extract([output]) == {"strict": [strict], "flexible": [flexible]}


def test_gsm8k_scores_and_targets():
    assert gold_of("Janet sells 9 eggs.\n#### 18", "f:1") == "18"
    answer = "Janet sells 9 eggs.\n#### 18"
    assert score_output("so 18.\n#### 18", answer) == {"strict": 1, "flexible": 1}
    assert score_output("#### 18 but wait, 20", answer) == {"strict": 1, "flexible": 0}
    assert score_output("I think 18", answer) == {"strict": 0, "flexible": 1}
    # lm-eval compares text: "18.00" is not "18", and 2**53 + 1 is not 2**53
    assert score_output("#### 18.00", answer) == {"strict": 0, "flexible": 0}
    assert score_output("#### 9007199254740993", "#### 9007199254740992") == {"strict": 0, "flexible": 0}
    assert score_output("#### 9007199254740993", "#### 9007199254740993") == {"strict": 1, "flexible": 1}


@pytest.mark.parametrize("answer", ["x\n#### inf", "#### 1e400", "#### nan", "#### NaN", "no hashes 18", "#### ", 18])
def test_gsm8k_gold_that_is_not_a_number_is_an_error_naming_where(answer):
    from brie.errors import BrieError

    with pytest.raises(BrieError, match=r"^data.jsonl:7: "):
        gold_of(answer, "data.jsonl:7")


def test_mcq_acc_vs_acc_norm_by_hand():
    choices = ["cat", "a much longer answer"]  # 3 and 20 characters
    # raw: -6 > -10 picks "cat"; per char: -6/3 = -2 < -10/20 = -0.5 picks the long one
    assert pick([-6.0, -10.0], choices) == (0, 1)
    assert pick([-3.0, -30.0], choices) == (0, 0)  # -1 vs -1.5: both pick cat


def test_mcq_row_shapes():
    arc = {"question": "Q?", "choices": {"text": ["x", "y"], "label": ["A", "B"]}, "answerKey": "B"}
    assert normalize_row(arc, "r") == ("Question: Q?\nAnswer:", ["x", "y"], 1)
    assert normalize_row({"question": "Q?", "choices": ["x", "y", "z"], "answer": 2}, "r")[2] == 2
    assert normalize_row({"question": "Q?", "choices": ["x", "y"], "answer": "y"}, "r")[2] == 1
    assert normalize_row({"ctx": "He ran", "endings": [" fast", " slow"], "label": "1"}, "r") == (
        "He ran", [" fast", " slow"], 1)
    from brie.errors import BrieError
    with pytest.raises(BrieError, match="row 3"):
        normalize_row({"question": "Q?", "choices": ["x"], "answer": 5}, "row 3")


def test_mcnemar_exact_by_hand():
    # b = 1 item only base got right, c = 6 only the checkpoint: p = 2 * (C(7,0)+C(7,1)) / 2^7 = 0.125
    base = [1, 0, 0, 0, 0, 0, 0, 1, 1]
    other = [0, 1, 1, 1, 1, 1, 1, 1, 1]
    b, c, p = mcnemar_exact(base, other)
    assert (b, c) == (1, 6)
    assert p == pytest.approx(16 / 128)
    assert mcnemar_exact([1, 0], [1, 0]) == (0, 0, 1.0)


def test_paired_delta_flags_a_significant_drop():
    base = [1] * 10 + [0] * 10
    other = [0] * 20  # lost all 10: p = 2 / 2^10
    d = paired_delta("gsm8k", "flexible", "base", "r@2", base, other, binary=True, higher_is_better=True)
    assert d.delta == pytest.approx(-0.5)
    assert d.p_value == pytest.approx(2 / 1024)
    assert d.drop and d.significant
    assert d.ci_low <= -0.5 <= d.ci_high and d.ci_high < 0
    # lower-is-better metric: a higher loss is a drop
    up = paired_delta("perplexity:x", "loss", "base", "r@2", [1.0, 1.1, 0.9, 1.0], [1.5, 1.6, 1.4, 1.5],
                      binary=False, higher_is_better=False)
    assert up.delta == pytest.approx(0.5) and up.drop and up.improvement == pytest.approx(-0.5)
    small = paired_delta("gsm8k", "flexible", "base", "r@2", [1, 0], [0, 0], True, True)
    assert not small.drop  # one discordant item: p = 1
    s = summarize([d, up, small])
    assert s["worst"] == "gsm8k" and s["drops"] == ["gsm8k", "perplexity:x"]
    assert worst_text(s) == "worst: gsm8k"
    # per unit, never one mean over accuracies and losses
    acc, loss = s["mean_change"]
    assert (acc["unit"], acc["n_benchmarks"], acc["mean_delta"]) == ("accuracy", 2, pytest.approx(-0.5))
    assert (loss["unit"], loss["n_benchmarks"], loss["mean_delta"]) == ("loss", 1, pytest.approx(0.5))
    assert loss["mean_improvement"] == pytest.approx(-0.5)
    assert mean_change_text(s) == ("accuracy -50 points (higher is better; 2 benchmarks); "
                                   "loss +0.5 per token (lower is better; 1 benchmark)")


def test_a_weighted_delta_is_the_change_of_the_weighted_means():
    # per-row losses 2, 1, 3 over 10, 1, 2 tokens: token-weighted 2.0769…, not the row mean 2
    base, rows = [2.0, 1.0, 3.0], [2.1, 1.2, 2.0]
    tokens = [10, 1, 2]
    d = paired_delta("perplexity:x", "loss", "base", "r@2", base, rows, False, False,
                     base_weights=tokens, weights=tokens)
    assert d.base == pytest.approx((20 + 1 + 6) / 13) and d.value == pytest.approx((21 + 1.2 + 4) / 13)
    assert d.delta == pytest.approx(d.value - d.base) and d.unit == "loss"
    assert d.ci_low <= d.delta <= d.ci_high
    assert weighted_bootstrap_ci([1.0, 2.0], [1, 3], [1.5, 2.5], [1, 3]) == (pytest.approx(0.5), pytest.approx(0.5))
    assert weighted_bootstrap_ci([1.0], [1], [2.0], [1]) == (None, None)


def test_bootstrap_ci_contains_mean_and_is_degenerate_when_constant():
    lo, hi = bootstrap_ci([0.0, 1.0, 0.0, 1.0, 1.0])
    assert lo <= 0.6 <= hi
    assert bootstrap_ci([0.25, 0.25, 0.25]) == (0.25, 0.25)
    assert bootstrap_ci([1.0]) == (None, None)


def test_overlap_scores_match_the_libraries():
    import sacrebleu
    from rouge_score import rouge_scorer

    from brie.evals.overlap import corpus_scores, item_scores

    hyps = ["the cat sat on the mat", "a dog barked loudly at night"]
    refs = ["the cat sat on the mat", "the dog barked at night"]
    got = corpus_scores(hyps, refs)
    assert got["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs]).score)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    expected_rouge = [scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(hyps, refs)]
    assert got["rougeL"] == pytest.approx(sum(expected_rouge) / 2)
    # by hand: identical text is BLEU 100 and ROUGE-L 1; LCS "dog barked at night" = 4 of 6 and 5 tokens
    assert item_scores(hyps[0], refs[0]) == {"bleu": pytest.approx(100.0), "rougeL": pytest.approx(1.0)}
    p, r = 4 / 6, 4 / 5
    assert item_scores(hyps[1], refs[1])["rougeL"] == pytest.approx(2 * p * r / (p + r))
    assert not math.isnan(got["bleu"])


def test_a_summary_where_nothing_got_worse_names_no_worst():
    better = paired_delta("gsm8k", "flexible", "base", "r@2", [0, 0, 1], [1, 0, 1], True, True)
    same = paired_delta("mcq:m.jsonl", "acc", "base", "r@2", [1, 0], [1, 0], True, True)
    lower = paired_delta("perplexity:x", "loss", "base", "r@2", [1.0, 1.2], [0.8, 1.0], False, False)
    s = summarize([better, same, lower])
    assert s["worst_improvement"] == 0 and worst_text(s) == "no benchmark got worse"
    worse = paired_delta("mcq:m.jsonl", "acc", "base", "r@2", [1, 1], [1, 0], True, True)
    assert worst_text(summarize([better, worse])) == "worst: mcq:m.jsonl"
    assert worst_text(summarize([])) == "no benchmarks"


def test_benchmarks_share_a_unit_only_when_they_declare_one():
    from brie.evals import parse_benchmark
    from brie.evals.forgetting import unit_of

    units = {s: unit_of(parse_benchmark(s)) for s in ("gsm8k", "mcq:a.jsonl", "perplexity:x", "perplexity:y",
                                                       "overlap:x", "mt-bench", "lm-eval:arc_easy")}
    assert units["gsm8k"] == units["mcq:a.jsonl"] == "accuracy"
    assert units["perplexity:x"] == units["perplexity:y"] == "loss"
    # a 1-10 grade and an lm-eval task's score are different things: never one mean
    assert len({units["mt-bench"], units["lm-eval:arc_easy"], units["overlap:x"], "accuracy", "loss"}) == 5
    grade = paired_delta("mt-bench", "score", "base", "r@2", [5.0, 6.0], [7.0, 8.0], False, True, unit=units["mt-bench"])
    task = paired_delta("lm-eval:arc_easy", "score", "base", "r@2", [0.5, 0.5], [0.4, 0.4], False, True,
                        unit=units["lm-eval:arc_easy"])
    s = summarize([grade, task])
    assert [(m["unit"], m["mean_delta"]) for m in s["mean_change"]] == [
        ("score of mt-bench", pytest.approx(2.0)), ("score of lm-eval:arc_easy", pytest.approx(-0.1))]
