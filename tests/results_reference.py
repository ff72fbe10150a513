"""The plain reference for `brie results`: the dict-by-dict computation that brie.judging.stats.results
replaced with columns (issue 20), kept so that tests/test_results_scale.py can check the two give the
same document byte for byte, on workspaces built to hold every case the plain definitions handle."""

from __future__ import annotations

from collections import Counter, defaultdict

from brie.judging import stats
from brie.store import judging as rows


def reference_results(ws, suite: str | None = None, judge: str | None = None, run: str | None = None) -> dict:
    """`brie.judging.stats.results` as it was before it read columns (issue 20): a loop over
    judgment dicts through the plain definitions (by_template, final_verdicts, combined, agreement,
    vs_human). Kept verbatim as the reference the column version must equal to the last bit."""
    comps = {c["comparison_id"]: c for c in rows.comparison_labels(ws.store, suite=suite or None, run=run)}
    judgments = stats.by_template([j for j in rows.judgment_verdicts(ws.store, judge) if j["comparison_id"] in comps])
    finals = stats.final_verdicts(judgments)
    verdicts = stats.combined(finals)
    # Stored probabilities are JSON text: read once per standing judgment, looked up by row id.
    probs = stats.read_probabilities(list(finals.values()))

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
            prefs[jname][cid].append(stats._preferences(p, row["shown_first"]))
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
                                 stats.WON_HALVES[v["verdict"]], comps[cid]["sample_idx"])

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
        lo, hi = stats.wilson(b_wins + ties / 2, n)
        sample_rates = [won2 / 2 / k for k, won2 in (per_sample[i] for i in sorted(per_sample))]
        table.append({
            "suite": s, "category": category, "a": a, "b": b, "judge": jname, "template": g["template"], "n": n,
            "b_wins": b_wins, "a_wins": a_wins, "ties": ties,
            "b_win_rate": (b_wins + ties / 2) / n if n else None, "ci_low": lo, "ci_high": hi,
            "warning": f"n={n} < {stats.SMALL_N}: too few to conclude" if n < stats.SMALL_N else None,
            "first_shown_win_rate": first_wins / decisive if decisive else None,
            "first_shown_wins": first_wins, "first_shown_n": decisive,
            "first_shown_p": stats.first_shown_p(first_wins, decisive),
            "swap_consistency": (swapped - flips) / swapped if swapped else None,
            "position_flips": flips,
            "samples": len(sample_rates),
            "sample_win_rate_sd": stats._sd(sample_rates),
            "parse_failure_rate": g["invalid"] / g["answers"],
            "judgments": g["answers"],
            "cost_usd": round(g["cost"], 6),
            **stats.preference_stats(group_prefs, comps),
        })

    for row in table:
        row["position_warning"] = stats.position_warning(row) if row["category"] == "(all)" else None
    calibration_finals = finals
    if judge and not judge.startswith("human:"):  # --judge: its calibration still needs the humans' verdicts
        humans = [j for j in rows.judgment_verdicts(ws.store, humans_only=True) if j["comparison_id"] in comps]
        calibration_finals = {**finals, **stats.final_verdicts(stats.by_template(humans))}
    return {"results": table, "agreement": stats.agreement(finals, verdicts), "vs_human": stats.vs_human(calibration_finals, probs),
            "position_warnings": [row["position_warning"] for row in table if row["position_warning"]],
            "total_cost_usd": round(sum(j["cost_usd"] or 0 for j in judgments), 6),
            "parse_failure_rate": (sum(j["verdict"] == "invalid" for j in judgments) / len(judgments)) if judgments else None,
            "judgments": len(judgments),
            "scores": stats.score_results(ws, suite, judge, run)}
