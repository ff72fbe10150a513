"""Metric definitions against hand-computed values (no model)."""

import math

import pytest

from brie.evals.gsm8k import extract_flexible, extract_strict, normalize_number, score_output, target_of
from brie.evals.mcq import normalize_row, pick
from brie.evals.forgetting import bootstrap_ci, mcnemar_exact, paired_delta, summarize, worst_text


@pytest.mark.parametrize("output, strict, flexible", [
    ("16 - 3 - 4 = 9 eggs, 9 * 2 = 18\n#### 18", "18", "18"),
    ("She makes $18 every day.", None, "18"),
    ("#### 1,000\nso that is 1000 dollars, or 999 after tax", "1000", "999"),  # strict reads ####, flexible the last
    ("The answer is $1,234.", None, "1234"),
    ("It costs 2.50 each", None, "2.5"),
    ("no digits here", None, None),
    ("#### -7", "-7", "-7"),
])
def test_gsm8k_strict_and_flexible_extraction(output, strict, flexible):
    assert extract_strict(output) == strict
    assert extract_flexible(output) == flexible


def test_gsm8k_scores_and_targets():
    assert target_of("Janet sells 9 eggs.\n#### 18") == "18"
    assert normalize_number("18.00") == "18"
    assert score_output("so 18.\n#### 18", "18") == {"strict": 1, "flexible": 1}
    assert score_output("#### 18 but wait, 20", "18") == {"strict": 1, "flexible": 0}
    assert score_output("I think 18", "18") == {"strict": 0, "flexible": 1}


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
    assert s["mean_improvement"] == pytest.approx((-0.5 - 0.5 - 0.5) / 3)


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
