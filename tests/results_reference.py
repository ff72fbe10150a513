"""The plain reference for `brie results`: the dict-by-dict computation that brie.judging.stats.results
replaced with columns (issue 20), kept so that tests/test_results_scale.py can check the two give the
same document byte for byte, on workspaces built to hold every case the plain definitions handle.

The plain definitions only this reference uses live here too (moved out of brie.judging.stats when
`results` stopped calling them): by_order, agreement, read_probabilities, preference, preference_stats,
vs_human, one judgment dict at a time. The ones the product still calls (by_template, final_verdicts,
combined, wilson, kappa, first_shown_p, position_warning) are used from brie.judging.stats."""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations

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
            **preference_stats(group_prefs, comps),
        })

    for row in table:
        row["position_warning"] = stats.position_warning(row) if row["category"] == "(all)" else None
    calibration_finals = finals
    if judge and not judge.startswith("human:"):  # --judge: its calibration still needs the humans' verdicts
        humans = [j for j in rows.judgment_verdicts(ws.store, humans_only=True) if j["comparison_id"] in comps]
        calibration_finals = {**finals, **stats.final_verdicts(stats.by_template(humans))}
    return {"results": table, "agreement": agreement(finals, verdicts), "vs_human": vs_human(calibration_finals, probs),
            "position_warnings": [row["position_warning"] for row in table if row["position_warning"]],
            "total_cost_usd": round(sum(j["cost_usd"] or 0 for j in judgments), 6),
            "parse_failure_rate": (sum(j["verdict"] == "invalid" for j in judgments) / len(judgments)) if judgments else None,
            "judgments": len(judgments),
            "scores": stats.score_results(ws, suite, judge, run)}


def by_order(finals: dict) -> dict[tuple[int, str], dict[str, str]]:
    """{(comparison, shown_first): {judge: verdict}}: each judge's standing valid verdict on one
    comparison shown in one order (pass 0 shows the comparison's drawn order, pass 1 the other; a
    human's one verdict is pass 0). Should a judge have two passes in the same order, the later pass counts."""
    out: dict[tuple[int, str], dict[str, str]] = defaultdict(dict)
    for (cid, judge, _), row in sorted(finals.items(), key=lambda kv: kv[0][2]):
        if row["verdict"] != "invalid":
            out[(cid, row["shown_first"])][judge] = row["verdict"]
    return out


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
        pairs = stats._agree(per_pair.get((j1, j2), Counter()))
        out.append({"judge_1": j1, "judge_2": j2, **stats._agree(per_judgment[(j1, j2)]),
                    **{f"pairs_{k}": v for k, v in pairs.items()}})
    return out


def read_probabilities(rows_: list[dict]) -> dict[int, dict[str, float] | None]:
    """{row id: probabilities_of(row)} for many rows, their JSON texts read together (_parse_probabilities)."""
    out: dict[int, dict[str, float] | None] = {r["id"]: None for r in rows_}
    texts = [r for r in rows_ if r.get("probabilities")]
    for r, p in zip(texts, stats._parse_probabilities([r["probabilities"] for r in texts])):
        out[r["id"]] = p
    return out


def _preferences(p: dict[str, float], shown_first: str) -> tuple[float, float]:
    """(preference for B, preference for the answer shown first) from verdict probabilities."""
    total = p["A"] + p["B"] + p["C"]
    first, second = (p["A"] + p["C"] / 2) / total, (p["B"] + p["C"] / 2) / total
    return (first if shown_first == "b" else second), first


def preference(row: dict, side: str) -> float | None:
    """One judgment's preference for model `side` ("a" or "b"): P(the judge names the position that
    side was shown in) + P(tie) / 2, normalised over the three; None without probabilities."""
    p = stats.probabilities_of(row)
    if p is None:
        return None
    for_b, _ = _preferences(p, row["shown_first"])
    return for_b if side == "b" else 1 - for_b  # the two preferences add up to 1


def bootstrap_mean_ci(values: list[float], resamples: int = stats.BOOTSTRAP_RESAMPLES,
                      seed: int = stats.BOOTSTRAP_SEED) -> tuple[float | None, float | None]:
    """95% percentile bootstrap interval of the mean: `resamples` draws of len(values) with
    replacement (numpy's default_rng(seed)), the 2.5th and 97.5th percentiles of their means."""
    return stats.bootstrap_mean_cis([values], resamples, seed)[0]


def preference_stats(prefs: dict[int, list[tuple[float, float]]], comps: dict[int, dict]) -> dict:
    """`pref_b` (mean preference for B over prompts) with its bootstrap interval, and the position
    bias in probability terms, from {comparison: [(preference for B, preference for the answer shown
    first)] of its standing judgments with probabilities}, comparisons in id order."""
    out, per_prompt = stats._preference_stats([(comps[cid]["prompt_id"], *stats._per_comparison(pp))
                                               for cid, pp in prefs.items()])
    out["pref_b_low"], out["pref_b_high"] = bootstrap_mean_ci(per_prompt)
    return out


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
                p = probs[row["id"]] if probs is not None and row["id"] in probs else stats.probabilities_of(row)
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
        out.append({"judge": judge, "human": human, **stats._agree(cells),
                    "p_human": sum(ps) / len(ps) if ps else None, "p_n": len(ps)})
    return out
