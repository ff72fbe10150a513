"""Reading the judges' answers: verdict and rating parsing, and the position→model mapping.

The contract (docs/architecture.md): answers are shown as "Assistant A" and "Assistant B"; which model is shown
first is drawn at random per comparison and stored; the judge ends with exactly one of [[A]], [[B]],
[[C]]; `to_verdict` maps that position back to the model; an answer without exactly one verdict is
stored raw as `invalid` and retried up to a limit, never guessed.
"""

from __future__ import annotations

import re

VERDICT = re.compile(r"\[\[([ABC])\]\]")
RATING = re.compile(r"\[\[(\d+(?:\.\d+)?)\]\]")
OTHER = {"a": "b", "b": "a"}
HUMAN_CHOICES = {"first": "A", "second": "B", "tie": "C"}  # what a human picks in the UI -> position


# --- the mapping: one function, tested exhaustively ---------------------------------------------

def to_verdict(position: str | None, shown_first: str) -> str:
    """Map the judge's position verdict back to the model.

    position: "A" (the answer shown first), "B" (shown second), "C" (tie) or None (did not parse).
    shown_first: "a" or "b" — which side of the comparison was shown as Assistant A.
    Returns "a", "b", "tie" or "invalid".
    """
    if shown_first not in OTHER:
        raise ValueError(f"shown_first must be 'a' or 'b', not {shown_first!r}")
    if position is None:
        return "invalid"
    if position == "C":
        return "tie"
    if position == "A":
        return shown_first
    if position == "B":
        return OTHER[shown_first]
    raise ValueError(f"position must be 'A', 'B', 'C' or None, not {position!r}")


def parse_verdict(text) -> str | None:
    """'A', 'B' or 'C' when the judge's answer holds exactly one verdict token; else None.

    Never raises: whatever a judge or an SDK hands back (None, no text, not a string) is an answer
    without a verdict, stored as `invalid`."""
    if not isinstance(text, str):
        return None
    found = VERDICT.findall(text)
    return found[0] if len(found) == 1 else None


def parse_rating(text) -> float | None:
    """N when the grader's answer holds exactly one [[N]] and 1 <= N <= 10; else None (never raises,
    as parse_verdict)."""
    if not isinstance(text, str):
        return None
    found = RATING.findall(text)
    if len(found) != 1:
        return None
    value = float(found[0])
    return value if 1 <= value <= 10 else None


RATINGS = tuple(str(k) for k in range(1, 11))  # the keys of a rating's distribution


def expected_rating(probabilities: dict[str, float]) -> float:
    """Σ k·P(k) over a rating's distribution {"1": p1, …, "10": p10} (G-Eval's probability-weighted
    score): what a `local:` judge's grade stores as its score, the distribution beside it."""
    total = sum(probabilities.values())
    return sum(int(k) * p for k, p in probabilities.items()) / total
