"""Overlap with reference answers: BLEU (sacrebleu) and ROUGE-L F1 (rouge-score).

The aggregate BLEU is sacrebleu's corpus BLEU over all items (not a mean of sentence scores); each
item also stores its sentence BLEU and ROUGE-L so deltas can be paired. Every number is the
library's own: sacrebleu's default BLEU (13a tokenizer, exp smoothing for sentences) and
rouge-score's ROUGE-L F-measure with its Porter stemmer, the aggregate ROUGE-L being the mean of
the per-item F-measures (tests/conformance/test_overlap_reference.py). Items come from a prompt
suite in the store (first turn and its reference) or from a JSONL file of {"prompt", "reference"}.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from brie.errors import BrieError
from brie.evals.base import Benchmark, Item, Scored
from brie.evals.data import read_jsonl_located
from brie.store import suites as suite_rows


def _rouge():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def item_scores(hypothesis: str, reference: str, scorer=None) -> dict:
    import sacrebleu

    scorer = scorer or _rouge()
    return {"bleu": sacrebleu.sentence_bleu(hypothesis, [reference]).score,
            "rougeL": scorer.score(reference, hypothesis)["rougeL"].fmeasure}


def corpus_scores(hypotheses: list[str], references: list[str]) -> dict:
    import sacrebleu

    scorer = _rouge()
    rouge = [scorer.score(r, h)["rougeL"].fmeasure for h, r in zip(hypotheses, references)]
    return {"bleu": sacrebleu.corpus_bleu(hypotheses, [references]).score,
            "rougeL": sum(rouge) / len(rouge)}


def suite_items(ws, name: str) -> list[Item]:
    """The first turn and first reference answer of each prompt of suite `name` that has one, in order."""
    suite = suite_rows.get_suite(ws.store, name)
    if suite is None:
        return []
    return [Item(id=str(p["prompt_id"]), input=p["turns"][0], target=p["reference"][0])
            for p in suite_rows.list_prompts(ws.store, suite["id"]) if p["reference"] and p["reference"][0]]


class Overlap(Benchmark):
    primary = "rougeL"
    unit = "ROUGE-L F1"  # 0–1, the same on every overlap benchmark

    def __init__(self, spec: str, source: str, max_tokens: int = 256):
        self.spec, self.source, self.max_tokens = spec, source, max_tokens

    def settings(self) -> dict:
        return {"max_tokens": self.max_tokens}

    def items(self, ws) -> list[Item]:
        path = Path(self.source).expanduser()
        if path.is_file():
            items = []
            for n, (where, r) in enumerate(read_jsonl_located(path)):
                prompt, turns = r.get("prompt"), r.get("turns")
                if prompt is None and isinstance(turns, list) and turns:
                    prompt = turns[0]
                ref = r.get("reference")
                ref = ref[0] if isinstance(ref, list) and ref else ref
                if not isinstance(prompt, str) or not prompt or not isinstance(ref, str):
                    raise BrieError(f"{where}: needs a 'prompt' string (or 'turns') and a 'reference' string")
                items.append(Item(id=str(r.get("id", n)), input=prompt, target=ref))
        else:
            items = suite_items(ws, self.source) if ws is not None else []
            if not items:
                raise BrieError(f"{self.source!r}: not a file, nor a suite with reference answers")
        return items

    def score(self, model, tokenizer, items, batch_size, judge=None) -> Iterator[Scored]:
        from brie.generation.mlx_engine import generate_batch

        scorer = _rouge()
        for start in range(0, len(items), batch_size):
            chunk = items[start:start + batch_size]
            outputs = generate_batch(model, tokenizer, [[{"role": "user", "content": it.input}] for _, it in chunk],
                                     max_tokens=self.max_tokens, batch_size=batch_size)
            for (idx, item), out in zip(chunk, outputs):
                yield Scored(idx, out, item_scores(out, item.target, scorer))

    def score_shared(self, shared, todos, batch_size: int = 8) -> Iterator[tuple[int, Scored]]:
        """(model position, scored item) for the models of a SharedTrunk (brie.evals.sweep): the same
        greedy answers as `score` gives each model, generated together (generate_shared)."""
        from brie.generation.mlx_engine import answer_items_shared

        scorer = _rouge()
        for rows, outputs in answer_items_shared(shared, todos, lambda it: [{"role": "user", "content": it.input}],
                                                 self.max_tokens, batch_size):
            for (which, idx, item), out in zip(rows, outputs):
                yield which, Scored(idx, out, item_scores(out, item.target, scorer))

    def aggregate_samples(self, samples: list[dict]) -> dict:
        if not samples:
            return {"n": 0}
        out = corpus_scores([s["output"] or "" for s in samples], [s["target"] for s in samples])
        out["sentence_bleu"] = sum(s["scores"]["bleu"] for s in samples) / len(samples)
        out["n"] = len(samples)
        return out
