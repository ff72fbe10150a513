"""What `brie compare` and `brie grade` do: check the judges, generate what is missing, judge it.

`compare` makes blind A/B comparisons (make_comparisons) and judges them (judge_comparisons, through
brie.judging.loop or brie.judging.batch); `grade` rates each answer alone from 1 to 10 (MT-Bench
single-answer grading). Both are idempotent: only what is not stored yet is generated or asked.
"""

from __future__ import annotations

import json
import random
import threading
from concurrent.futures import ThreadPoolExecutor

from brie.errors import BrieError
from brie.judging.base import JudgeBadAnswer, JudgeError, JudgeRequestError, JudgeSpec, JudgeUnreachable
from brie.judging.batch import judge_in_batches
from brie.judging.judges import HUMAN, connect, load_table, missing_key, not_an_api_judge, parse_judge
from brie.judging.loop import judge_concurrently
from brie.judging.prompts import RATING_PREFILL, prefilled, prompt_sha256, single_prompt, template_sha256
from brie.judging.providers import PROVIDERS
from brie.judging.tasks import JudgeRunSummary
from brie.judging.verdicts import RATINGS, expected_rating, parse_rating
from brie.store import judging as rows


def api_judges(ws, judges: list[str | JudgeSpec] | None, warn=None) -> list[JudgeSpec]:
    """Specs for judges that answer through an API; a human judge, a bad name or a missing API key
    is an error, and a deprecated model is warned about (once: pass the specs on, not the names).

    `judges=None` means the table's default judge, and a missing key then says that the default was
    used: a new user who never chose a judge should learn which one was picked and how to pick another.
    Called before generation, so none of these errors costs minutes first.
    """
    default_from = None
    if judges is None:
        table = load_table(ws)
        judges = [j.strip() for j in table["default"].split(",") if j.strip()]  # comma-separated names allowed
        default_from = table["default_from"]
    specs = [j if isinstance(j, JudgeSpec) else parse_judge(j, ws, warn=warn) for j in judges]
    for spec in specs:
        if spec.provider == HUMAN:
            raise not_an_api_judge(spec)
        missing = missing_key(spec)
        if missing:
            hint = (f"; no --judge given, so the default {spec.name} ({default_from}) was used; set {missing} "
                    "or pass --judge openai-compatible:<model>@<url> for a local server") if default_from else ""
            raise JudgeError(f"judge {spec.name}: {missing} is not set{hint}")
        check = getattr(PROVIDERS[spec.provider], "check", None)
        if check:  # a local judge's model or checkpoint exists (loading it waits for the judging)
            check(ws, spec)
    return specs


def judge_comparisons(ws, comparison_ids: list[int], judges: list[str | JudgeSpec], swap: bool = False,
                      concurrency: int = 4, max_cost: float | None = None, max_attempts: int = 3,
                      max_retries: int = 4, timeout: float = 120.0, batch: bool = False,
                      poll_seconds: float = 30.0, judge_max_tokens: int = 1024, progress=None,
                      warn=None, retry_invalid: bool = False, stop=None) -> JudgeRunSummary:
    """Judge every stored comparison with every judge (names, or specs such as `local_judge`'s);
    only what is missing is asked.

    Each judgment is committed as it lands. `concurrency` bounds the requests in flight; the SDKs
    retry 429/5xx/timeouts with backoff (`max_retries`). An answer without exactly one verdict is
    stored as `invalid` and asked again, up to `max_attempts` answers per judgment (`retry_invalid`:
    that many more for a judgment stored without a verdict, its old answers kept). With `max_cost`
    no new request starts once this run has spent that much. `progress(summary)` after each result.
    `stop` (a threading.Event, set by the UI's quit): no new request starts, those in flight are stored.
    """
    summary = JudgeRunSummary()
    comparisons = rows.find_comparisons(ws.store, ids=list(comparison_ids))
    specs = api_judges(ws, judges, warn)
    for spec in specs:
        client = connect(spec, max_retries=max_retries, timeout=timeout, max_tokens=judge_max_tokens, ws=ws)
        if batch:
            if not client.supports_batch:
                raise BrieError(f"--batch uses Anthropic's Message Batches API; {spec.name} is not an anthropic judge")
            judge_in_batches(ws, client, comparisons, swap, max_attempts, max_cost, poll_seconds, summary, progress,
                             retry_invalid=retry_invalid, warn=warn)
        else:
            judge_concurrently(ws, client, comparisons, swap, max_attempts, concurrency, max_cost, summary, progress,
                               retry_invalid=retry_invalid, stop=stop)
        for text in client.notices:  # once per judge and run, not per judgment
            summary.notices.append(text)
            if warn:
                warn(text)
        if summary.stopped_for_cost or (stop is not None and stop.is_set()):
            summary.stopped |= stop is not None and stop.is_set()
            break
    return summary


def make_comparisons(ws, suite_name: str, gens: dict[str, dict[tuple[int, int], int]], label_a: str,
                     label_b: str, rng: random.Random | None = None) -> list[int]:
    """One comparison per prompt and sample: generation of A vs generation of B, shown_first drawn."""
    from brie.data.suites import get_suite

    suite = get_suite(ws, suite_name)
    rng = rng or random.SystemRandom()
    new = []
    for (prompt_row_id, k), gen_a in sorted(gens[label_a].items()):
        gen_b = gens[label_b].get((prompt_row_id, k))
        if gen_b is None:
            continue
        new.append({"suite_id": suite["id"], "prompt_row_id": prompt_row_id, "gen_a": gen_a, "gen_b": gen_b,
                    "sample_idx": k, "shown_first": rng.choice("ab")})
    return rows.ensure_comparisons(ws.store, new)


def compare(ws, suite: str, a: str, b: str, judges: list[str] | None, swap: bool = False, samples: int = 1,
            temperature: float = 0.0, max_tokens: int = 256, seed: int = 0, concurrency: int = 4,
            max_cost: float | None = None, batch: bool = False, max_attempts: int = 3,
            max_retries: int = 4, timeout: float = 120.0, poll_seconds: float = 30.0,
            judge_max_tokens: int = 1024, base_model: str | None = None, engine: str = "auto",
            progress=None, warn=None, retry_invalid: bool = False, stop=None) -> tuple[list[int], JudgeRunSummary]:
    """Generate what is missing for A and B on the suite, then judge every comparison.
    `stop`: see `judge_comparisons` (generation is stopped by the caller's `progress` raising).

    `judges=None`: the table's default judge (see `api_judges`)."""
    from brie.models.specs import resolve_specs
    from brie.generation.runner import generate_suite

    # Judges are checked (and a deprecated one warned about) before minutes go into generation.
    specs = api_judges(ws, judges, warn)
    spec_a, spec_b = resolve_specs(ws, f"{a},{b}", base_model)
    if spec_a.label == spec_b.label and spec_a.model == spec_b.model:
        raise BrieError(f"--a and --b are the same model ({spec_a.label})")
    gens = generate_suite(ws, suite, [spec_a, spec_b], samples=samples, temperature=temperature,
                          max_tokens=max_tokens, seed=seed, engine=engine,
                          progress=(lambda label, done, total: progress(("generate", label, done, total)))
                          if progress else None)
    ids = make_comparisons(ws, suite, gens, spec_a.label, spec_b.label)
    summary = judge_comparisons(ws, ids, specs, swap=swap, concurrency=concurrency, max_cost=max_cost,
                                max_attempts=max_attempts, max_retries=max_retries, timeout=timeout,
                                batch=batch, poll_seconds=poll_seconds, judge_max_tokens=judge_max_tokens,
                                progress=(lambda s: progress(("judge", s))) if progress else None, warn=warn,
                                retry_invalid=retry_invalid, stop=stop)
    return ids, summary


def grade(ws, suite: str, models: str, judges: list[str] | None, samples: int = 1, temperature: float = 0.0,
          max_tokens: int = 256, seed: int = 0, concurrency: int = 4, max_attempts: int = 3,
          max_retries: int = 4, timeout: float = 120.0, progress=None, warn=None, retry_invalid: bool = False) -> dict:
    """MT-Bench single-answer grading: each answer rated 1–10; reference-guided when the prompt has one.

    An answer stored without a rating after `max_attempts` is asked again, up to `max_attempts`
    more times, only with `retry_invalid` (the old answers stay as earlier attempts); without it
    they are counted in "invalid_stored"."""
    from brie.models.specs import resolve_specs
    from brie.generation.runner import generate_suite
    from brie.store.suites import list_prompts
    from brie.data.suites import get_suite

    judge_specs = api_judges(ws, judges, warn)  # before generation, as in `compare`
    specs = resolve_specs(ws, models)
    gens = generate_suite(ws, suite, specs, samples=samples, temperature=temperature,
                          max_tokens=max_tokens, seed=seed)
    prompts = {p["id"]: p for p in list_prompts(ws.store, get_suite(ws, suite)["id"])}
    counts = {"valid": 0, "invalid": 0, "failed": 0, "invalid_stored": 0, "cost_usd": 0.0, "errors": []}
    lock = threading.Lock()
    for spec in judge_specs:
        client = connect(spec, max_retries=max_retries, timeout=timeout, ws=ws)
        gen_ids = [g for by_key in gens.values() for g in by_key.values()]
        # Read before the threads start: they share one SQLite connection, which only writes take turns on.
        generations = {g: rows.get_generation(ws.store, g) for g in gen_ids}
        asked = {g: single_prompt(prompts[gen["prompt_row_id"]]["turns"], gen["answers"],
                                  prompts[gen["prompt_row_id"]]["reference"]) for g, gen in generations.items()}
        # A local judge's answer is begun for it up to the rating: part of what was asked.
        prefill = RATING_PREFILL if spec.prefilled else ""
        if prefill:
            asked = {g: (prefilled(template), system, user) for g, (template, system, user) in asked.items()}
        sent = {g: prompt_sha256(system, user, prefill) for g, (_, system, user) in asked.items()}
        # Only answers to the prompt shown now count: after a template changed, the answer is asked again.
        stored = {g: [s for s in found if s["prompt_sha256"] == sent[g]]
                  for g, found in rows.score_attempts(ws.store, spec.name, gen_ids).items()}
        unrated = [g for g in gen_ids if not any(s["valid"] for s in stored.get(g, []))]
        spent = [g for g in unrated if len(stored.get(g, [])) >= max_attempts]
        todo = unrated if retry_invalid else [g for g in unrated if g not in spent]
        if not retry_invalid:
            counts["invalid_stored"] += len(spent)
        # attempts allowed per answer: max_attempts in all, or max_attempts more with retry_invalid
        last_attempt = {g: len(stored.get(g, [])) + max_attempts if retry_invalid else max_attempts for g in todo}
        templates_sha = template_sha256("single", prefill)
        unreachable: list[str] = []

        def run(gen_id: int) -> None:
            template, system, user = asked[gen_id]
            for attempt in range(len(stored.get(gen_id, [])) + 1, last_attempt[gen_id] + 1):
                with lock:
                    if unreachable:  # nothing listens there: do not wait through the retries again
                        counts["failed"] += 1
                        counts["errors"].append(unreachable[0])
                        return
                try:
                    reply = client.ask(system, user)
                except JudgeBadAnswer as e:
                    # an answer that could not be read counts as one without a rating, as in compare
                    if attempt < last_attempt[gen_id]:
                        continue
                    with lock:
                        counts["failed"] += 1
                        counts["errors"].append(str(e))
                    return
                except JudgeRequestError as e:
                    with lock:
                        counts["failed"] += 1
                        counts["errors"].append(str(e))
                        if isinstance(e, JudgeUnreachable):
                            unreachable.append(counts["errors"][-1])
                    return
                if store(gen_id, attempt, template, reply):
                    return

        def store(gen_id: int, attempt: int, template: str, reply) -> bool:
            """Store one answer; whether it gave a rating. With probabilities (a local judge) the
            score is the expected rating Σ k·P(k), the distribution stored beside it."""
            probabilities = reply.probabilities
            if probabilities is not None and set(probabilities) != set(RATINGS):
                probabilities = None  # a logprobs judge's A/B/C, should a rating answer hold a [[A]]
            if reply.refused:
                score = None
            elif probabilities:
                score = expected_rating(probabilities)
            else:
                score = parse_rating(reply.text)
            cost = spec.cost(reply.input_tokens, reply.output_tokens, reply.cache_read_tokens, reply.cache_write_tokens)
            rows.insert_score(ws.store, {
                "generation_id": gen_id, "judge": spec.name, "template": template, "attempt": attempt,
                "prompt_sha256": sent[gen_id], "template_sha256": templates_sha,
                "raw": reply.text, "score": score, "valid": int(score is not None),
                "input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens,
                "cache_read_tokens": reply.cache_read_tokens, "cost_usd": cost,
                "probabilities": json.dumps(probabilities) if probabilities else None})
            with lock:
                counts["cost_usd"] += cost
                counts["valid" if score is not None else "invalid"] += 1
            return score is not None

        if getattr(client, "in_process", False):
            # One batched forward pass per chunk, in this thread; a rating always comes back.
            for start in range(0, len(todo), client.batch_size):
                chunk = todo[start:start + client.batch_size]
                replies = client.ratings([asked[g][1:] for g in chunk])
                for g, reply in zip(chunk, replies):
                    store(g, len(stored.get(g, [])) + 1, asked[g][0], reply)
            continue
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            list(pool.map(run, todo))
        for text in client.notices:  # once per judge and run, as in compare
            if warn:
                warn(text)
    return counts
