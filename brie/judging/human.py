"""Human judges: the UI's blind session reads what a person has not judged yet and stores (or undoes)
their verdicts, mapped to models by the same `to_verdict` as an LLM judge's."""

from __future__ import annotations

from brie.errors import BrieError
from brie.judging.verdicts import HUMAN_CHOICES, to_verdict
from brie.store import judging as rows

HUMAN_TEMPLATE = "human"  # what a human's verdict is stored under: no prompt, the UI shows the answers


def human_judge(name: str) -> str:
    """The name a person's verdicts are stored under."""
    return f"human:{name}"


def pending_for_human(ws, name: str, suite: str | None = None) -> list[dict]:
    """Comparisons this human has not judged, blind: texts in shown order, no model names."""
    judge = human_judge(name)
    items = rows.find_comparisons(ws.store, suite=suite or None)
    done = rows.judgment_attempts(ws.store, judge, [c["comparison_id"] for c in items])
    out = []
    for c in items:
        if (c["comparison_id"], 0) in done:
            continue
        first, second = (c["a_answers"], c["b_answers"]) if c["shown_first"] == "a" else (c["b_answers"], c["a_answers"])
        out.append({"comparison_id": c["comparison_id"], "suite": c["suite"], "prompt_id": c["prompt_id"],
                    "category": c["category"], "turns": c["turns"], "first": first, "second": second})
    return out


def record_human_verdict(ws, comparison_id: int, name: str, chosen: str) -> dict:
    """Store a human's verdict: `chosen` is the position picked ("first", "second" or "tie")."""
    if chosen not in HUMAN_CHOICES:
        raise BrieError(f"choice must be first, second or tie, not {chosen!r}")
    c = rows.get_comparison(ws.store, comparison_id)
    if c is None:
        raise BrieError(f"no comparison {comparison_id}")
    judge = human_judge(name)
    if rows.judgment_attempts(ws.store, judge, [comparison_id]):
        raise BrieError(f"{judge} already judged comparison {comparison_id}")
    return rows.insert_judgment(ws.store, {
        "comparison_id": comparison_id, "judge": judge, "template": HUMAN_TEMPLATE, "pass": 0,
        "shown_first": c["shown_first"], "attempt": 1, "raw": chosen,
        "verdict": to_verdict(HUMAN_CHOICES[chosen], c["shown_first"]),
        "input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0, "cost_usd": 0.0})


def undo_human_verdict(ws, comparison_id: int, name: str) -> int:
    """Take back this human's verdict on one comparison (the blind session's undo); how many rows went."""
    return rows.delete_human_verdict(ws.store, comparison_id, human_judge(name))
