"""Results: win rates with confidence intervals, position bias, swap consistency, judge agreement.

Win rate is B's: (B wins + ties / 2) / n, "ties as half". Its 95% interval is the Wilson score
interval (statsmodels `proportion_confint(method="wilson")`) on that same tie-as-half count; ties
carry less variance than a win or a loss, so with many ties the interval is a little wide (safe).
Agreement between two judges is Cohen's kappa over a / b / tie on the comparisons both judged
(statsmodels `cohens_kappa`).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from itertools import combinations

from brie.store import judging as rows

SMALL_N = 30


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


def results(ws, suite: str | None = None, judge: str | None = None, run: str | None = None) -> dict:
    """Everything `brie results` shows; `run` keeps only comparisons and grades of that run's
    checkpoints (each against whatever it was compared with, usually base)."""
    comps = {c["comparison_id"]: c for c in rows.find_comparisons(ws.store, suite=suite or None, run=run)}
    judgments = [j for j in rows.all_judgments(ws.store, judge) if j["comparison_id"] in comps]
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
        swapped = [v for v in vs if v["swapped"]]
        per_sample: dict[int, list[dict]] = defaultdict(list)
        for cid in g["cids"]:
            if (cid, jname) in verdicts:
                per_sample[comps[cid]["sample_idx"]].append(verdicts[(cid, jname)])
        sample_rates = [(sum(v["verdict"] == "b" for v in vv) + sum(v["verdict"] == "tie" for v in vv) / 2) / len(vv)
                        for vv in per_sample.values() if vv]
        table.append({
            "suite": s, "category": category, "a": a, "b": b, "judge": jname, "n": n,
            "b_wins": b_wins, "a_wins": a_wins, "ties": ties,
            "b_win_rate": (b_wins + ties / 2) / n if n else None, "ci_low": lo, "ci_high": hi,
            "warning": f"n={n} < {SMALL_N}: too few to conclude" if n < SMALL_N else None,
            "first_shown_win_rate": (sum(r["verdict"] == r["shown_first"] for r in decisive) / len(decisive)
                                     if decisive else None),
            "first_shown_n": len(decisive),
            "swap_consistency": (sum(not v["flip"] for v in swapped) / len(swapped)) if swapped else None,
            "position_flips": sum(v["flip"] for v in swapped),
            "samples": len(sample_rates),
            "sample_win_rate_sd": _sd(sample_rates),
            "parse_failure_rate": sum(r["verdict"] == "invalid" for r in g["rows"]) / len(g["rows"]),
            "judgments": len(g["rows"]),
            "cost_usd": round(sum(r["cost_usd"] or 0 for r in g["rows"]), 6),
        })

    # Every two judges that saw the same comparison, collected in one pass over the comparisons.
    by_comparison: dict[int, dict[str, str]] = defaultdict(dict)
    for (cid, jname), v in verdicts.items():
        by_comparison[cid][jname] = v["verdict"]
    pairs_of: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    for cid in comps:
        seen = by_comparison.get(cid, {})
        for j1, j2 in combinations(sorted(seen), 2):
            pairs_of[(j1, j2)].append((seen[j1], seen[j2]))
    agreement = []
    judges = sorted({j for _, j in verdicts})
    for j1, j2 in combinations(judges, 2):
        pairs = pairs_of.get((j1, j2))
        if pairs:
            agreement.append({"judge_1": j1, "judge_2": j2, "n": len(pairs), "kappa": kappa(pairs),
                              "agreement": sum(x == y for x, y in pairs) / len(pairs)})
    return {"results": table, "agreement": agreement,
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
    for r in rows.all_scores(ws.store):
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
        out.append({"suite": s, "model": label, "judge": jname, "n": len(valid),
                    "mean_score": sum(valid) / len(valid) if valid else None, "sd": _sd(valid),
                    "parse_failure_rate": sum(not r["valid"] for r in rs) / len(rs),
                    "cost_usd": round(sum(r["cost_usd"] or 0 for r in rs), 6)})
    return out
