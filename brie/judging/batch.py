"""The Message Batches loop: one batch per round, for providers that have a batch API (Anthropic's).

The batch id is stored before waiting, so a restart collects the batch instead of paying for it
again. Invalid answers go into the next round; items that errored or expired are asked again there.

A batch endpoint that fails is one line naming its URL. A batch the server does not know (404) or
answers about in a shape that cannot be read is marked `failed` in the store, and its judgments are
asked again by the next run; one that fails for a reason that may pass (5xx, a timeout, no
connection) stays `submitted`, so a rerun collects it, and `brie batches cancel` drops it.
"""

from __future__ import annotations

import math
import time

from brie.judging.base import JudgeBadAnswer, JudgeNotFound, JudgeRequestError, Provider
from brie.judging.prompts import prompt_sha256, template_sha256
from brie.judging.tasks import (JudgeRunSummary, Task, attempt_limits, cost_per_request, pending_tasks,
                                record_judgment)
from brie.store import judging as rows


def judge_in_batches(ws, client: Provider, comparisons: list[dict], swap: bool, max_attempts: int,
                     max_cost: float | None, poll_seconds: float, summary: JudgeRunSummary, progress,
                     retry_invalid: bool = False, warn=None) -> None:
    by_id = {c["comparison_id"]: c for c in comparisons}
    for open_batch in rows.open_batches(ws.store, client.spec.name):
        collect(ws, client, open_batch, by_id, poll_seconds, summary, progress, stored_earlier=True, warn=warn)
    # Read after the open batches are collected, so their answers count as stored attempts.
    limits = attempt_limits(ws, client.spec, comparisons, swap, max_attempts, retry_invalid)
    first_round = True
    while True:
        tasks = pending_tasks(ws, client.spec, comparisons, swap, limits,
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
                               "shown_first": t.shown_first, "attempt": t.next_attempt, "template": template,
                               "prompt_sha256": prompt_sha256(system, user),
                               "template_sha256": template_sha256("pairwise")}
        batch_id = client.submit_batch(requests)
        rows.insert_batch(ws.store, batch_id, client.spec.name, meta)
        collect(ws, client, {"id": batch_id, "requests": meta}, by_id, poll_seconds, summary, progress)
        if summary.valid + summary.invalid == answers_before:
            return  # every item errored or expired: leave them for a rerun rather than loop on them


def collect(ws, client: Provider, batch: dict, by_id: dict, poll_seconds: float,
            summary: JudgeRunSummary, progress, stored_earlier: bool = False, warn=None) -> None:
    """Wait for a submitted batch to end, store each answer not stored yet, and mark the batch collected.

    A failure of the batch endpoint is a JudgeRequestError naming its URL, saying what became of the
    stored batch. One the server does not know or answers about unreadably is marked failed; when it
    was stored by an earlier run (`stored_earlier`) that is only warned about, and this run goes on to
    ask its judgments again, so it never blocks later runs."""
    try:
        collect_answers(ws, client, batch, by_id, poll_seconds, summary, progress)
    except (JudgeNotFound, JudgeBadAnswer) as e:
        rows.set_batch_status(ws.store, batch["id"], "failed")
        message = f"{e}; batch {batch['id']} marked failed, and its judgments are asked again by the next run"
        if not stored_earlier:
            raise type(e)(message) from e
        if warn:
            warn(message.replace("by the next run", "now"))
        return
    except JudgeRequestError as e:
        raise type(e)(f"{e}; batch {batch['id']} is kept: a rerun collects it, "
                      f"`brie batches cancel {batch['id']}` drops it") from e
    rows.close_batch(ws.store, batch["id"])


def collect_answers(ws, client: Provider, batch: dict, by_id: dict, poll_seconds: float,
                    summary: JudgeRunSummary, progress) -> None:
    while not client.batch_ended(batch["id"]):
        time.sleep(poll_seconds)
    stored = {(r["comparison_id"], r["pass"], r["prompt_sha256"], r["attempt"])
              for r in rows.all_judgments(ws.store, client.spec.name)}
    for custom_id, reply in client.batch_results(batch["id"]):
        meta = batch["requests"].get(custom_id)
        if meta is None or meta["comparison_id"] not in by_id:
            continue
        if (meta["comparison_id"], meta["pass"], meta.get("prompt_sha256"), meta["attempt"]) in stored:
            continue
        if reply is None:
            summary.failed += 1  # errored or expired: not stored, so the next round asks again
            continue
        task = Task(client.spec, by_id[meta["comparison_id"]], meta["pass"], meta["shown_first"], meta["attempt"])
        row = record_judgment(ws, task, meta["attempt"], meta["template"], reply, batch_id=batch["id"],
                              sent={k: meta.get(k) for k in ("prompt_sha256", "template_sha256")})
        summary.count(row)
        if progress:
            progress(summary)


def list_batches(ws, judge: str | None = None, open_only: bool = False) -> list[dict]:
    """Stored Message Batches, newest first: id, judge, status (submitted: a rerun collects it;
    collected; failed; canceled), how many requests, when created and when closed."""
    return [b for b in rows.list_batches(ws.store)
            if (judge is None or b["judge"] == judge) and (not open_only or b["status"] == "submitted")]


def cancel_batch(ws, batch_id: str, warn=None) -> dict:
    """Drop a submitted batch: no run collects it any more, and the next run asks its judgments again.

    The provider is asked to stop it too (what it already answered is still billed); when that cannot
    be done (no key, the endpoint fails) it is warned about, and the batch is dropped all the same."""
    from brie.errors import BrieError
    from brie.judging.judges import connect, parse_judge

    found = rows.list_batches(ws.store, batch_id)
    if not found:
        known = ", ".join(b["id"] for b in rows.list_batches(ws.store)[:10]) or "none stored"
        raise BrieError(f"no stored batch {batch_id!r} (known: {known}; see `brie batches list`)")
    batch = found[0]
    if batch["status"] != "submitted":
        raise BrieError(f"batch {batch_id} is {batch['status']}, not submitted: nothing to cancel")
    canceled_at_api = False
    try:
        client = connect(parse_judge(batch["judge"], ws), max_retries=1, timeout=30.0)
        client.cancel_batch(batch_id)
        canceled_at_api = True
    except BrieError as e:
        if warn:
            warn(f"batch {batch_id} was not canceled at the provider ({e}); dropped here all the same, "
                 "and what the provider already answered may be billed")
    rows.set_batch_status(ws.store, batch_id, "canceled")
    return {**rows.list_batches(ws.store, batch_id)[0], "canceled_at_provider": canceled_at_api}
