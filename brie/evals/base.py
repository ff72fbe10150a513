"""What every benchmark kind provides to the runner."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator


@dataclass
class Item:
    """One benchmark question: `input` is what the model sees (or a readable form of it)."""

    id: str
    input: str
    target: str | None = None
    data: dict = field(default_factory=dict)  # whatever the kind needs to score the item


@dataclass
class Scored:
    idx: int
    output: str | None
    scores: dict  # per-item metrics; the primary one drives paired deltas


class Benchmark:
    spec: str
    primary: str  # the metric forgetting deltas are computed on
    higher_is_better: bool = True
    binary: bool = False  # per-item primary is 0/1: McNemar applies
    # What the primary metric is measured in; summaries average changes only within one unit.
    # None: the metric's own name (two benchmarks share a unit only when they say so).
    unit: str | None = None
    # A per-item score that weights the primary in the aggregate (perplexity: "tokens", so its loss
    # is token-weighted); None: every item counts once. Paired deltas use the same weighting.
    weight: str | None = None
    needs_judge: bool = False

    def settings(self) -> dict:
        """What changes the numbers besides the model; part of a result's identity."""
        return {}

    def items(self, ws) -> list[Item]:
        raise NotImplementedError

    def score(self, model, tokenizer, items: list[tuple[int, Item]], batch_size: int,
              judge=None) -> Iterator[Scored]:
        """Score the given (index, item) pairs, yielding each as soon as it is done."""
        raise NotImplementedError

    def aggregate_samples(self, samples: list[dict]) -> dict:
        """Metrics from the stored sample rows (output, target, scores); most kinds need only scores."""
        return self.aggregate([s["scores"] for s in samples])

    def aggregate(self, scores: list[dict]) -> dict:
        """Metrics over all stored items; by default the mean of each per-item metric."""
        if not scores:
            return {"n": 0}
        keys = [k for k in scores[0] if isinstance(scores[0][k], (int, float))]
        out = {k: sum(s[k] for s in scores) / len(scores) for k in keys}
        out["n"] = len(scores)
        return out
