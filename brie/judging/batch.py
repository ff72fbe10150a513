"""The Message Batches loop: one batch per round, for providers that have a batch API (Anthropic's).

The batch id is stored before waiting, so a restart collects the batch instead of paying for it
again. Invalid answers go into the next round; items that errored or expired are asked again there.
"""

from __future__ import annotations

import math
import time

from brie.judging.base import Provider
from brie.judging.tasks import JudgeRunSummary, Task, cost_per_request, pending_tasks, record_judgment
from brie.store import judging as rows


def judge_in_batches(ws, client: Provider, comparisons: list[dict], swap: bool, max_attempts: int,
                     max_cost: float | None, poll_seconds: float, summary: JudgeRunSummary, progress) -> None:
    by_id = {c["comparison_id"]: c for c in comparisons}
    for open_batch in rows.open_batches(ws.store, client.spec.name):
        collect(ws, client, open_batch, by_id, poll_seconds, summary, progress)
    first_round = True
    while True:
        tasks = pending_tasks(ws, client.spec, comparisons, swap, max_attempts,
                              summary if first_round else JudgeRunSummary())
        if first_round:
            summary.tasks += len(tasks)
            first_round = False
        if not tasks:
            return
        if max_cost is not None:
            if summary.cost_usd >= max_cost:
                summary.stopped_for_cost = True
                return
            # A batch is paid for whole: send only as many as the remaining budget allows at the
            # estimated cost per request, as many as the non-batch path would start one after
            # another (the last may cross the line). What is left goes in the next round, priced
            # by what this one really cost.
            per_request = cost_per_request(ws, client, tasks[0], batched=True)
            if per_request > 0:
                tasks = tasks[:math.ceil((max_cost - summary.cost_usd) / per_request)]
        answers_before = summary.valid + summary.invalid
        requests, meta = [], {}
        for t in tasks:
            template, system, user = t.prompt()
            custom_id = f"c{t.comparison['comparison_id']}-p{t.pass_}-t{t.next_attempt}"
            requests.append((custom_id, system, user))
            meta[custom_id] = {"comparison_id": t.comparison["comparison_id"], "pass": t.pass_,
                               "shown_first": t.shown_first, "attempt": t.next_attempt, "template": template}
        batch_id = client.submit_batch(requests)
        rows.insert_batch(ws.store, batch_id, client.spec.name, meta)
        collect(ws, client, {"id": batch_id, "requests": meta}, by_id, poll_seconds, summary, progress)
        if summary.valid + summary.invalid == answers_before:
            return  # every item errored or expired: leave them for a rerun rather than loop on them


def collect(ws, client: Provider, batch: dict, by_id: dict, poll_seconds: float,
            summary: JudgeRunSummary, progress) -> None:
    """Wait for a submitted batch to end, store each answer not stored yet, and mark the batch collected."""
    while not client.batch_ended(batch["id"]):
        time.sleep(poll_seconds)
    stored = {(r["comparison_id"], r["pass"], r["attempt"])
              for r in rows.all_judgments(ws.store, client.spec.name)}
    for custom_id, reply in client.batch_results(batch["id"]):
        meta = batch["requests"].get(custom_id)
        if meta is None or meta["comparison_id"] not in by_id:
            continue
        if (meta["comparison_id"], meta["pass"], meta["attempt"]) in stored:
            continue
        if reply is None:
            summary.failed += 1  # errored or expired: not stored, so the next round asks again
            continue
        task = Task(client.spec, by_id[meta["comparison_id"]], meta["pass"], meta["shown_first"], meta["attempt"])
        row = record_judgment(ws, task, meta["attempt"], meta["template"], reply, batch_id=batch["id"])
        summary.count(row)
        if progress:
            progress(summary)
    rows.close_batch(ws.store, batch["id"])
