"""Forgetting: per benchmark, how a checkpoint differs from its base model on the same items.

Deltas are paired on items (both models answered the same questions), which is far tighter than
comparing two independent accuracies. 0/1 metrics get McNemar's exact test (a binomial test on the
items where exactly one model is right); every metric gets a percentile bootstrap interval of the
mean per-item difference. A drop is flagged when it is significant at `alpha`.

A benchmark whose aggregate is weighted (perplexity: by tokens) is compared with the same weights,
so the forgetting table's base and checkpoint values are the eval table's token-weighted losses.
Summaries never average different units: the mean change is given per unit (accuracy in points,
loss per token, …), each over the benchmarks measured in it.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass

import numpy as np

from brie.errors import BrieError
from brie.store import evals as eval_rows
from brie.workspace import Workspace


@dataclass
class Delta:
    benchmark: str
    metric: str
    base_label: str
    label: str
    n: int  # paired items
    base: float
    value: float
    delta: float  # value - base, in the metric's own units
    ci_low: float | None
    ci_high: float | None
    p_value: float | None  # McNemar exact for 0/1 metrics, else None (use the interval)
    higher_is_better: bool
    significant: bool
    drop: bool  # worse than base and significant
    unit: str = ""  # what delta is measured in; summaries average only within one unit

    @property
    def improvement(self) -> float:
        """The delta with its sign set so positive always means better."""
        return self.delta if self.higher_is_better else -self.delta

    def to_dict(self) -> dict:
        return {**asdict(self), "improvement": self.improvement}


def mcnemar_exact(base: list[int], other: list[int]) -> tuple[int, int, float]:
    """(b, c, p): b items only base got right, c only the other; exact two-sided p on b vs c."""
    from scipy.stats import binomtest

    b = sum(1 for x, y in zip(base, other) if x and not y)
    c = sum(1 for x, y in zip(base, other) if y and not x)
    p = 1.0 if b + c == 0 else binomtest(b, b + c, 0.5).pvalue
    return b, c, float(p)


def bootstrap_ci(diffs: list[float], confidence: float = 0.95, n_resamples: int = 2000,
                 seed: int = 0) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of the mean paired difference (None with fewer than 2 items)."""
    from scipy.stats import bootstrap

    d = np.asarray(diffs, dtype=float)
    if len(d) < 2:
        return None, None
    if np.all(d == d[0]):  # every resample has the same mean
        return float(d[0]), float(d[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = bootstrap((d,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                        method="percentile", random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def weighted_bootstrap_ci(base_vals: list[float], base_weights: list[float], vals: list[float],
                          weights: list[float], confidence: float = 0.95, n_resamples: int = 2000,
                          seed: int = 0) -> tuple[float | None, float | None]:
    """Percentile bootstrap interval of the change in a weighted mean (e.g. a token-weighted loss),
    resampling items with their weights, paired."""
    from scipy.stats import bootstrap

    arrays = [np.asarray(a, dtype=float) for a in (base_vals, base_weights, vals, weights)]
    if len(arrays[0]) < 2:
        return None, None

    def change(bv, bw, v, w, axis=-1):
        return np.sum(v * w, axis=axis) / np.sum(w, axis=axis) - np.sum(bv * bw, axis=axis) / np.sum(bw, axis=axis)

    point = float(change(*arrays))
    d = arrays[2] - arrays[0]
    if np.all(d == d[0]) and np.all(arrays[1] == arrays[3]):  # every resample has the same change
        return point, point
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = bootstrap(tuple(arrays), change, paired=True, vectorized=True, confidence_level=confidence,
                        n_resamples=n_resamples, method="percentile", random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def _mean(vals: list[float], weights: list[float] | None) -> float:
    return float(np.mean(vals)) if weights is None else float(np.average(vals, weights=weights))


def paired_delta(benchmark: str, metric: str, base_label: str, label: str, base_vals: list[float],
                 vals: list[float], binary: bool, higher_is_better: bool, alpha: float = 0.05,
                 base_weights: list[float] | None = None, weights: list[float] | None = None,
                 unit: str | None = None) -> Delta:
    """The change from base_vals to vals (paired by position); with weights, of weighted means
    (perplexity's token-weighted loss), so base and value are what the eval table shows."""
    if len(base_vals) != len(vals) or not vals:
        raise BrieError(f"{benchmark}: no paired items between {base_label} and {label}")
    unit = unit or ("accuracy" if binary else metric)
    p = mcnemar_exact([int(x) for x in base_vals], [int(x) for x in vals])[2] if binary else None
    if weights is not None and base_weights is not None:
        base, value = _mean(base_vals, base_weights), _mean(vals, weights)
        lo, hi = weighted_bootstrap_ci(base_vals, base_weights, vals, weights, confidence=1 - alpha)
    else:
        base, value = _mean(base_vals, None), _mean(vals, None)
        lo, hi = bootstrap_ci([v - b for b, v in zip(base_vals, vals)], confidence=1 - alpha)
    delta = value - base
    if binary:
        significant = p < alpha
    else:
        significant = lo is not None and (lo > 0 or hi < 0)
    worse = delta < 0 if higher_is_better else delta > 0
    return Delta(benchmark, metric, base_label, label, len(vals), base, value,
                 delta, lo, hi, p, higher_is_better, bool(significant), bool(significant and worse), unit)


def compare_results(ws: Workspace, base_result: dict, result: dict, alpha: float = 0.05) -> Delta:
    """The paired delta of `result` against `base_result` on the benchmark's primary metric."""
    from brie.evals import parse_benchmark

    bench = parse_benchmark(result["benchmark"])
    base_samples = {s["item_idx"]: s["scores"] for s in eval_rows.samples(ws.store, base_result["id"])}
    samples = {s["item_idx"]: s["scores"] for s in eval_rows.samples(ws.store, result["id"])}
    metric, weight = bench.primary, bench.weight
    # items a judge could not grade (None) have no value to pair
    common = sorted(i for i in set(base_samples) & set(samples)
                    if base_samples[i].get(metric) is not None and samples[i].get(metric) is not None)
    weights = {}
    if weight is not None:  # weighted as the benchmark aggregates (perplexity: per token)
        weights = {"base_weights": [float(base_samples[i][weight]) for i in common],
                   "weights": [float(samples[i][weight]) for i in common]}
    return paired_delta(result["benchmark"], metric, base_result["label"], result["label"],
                        [float(base_samples[i][metric]) for i in common],
                        [float(samples[i][metric]) for i in common],
                        bench.binary, bench.higher_is_better, alpha, unit=unit_of(bench), **weights)


def unit_of(bench) -> str:
    """What a benchmark's primary metric is measured in: its declared unit, "accuracy" for 0/1
    metrics, else the metric of that benchmark alone (an MT-Bench grade and an lm-eval task's score
    are never averaged together)."""
    from brie.evals import display_name

    if bench.unit:
        return bench.unit
    return "accuracy" if bench.binary else f"{bench.primary} of {display_name(bench.spec)}"


def base_result_for(ws: Workspace, result: dict) -> dict | None:
    """The base model's completed result on the same benchmark with the same settings."""
    return eval_rows.find_result(ws.store, result["model"], None, result["benchmark"],
                                 json.loads(result["settings_json"]))


def _recency(result: dict) -> tuple:
    return (result.get("ended_at") or "", result["id"])


def current_results(results: list[dict]) -> list[dict]:
    """Per benchmark, the completed results with the settings it was evaluated with last, one per
    step (the newest). A benchmark run again with other settings (--shots, --max-tokens, a judge)
    keeps both sets of rows; mixing them would plot two settings as one line, or count one benchmark
    twice in the table and its mean. Tables and plots all use this one choice."""
    done = [r for r in results if r["status"] == "completed"]
    latest: dict[str, dict] = {}
    for r in done:
        if r["benchmark"] not in latest or _recency(r) > _recency(latest[r["benchmark"]]):
            latest[r["benchmark"]] = r
    chosen: dict[tuple[str, int | None], dict] = {}
    for r in done:
        if r["settings_json"] != latest[r["benchmark"]]["settings_json"]:
            continue
        key = (r["benchmark"], r["step"])
        if key not in chosen or _recency(r) > _recency(chosen[key]):
            chosen[key] = r
    return sorted(chosen.values(), key=lambda r: r["id"])


def left_out_settings(results: list[dict]) -> dict[str, list[dict]]:
    """{benchmark: [settings…]} of completed results that current_results leaves out."""
    current = current_results(results)
    kept = {r["id"] for r in current}
    shown = {r["benchmark"]: r["settings"] for r in current}
    out: dict[str, list[dict]] = {}
    for r in results:
        # an older result with the shown settings (say, of an adapter since retrained) is not "other settings"
        if r["status"] == "completed" and r["id"] not in kept and r["settings"] != shown.get(r["benchmark"]) \
                and r["settings"] not in out.get(r["benchmark"], []):
            out.setdefault(r["benchmark"], []).append(r["settings"])
    return out


def forgetting_table(ws: Workspace, run: str, step: int | None = None, alpha: float = 0.05) -> list[Delta]:
    """Deltas vs base for one checkpoint of a run (default: the best, else the last evaluated step),
    one per benchmark, at the settings each was last evaluated with (see current_results)."""
    results = current_results(eval_rows.list_results(ws.store, run=run))
    if not results:
        return []
    if step is None:
        from brie.store import runs as run_rows

        row = run_rows.get_run(ws.store, run)
        evaluated = {r["step"] for r in results}
        step = row["best_step"] if row and row["best_step"] in evaluated else max(evaluated)
    return deltas_vs_base(ws, [r for r in results if r["step"] == step], alpha)


def deltas_vs_base(ws: Workspace, results: list[dict], alpha: float = 0.05) -> list[Delta]:
    """The paired change of each checkpoint's result against the base's result on the same
    benchmark and settings; results of base models, and those with no base result, give none."""
    deltas = []
    for result in results:
        if result["adapter_sha256"] is None:
            continue
        base = base_result_for(ws, result)
        if base is not None:
            deltas.append(compare_results(ws, base, result, alpha))
    return deltas


def _relative(d: Delta) -> float:
    """The improvement as a share of the base value: unit-free, so benchmarks in different units
    can be ranked (a base of 0 makes any change infinitely large)."""
    if d.base:
        return d.improvement / abs(d.base)
    return 0.0 if d.improvement == 0 else float("inf") if d.improvement > 0 else float("-inf")


def _unit_mean(unit: str, deltas: list[Delta]) -> dict:
    directions = {d.higher_is_better for d in deltas}
    return {"unit": unit, "n_benchmarks": len(deltas), "benchmarks": [d.benchmark for d in deltas],
            "mean_improvement": float(np.mean([d.improvement for d in deltas])),
            # the mean change itself, in the metric's own direction, where all agree on it
            "mean_delta": float(np.mean([d.delta for d in deltas])) if len(directions) == 1 else None,
            "higher_is_better": directions.pop() if len(directions) == 1 else None}


def summarize(deltas: list[Delta]) -> dict:
    """Per unit the mean change (positive = better), the worst benchmark, the flagged drops.

    `mean_change` has one entry per unit ({"unit", "mean_improvement", "n_benchmarks", "benchmarks"}):
    accuracies are never averaged with losses. `worst` is the least improved benchmark, ranked by
    change relative to its base (unit-free), even when it got better; `worst_improvement` (≥ 0: none
    got worse) is there so that text can say so instead of naming it as if it had. See `worst_text`
    and `mean_change_text`."""
    if not deltas:
        return {"n_benchmarks": 0, "mean_change": [], "worst": None, "worst_improvement": None, "drops": []}
    by_unit: dict[str, list[Delta]] = {}
    for d in deltas:
        by_unit.setdefault(d.unit or d.metric, []).append(d)
    worst = min(deltas, key=_relative)
    return {"n_benchmarks": len(deltas),
            "mean_change": [_unit_mean(unit, ds) for unit, ds in by_unit.items()],
            "worst": worst.benchmark, "worst_improvement": worst.improvement,
            "drops": [d.benchmark for d in deltas if d.drop]}


def mean_change_text(summary: dict) -> str:
    """'accuracy +2.5 points (2 benchmarks); loss -0.031 per token, lower is better (1 benchmark)':
    one mean per unit, never one over different units."""
    from brie.words import plural

    parts = []
    for m in summary["mean_change"]:
        if m["mean_delta"] is None:  # a unit used both ways: only the improvement is one number
            amount, how = f"{m['mean_improvement']:+.4g}", "positive = better"
        else:
            value = m["mean_delta"] * (100 if m["unit"] == "accuracy" else 1)
            amount = f"{value:+.3g} points" if m["unit"] == "accuracy" else f"{value:+.4g}"
            amount += " per token" if m["unit"] == "loss" else ""
            how = "higher is better" if m["higher_is_better"] else "lower is better"
        parts.append(f"{m['unit']} {amount} ({how}; {plural(m['n_benchmarks'], 'benchmark')})")
    return "; ".join(parts) or "no benchmarks"


def summaries(deltas: list[Delta]) -> dict[str, dict]:
    """summarize() per checkpoint label, in the order the deltas come."""
    return {label: summarize([d for d in deltas if d.label == label]) for label in dict.fromkeys(d.label for d in deltas)}


def worst_text(summary: dict) -> str:
    """'worst: <benchmark>' when one got worse, else 'no benchmark got worse' (report and CLI)."""
    from brie.evals import display_name

    if summary["worst"] is None:
        return "no benchmarks"
    if summary["worst_improvement"] >= 0:
        return "no benchmark got worse"
    return f"worst: {display_name(summary['worst'])}"
