"""One pairwise judgment to ask, shared by the concurrent loop (loop.py) and the batch loop (batch.py):
which are still wanted, the prompt each one shows, what one more costs, and storing an answer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from brie.judging.base import JudgeSpec, Provider, Reply
from brie.judging.prompts import VERDICT_PREFILL, pairwise_prompt, prefilled, prompt_sha256, template_sha256
from brie.judging.verdicts import OTHER, parse_verdict, to_verdict
from brie.store import judging as rows


@dataclass
class JudgeRunSummary:
    tasks: int = 0  # judgments wanted and not yet stored when the run began
    already_done: int = 0  # judgments with a verdict, or out of attempts (these are `invalid_stored` too)
    invalid_stored: int = 0  # judgments left without a verdict after --max-attempts answers (--retry-invalid)
    valid: int = 0
    invalid: int = 0  # invalid answers stored (each attempt counts)
    failed: int = 0  # requests that errored after the SDK's retries; nothing stored, a rerun retries
    cost_usd: float = 0.0
    stopped_for_cost: bool = False
    finished: int = 0  # of `tasks`, those this run is done with: a verdict, out of attempts, or failed
    stopped: bool = False  # asked to stop (the UI's quit) before every task was done
    errors: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # said once per judge and run (e.g. logprobs ignored)

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
    next_attempt: int  # the attempt number of the next stored answer
    last_attempt: int = 0  # the last attempt number this run may store (0: next_attempt)

    def prompt(self) -> tuple[str, str, str]:
        """(template name, system, user), the side shown first as Assistant A."""
        c = self.comparison
        first, second = (c["a_answers"], c["b_answers"]) if self.shown_first == "a" else (c["b_answers"], c["a_answers"])
        template, system, user = pairwise_prompt(c["turns"], first, second, c["reference"])
        return (prefilled(template) if self.prefill else template), system, user

    @property
    def prefill(self) -> str:
        """The answer begun for the judge ("" but for a probability judge): part of the prompt's identity."""
        return VERDICT_PREFILL if self.judge.prefilled else ""


def stored_attempts(ws, judge: JudgeSpec, comparisons: list[dict], swap: bool) -> dict[tuple[int, int], list[dict]]:
    """{(comparison_id, pass): this judge's stored answers to the prompt that judgment shows now}: an
    answer to another prompt text (a template changed since) is not reused, so the judgment is asked again."""
    stored = rows.judgment_attempts(ws.store, judge.name, [c["comparison_id"] for c in comparisons])
    out = {}
    for c in comparisons:
        for p in ((0, 1) if swap else (0,)):
            shown = c["shown_first"] if p == 0 else OTHER[c["shown_first"]]
            task = Task(judge, c, p, shown, 1)
            _, system, user = task.prompt()
            sha = prompt_sha256(system, user, task.prefill)
            out[(c["comparison_id"], p)] = [a for a in stored.get((c["comparison_id"], p), [])
                                            if a.get("prompt_sha256") == sha]
    return out


def attempt_limits(ws, judge: JudgeSpec, comparisons: list[dict], swap: bool, max_attempts: int,
                   retry_invalid: bool = False) -> dict[tuple[int, int], int]:
    """{(comparison_id, pass): the most answers to have stored once this run is done}, read when the run
    begins: `max_attempts`; with `retry_invalid`, as many again as are stored for a judgment that has
    no verdict yet (its earlier answers stay stored as earlier attempts)."""
    stored = stored_attempts(ws, judge, comparisons, swap)
    limits = {}
    for c in comparisons:
        for p in ((0, 1) if swap else (0,)):
            attempts = stored.get((c["comparison_id"], p), [])
            without_verdict = all(a["verdict"] == "invalid" for a in attempts)
            limits[(c["comparison_id"], p)] = max_attempts + (len(attempts) if retry_invalid and without_verdict else 0)
    return limits


def pending_tasks(ws, judge: JudgeSpec, comparisons: list[dict], swap: bool, limits: dict[tuple[int, int], int],
                  summary: JudgeRunSummary) -> list[Task]:
    """The judgments not yet stored with a verdict and not out of attempts (`limits`, from
    `attempt_limits`); the rest count as already done, and those out of attempts as invalid_stored."""
    stored = stored_attempts(ws, judge, comparisons, swap)
    tasks = []
    for c in comparisons:
        for p in ((0, 1) if swap else (0,)):
            attempts = stored.get((c["comparison_id"], p), [])
            limit = limits[(c["comparison_id"], p)]
            if any(a["verdict"] != "invalid" for a in attempts) or len(attempts) >= limit:
                summary.already_done += 1
                summary.invalid_stored += not any(a["verdict"] != "invalid" for a in attempts)
                continue
            shown = c["shown_first"] if p == 0 else OTHER[c["shown_first"]]
            # Attempt numbers follow the stored rows (a retried judgment's new answers come after its old ones).
            next_attempt = max((a["attempt"] for a in attempts), default=0) + 1
            tasks.append(Task(judge, c, p, shown, next_attempt, next_attempt + limit - len(attempts) - 1))
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


def record_judgment(ws, task: Task, attempt: int, template: str, reply: Reply, batch_id: str | None = None,
                    sent: dict | None = None) -> dict:
    """Store one answer, parsed and mapped back to the model (or `invalid`); the stored row.

    `sent`: {prompt_sha256, template_sha256} of what was sent, when that was recorded earlier (a
    batch); else they are taken from the task's prompt now, which is what the loop just sent."""
    if sent is None:
        _, system, user = task.prompt()
        sent = {"prompt_sha256": prompt_sha256(system, user, task.prefill),
                "template_sha256": template_sha256("pairwise", task.prefill)}
    position = None if reply.refused else parse_verdict(reply.text)
    return rows.insert_judgment(ws.store, {
        "comparison_id": task.comparison["comparison_id"], "judge": task.judge.name, "template": template,
        "prompt_sha256": sent.get("prompt_sha256"), "template_sha256": sent.get("template_sha256"),
        "pass": task.pass_, "shown_first": task.shown_first, "attempt": attempt, "raw": reply.text,
        "verdict": to_verdict(position, task.shown_first), "input_tokens": reply.input_tokens,
        "output_tokens": reply.output_tokens, "cache_read_tokens": reply.cache_read_tokens,
        "cost_usd": task.judge.cost(reply.input_tokens, reply.output_tokens, reply.cache_read_tokens,
                                    reply.cache_write_tokens, batched=batch_id is not None),
        "batch_id": batch_id,
        # {"A", "B", "C"} over the shown positions, from a judge that exposes them (migration 033)
        "probabilities": json.dumps(reply.probabilities) if reply.probabilities else None})
