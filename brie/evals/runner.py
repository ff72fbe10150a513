"""Run benchmarks on models (base and checkpoints), storing every item as soon as it is scored.

Resumable by construction: a result row is identified by checkpoint identity + benchmark +
settings, items already stored for it are skipped, and a model is loaded only when it has work.
Generation runs in batches and each item is committed as soon as its batch is done, so a crash
loses at most the batch in flight.

Scoring benchmarks (perplexity, mcq), lm-eval tasks, gsm8k and overlap on two or more models of one base (the base
and checkpoints of a run) go through brie.evals.sweep first: the layers below the first adapted one
run once per item for all of them. Their rows, settings and per-item samples are the same as model
by model, up to float rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from brie.models.specs import ModelSpec
from brie.errors import BrieError
from brie.evals.base import Benchmark
from brie.store import evals as eval_rows
from brie.workspace import Workspace


@dataclass
class EvalProgress:
    """What the progress callback gets after each stored item (and once per result at the start)."""

    label: str
    benchmark: str
    done: int
    total: int
    skipped: int = 0  # items found already stored when this result started


ProgressFn = Callable[[EvalProgress], None]


def evaluate(ws: Workspace, specs: list[ModelSpec], benchmarks: list[Benchmark], limit: int | None = None,
             batch_size: int = 8, progress: ProgressFn | None = None, judge=None) -> list[dict]:
    """Evaluate every model on every benchmark; returns the result rows (with `metrics`).

    `limit` is how many items must be stored at least; a result that already holds more (from an
    earlier, larger --limit) keeps them, and its metrics and n cover all of them."""
    progress = progress or (lambda p: None)
    items_of, available = {}, {}
    for bench in benchmarks:
        if bench.needs_judge and judge is None:
            from brie.judging.judges import load_table

            raise BrieError(f"{bench.spec}: needs a judge (--judge, e.g. {load_table(ws)['default']})")
        items = bench.items(ws)
        available[bench.spec] = len(items)
        items_of[bench.spec] = items[:limit] if limit else items
    shared = evaluate_shared(ws, specs, benchmarks, items_of, available, progress, batch_size)
    results = []
    for spec in specs:
        loaded = None
        for bench in benchmarks:
            items = items_of[bench.spec]
            row = eval_rows.get_or_create_result(
                ws.store, label=spec.label, model=spec.model, run=spec.run, step=spec.step,
                adapter_sha256=spec.adapter_sha256, benchmark=bench.spec, settings=result_settings(bench, judge),
                n_items=len(items), n_available=available[bench.spec])
            done = {i for i in eval_rows.done_items(ws.store, row["id"]) if i < len(items)}
            todo = [(i, it) for i, it in enumerate(items) if i not in done]
            if (spec, bench.spec) not in shared:  # a shared one reported its own start
                progress(EvalProgress(spec.label, bench.spec, len(done), len(items), skipped=len(done)))
            if todo:
                if loaded is None:
                    from brie.models.registry import load_model

                    loaded = load_model(ws, spec.model, spec.adapter_path)
                model, tokenizer = loaded
                count = len(done)
                try:
                    for scored in bench.score(model, tokenizer, todo, batch_size, judge=judge):
                        item = items[scored.idx]
                        eval_rows.add_sample(ws.store, row["id"], scored.idx, item.id, item.input,
                                             scored.output, item.target, scored.scores)
                        count += 1
                        progress(EvalProgress(spec.label, bench.spec, count, len(items)))
                except BrieError as e:
                    eval_rows.fail_result(ws.store, row["id"], str(e))
                    raise
            # Metrics over every stored item, not just this call's --limit prefix: the row is the one
            # `brie experiments`, the report and the paired deltas read, so a smaller --limit later
            # must not shrink what an earlier, larger one stored (its n would then disagree with them).
            samples = eval_rows.samples(ws.store, row["id"])
            eval_rows.finish_result(ws.store, row["id"], bench.aggregate_samples(samples),
                                     n_items=max(len(items), len(samples)))
            results.append(eval_rows.get_result(ws.store, row["id"]))
    return results


def result_settings(bench: Benchmark, judge) -> dict:
    """A result's settings: the benchmark's own, and the judge's name where it grades."""
    settings = bench.settings()
    if judge is not None and bench.needs_judge:
        from brie.evals.mtbench import judge_name

        settings["judge"] = judge_name(judge)
    return settings


def evaluate_shared(ws: Workspace, specs: list[ModelSpec], benchmarks: list[Benchmark], items_of: dict,
                    available: dict, progress: ProgressFn, batch_size: int = 8) -> set[tuple[ModelSpec, str]]:
    """Score what the shareable benchmarks still need on each group of models that can share a trunk
    (brie.evals.sweep), storing every item as `evaluate` does; returns the (spec, benchmark) pairs
    it reported progress for. Groups or benchmarks it cannot share are left to `evaluate`."""
    from brie.evals.sweep import open_shared, score_shared, share_groups, shareable

    handled: set[tuple[ModelSpec, str]] = set()
    benches = [b for b in benchmarks if shareable(b)]
    if not benches:
        return handled
    for group in share_groups(specs):
        members = [specs[i] for i in group]
        trunk = None
        for bench in benches:
            items = items_of[bench.spec]
            rows, todos = [], []
            for spec in members:
                row = eval_rows.get_or_create_result(
                    ws.store, label=spec.label, model=spec.model, run=spec.run, step=spec.step,
                    adapter_sha256=spec.adapter_sha256, benchmark=bench.spec, settings=result_settings(bench, None),
                    n_items=len(items), n_available=available[bench.spec])
                done = {i for i in eval_rows.done_items(ws.store, row["id"]) if i < len(items)}
                rows.append(row)
                todos.append([(i, it) for i, it in enumerate(items) if i not in done])
            if sum(1 for todo in todos if todo) < 2:
                continue  # nothing to share: model by model
            if trunk is None:
                trunk = open_shared(ws, members[0].model, [s.adapter_path for s in members])
                if trunk is None:
                    break  # these adapters or this model cannot be split: model by model
            counts = []
            for spec, todo in zip(members, todos):
                counts.append(len(items) - len(todo))
                progress(EvalProgress(spec.label, bench.spec, counts[-1], len(items), skipped=counts[-1]))
                handled.add((spec, bench.spec))
            try:
                for which, scored in score_shared(trunk, bench, todos, batch_size):
                    item = items[scored.idx]
                    eval_rows.add_sample(ws.store, rows[which]["id"], scored.idx, item.id, item.input,
                                         scored.output, item.target, scored.scores)
                    counts[which] += 1
                    progress(EvalProgress(members[which].label, bench.spec, counts[which], len(items)))
            except BrieError as e:  # the data's fault (a row that cannot be tokenized): every model's
                for row, todo in zip(rows, todos):
                    if todo:
                        eval_rows.fail_result(ws.store, row["id"], str(e))
                raise
    return handled


def sweep_specs(ws: Workspace, run: str) -> list[ModelSpec]:
    """base, then every checkpoint of the run in step order."""
    from brie.models.specs import checkpoint_steps, resolve_spec, resolve_specs

    steps = checkpoint_steps(ws, run)
    base = resolve_specs(ws, f"base,{run}@{steps[0]}")[0]
    return [base] + [resolve_spec(ws, f"{run}@{s}") for s in steps]


@dataclass
class Evaluation:
    """What `brie eval` and the demo show: the results, each checkpoint's paired change against the
    base, and per checkpoint the summary (worst benchmark, significant drops, mean change)."""

    results: list[dict]
    deltas: list
    summaries: dict[str, dict]


def evaluate_vs_base(ws: Workspace, specs: list[ModelSpec], benchmarks: list[Benchmark], **kwargs) -> Evaluation:
    """evaluate(), then the deltas against the base and their summaries (kwargs: evaluate's)."""
    from brie.evals.forgetting import deltas_vs_base, summaries

    results = evaluate(ws, specs, benchmarks, **kwargs)
    deltas = deltas_vs_base(ws, results)
    return Evaluation(results, deltas, summaries(deltas))
