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
Kappa is Cohen's over a / b / tie (statsmodels `cohens_kappa`; scikit-learn's `cohen_kappa_score`
gives the same, tests/conformance checks it).

Position bias: the answer shown first should win about half the decided judgments; a two-sided
binomial test (scipy `binomtest`, p = 0.5) under `POSITION_ALPHA` is stated as a warning in words.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from itertools import combinations

from brie.store import judging as rows

SMALL_N = 30
POSITION_ALPHA = 0.05  # a first-shown win rate this unlikely under no bias is called position bias


def wilson(successes: float, n: int) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(successes, n, alpha=0.05, method="wilson")
    return float(lo), float(hi)


def kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Cohen's kappa over verdicts a/b/tie; None when it is undefined (one category only)."""
    if not pairs:
        return None
    from statsmodels.stats.inter_rater import cohens_kappa

    cats = ["a", "b", "tie"]
    counts = Counter(pairs)  # one pass, not one per cell of the table
    table = [[counts[(r, c)] for c in cats] for r in cats]
    import numpy as np

    with np.errstate(invalid="ignore", divide="ignore"):  # one category only: kappa is undefined
        value = cohens_kappa(table).kappa
    return None if value is None or math.isnan(value) else float(value)


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


def _agree(pairs: list[tuple[str, str]]) -> dict:
    n = len(pairs)
    agreed = sum(x == y for x, y in pairs)
    return {"n": n, "agreed": agreed, "agreement": agreed / n if n else None, "kappa": kappa(pairs)}


def agreement(finals: dict, verdicts: dict) -> list[dict]:
    """Every two judges that share a judgment: agreement and kappa over the judgments both made in the
    same shown order (`n`, `agreed`, `agreement`, `kappa`), and over merged verdicts of the
    comparisons both judged in both orders (`pairs_n`, `pairs_agreed`, `pairs_agreement`, `pairs_kappa`).

    `finals` and `verdicts` are `final_verdicts` and `combined` of the judgments to compare (a
    caller that groups results by more than the judge filters them first)."""
    per_judgment: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for seen in by_order(finals).values():  # one pass over the judgments, not one per two judges
        for j1, j2 in combinations(sorted(seen), 2):
            per_judgment[(j1, j2)].append((seen[j1], seen[j2]))
    merged: dict[int, dict[str, str]] = defaultdict(dict)
    for (cid, jname), v in verdicts.items():
        if v["swapped"]:
            merged[cid][jname] = v["verdict"]
    per_pair: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for seen in merged.values():
        for j1, j2 in combinations(sorted(seen), 2):
            per_pair[(j1, j2)].append((seen[j1], seen[j2]))
    out = []
    for j1, j2 in sorted(per_judgment):
        pairs = _agree(per_pair.get((j1, j2), []))
        out.append({"judge_1": j1, "judge_2": j2, **_agree(per_judgment[(j1, j2)]),
                    **{f"pairs_{k}": v for k, v in pairs.items()}})
    return out


def first_shown_p(wins: int, n: int) -> float | None:
    """Two-sided exact binomial p that the first-shown answer wins `wins` of `n` decided judgments
    when position does not matter (p = 0.5); None with no decided judgment."""
    if n == 0:
        return None
    from scipy.stats import binomtest

    return float(binomtest(wins, n, 0.5).pvalue)


def position_warning(row: dict) -> str | None:
    """The position-bias warning, in words, for one results row; None when the first-shown win rate
    is not far from 50 % (two-sided binomial test at POSITION_ALPHA)."""
    p = row["first_shown_p"]
    if p is None or p >= POSITION_ALPHA:
        return None
    judge, k, n = row["judge"], row["first_shown_wins"], row["first_shown_n"]
    text = (f"{judge} picked the answer shown first in {k} of {n} decided judgments (p={p:.2g}) on "
            f"{row['suite']} ({row['a']} vs {row['b']}): its verdicts may follow position")
    if judge.startswith("human:"):
        return text + "; a person's verdicts cannot be swapped, so read this win rate with care."
    if row["swap_consistency"] is None:
        return text + "; rerun with --swap (both orders judged, a flip counts as a tie)."
    return (text + f"; --swap was used, so its {row['position_flips']} position flips count as ties, "
            "which pulls the win rate toward 50 %.")


def by_template(answers: list[dict], item: str = "comparison_id") -> list[dict]:
    """Stored answers (judgments, or scores with item="generation_id") labelled by template set
    (`template`: prompts.template_label), without the answers a later prompt replaced: per item,
    judge, pass and template set, only the latest prompt text's answers stand. A judge with answers
    under two template sets is named "<judge> [<template>]", so every count below keeps them apart."""
    from brie.judging.prompts import template_label

    labelled = [{**r, "template_name": r.get("template"),
                 "template": template_label(r.get("template"), r.get("template_sha256"))} for r in answers]
    latest: dict[tuple, tuple[int, str | None]] = {}
    for r in labelled:
        key = (r[item], r["judge"], r.get("pass"), r["template"])
        if key not in latest or r["id"] > latest[key][0]:
            latest[key] = (r["id"], r.get("prompt_sha256"))
    kept = [r for r in labelled if r.get("prompt_sha256") == latest[(r[item], r["judge"], r.get("pass"), r["template"])][1]]
    sets: dict[str, set[str]] = defaultdict(set)
    for r in kept:
        sets[r["judge"]].add(r["template"])
    return [{**r, "judge": f"{r['judge']} [{r['template']}]"} if len(sets[r["judge"]]) > 1 else r for r in kept]


def results(ws, suite: str | None = None, judge: str | None = None, run: str | None = None) -> dict:
    """Everything `brie results` shows; `run` keeps only comparisons and grades of that run's
    checkpoints (each against whatever it was compared with, usually base)."""
    comps = {c["comparison_id"]: c for c in rows.find_comparisons(ws.store, suite=suite or None, run=run)}
    judgments = by_template([j for j in rows.all_judgments(ws.store, judge) if j["comparison_id"] in comps])
    finals = final_verdicts(judgments)
    verdicts = combined(finals)

    # Each judge's standing rows by comparison, grouped once: looking them up per group below keeps
    # `brie results` linear in the judgments (a scan of every row per group took seconds at 50,000).
    standing: dict[tuple[int, str], list[dict]] = defaultdict(list)
    for (cid, jname, _), row in finals.items():
        if row["verdict"] != "invalid":
            standing[(cid, jname)].append(row)

    groups: dict[tuple, dict] = defaultdict(lambda: {"cids": set(), "rows": []})
    for j in judgments:
        c = comps[j["comparison_id"]]
        for category in ("(all)",) + ((c["category"],) if c["category"] else ()):
            g = groups[(c["suite"], category, c["a_label"], c["b_label"], j["judge"])]
            g["cids"].add(j["comparison_id"])
            g["rows"].append(j)
    table = []
    for (s, category, a, b, jname), g in sorted(groups.items(), key=lambda kv: [str(x) for x in kv[0]]):
        vs = [verdicts[(cid, jname)] for cid in sorted(g["cids"]) if (cid, jname) in verdicts]
        n = len(vs)
        b_wins = sum(v["verdict"] == "b" for v in vs)
        a_wins = sum(v["verdict"] == "a" for v in vs)
        ties = n - a_wins - b_wins
        lo, hi = wilson(b_wins + ties / 2, n)
        stand = [r for cid in g["cids"] for r in standing.get((cid, jname), [])]
        decisive = [r for r in stand if r["verdict"] in ("a", "b")]
        first_wins = sum(r["verdict"] == r["shown_first"] for r in decisive)
        swapped = [v for v in vs if v["swapped"]]
        per_sample: dict[int, list[dict]] = defaultdict(list)
        for cid in g["cids"]:
            if (cid, jname) in verdicts:
                per_sample[comps[cid]["sample_idx"]].append(verdicts[(cid, jname)])
        sample_rates = [(sum(v["verdict"] == "b" for v in vv) + sum(v["verdict"] == "tie" for v in vv) / 2) / len(vv)
                        for vv in per_sample.values() if vv]
        table.append({
            "suite": s, "category": category, "a": a, "b": b, "judge": jname, "template": g["rows"][0]["template"], "n": n,
            "b_wins": b_wins, "a_wins": a_wins, "ties": ties,
            "b_win_rate": (b_wins + ties / 2) / n if n else None, "ci_low": lo, "ci_high": hi,
            "warning": f"n={n} < {SMALL_N}: too few to conclude" if n < SMALL_N else None,
            "first_shown_win_rate": first_wins / len(decisive) if decisive else None,
            "first_shown_wins": first_wins, "first_shown_n": len(decisive),
            "first_shown_p": first_shown_p(first_wins, len(decisive)),
            "swap_consistency": (sum(not v["flip"] for v in swapped) / len(swapped)) if swapped else None,
            "position_flips": sum(v["flip"] for v in swapped),
            "samples": len(sample_rates),
            "sample_win_rate_sd": _sd(sample_rates),
            "parse_failure_rate": sum(r["verdict"] == "invalid" for r in g["rows"]) / len(g["rows"]),
            "judgments": len(g["rows"]),
            "cost_usd": round(sum(r["cost_usd"] or 0 for r in g["rows"]), 6),
        })

    for row in table:
        row["position_warning"] = position_warning(row) if row["category"] == "(all)" else None
    return {"results": table, "agreement": agreement(finals, verdicts),
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
