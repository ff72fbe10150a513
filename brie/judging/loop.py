"""The concurrent judging loop: one judge, many requests in flight, each answer committed as it lands.
An in-process judge (`local:`) is handed chunks of prompts instead, one batched forward pass each.

It catches only brie's judge errors (brie.judging.base): the providers translate their SDKs' own.
"""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from brie.judging.base import JudgeAccessError, JudgeBadAnswer, JudgeRequestError, JudgeUnreachable, Provider
from brie.judging.tasks import (JudgeRunSummary, Task, attempt_limits, cost_per_request, pending_tasks,
                                record_judgment)
from brie.store import judging as rows


def judge_concurrently(ws, client: Provider, comparisons: list[dict], swap: bool, max_attempts: int,
                       concurrency: int, max_cost: float | None, summary: JudgeRunSummary, progress,
                       retry_invalid: bool = False, stop: threading.Event | None = None) -> None:
    """Ask `client` for every judgment still missing, at most `concurrency` at a time.

    An answer without a verdict is stored and asked again, and a reply that could not be read is asked
    again without being stored, up to `max_attempts` answers (`retry_invalid`: that many more for a
    judgment stored without a verdict). A failed request (after the SDK's own retries) is counted as
    failed at once: asking it again is the SDK's `max_retries`, not `max_attempts`. A rejected key or
    unknown model stops the run (raised); an unreachable server fails what is left at once. No new
    request starts once `max_cost` is spent, nor once `stop` is set (the UI's quit): the requests in
    flight then finish and are stored, and the rest is left for a rerun (`summary.stopped`).
    `progress(summary)` after each stored answer and after each judgment this run is done with.
    """
    limits = attempt_limits(ws, client.spec, comparisons, swap, max_attempts, retry_invalid)
    tasks = pending_tasks(ws, client.spec, comparisons, swap, limits, summary)
    summary.tasks += len(tasks)
    if getattr(client, "in_process", False):
        judge_in_process(ws, client, tasks, summary, progress, stop)
        return
    lock = threading.Lock()
    fatal: list[JudgeAccessError] = []
    unreachable: list[str] = []
    # Read before the threads start (they share one SQLite connection); then this run's own mean.
    first_estimate = cost_per_request(ws, client, tasks[0], batched=False) if tasks and max_cost is not None else 0.0
    spent = {"usd": 0.0, "answers": 0}  # this judge's, in this run

    def over_budget() -> bool:
        return max_cost is not None and summary.cost_usd >= max_cost

    def failed(task: Task, error: str, sent: bool = True) -> None:
        """Counted, and the reason of a request that was sent kept in the store (nothing else of a
        failed request is). One never sent, as its server was found unreachable, is only counted."""
        summary.failed += 1
        summary.finished += 1
        summary.errors.append(error)
        if sent:
            rows.insert_judge_failure(ws.store, {"comparison_id": task.comparison["comparison_id"],
                                                 "judge": client.spec.name, "pass": task.pass_,
                                                 "shown_first": task.shown_first, "error": error})
        if progress:  # failures too: a run whose requests all fail must not look stuck
            progress(summary)

    def run(task: Task) -> None:
        attempt = task.next_attempt
        answers_left = task.last_attempt - task.next_attempt + 1
        while answers_left > 0:
            with lock:
                if unreachable:
                    failed(task, unreachable[0], sent=False)
                    return
                if over_budget() or fatal or (stop is not None and stop.is_set()):
                    summary.stopped_for_cost |= over_budget()
                    summary.stopped |= stop is not None and stop.is_set()
                    return
            template, system, user = task.prompt()
            try:
                reply = client.ask(system, user)
            except JudgeAccessError as e:
                with lock:
                    fatal.append(e)
                return
            except JudgeBadAnswer as e:
                # An answer that could not be read counts as one that did not parse; nothing to store.
                answers_left -= 1
                if answers_left > 0:
                    continue
                with lock:
                    failed(task, str(e))
                return
            except JudgeRequestError as e:
                # Failed after the SDK's own retries: leave it missing; a rerun asks again.
                with lock:
                    failed(task, str(e))
                    if isinstance(e, JudgeUnreachable):
                        # Nothing listens there: every other request would wait through the same retries.
                        unreachable.append(summary.errors[-1])
                return
            row = record_judgment(ws, task, attempt, template, reply)
            with lock:
                summary.count(row)
                if row["verdict"] != "invalid" or answers_left == 1:  # this judgment is done with
                    summary.finished += 1
                spent["usd"] += row["cost_usd"]
                spent["answers"] += 1
                if progress:
                    progress(summary)
            if row["verdict"] != "invalid":
                return
            attempt += 1
            answers_left -= 1

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        queue = list(reversed(tasks))
        running = set()
        while queue or running:
            if stop is not None and stop.is_set() and queue:
                summary.stopped = True
                queue.clear()
            while queue and len(running) < concurrency and not fatal:
                # Requests in flight will be paid for too: count them at the estimated cost, so a
                # high --concurrency cannot carry the spend far past --max-cost.
                with lock:
                    per_request = spent["usd"] / spent["answers"] if spent["answers"] else first_estimate
                    expected = summary.cost_usd + len(running) * per_request
                if max_cost is not None and expected >= max_cost:
                    if summary.cost_usd >= max_cost:
                        summary.stopped_for_cost = True
                        queue.clear()
                    break
                running.add(pool.submit(run, queue.pop()))
            if not running:
                break
            # Woken now and then without a result, so a stop is seen while slow requests are out.
            done, running = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
            for f in done:
                f.result()
            if fatal:
                queue.clear()
    if fatal:
        raise fatal[0]


def judge_in_process(ws, client, tasks: list[Task], summary: JudgeRunSummary, progress,
                     stop: threading.Event | None = None) -> None:
    """A `local:` judge (brie.judging.providers.local): many prompts per forward pass, in this
    thread. It reads every verdict from token probabilities, so each task takes one answer and
    costs nothing; each chunk's judgments are committed as soon as its pass is done."""
    size = client.batch_size
    # Similar lengths side by side: a batch is as wide as its longest prompt.
    tasks = sorted(tasks, key=lambda t: sum(len(part) for part in t.prompt()))
    for start in range(0, len(tasks), size):
        if stop is not None and stop.is_set():
            summary.stopped = True
            return
        chunk = tasks[start:start + size]
        prompts = [t.prompt() for t in chunk]
        replies = client.verdicts([(system, user) for _, system, user in prompts])
        for task, (template, _, _), reply in zip(chunk, prompts, replies):
            summary.count(record_judgment(ws, task, task.next_attempt, template, reply))
            summary.finished += 1
            if progress:
                progress(summary)
