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
test_stats_reference.py, on the functions `results` itself calls: wilson, kappa, first_shown_p).
`results` computes every figure over numpy columns: it reads the judgments once as tuples
(brie.store.judging.verdict_rows), turns them into arrays, and every step is a sort or a count over
whole columns: `brie results` on 50,000 judgments does ~0.45 s of work beyond start-up, numpy's
import, reading the rows and the bootstrap included (benchmarks/results_scale.py). The plain
definitions, one judgment dict at a time (agreement, by_order, vs_human, preference_stats, ...), are
not here: tests/results_reference.py keeps them, with the dict-by-dict computation `results`
replaced, as the test oracle. Where a figure is a floating-point sum, `results` adds it in the order
those definitions add it, so the document is the same to the last bit: tests/test_results_scale.py
compares the two on workspaces built to hold every case.

Preference (issue 15), for judges that store verdict probabilities ({"A", "B", "C"} over the shown
positions: a `local:` judge, an API judge asked for logprobs): one judgment's preference for B is
P(the position B was shown in) + P(C) / 2, mapped through `shown_first` like every verdict. A
comparison's preference is the mean over its judgments with probabilities (with --swap, the mean
of both orders, which cancels a constant position bias); a prompt's is the mean over its samples;
`pref_b` is the mean over prompts, with a 95% percentile bootstrap interval over prompts
(`bootstrap_mean_cis`: numpy, seeded, 2,000 resamples; equal to scipy.stats.bootstrap's
method="percentile" with the same generator). `position_bias` is the mean preference for the answer
shown first, minus 0.5, over the judgments with probabilities.

Calibration (`vs_human`): every judge that shares judgments with a human, against that human's
verdicts (the reference), from the same judgment-by-judgment agreement as above; for a judge with
probabilities also the mean probability it gave the human's verdict.
"""

from __future__ import annotations

import gc
import json
import math
from collections import Counter, defaultdict
from itertools import product
from operator import itemgetter

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


def kappa(cells: Counter) -> float | None:
    """Cohen's kappa over verdicts a/b/tie from the 3x3 table {(verdict 1, verdict 2): count}; None
    when it is undefined (no pair, or one category only).

    scikit-learn's `cohen_kappa_score` form, 1 - observed disagreement / disagreement expected by
    chance, with both counts kept as integers (times n) so only the last division rounds."""
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


def _agree(cells: Counter) -> dict:
    """Agreement and kappa from the 3x3 table {(verdict 1, verdict 2): count}: everything comes from its nine cells."""
    n = sum(cells.values())
    agreed = sum(k for (x, y), k in cells.items() if x == y)
    return {"n": n, "agreed": agreed, "agreement": agreed / n if n else None, "kappa": kappa(cells)}


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


def _parse_probabilities(texts: list[str]) -> list[dict[str, float] | None]:
    """_three_probabilities of each JSON text (none empty), read in one json.loads call: tens of
    thousands of small ones each on its own take a noticeable part of `brie results`. Should the
    joined text not read as one value per text, each is read on its own."""
    try:
        parsed = json.loads("[" + ",".join(texts) + "]")
    except ValueError:
        parsed = None
    if not isinstance(parsed, list) or len(parsed) != len(texts):
        return [probabilities_of({"probabilities": t}) for t in texts]
    return [_three_probabilities(p) for p in parsed]


def _probability_columns(texts: list[str], np):
    """_parse_probabilities as an (n, 3) array of A, B, C, a row of NaN where a text holds none.
    Texts that all read as {"A", "B", "C"} of numbers (what brie stores) are checked as columns;
    anything else is read text by text."""
    try:
        parsed = json.loads("[" + ",".join(texts) + "]")
        abc = np.array(list(map(itemgetter("A", "B", "C"), parsed)), dtype=float).reshape(-1, 3)
        if len(abc) != len(texts):
            raise ValueError("not one value per text")
    except (ValueError, TypeError, KeyError, IndexError):
        return np.array([(p["A"], p["B"], p["C"]) if p else (np.nan,) * 3 for p in _parse_probabilities(texts)],
                        dtype=float).reshape(-1, 3)
    a, b, c = abc.T
    ok = np.isfinite(abc).all(axis=1) & (abc >= 0).all(axis=1) & (a + b + c > 0)  # as _three_probabilities
    abc[~ok] = np.nan
    return abc


def bootstrap_mean_cis(samples: list[list[float]], resamples: int = BOOTSTRAP_RESAMPLES,
                       seed: int = BOOTSTRAP_SEED) -> list[tuple[float | None, float | None]]:
    """The 95% percentile bootstrap interval of the mean of each list of values: `resamples` draws of
    len(values) with replacement (numpy's default_rng(seed)), the 2.5th and 97.5th percentiles of their
    means; (None, None) for an empty list. The same seed draws the same indices for lists of
    the same length, so those lists share one draw (a results table's rows of one suite mostly have
    the same number of prompts): the draw is most of the work."""
    out: list[tuple[float | None, float | None]] = [(None, None)] * len(samples)
    by_length: dict[int, list[int]] = defaultdict(list)
    for i, values in enumerate(samples):
        if values:
            by_length[len(values)].append(i)
    if not by_length:
        return out
    import numpy as np

    for n, which in by_length.items():
        vs = [np.asarray(samples[i], dtype=float) for i in which]
        rng = np.random.default_rng(seed)
        # Drawn in blocks of about 65,000 indices into buffers used again, which stay in the CPU's
        # cache (one (resamples, n) draw of 5 million indices spends as long on fresh memory as on
        # drawing); the generator's stream is the same as one draw. Below 2**31 values the indices
        # are drawn as int32: the same numbers as int64 (both take numpy's 32-bit bounded path), 5x
        # faster. The means are numpy's mean(axis=1) step by step: each row's sum (pairwise, as
        # mean adds), divided by n.
        dtype = np.int32 if n < 2 ** 31 else np.int64
        block = max(1, 65_536 // n)
        means = np.empty((len(vs), resamples))
        drawn = np.empty((min(block, resamples), n))
        for i in range(0, resamples, block):
            k = min(block, resamples - i)
            index = rng.integers(0, n, size=(k, n), dtype=dtype).astype(np.intp)  # take's own index type
            for v, m in zip(vs, means):
                np.take(v, index, out=drawn[:k], mode="clip")  # the indices are in range: no check
                np.add.reduce(drawn[:k], axis=1, out=m[i:i + k])
        means /= n
        for i, (lo, hi) in zip(which, np.percentile(means, [2.5, 97.5], axis=1).T):
            out[i] = float(lo), float(hi)
    return out


def _per_comparison(pp: list[tuple[float, float]]) -> tuple[float, list[float]]:
    """A comparison's preference for B (both orders averaged) and its judgments' preferences for the
    answer shown first."""
    return sum(b for b, _ in pp) / len(pp), [f for _, f in pp]


def _preference_stats(comparisons: list[tuple[str, float, list[float]]]) -> tuple[dict, list[float]]:
    """`pref_b` (mean preference for B over prompts, its interval left None for bootstrap_mean_cis)
    and the position bias in probability terms, from [(prompt, _per_comparison)] in comparison
    order, and the per-prompt preferences the interval is drawn from."""
    by_prompt: dict[str, list[float]] = defaultdict(list)
    first_sum, first_n = 0.0, 0
    for prompt, pref_b, firsts in comparisons:
        by_prompt[prompt].append(pref_b)
        for f in firsts:
            first_sum += f
        first_n += len(firsts)
    per_prompt = [sum(v) / len(v) for _, v in sorted(by_prompt.items())]  # samples of one prompt averaged
    return {"pref_b": sum(per_prompt) / len(per_prompt) if per_prompt else None, "pref_b_low": None,
            "pref_b_high": None, "pref_n": len(comparisons), "pref_prompts": len(per_prompt),
            "position_bias": (first_sum / first_n - 0.5) if first_n else None, "position_bias_n": first_n}, per_prompt


def first_shown_p(wins: int, n: int) -> float | None:
    """Two-sided exact binomial p that the first-shown answer wins `wins` of `n` decided judgments
    when position does not matter (p = 0.5); None with no decided judgment.

    scipy's `binomtest(wins, n, 0.5).pvalue` ("two-sided": the probability of every count no more
    likely than the one seen) without importing scipy. At p = 0.5 those counts are the two tails
    beyond k = min(wins, n - wins), so p = 2 * sum(C(n, x) for x <= k) / 2**n, summed here in
    integers and divided once, so the double it returns is the exact value correctly rounded. Near
    n / 2 the tail is half of 2**n less the terms between k and n / 2, fewer to add. (scipy also
    counts a count whose probability is within a relative 1e-7 of the observed one's; next to the
    observed count that takes n above 10**7, far beyond a results table.)"""
    if n == 0:
        return None
    k = min(wins, n - wins)
    if 2 * k == n:
        return 1.0
    half = n // 2 if n % 2 else n // 2 - 1  # the largest x below n / 2
    if k <= half - k:
        term = total = 1  # C(n, 0)
        for x in range(k):  # C(n, x + 1) = C(n, x) * (n - x) / (x + 1), exact in integers
            term = term * (n - x) // (x + 1)
            total += term
    else:  # sum(C(n, x) for x <= half) = (2**n - C(n, n / 2) for even n) / 2; take off the terms above k
        middle = math.comb(n, half + 1)  # C(n, n / 2) for even n, C(n, half) = C(n, half + 1) for odd n
        total = (2 ** n - (0 if n % 2 else middle)) // 2
        term = middle * (half + 1) // (n - half)  # C(n, half)
        for x in range(half, k, -1):  # C(n, x - 1) = C(n, x) * x / (n - x + 1)
            total -= term
            term = term * x // (n - x + 1)
    return min(1.0, 2 * total / 2 ** n)


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


VERDICT_CODES = {"a": 0, "b": 1, "tie": 2, "invalid": 3}  # a verdict's code in the columns below
VERDICTS = ("a", "b", "tie")
INVALID = 3


def _codes(values, np):
    """(codes, distinct values): each value as the index of its first appearance, an int64 array."""
    distinct = list(dict.fromkeys(values))
    index = {v: i for i, v in enumerate(distinct)}
    return np.array(list(map(index.__getitem__, values)), dtype=np.int64), distinct


def _first_of_runs(sorted_keys, np):
    """Where each run of equal keys starts in a sorted array."""
    return np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])


def _cells(x, y, np) -> Counter:
    """The 3x3 table {(verdict 1, verdict 2): count} of two columns of verdict codes (0: no verdict)."""
    both = (x > 0) & (y > 0)
    counts = np.bincount((x[both] - 1) * 3 + (y[both] - 1), minlength=9)
    return Counter({(VERDICTS[i // 3], VERDICTS[i % 3]): int(k) for i, k in enumerate(counts) if k})


def results(ws, suite: str | None = None, judge: str | None = None, run: str | None = None) -> dict:
    """Everything `brie results` shows; `run` keeps only comparisons and grades of that run's
    checkpoints (each against whatever it was compared with, usually base).

    Computed over numpy columns of the judgments (see the module's docstring); each figure equals
    the plain dict-by-dict definition kept in tests/results_reference.py (by_template, final_verdicts,
    combined, by_order, agreement, vs_human, preference_stats), floating-point sums added in the order
    those definitions add them.

    Python's cycle collector is paused meanwhile: reading 50,000 judgments makes ~600,000 objects,
    which set off its full passes over all of them again and again (a quarter of the time), and
    nothing here makes a cycle for it to find."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return _results(ws, suite, judge, run)
    finally:
        if paused:
            gc.enable()


def _results(ws, suite: str | None, judge: str | None, run: str | None) -> dict:
    comps = {c["comparison_id"]: c for c in rows.comparison_labels(ws.store, suite=suite or None, run=run)}
    calibrate = bool(judge) and not judge.startswith("human:")  # --judge: its calibration still needs the humans
    answers = [r for r in rows.verdict_rows(ws.store, judge, with_humans=calibrate) if r[0] in comps]
    if not any(r[1] == judge for r in answers) if calibrate else not answers:  # no judgment to count
        return {"results": [], "agreement": [], "vs_human": [], "position_warnings": [], "total_cost_usd": 0,
                "parse_failure_rate": None, "judgments": 0, "scores": score_results(ws, suite, judge, run)}
    import numpy as np

    from brie.judging.prompts import template_label

    # --- columns: one entry per judgment, in id order --------------------------------------------
    cids, judges, templates, tshas, pshas, passes, shown, attempts, verdicts, costs, texts = zip(*answers)
    ident = np.arange(len(answers))  # ranks the ids as the ids do
    comp_ids = np.array(list(comps), dtype=np.int64)  # comparison_labels reads them in id order
    ci = np.searchsorted(comp_ids, np.array(cids, dtype=np.int64))  # the comparison's index
    jc, judge_names = _codes(judges, np)
    tc, template_names = _codes(templates, np)
    hc, hashes = _codes(tshas, np)
    template_sets = [(template_names[t], hashes[h]) for t, h in product(range(len(template_names)), range(len(hashes)))]
    lc, label_names = _codes([template_label(*t) for t in template_sets], np)  # a handful: each labelled once
    lc = lc[tc * len(hashes) + hc]
    prompt_sha = np.array(pshas, dtype=object)  # compared, never hashed
    pass_value = np.array(passes, dtype=np.int64)
    pass_values, pass_code = np.unique(pass_value, return_inverse=True)
    first_b = np.array(list(map("b".__eq__, shown)))  # the shown order: 0 "a" first, 1 "b" first
    attempt = np.array(attempts, dtype=np.int64)
    verdict = np.array(list(map(VERDICT_CODES.__getitem__, verdicts)), dtype=np.int64)
    nj, nl, npass, nc = len(judge_names), len(label_names), len(pass_values), len(comp_ids)

    # by_template: per item, judge, pass and template set only the latest prompt text's answers stand,
    # and a judge with answers under two template sets becomes "<judge> [<template>]".
    key = ((ci * nj + jc) * npass + pass_code) * nl + lc
    _, inverse = np.unique(key, return_inverse=True)
    _, last_reversed = np.unique(key[::-1], return_index=True)
    kept = prompt_sha == prompt_sha[len(key) - 1 - last_reversed][inverse]
    pairs = np.unique(jc[kept] * nl + lc[kept], return_counts=True)[0]  # (without counts it imports numpy.ma)
    sets = Counter(int(p) // nl for p in pairs)
    jk_lookup = np.zeros(nj * nl, dtype=np.int64)
    names, templates_of = [], []
    for p in pairs.tolist():
        j, label = judge_names[p // nl], label_names[p % nl]
        jk_lookup[p] = len(names)
        names.append(f"{j} [{label}]" if sets[p // nl] > 1 else j)
        templates_of.append(label)
    nk = len(names)
    keep = np.flatnonzero(kept)
    ci, jk, pass_code, pass_value, first_b, attempt, verdict, ident = (
        ci[keep], jk_lookup[(jc * nl + lc)[keep]], pass_code[keep], pass_value[keep], first_b[keep], attempt[keep],
        verdict[keep], ident[keep])
    main = np.ones(len(keep), dtype=bool) if not calibrate else (jc == judge_names.index(judge))[keep]

    # final_verdicts: per (comparison, judge, pass) the first valid answer by (attempt, id), else the
    # last invalid one; `order` is where its key first appears by (attempt, id), the order in which
    # the plain definitions meet the standing rows (floating-point sums follow it).
    skey = (ci * nk + jk) * npass + pass_code
    invalid = verdict == INVALID
    sign = np.where(invalid, -1, 1)
    by_rank = np.lexsort((sign * ident, sign * attempt, invalid, skey))
    s = by_rank[_first_of_runs(skey[by_rank], np)]  # standing rows, by key
    by_time = np.lexsort((ident, attempt))
    _, order = np.unique(skey[by_time], return_index=True)
    s_main = s[main[s]]

    # combined: per (comparison, judge) the verdict after both passes (a flip is a tie), and what
    # its standing rows add up: decided judgments and how many the answer shown first won.
    ukey = ci[s_main] * nk + jk[s_main]
    units, uinv = np.unique(ukey, return_inverse=True)
    v = verdict[s_main]
    v0, v1 = np.full(len(units), -1), np.full(len(units), -1)
    p0, p1 = pass_value[s_main] == 0, pass_value[s_main] == 1
    v0[uinv[p0]], v1[uinv[p1]] = v[p0], v[p1]
    decided = v < 2
    decisive = np.bincount(uinv[decided], minlength=len(units))
    first_wins = np.bincount(uinv[decided & (v == first_b[s_main])], minlength=len(units))
    swapped_pass = v1 != -1
    valid0 = (v0 != -1) & (v0 != INVALID)
    has = np.where(swapped_pass, valid0 & (v1 != INVALID), valid0)
    cv = np.where(has, np.where(swapped_pass & (v0 != v1), 2, v0), -1)
    swapped, flip = has & swapped_pass, has & swapped_pass & (v0 != v1)
    won2 = np.where(cv == 1, 2, np.where(cv == 2, 1, 0))
    uci, ujk = units // nk, units % nk

    # Groups: every comparison counts in its suite and two models' "(all)" and in its category.
    group_index: dict[tuple, int] = {}
    in_all, in_category = np.empty(nc, dtype=np.int64), np.full(nc, -1, dtype=np.int64)
    group_cids: dict[int, list[int]] = defaultdict(list)
    for i, c in enumerate(comps.values()):
        for category, column in (("(all)", in_all), (c["category"], in_category)):
            if category:
                g = group_index.setdefault((c["suite"], category, c["a_label"], c["b_label"]), len(group_index))
                column[i] = g
                group_cids[g].append(c["comparison_id"])
    samples, sample_values = _codes([c["sample_idx"] for c in comps.values()], np)
    size, ns = len(group_index) * nk, len(sample_values)

    def per_group(item_ci, item_jk, mask=None, weights=None):
        """A count (or a sum of `weights`) over items, per (group, judge): each item counts in its
        (all) group and its category's."""
        total = np.zeros(size, dtype=np.int64 if weights is None else float)
        for groups in (in_all, in_category):
            g = groups[item_ci]
            ok = (g >= 0) if mask is None else (g >= 0) & mask
            total += np.bincount((g * nk + item_jk)[ok], weights=None if weights is None else weights[ok],
                                 minlength=size)
        return total

    # Every answer (retries too) counts toward its group's parse failures and cost, added in id order.
    m_ci, m_jk = ci[main], jk[main]
    main_costs = [costs[i] for i in keep[main].tolist()]
    cost = np.array([c or 0 for c in main_costs], dtype=float)
    n_answers = per_group(m_ci, m_jk)
    n_invalid = per_group(m_ci, m_jk, invalid[main])
    n_paid = per_group(m_ci, m_jk, cost != 0)  # none: the sum stays the integer 0, as `or 0` leaves it
    cost_sum = {}
    for groups in (in_all, in_category):
        g = groups[m_ci]
        ok = g >= 0
        for k, x in enumerate(np.bincount((g * nk + m_jk)[ok], weights=cost[ok], minlength=size)):
            if x:
                cost_sum[k] = float(x)
    counted = [per_group(uci, ujk, col) for col in (has, cv == 1, cv == 0, swapped, flip)]
    decisive_g = per_group(uci, ujk, weights=decisive)
    first_g = per_group(uci, ujk, weights=first_wins)
    sample_n, sample_won2 = {}, {}
    for groups in (in_all, in_category):
        g = groups[uci]
        ok = (g >= 0) & has
        code = ((g * nk + ujk) * ns + samples[uci])[ok]
        for k, n in zip(*np.unique(code, return_counts=True)):
            sample_n[int(k)] = int(n)
        for k, x in enumerate(np.bincount(code, weights=won2[ok])):
            if x:
                sample_won2[int(k)] = int(x)

    # Each standing row's verdict probabilities as columns A, B, C (NaN without; the last entry stands
    # for "no row", index -1), and each row's preference for B and for the answer shown first, over columns.
    with_text = [(k, texts[i]) for k, i in enumerate(keep[s].tolist()) if texts[i]]
    abc = np.full((len(s) + 1, 3), np.nan)
    if with_text:
        at, stored = zip(*with_text)
        abc[list(at)] = _probability_columns(list(stored), np)
    pa, pb, pc_ = abc.T
    has_p = ~np.isnan(pa)
    total = pa + pb + pc_
    for_first, for_second = (pa + pc_ / 2) / total, (pb + pc_ / 2) / total
    for_b = np.where(np.r_[first_b[s], False], for_first, for_second)
    # Per judge, {comparison: [(for B, for the first shown)]} of its standing rows with probabilities,
    # in the order the plain definitions meet them.
    prefs: dict[int, dict[int, list[tuple[float, float]]]] = defaultdict(lambda: defaultdict(list))
    by_judge = np.lexsort((order, ci[s], jk[s]))
    by_judge = by_judge[has_p[by_judge] & main[s[by_judge]]]
    for j, cid, b_, f in zip(jk[s[by_judge]].tolist(), comp_ids[ci[s[by_judge]]].tolist(),
                             for_b[by_judge].tolist(), for_first[by_judge].tolist()):
        prefs[j][cid].append((b_, f))
    summaries = {j: {cid: (comps[cid]["prompt_id"], *_per_comparison(pp)) for cid, pp in pj.items()}
                 for j, pj in prefs.items()}

    table, per_prompt = [], []
    group_keys = list(group_index)
    present = sorted(np.flatnonzero(n_answers).tolist(),
                     key=lambda k: [str(x) for x in (*group_keys[k // nk], names[k % nk])])
    for k in present:
        (s_name, category, a, b), jname = group_keys[k // nk], names[k % nk]
        n, b_wins, a_wins, n_swapped, flips = (int(c[k]) for c in counted)
        decisive_k, first_k = int(decisive_g[k]), int(first_g[k])
        per_sample = {sample_values[i]: (sample_n[k * ns + i], sample_won2.get(k * ns + i, 0))
                      for i in range(ns) if k * ns + i in sample_n}
        sample_rates = [won2_ / 2 / m for m, won2_ in (per_sample[i] for i in sorted(per_sample))]
        pj = summaries.get(k % nk, {})
        pref, prompts = _preference_stats([pj[cid] for cid in group_cids[k // nk] if cid in pj] if pj else [])
        ties = n - a_wins - b_wins
        lo, hi = wilson(b_wins + ties / 2, n)
        table.append({
            "suite": s_name, "category": category, "a": a, "b": b, "judge": jname, "template": templates_of[k % nk],
            "n": n, "b_wins": b_wins, "a_wins": a_wins, "ties": ties,
            "b_win_rate": (b_wins + ties / 2) / n if n else None, "ci_low": lo, "ci_high": hi,
            "warning": f"n={n} < {SMALL_N}: too few to conclude" if n < SMALL_N else None,
            "first_shown_win_rate": first_k / decisive_k if decisive_k else None,
            "first_shown_wins": first_k, "first_shown_n": decisive_k,
            "first_shown_p": first_shown_p(first_k, decisive_k),
            "swap_consistency": (n_swapped - flips) / n_swapped if n_swapped else None,
            "position_flips": flips,
            "samples": len(sample_rates),
            "sample_win_rate_sd": _sd(sample_rates),
            "parse_failure_rate": int(n_invalid[k]) / int(n_answers[k]),
            "judgments": int(n_answers[k]),
            "cost_usd": round(cost_sum[k], 6) if n_paid[k] else 0,
            **pref,
        })
        per_prompt.append(prompts)
    for row, (lo, hi) in zip(table, bootstrap_mean_cis(per_prompt)):  # rows of one length share their draw
        row["pref_b_low"], row["pref_b_high"] = lo, hi
    for row in table:
        row["position_warning"] = position_warning(row) if row["category"] == "(all)" else None

    # by_order: each judge's standing valid verdict per (comparison, shown order), the later pass
    # counting; as a (comparison x 2 orders) x judges table of verdict codes + 1 (0: none).
    valid_s = s[verdict[s] != INVALID]
    cell = (ci[valid_s] * 2 + first_b[valid_s]) * nk + jk[valid_s]
    by_pass = np.lexsort((pass_value[valid_s], cell))
    last = np.r_[cell[by_pass][1:] != cell[by_pass][:-1], True]
    o = valid_s[by_pass[last]]  # one row per (comparison, order, judge)
    seen = np.zeros((nc * 2, nk), dtype=np.int8)
    o_main = o[main[o]]
    seen[ci[o_main] * 2 + first_b[o_main], jk[o_main]] = verdict[o_main] + 1
    merged = np.zeros((nc, nk), dtype=np.int8)
    merged[uci[swapped], ujk[swapped]] = cv[swapped] + 1
    agreement_rows = []
    by_name = sorted(range(nk), key=lambda j: names[j])
    for x, j1 in enumerate(by_name):
        for j2 in by_name[x + 1:]:
            cells = _cells(seen[:, j1], seen[:, j2], np)
            if cells:
                pairs_ = _agree(_cells(merged[:, j1], merged[:, j2], np))
                agreement_rows.append({"judge_1": names[j1], "judge_2": names[j2], **_agree(cells),
                                       **{f"pairs_{key_}": val for key_, val in pairs_.items()}})

    # vs_human over the calibration rows too; p_human adds each judgment's probability of the human's
    # verdict in the order the plain definition meets its (comparison, order): by pass, then standing order.
    seen_all = seen
    if calibrate:
        seen_all = np.zeros((nc * 2, nk), dtype=np.int8)
        seen_all[ci[o] * 2 + first_b[o], jk[o]] = verdict[o] + 1
    s_pos = np.empty(len(s), dtype=np.int64)
    s_pos[np.lexsort((order, ~main[s], pass_value[s]))] = np.arange(len(s))
    is_valid = verdict[s] != INVALID
    first_met = np.full(nc * 2, len(s), dtype=np.int64)
    np.minimum.at(first_met, (ci[s] * 2 + first_b[s])[is_valid], s_pos[is_valid])
    prob_at = np.full((nc * 2, nk), -1, dtype=np.int64)  # the standing row (index into s) of each seen verdict
    s_of = np.empty(len(ci), dtype=np.int64)
    s_of[s] = np.arange(len(s))
    prob_at[ci[o] * 2 + first_b[o], jk[o]] = s_of[o]
    humans = [j for j in by_name if names[j].startswith("human:")]
    calibration = []
    for j in by_name:
        if names[j].startswith("human:"):
            continue
        for h in humans:
            cells = _cells(seen_all[:, h], seen_all[:, j], np)
            if not cells:
                continue
            at = np.flatnonzero((seen_all[:, h] > 0) & (seen_all[:, j] > 0) & has_p[prob_at[:, j]])
            at = at[np.argsort(first_met[at], kind="stable")]
            k = prob_at[at, j]
            hv = seen_all[at, h] - 1
            chosen = np.where(hv == 2, pc_[k], np.where(hv == at % 2, pa[k], pb[k]))  # C for a tie, else A or B
            ps = (chosen / (pa[k] + pb[k] + pc_[k])).tolist()
            calibration.append({"judge": names[j], "human": names[h], **_agree(cells),
                                "p_human": sum(ps) / len(ps) if ps else None, "p_n": len(ps)})
    calibration.sort(key=lambda r: (r["judge"], r["human"]))

    return {"results": table, "agreement": agreement_rows, "vs_human": calibration,
            "position_warnings": [row["position_warning"] for row in table if row["position_warning"]],
            "total_cost_usd": round(sum(c or 0 for c in main_costs), 6),
            "parse_failure_rate": int(invalid[main].sum()) / len(main_costs),
            "judgments": len(main_costs),
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
