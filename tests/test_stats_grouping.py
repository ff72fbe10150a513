"""`brie.judging.stats.results` groups each judge's verdicts once; checked here against a plain recount."""

import json
import random
from collections import Counter
from itertools import combinations

import pytest

from brie.judging.stats import combined, final_verdicts, kappa, results

T0 = "2026-11-22T10:00:00Z"
JUDGES = ["openai:j1", "openai:j2", "openai:j3"]


def _fill(ws, rng):
    """Two model pairs, two categories, three judges (one with swap), invalid attempts, two samples."""
    db = ws.store.db
    with ws.store.transaction():
        suite = db["suites"].insert({"name": "s", "n_prompts": 20, "created_at": T0}).last_pk
        db["prompts"].insert_all({"id": p, "suite_id": suite, "prompt_id": str(p), "idx": p,
                                  "category": "x" if p % 2 else "y", "turns_json": json.dumps([f"q{p}"])}
                                 for p in range(1, 21))
        gen, comp = 0, 0
        for pair in (("base", "r@1"), ("base", "r@2")):
            for p in range(1, 21):
                for k in (0, 1):
                    for label in pair:
                        gen += 1
                        db["generations"].insert({"id": gen, "prompt_row_id": p, "model_key": f"{label}:{pair[1]}", "label": label,
                                                  "model": "m", "temperature": 0.7, "max_tokens": 8, "seed": 0,
                                                  "sample_idx": k, "answers_json": json.dumps([f"{label}{p}{k}"]),
                                                  "created_at": T0})
                    comp += 1
                    db["comparisons"].insert({"id": comp, "suite_id": suite, "prompt_row_id": p, "gen_a": gen - 1,
                                              "gen_b": gen, "sample_idx": k, "shown_first": rng.choice("ab"),
                                              "created_at": T0})
        for c in range(1, comp + 1):
            for j in JUDGES:
                if rng.random() < 0.15:
                    continue  # not every judge saw every comparison
                for p in ((0, 1) if j == "openai:j3" else (0,)):
                    attempts = ["invalid"] * rng.choice([0, 0, 1, 3]) + [rng.choice("ab") if rng.random() < 0.8 else "tie"]
                    for i, v in enumerate(attempts[:3], 1):
                        db["judgments"].insert({"comparison_id": c, "judge": j, "template": "pairwise-v1", "pass": p,
                                                "shown_first": rng.choice("ab"), "attempt": i, "raw": "x",
                                                "verdict": v, "cost_usd": 0.001, "judged_at": T0})


def test_results_match_a_plain_recount(workspace):
    _fill(workspace, random.Random(3))
    r = results(workspace)
    from brie.store import judging as rows

    comps = {c["comparison_id"]: c for c in rows.find_comparisons(workspace.store)}
    finals = final_verdicts(rows.all_judgments(workspace.store))
    verdicts = combined(finals)
    assert len(r["results"]) == 2 * 3 * 3  # model pairs x (all, x, y) x judges
    for row in r["results"]:
        cids = {cid for cid, c in comps.items() if c["b_label"] == row["b"]
                and row["category"] in ("(all)", c["category"])}
        stand = [f for (cid, j, _), f in finals.items() if j == row["judge"] and cid in cids and f["verdict"] != "invalid"]
        decisive = [f for f in stand if f["verdict"] in ("a", "b")]
        assert row["first_shown_n"] == len(decisive)
        assert row["first_shown_win_rate"] == pytest.approx(
            sum(f["verdict"] == f["shown_first"] for f in decisive) / len(decisive))
        vs = [verdicts[(cid, row["judge"])] for cid in cids if (cid, row["judge"]) in verdicts]
        assert row["n"] == len(vs) and row["b_wins"] == sum(v["verdict"] == "b" for v in vs)
    assert [(g["judge_1"], g["judge_2"]) for g in r["agreement"]] == list(combinations(JUDGES, 2))
    # agreement is over judgments: the two judges' standing verdicts on one comparison in one shown order
    shown = {}
    for (c, j, p), f in sorted(finals.items(), key=lambda kv: kv[0][2]):
        if f["verdict"] != "invalid":
            shown[(c, f["shown_first"], j)] = f["verdict"]
    for g in r["agreement"]:
        pairs = [(shown[(c, o, g["judge_1"])], shown[(c, o, g["judge_2"])])
                 for c in comps for o in "ab" if (c, o, g["judge_1"]) in shown and (c, o, g["judge_2"]) in shown]
        assert g["n"] == len(pairs) and g["agreement"] == sum(x == y for x, y in pairs) / len(pairs)
        assert g["kappa"] == pytest.approx(kappa(Counter(pairs)))
        assert g["pairs_n"] == 0  # only j3 judged both orders
