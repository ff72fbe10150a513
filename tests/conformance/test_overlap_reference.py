"""BLEU and ROUGE-L: brie's numbers equal sacrebleu's and rouge-score's on real text.

The fixture is the demo data shipped with brie (brie/demo/demo-train.jsonl): each assistant answer
is a reference, and another answer on a similar subject is the hypothesis (they share phrasing
without being equal), plus an identical pair and an empty output. The expected values are computed
by the reference libraries at test time, through their own object APIs (sacrebleu.metrics.BLEU,
rouge_score.rouge_scorer), not through brie's helpers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[2] / "brie" / "demo" / "demo-train.jsonl"


def _pairs() -> list[tuple[str, str, str]]:
    """(prompt, hypothesis, reference) from the demo answers."""
    rows = [json.loads(line) for line in DEMO.read_text(encoding="utf-8").splitlines() if line.strip()]
    turns = [(r["messages"][0]["content"], r["messages"][-1]["content"]) for r in rows[:40]]
    pairs = [(turns[i][0], turns[i + 20][1], turns[i][1]) for i in range(20)]
    pairs.append((turns[0][0], turns[0][1], turns[0][1]))  # identical
    pairs.append((turns[1][0], "", turns[1][1]))  # nothing generated
    return pairs


def test_corpus_and_sentence_bleu_and_rouge_l_equal_the_references(tmp_path):
    from rouge_score import rouge_scorer
    from sacrebleu.metrics import BLEU

    from brie.evals.overlap import Overlap, item_scores

    pairs = _pairs()
    data = tmp_path / "overlap.jsonl"
    data.write_text("".join(json.dumps({"prompt": p, "reference": r}) + "\n" for p, _, r in pairs), encoding="utf-8")
    bench = Overlap("overlap:x", source=str(data))
    items = bench.items(None)
    hyps = [h for _, h, _ in pairs]
    samples = [{"output": h, "target": it.target, "scores": item_scores(h, it.target)} for h, it in zip(hyps, items)]
    ours = bench.aggregate_samples(samples)

    refs = [r for _, _, r in pairs]
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    rouge = [scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(hyps, refs)]
    sentence = BLEU(effective_order=True)
    # corpus BLEU is one statistic over all items, not the mean of sentence scores
    assert ours["bleu"] == BLEU().corpus_score(hyps, [refs]).score
    assert ours["bleu"] != pytest.approx(sum(sentence.sentence_score(h, [r]).score for h, r in zip(hyps, refs)) / len(refs))
    assert ours["rougeL"] == pytest.approx(sum(rouge) / len(rouge), abs=1e-15)
    for h, r, s, expected in zip(hyps, refs, samples, rouge):
        assert s["scores"]["bleu"] == sentence.sentence_score(h, [r]).score
        assert s["scores"]["rougeL"] == expected
    assert ours["sentence_bleu"] == pytest.approx(sum(s["scores"]["bleu"] for s in samples) / len(samples))
    # the fixture discriminates: neither all equal nor all disjoint
    assert 0 < ours["bleu"] < 100 and len({round(x, 6) for x in rouge}) > 5
