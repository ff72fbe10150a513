"""Results: win rates with confidence intervals, position bias, swap consistency, judge agreement.

Win rate is B's: (B wins + ties / 2) / n, "ties as half". Its 95% interval is the Wilson score
interval (statsmodels `proportion_confint(method="wilson")`) on that same tie-as-half count; ties
carry less variance than a win or a loss, so with many ties the interval is a little wide (safe).

Agreement between two judges is counted twice, each with its own n:
- over judgments (`n`, `agreement`, `kappa`): one judgment is a judge's verdict on one comparison
  shown in one order, so two judges are compared only on what each saw in the same order (a human's
  single order meets the LLM verdict made in that order);
- over merged pairs (`pairs_n`, `pairs_agreement`, `pairs_kappa`): the verdict after both orders were
  merged (`--swap`, a flip counts as a tie), on comparisons both judges judged in both orders.
Merging first would hide position: an always-[[A]] and an always-[[B]] judge both merge to ties.
Kappa is Cohen's over a / b / tie (scikit-learn's `cohen_kappa_score`; tests/conformance checks it).

Position bias: the answer shown first should win about half the decided judgments; a two-sided
binomial test (scipy `binomtest`, p = 0.5) under `POSITION_ALPHA` is stated as a warning in words.

None of the references is imported here (issue 20: their imports were most of `brie results`'s
time): each figure is computed in closed form, equal to its reference (tests/conformance/
test_stats_reference.py), and numpy is imported only for the preference's bootstrap. `results`
reads only the columns it adds up and goes over the judgments a fixed number of times; the judge
agreement tables are counted from the few distinct sets of verdicts seen together (at most 3**judges)
rather than per judgment, so 50,000 judgments take about a second (benchmarks/results_scale.py).

Preference (issue 15), for judges that store verdict probabilities ({"A", "B", "C"} over the shown
positions: a `local:` judge, an API judge asked for logprobs): one judgment's preference for B is
P(the position B was shown in) + P(C) / 2, mapped through `shown_first` like every verdict. A
comparison's preference is the mean over its judgments with probabilities (with --swap, the mean
of both orders, which cancels a constant position bias); a prompt's is the mean over its samples;
`pref_b` is the mean over prompts, with a 95% percentile bootstrap interval over prompts
(`bootstrap_mean_ci`: numpy, seeded, 2,000 resamples; equal to scipy.stats.bootstrap's
method="percentile" with the same generator). `position_bias` is the mean preference for the answer
shown first, minus 0.5, over the judgments with probabilities.

Calibration (`vs_human`): every judge that shares judgments with a human, against that human's
verdicts (the reference), from the same judgment-by-judgment agreement as above; for a judge with
probabilities also the mean probability it gave the human's verdict.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from itertools import combinations

from brie.store import judging as rows

SMALL_N = 30
POSITION_ALPHA = 0.05  # a first-shown win rate this unlikely under no bias is called position bias
BOOTSTRAP_RESAMPLES = 2000  # the preference interval's resamples (over prompts)
BOOTSTRAP_SEED = 0  # fixed, so the same judgments always print the same interval
WON_HALVES = {"b": 2, "tie": 1, "a": 0}  # B's win in halves: a tie is half a win
Z_975 = 1.9599639845400545  # scipy.stats.norm.isf(0.025), what statsmodels' Wilson interval uses (a test checks it)


def wilson(successes: float, n: int) -> tuple[float | None, float | None]:
    """95% Wilson score interval, statsmodels' `proportion_confint(method="wilson")` step by step
    (same operations in the same order, clipped to [0, 1]), without importing statsmodels."""
    if n == 0:
        return None, None
    q = successes / n
    crit2 = Z_975 ** 2
    denom = 1 + crit2 / n
    center = (q + crit2 / (2 * n)) / denom
    dist = Z_975 * math.sqrt(q * (1.0 - q) / n + crit2 / (4.0 * n ** 2))
    dist /= denom
    return min(max(center - dist, 0.0), 1.0), min(max(center + dist, 0.0), 1.0)


def kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Cohen's kappa over verdicts a/b/tie; None when it is undefined (one category only).

    scikit-learn's `cohen_kappa_score` form, 1 - observed disagreement / disagreement expected by
    chance, with both counts kept as integers (times n) so only the last division rounds."""
    return _kappa(Counter(pairs)) if pairs else None


def _kappa(cells: Counter) -> float | None:
    """Cohen's kappa from {(verdict 1, verdict 2): count} (not empty)."""
    n = sum(cells.values())
    first, second = Counter(), Counter()
    for (x, y), k in cells.items():
        first[x] += k
        second[y] += k
    disagreed = sum(k for (x, y), k in cells.items() if x != y)
    expected = n * n - sum(first[c] * second[c] for c in first)  # chance disagreement, times n
    return None if expected == 0 else 1 - disagreed * n / expected


def final_verdicts(judgments: list[dict]) -> dict[tuple[int, str, int], dict]:
    """{(comparison, judge, pass): the row that stands}: the valid answer if any, else the last invalid."""
    out: dict[tuple[int, str, int], dict] = {}
    for j in sorted(judgments, key=lambda r: r["attempt"]):
        key = (j["comparison_id"], j["judge"], j["pass"])
        if key not in out or out[key]["verdict"] == "invalid":
            out[key] = j
    return out


def combined(finals: dict) -> dict[tuple[int, str], dict]:
    """{(comparison, judge): {verdict, flip}}; with both passes (swap) disagreement is a tie and a flip."""
    by: dict[tuple[int, str], dict[int, str]] = defaultdict(dict)
    for (cid, judge, p), row in finals.items():
        by[(cid, judge)][p] = row["verdict"]
    out = {}
    for key, passes in by.items():
        if 1 in passes:
            v0, v1 = passes.get(0, "invalid"), passes[1]
            if "invalid" in (v0, v1):
                continue
            out[key] = {"verdict": v0 if v0 == v1 else "tie", "flip": v0 != v1, "swapped": True}
        elif passes.get(0, "invalid") != "invalid":
            out[key] = {"verdict": passes[0], "flip": False, "swapped": False}
    return out


def by_order(finals: dict) -> dict[tuple[int, str], dict[str, str]]:
    """{(comparison, shown_first): {judge: verdict}}: each judge's standing valid verdict on one
    comparison shown in one order (pass 0 shows the comparison's drawn order, pass 1 the other; a
    human's one verdict is pass 0). Should a judge have two passes in the same order, the later pass counts."""
    out: dict[tuple[int, str], dict[str, str]] = defaultdict(dict)
    for (cid, judge, _), row in sorted(finals.items(), key=lambda kv: kv[0][2]):
        if row["verdict"] != "invalid":
            out[(cid, row["shown_first"])][judge] = row["verdict"]
    return out


def _agree(cells: Counter) -> dict:
    """Agreement and kappa from the 3x3 table {(verdict 1, verdict 2): count}: everything comes from its nine cells."""
    n = sum(cells.values())
    agreed = sum(k for (x, y), k in cells.items() if x == y)
    return {"n": n, "agreed": agreed, "agreement": agreed / n if n else None, "kappa": _kappa(cells) if n else None}


def _pair_cells(verdict_sets) -> dict[tuple[str, str], Counter]:
    """{(judge 1, judge 2): 3x3 table} over every two judges (in name order) of each {judge: verdict}.
    Six judges give at most 3**6 distinct sets however many comparisons there are, so each distinct
    set is expanded into its judge pairs once, weighted by how often it occurs."""
    cells: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for seen, k in Counter(tuple(sorted(s.items())) for s in verdict_sets).items():
        for (j1, v1), (j2, v2) in combinations(seen, 2):
            cells[(j1, j2)][(v1, v2)] += k
    return cells


def agreement(finals: dict, verdicts: dict) -> list[dict]:
    """Every two judges that share a judgment: agreement and kappa over the judgments both made in the
    same shown order (`n`, `agreed`, `agreement`, `kappa`), and over merged verdicts of the
    comparisons both judged in both orders (`pairs_n`, `pairs_agreed`, `pairs_agreement`, `pairs_kappa`).

    `finals` and `verdicts` are `final_verdicts` and `combined` of the judgments to compare (a
    caller that groups results by more than the judge filters them first)."""
    per_judgment = _pair_cells(by_order(finals).values())
    merged: dict[int, dict[str, str]] = defaultdict(dict)
    for (cid, jname), v in verdicts.items():
        if v["swapped"]:
            merged[cid][jname] = v["verdict"]
    per_pair = _pair_cells(merged.values())
    out = []
    for j1, j2 in sorted(per_judgment):
        pairs = _agree(per_pair.get((j1, j2), Counter()))
        out.append({"judge_1": j1, "judge_2": j2, **_agree(per_judgment[(j1, j2)]),
                    **{f"pairs_{k}": v for k, v in pairs.items()}})
    return out


def probabilities_of(row: dict) -> dict[str, float] | None:
    """A judgment's stored verdict probabilities {"A", "B", "C"} (shown positions), or None when the
    judge stored none (text verdicts) or what is stored is not three numbers."""
    text = row.get("probabilities")
    if not text:
        return None
    try:
        return _three_probabilities(json.loads(text))
    except ValueError:
        return None


def _three_probabilities(p) -> dict[str, float] | None:
    """{"A", "B", "C"} as floats from parsed JSON, or None unless three finite non-negative numbers
    with a positive sum."""
    try:
        a, b, c = float(p["A"]), float(p["B"]), float(p["C"])
    except (ValueError, TypeError, KeyError):
        return None
    ok = math.isfinite(a) and math.isfinite(b) and math.isfinite(c) and a >= 0 and b >= 0 and c >= 0 and a + b + c > 0
    return {"A": a, "B": b, "C": c} if ok else None


def read_probabilities(rows_: list[dict]) -> dict[int, dict[str, float] | None]:
    """{row id: probabilities_of(row)} for many rows, their JSON texts read in one json.loads call
    (tens of thousands of small ones each on its own take a noticeable part of `brie results`);
    should the joined text not read as one value per row, each is read on its own."""
    out: dict[int, dict[str, float] | None] = {r["id"]: None for r in rows_}
    texts = [r for r in rows_ if r.get("probabilities")]
    try:
        parsed = json.loads("[" + ",".join(r["probabilities"] for r in texts) + "]")
    except ValueError:
        parsed = None
    if not isinstance(parsed, list) or len(parsed) != len(texts):
        for r in texts:
            out[r["id"]] = probabilities_of(r)
        return out
    for r, p in zip(texts, parsed):
        out[r["id"]] = _three_probabilities(p)
    return out


def _preferences(p: dict[str, float], shown_first: str) -> tuple[float, float]:
    """(preference for B, preference for the answer shown first) from verdict probabilities."""
    total = p["A"] + p["B"] + p["C"]
    first, second = (p["A"] + p["C"] / 2) / total, (p["B"] + p["C"] / 2) / total
    return (first if shown_first == "b" else second), first


def preference(row: dict, side: str) -> float | None:
    """One judgment's preference for model `side` ("a" or "b"): P(the judge names the position that
    side was shown in) + P(tie) / 2, normalised over the three; None without probabilities."""
    p = probabilities_of(row)
    if p is None:
        return None
    for_b, _ = _preferences(p, row["shown_first"])
    return for_b if side == "b" else 1 - for_b  # the two preferences add up to 1


def bootstrap_mean_ci(values: list[float], resamples: int = BOOTSTRAP_RESAMPLES,
                      seed: int = BOOTSTRAP_SEED) -> tuple[float | None, float | None]:
    """95% percentile bootstrap interval of the mean: `resamples` draws of len(values) with
    replacement (numpy's default_rng(seed)), the 2.5th and 97.5th percentiles of their means."""
    if not values:
        return None, None
    import numpy as np

    v = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    # Drawn in blocks of about 2 million indices, so thousands of prompts need no gigabyte; the
    # generator's stream is the same as one (resamples, n) draw. Below 2**31 values the indices are
    # drawn as int32: the same numbers as int64 (both take numpy's 32-bit bounded path), 5x faster.
    dtype = np.int32 if len(v) < 2 ** 31 else np.int64
    block = max(1, 2_000_000 // len(v))
    means = np.concatenate([v[rng.integers(0, len(v), size=(min(block, resamples - i), len(v)), dtype=dtype)].mean(axis=1)
                            for i in range(0, resamples, block)])
    lo, hi = np.percentile(means, [2.5, 97.5])
    return float(lo), float(hi)


def preference_stats(prefs: dict[int, list[tuple[float, float]]], comps: dict[int, dict]) -> dict:
    """`pref_b` (mean preference for B over prompts) with its bootstrap interval, and the position
    bias in probability terms, from {comparison: [(preference for B, preference for the answer shown
    first)] of its standing judgments with probabilities}, comparisons in id order."""
    by_prompt: dict[str, list[float]] = defaultdict(list)
    first_sum, first_n = 0.0, 0
    for cid, pp in prefs.items():
        by_prompt[comps[cid]["prompt_id"]].append(sum(b for b, _ in pp) / len(pp))  # both orders averaged
        for _, f in pp:
            first_sum += f
        first_n += len(pp)
    per_prompt = [sum(v) / len(v) for _, v in sorted(by_prompt.items())]  # samples of one prompt averaged
    lo, hi = bootstrap_mean_ci(per_prompt)
    return {"pref_b": sum(per_prompt) / len(per_prompt) if per_prompt else None, "pref_b_low": lo,
            "pref_b_high": hi, "pref_n": len(prefs), "pref_prompts": len(per_prompt),
            "position_bias": (first_sum / first_n - 0.5) if first_n else None, "position_bias_n": first_n}


def vs_human(finals: dict, probs: dict[int, dict | None] | None = None) -> list[dict]:
    """Each judge against each human it shares judgments with (same comparison, same shown order):
    agreement and kappa with the human's verdicts as the reference, and for a judge with probabilities
    the mean probability it gave the human's verdict (`p_human`, over `p_n` judgments). `probs`:
    {row id: probabilities_of(row)} when the caller has read them already."""
    rows_by_order: dict[tuple[int, str], dict[str, dict]] = defaultdict(dict)
    for (cid, judge, _), row in sorted(finals.items(), key=lambda kv: kv[0][2]):
        if row["verdict"] != "invalid":
            rows_by_order[(cid, row["shown_first"])][judge] = row
    verdict_sets: Counter = Counter()  # {((judge, verdict), ...) seen together with a human: how often}
    p_human: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (_, shown), seen in rows_by_order.items():
        humans = [j for j in seen if j.startswith("human:")]
        if not humans:
            continue
        verdict_sets[tuple(sorted((j, row["verdict"]) for j, row in seen.items()))] += 1
        with_p = []  # the judges here with probabilities, in the order seen
        for judge, row in seen.items():
            if not judge.startswith("human:"):
                p = probs[row["id"]] if probs is not None and row["id"] in probs else probabilities_of(row)
                if p is not None:
                    with_p.append((judge, p))
        for human in humans if with_p else ():
            h = seen[human]["verdict"]
            position = "C" if h == "tie" else ("A" if h == shown else "B")
            for judge, p in with_p:
                p_human[(judge, human)].append(p[position] / sum(p.values()))
    # The 3x3 tables from the distinct verdict sets (few, however many comparisons), each weighted by its count.
    pairs: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for verdict_set, k in verdict_sets.items():
        for human, h in verdict_set:
            if human.startswith("human:"):
                for judge, v in verdict_set:
                    if not judge.startswith("human:"):
                        pairs[(judge, human)][(h, v)] += k
    out = []
    for (judge, human), cells in sorted(pairs.items()):
        ps = p_human.get((judge, human), [])
        out.append({"judge": judge, "human": human, **_agree(cells),
                    "p_human": sum(ps) / len(ps) if ps else None, "p_n": len(ps)})
    return out


def first_shown_p(wins: int, n: int) -> float | None:
    """Two-sided exact binomial p that the first-shown answer wins `wins` of `n` decided judgments
    when position does not matter (p = 0.5); None with no decided judgment.

    scipy's `binomtest(wins, n, 0.5).pvalue` ("two-sided": the probability of every count no more
    likely than the one seen) without importing scipy. At p = 0.5 those counts are the two tails
    beyond k = min(wins, n - wins), so p = 2 * sum(C(n, x) / 2**n for x <= k), summed here with
    40 significant digits (decimal), so the double it returns is exact to the last bit. (scipy
    also counts a count whose probability is within a relative 1e-7 of the observed one's; next to
    the observed count that takes n above 10**7, far beyond a results table.)"""
    if n == 0:
        return None
    k = min(wins, n - wins)
    if 2 * k == n:
        return 1.0
    from decimal import Context

    ctx = Context(prec=40, Emin=-(10 ** 12), Emax=10 ** 12)  # 2**-n stays representable for any n
    term = total = ctx.power(2, -n)  # C(n, 0) / 2**n
    for x in range(k):  # C(n, x + 1) = C(n, x) * (n - x) / (x + 1)
        term = ctx.divide(ctx.multiply(term, n - x), x + 1)
        total = ctx.add(total, term)
    return min(1.0, float(ctx.multiply(total, 2)))


def position_warning(row: dict) -> str | None:
    """The position-bias warning, in words, for one results row; None when the first-shown win rate
    is not far from 50 % (two-sided binomial test at POSITION_ALPHA)."""
    p = row["first_shown_p"]
    if p is None or p >= POSITION_ALPHA:
        return None
    judge, k, n = row["judge"], row["first_shown_wins"], row["first_shown_n"]
    text = (f"{judge} picked the answer shown first in {k} of {n} decided judgments (p={p:.2g}) on "
            f"{row['suite']} ({row['a']} vs {row['b']}): its verdicts may follow position")
    bias = row.get("position_bias")
    if bias is not None:
        text += (f" (in probability terms: {0.5 + bias:.2f} for the answer shown first, a bias of {bias:+.2f} "
                 f"over {row['position_bias_n']} judgments)")
    if judge.startswith("human:"):
        return text + "; a person's verdicts cannot be swapped, so read this win rate with care."
    if row["swap_consistency"] is None:
        return text + "; rerun with --swap (both orders judged, a flip counts as a tie)."
    text += (f"; --swap was used, so its {row['position_flips']} position flips count as ties, "
             "which pulls the win rate toward 50 %")
    if bias is not None:
        text += "; its preference for B averages both orders, which cancels a constant bias"
    return text + "."


def by_template(answers: list[dict], item: str = "comparison_id") -> list[dict]:
    """Stored answers (judgments, or scores with item="generation_id") labelled by template set
    (`template`: prompts.template_label), without the answers a later prompt replaced: per item,
    judge, pass and template set, only the latest prompt text's answers stand. The rows are
    labelled in place (callers pass rows just read), not copied. A judge with answers
    under two template sets is named "<judge> [<template>]", so every count below keeps them apart."""
    from brie.judging.prompts import template_label

    labels: dict[tuple, str] = {}  # a handful of distinct (template, hash): each labelled once
    latest: dict[tuple, tuple[int, str | None]] = {}  # (item, judge, pass, template set): (id, prompt hash) of its latest answer
    keys = []
    for r in answers:
        ident = (r["template"], r["template_sha256"])
        label = labels.get(ident) or labels.setdefault(ident, template_label(*ident))
        r["template_name"], r["template"] = ident[0], label  # in place: every caller passes rows it has just read
        key = (r[item], r["judge"], r.get("pass"), label)  # scores have no pass
        keys.append(key)
        seen = latest.get(key)
        if seen is None or r["id"] > seen[0]:
            latest[key] = (r["id"], r["prompt_sha256"])
    kept = [r for r, key in zip(answers, keys) if r["prompt_sha256"] == latest[key][1]]
    sets: dict[str, set[str]] = defaultdict(set)
    for r in kept:
        sets[r["judge"]].add(r["template"])
    return [{**r, "judge": f"{r['judge']} [{r['template']}]"} if len(sets[r["judge"]]) > 1 else r for r in kept]


def results(ws, suite: str | None = None, judge: str | None = None, run: str | None = None) -> dict:
    """Everything `brie results` shows; `run` keeps only comparisons and grades of that run's
    checkpoints (each against whatever it was compared with, usually base)."""
    comps = {c["comparison_id"]: c for c in rows.comparison_labels(ws.store, suite=suite or None, run=run)}
    judgments = by_template([j for j in rows.judgment_verdicts(ws.store, judge) if j["comparison_id"] in comps])
    finals = final_verdicts(judgments)
    verdicts = combined(finals)
    # Stored probabilities are JSON text: read once per standing judgment, looked up by row id.
    probs = read_probabilities(list(finals.values()))

    # What each judge's standing rows on one comparison add to a group, summed once here so that
    # each group below looks up one entry per comparison (`brie results` stays linear in the
    # judgments): decided judgments, how many the answer shown first won, and with probabilities
    # (preference for B, preference for the answer shown first) per judgment.
    decided: dict[tuple[int, str], list[int]] = {}
    prefs: dict[str, dict[int, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))  # judge: comparison: ...
    for (cid, jname, _), row in finals.items():
        if row["verdict"] in ("a", "b"):
            d = decided.setdefault((cid, jname), [0, 0])
            d[0] += 1
            d[1] += row["verdict"] == row["shown_first"]
        p = probs[row["id"]]
        if p is not None:  # only judgments with stored probabilities count
            prefs[jname][cid].append(_preferences(p, row["shown_first"]))
    # All of it as one tuple per judge and comparison (columns UNIT), so that a group adds up
    # columns of its comparisons' tuples instead of looking each comparison up in three dicts.
    units: dict[str, dict[int, tuple]] = defaultdict(dict)  # judge: comparison: UNIT
    for cid, jname in verdicts.keys() | decided.keys():
        v = verdicts.get((cid, jname))
        k, first = decided.get((cid, jname), (0, 0))
        if v is None:
            units[jname][cid] = (0, 0, 0, 0, 0, k, first, 0, None)
        else:
            units[jname][cid] = (1, v["verdict"] == "b", v["verdict"] == "a", v["swapped"], v["flip"], k, first,
                                 WON_HALVES[v["verdict"]], comps[cid]["sample_idx"])

    # Every answer (retries too) counts toward its group's parse failures and cost. A comparison
    # counts in two groups (per judge): all of its suite and two models, and its category.
    in_groups = {cid: [(c["suite"], category, c["a_label"], c["b_label"])
                       for category in (("(all)", c["category"]) if c["category"] else ("(all)",))]
                 for cid, c in comps.items()}
    groups: dict[tuple, dict] = {}
    for j in judgments:
        for prefix in in_groups[j["comparison_id"]]:
            key = (*prefix, j["judge"])
            g = groups.get(key)
            if g is None:
                g = groups[key] = {"cids": set(), "answers": 0, "invalid": 0, "cost": 0, "template": j["template"]}
            g["cids"].add(j["comparison_id"])
            g["answers"] += 1
            g["invalid"] += j["verdict"] == "invalid"
            g["cost"] += j["cost_usd"] or 0
    table = []
    for (s, category, a, b, jname), g in sorted(groups.items(), key=lambda kv: [str(x) for x in kv[0]]):
        cids = sorted(g["cids"])
        judged = units.get(jname, {})
        us = [judged[cid] for cid in cids if cid in judged]
        # Integer columns: their sums do not depend on the order they are added in.
        n, b_wins, a_wins, swapped, flips, decisive, first_wins = [sum(col) for col in list(zip(*us))[:7]] if us else (0,) * 7
        # Per sample: how many comparisons, and B's wins (ties half) counted in halves so the sum is exact.
        per_sample: dict[int, list[int]] = defaultdict(lambda: [0, 0])  # sample: [n, B's wins in halves]
        for (sample, won2), k in sorted(Counter((u[8], u[7]) for u in us if u[0]).items()):
            per_sample[sample][0] += k
            per_sample[sample][1] += won2 * k
        pj = prefs.get(jname, {})
        group_prefs = {cid: pj[cid] for cid in cids if cid in pj}
        ties = n - a_wins - b_wins
        lo, hi = wilson(b_wins + ties / 2, n)
        sample_rates = [won2 / 2 / k for k, won2 in (per_sample[i] for i in sorted(per_sample))]
        table.append({
            "suite": s, "category": category, "a": a, "b": b, "judge": jname, "template": g["template"], "n": n,
            "b_wins": b_wins, "a_wins": a_wins, "ties": ties,
            "b_win_rate": (b_wins + ties / 2) / n if n else None, "ci_low": lo, "ci_high": hi,
            "warning": f"n={n} < {SMALL_N}: too few to conclude" if n < SMALL_N else None,
            "first_shown_win_rate": first_wins / decisive if decisive else None,
            "first_shown_wins": first_wins, "first_shown_n": decisive,
            "first_shown_p": first_shown_p(first_wins, decisive),
            "swap_consistency": (swapped - flips) / swapped if swapped else None,
            "position_flips": flips,
            "samples": len(sample_rates),
            "sample_win_rate_sd": _sd(sample_rates),
            "parse_failure_rate": g["invalid"] / g["answers"],
            "judgments": g["answers"],
            "cost_usd": round(g["cost"], 6),
            **preference_stats(group_prefs, comps),
        })

    for row in table:
        row["position_warning"] = position_warning(row) if row["category"] == "(all)" else None
    calibration_finals = finals
    if judge and not judge.startswith("human:"):  # --judge: its calibration still needs the humans' verdicts
        humans = [j for j in rows.judgment_verdicts(ws.store, humans_only=True) if j["comparison_id"] in comps]
        calibration_finals = {**finals, **final_verdicts(by_template(humans))}
    return {"results": table, "agreement": agreement(finals, verdicts), "vs_human": vs_human(calibration_finals, probs),
            "position_warnings": [row["position_warning"] for row in table if row["position_warning"]],
            "total_cost_usd": round(sum(j["cost_usd"] or 0 for j in judgments), 6),
            "parse_failure_rate": (sum(j["verdict"] == "invalid" for j in judgments) / len(judgments)) if judgments else None,
            "judgments": len(judgments),
            "scores": score_results(ws, suite, judge, run)}


def _sd(values: list[float]) -> float | None:
    if len(values) < 2:
        return None
    m = sum(values) / len(values)
    return math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def score_results(ws, suite: str | None = None, judge: str | None = None, run: str | None = None) -> list[dict]:
    """Single-answer grading: the MT-Bench average per model, suite and judge.

    With `run`: that run's checkpoints, and its base model as the reference (not other models' base).
    """
    base_model = None
    if run is not None:
        from brie.store.runs import get_run

        base_model = (get_run(ws.store, run) or {}).get("model")
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in by_template(rows.all_scores(ws.store), item="generation_id"):
        if (suite and r["suite"] != suite) or (judge and r["judge"] != judge):
            continue
        if run is not None and r["run"] != run and not (r["run"] is None and r["model"] == base_model):
            continue
        groups[(r["suite"], r["label"], r["judge"])].append(r)
    out = []
    for (s, label, jname), rs in sorted(groups.items()):
        best: dict[int, dict] = {}
        for r in sorted(rs, key=lambda r: r["attempt"]):
            if r["generation_id"] not in best or not best[r["generation_id"]]["valid"]:
                best[r["generation_id"]] = r
        valid = [r["score"] for r in best.values() if r["valid"]]
        out.append({"suite": s, "model": label, "judge": jname, "template": rs[0]["template"], "n": len(valid),
                    "mean_score": sum(valid) / len(valid) if valid else None, "sd": _sd(valid),
                    "parse_failure_rate": sum(not r["valid"] for r in rs) / len(rs),
                    "cost_usd": round(sum(r["cost_usd"] or 0 for r in rs), 6)})
    return out
