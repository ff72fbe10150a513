"""One pairwise judgment to ask, shared by the concurrent loop (loop.py) and the batch loop (batch.py):
which are still wanted, the prompt each one shows, what one more costs, and storing an answer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from brie.judging.base import JudgeSpec, Provider, Reply
from brie.judging.prompts import pairwise_prompt
from brie.judging.verdicts import OTHER, parse_verdict, to_verdict
from brie.store import judging as rows


@dataclass
class JudgeRunSummary:
    tasks: int = 0  # judgments wanted and not yet stored when the run began
    already_done: int = 0
    valid: int = 0
    invalid: int = 0  # invalid answers stored (each attempt counts)
    failed: int = 0  # requests that errored after the SDK's retries; nothing stored, a rerun retries
    cost_usd: float = 0.0
    stopped_for_cost: bool = False
    errors: list[str] = field(default_factory=list)

    def count(self, row: dict) -> None:
        """A stored judgment: its cost, and whether it gave a verdict."""
        self.cost_usd += row["cost_usd"]
        if row["verdict"] == "invalid":
            self.invalid += 1
        else:
            self.valid += 1


@dataclass
class Task:
    judge: JudgeSpec
    comparison: dict
    pass_: int  # 0, or 1 for the swapped pass
    shown_first: str
    next_attempt: int

    def prompt(self) -> tuple[str, str, str]:
        """(template name, system, user), the side shown first as Assistant A."""
        c = self.comparison
        first, second = (c["a_answers"], c["b_answers"]) if self.shown_first == "a" else (c["b_answers"], c["a_answers"])
        return pairwise_prompt(c["turns"], first, second, c["reference"])


def pending_tasks(ws, judge: JudgeSpec, comparisons: list[dict], swap: bool, max_attempts: int,
                  summary: JudgeRunSummary) -> list[Task]:
    """The judgments not yet stored with a verdict (and not out of attempts); the rest count as already done."""
    stored = rows.judgment_attempts(ws.store, judge.name, [c["comparison_id"] for c in comparisons])
    tasks = []
    for c in comparisons:
        for p in ((0, 1) if swap else (0,)):
            attempts = stored.get((c["comparison_id"], p), [])
            if any(a["verdict"] != "invalid" for a in attempts) or len(attempts) >= max_attempts:
                summary.already_done += 1
                continue
            shown = c["shown_first"] if p == 0 else OTHER[c["shown_first"]]
            tasks.append(Task(judge, c, p, shown, len(attempts) + 1))
    return tasks


def cost_per_request(ws, client: Provider, task: Task, batched: bool) -> float:
    """What one more request to this judge is expected to cost, for --max-cost: the mean of its
    stored answers, else a guess on the high side from this request's length (about 3 characters a
    token in, and an answer as long as the judge may write)."""
    spec = client.spec
    mean = rows.mean_cost(ws.store, spec.name, spec.batch)
    if mean is None:
        _, system, user = task.prompt()
        mean = spec.cost((len(system) + len(user)) // 3 + 1, client.max_tokens)
    return mean * (spec.batch if batched else 1.0)


def record_judgment(ws, task: Task, attempt: int, template: str, reply: Reply, batch_id: str | None = None) -> dict:
    """Store one answer, parsed and mapped back to the model (or `invalid`); the stored row."""
    position = None if reply.refused else parse_verdict(reply.text)
    return rows.insert_judgment(ws.store, {
        "comparison_id": task.comparison["comparison_id"], "judge": task.judge.name, "template": template,
        "pass": task.pass_, "shown_first": task.shown_first, "attempt": attempt, "raw": reply.text,
        "verdict": to_verdict(position, task.shown_first), "input_tokens": reply.input_tokens,
        "output_tokens": reply.output_tokens, "cache_read_tokens": reply.cache_read_tokens,
        "cost_usd": task.judge.cost(reply.input_tokens, reply.output_tokens, reply.cache_read_tokens,
                                    reply.cache_write_tokens, batched=batch_id is not None),
        "batch_id": batch_id})
