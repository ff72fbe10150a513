"""`brie results` at scale (issue 20): its statistics need none of statsmodels, scipy, pandas or
scikit-learn (tests/conformance/test_stats_reference.py checks each figure against them), only numpy,
and the column computation gives the same document, to the last bit, as the dict-by-dict one it
replaced (tests/results_reference.py).

The import checks run `brie results --json` in a fresh interpreter and read its sys.modules at exit,
as tests/test_startup_imports.py does; how long it takes is measured by benchmarks/results_scale.py,
not here (a timed test would only measure the machine's load).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from brie.judging.stats import bootstrap_mean_cis, probabilities_of
from tests.results_reference import read_probabilities

ROOT = Path(__file__).resolve().parents[1]
HEAVY = {"statsmodels", "scipy", "pandas", "sklearn", "numpy", "pyarrow", "mlx", "transformers", "torch"}

PROBE = """
import json, sys
from brie.cli import app
try:
    app(["results", "--json"], prog_name="brie")
except SystemExit as e:
    assert not e.code, e.code
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & HEAVY)), file=sys.__stderr__)
"""


def build(home: Path, with_probabilities: bool) -> None:
    """A workspace with 40 comparisons judged in both orders by two judges and once by a human,
    through brie's store functions; one judge stores probabilities when asked."""
    from brie.data.suites import import_suite
    from brie.store import judging as rows
    from brie.workspace import Workspace

    ws = Workspace.open(home, create=True)
    (home / "s.jsonl").write_text("".join(json.dumps({"prompt": f"Q{i}?", "category": "c" + str(i % 2)}) + "\n"
                                          for i in range(40)))
    import_suite(ws, home / "s.jsonl", "s")
    suite_id = next(ws.store.db["suites"].rows)["id"]
    prompts = [r["id"] for r in ws.store.db["prompts"].rows]
    gens = {label: [rows.insert_generation(ws.store, {
        "prompt_row_id": p, "model_key": key, "label": label, "model": "m", "temperature": 0.0, "max_tokens": 8,
        "seed": 0, "sample_idx": 0, "answers_json": json.dumps([label])}) for p in prompts]
        for label, key in (("base", "base:m"), ("r@1", "sha"))}
    ids = rows.ensure_comparisons(ws.store, [
        {"suite_id": suite_id, "prompt_row_id": p, "gen_a": a, "gen_b": b, "sample_idx": 0, "shown_first": "ab"[i % 2]}
        for i, (p, a, b) in enumerate(zip(prompts, gens["base"], gens["r@1"]))])
    for i, cid in enumerate(ids):
        first = "ab"[i % 2]
        for judge in ("openai:x", "local:y"):
            for pass_, shown in ((0, first), (1, "b" if first == "a" else "a")):
                pb = 0.5 + 0.01 * i  # the probability of model b, at whichever position it is shown
                probs = {"A": 0.9 - pb, "B": pb, "C": 0.1} if shown == "a" else {"A": pb, "B": 0.9 - pb, "C": 0.1}
                rows.insert_judgment(ws.store, {
                    "comparison_id": cid, "judge": judge, "template": "pairwise-v1", "pass": pass_,
                    "shown_first": shown, "attempt": 1, "raw": "x", "verdict": "ab"[(i + pass_) % 3 % 2] if i % 5 else "tie",
                    "cost_usd": 0.001, "probabilities": json.dumps(probs)
                    if with_probabilities and judge == "local:y" else None})
        rows.insert_judgment(ws.store, {"comparison_id": cid, "judge": "human:ana", "template": "human", "pass": 0,
                                        "shown_first": first, "attempt": 1, "raw": "first", "verdict": "ab"[i % 2],
                                        "cost_usd": 0.0})
    ws.close()


def loaded_by_results(home: Path) -> list[str]:
    code = PROBE.replace("HEAVY", repr(HEAVY))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "BRIE_HOME": str(home)}, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stderr.strip().splitlines()[-1])


def test_results_without_probabilities_load_numpy_only(tmp_path):
    """The counts are numpy's (sorts and counts over columns); nothing else heavy comes with them."""
    build(tmp_path, with_probabilities=False)
    assert loaded_by_results(tmp_path) == ["numpy"]


def test_results_with_probabilities_load_numpy_only(tmp_path):
    """The preference's bootstrap interval is numpy's too."""
    build(tmp_path, with_probabilities=True)
    assert loaded_by_results(tmp_path) == ["numpy"]


def test_results_are_computed_without_the_references(tmp_path):
    """The figures the references would have given are there: Wilson intervals, kappa, the binomial
    p (test_stats_reference checks each value against statsmodels, scikit-learn and scipy)."""
    from brie.judging.stats import results
    from brie.workspace import Workspace

    build(tmp_path, with_probabilities=True)
    ws = Workspace.open(tmp_path)
    r = results(ws)
    ws.close()
    rows = {(row["category"], row["judge"]): row for row in r["results"]}
    assert set(rows) == {(c, j) for c in ("(all)", "c0", "c1") for j in ("openai:x", "local:y", "human:ana")}
    row = rows[("(all)", "local:y")]
    assert row["n"] == 40 and 0 <= row["ci_low"] < row["b_win_rate"] < row["ci_high"] <= 1
    assert row["first_shown_p"] is not None and row["pref_b_low"] < row["pref_b"] < row["pref_b_high"]
    assert {(a["judge_1"], a["judge_2"]) for a in r["agreement"]} == {
        ("human:ana", "local:y"), ("human:ana", "openai:x"), ("local:y", "openai:x")}
    assert all(a["kappa"] is not None for a in r["agreement"])


def test_probabilities_read_together_equal_one_by_one():
    rows = [{"id": i, "probabilities": text} for i, text in enumerate([
        '{"A": 0.2, "B": 0.5, "C": 0.3}', None, "", '{"A": 1, "B": 0, "C": 0}', '{"A": -1, "B": 1, "C": 1}',
        '{"A": 0, "B": 0, "C": 0}', '{"A": "x", "B": 1, "C": 1}', '[1, 2, 3]', '"text"', '{"A": 1e999, "B": 1, "C": 1}'])]
    assert read_probabilities(rows) == {r["id"]: probabilities_of(r) for r in rows}
    # Text that does not read as one value per row falls back to reading each row on its own.
    for bad in ('{"A": 1, "B": 1, "C": 1}, {"A": 1, "B": 1, "C": 1}', "{", "1], [2"):
        mixed = rows + [{"id": 99, "probabilities": bad}]
        assert read_probabilities(mixed) == {r["id"]: probabilities_of(r) for r in mixed}


@pytest.mark.parametrize("n", [1, 7, 312, 2500])
def test_the_int32_draw_is_the_int64_draw(n):
    """bootstrap_mean_cis draws its indices as int32: the same stream as numpy's default int64."""
    import numpy as np

    values = list(np.random.default_rng(n).random(n))
    a = np.random.default_rng(0).integers(0, n, size=(50, n))
    b = np.random.default_rng(0).integers(0, n, size=(50, n), dtype=np.int32)
    assert (a == b).all()
    def one_draw(values):
        v = np.asarray(values)
        means = v[np.random.default_rng(0).integers(0, len(v), size=(2000, len(v)))].mean(axis=1)
        return tuple(float(x) for x in np.percentile(means, [2.5, 97.5]))

    assert bootstrap_mean_cis([values]) == [one_draw(values)]
    # Lists of one length share their draw; each interval is still the one of its own draw.
    lists = [values, list(np.random.default_rng(n + 1).random(n)), [], values[: max(1, n // 2)], [0.5] * n]
    assert bootstrap_mean_cis(lists) == [one_draw(x) if x else (None, None) for x in lists]


T0 = "2026-11-22T10:00:00Z"
JUDGES = ["openai:j1", "openai:j2", "local:p", "human:ana", "human:bo"]


def fill_every_case(ws, rng, malformed: bool = True) -> None:
    """Two suites (categories x, y and none), base against two runs' checkpoints, three samples per
    prompt; five judges (one with probabilities, two humans) judging in one or both orders, sometimes
    both passes in the same order; retries, answers that stay invalid, a prompt text that replaced an
    earlier one (whose answers no longer stand), a judge under two template sets, probabilities that
    do not add up (negative, all zero), on invalid answers, or (`malformed`) no three numbers at all,
    costs None, 0 or not."""
    db = ws.store.db
    with ws.store.transaction():
        gen = comp = prompt = 0
        for s in (1, 2):
            db["suites"].insert({"id": s, "name": f"s{s}", "n_prompts": 4, "created_at": T0})
            for i in range(4):
                prompt += 1
                db["prompts"].insert({"id": prompt, "suite_id": s, "prompt_id": f"p{i}", "idx": i,
                                      "category": [None, "x", "y"][i % 3], "turns_json": '["q"]'})
                for sample in range(3):
                    for label, run in (("base", None), ("r@1", "r"), ("q@1", "q")):
                        gen += 1
                        db["generations"].insert({"id": gen, "prompt_row_id": prompt, "model_key": f"{label}{sample}",
                                                  "label": label, "model": "m", "run": run, "temperature": 0.7,
                                                  "max_tokens": 8, "seed": 0, "sample_idx": sample,
                                                  "answers_json": '["x"]', "created_at": T0})
                        if run is not None:
                            comp += 1
                            db["comparisons"].insert({"id": comp, "suite_id": s, "prompt_row_id": prompt,
                                                      "gen_a": gen - (1 if run == "r" else 2), "gen_b": gen,
                                                      "sample_idx": sample, "shown_first": rng.choice("ab"),
                                                      "created_at": T0})
        answers = []
        for c in db["comparisons"].rows:
            for j in JUDGES:
                if rng.random() < 0.15:
                    continue
                human = j.startswith("human:")
                template, tsha = ("human", None) if human else ("pairwise-v1", "a" * 64)
                if j == "openai:j2" and rng.random() < 0.3:
                    tsha = "b" * 64  # a second template set for this judge
                for p in (0,) if human or rng.random() < 0.3 else (0, 1):
                    shown = c["shown_first"] if p == 0 or rng.random() < 0.1 else "ba"[c["shown_first"] == "b"]
                    texts = [f"{c['id']}{j}{p}"] if rng.random() < 0.85 else [f"old{c['id']}{j}{p}", f"{c['id']}{j}{p}"]
                    for text in texts:
                        verdicts = ["invalid"] * rng.choice([0, 0, 0, 1, 2]) + [rng.choice(["a", "b", "b", "tie", "invalid"])]
                        for attempt, v in enumerate(verdicts, 1):
                            a, b_ = rng.random(), rng.random()
                            probs = (None if j != "local:p" else rng.choice(
                                [json.dumps({"A": a, "B": b_, "C": rng.random() / 5})] * 6
                                + ['{"A": -1, "B": 1, "C": 1}', '{"A": 0, "B": 0, "C": 0}', ""]
                                + (['{"A": 1}', "[1, 2, 3]", '{"A": "x", "B": 1, "C": 1}'] if malformed else [])))
                            answers.append({"comparison_id": c["id"], "judge": j, "template": template,
                                            "template_sha256": tsha, "prompt_sha256": text, "pass": p,
                                            "shown_first": shown, "attempt": attempt, "raw": "x", "verdict": v,
                                            "cost_usd": rng.choice([None, 0.0, 0.00123, 0.0007]),
                                            "probabilities": probs, "judged_at": T0})
        rng.shuffle(answers)  # ids in no particular order of comparison, pass or attempt
        db["judgments"].insert_all(answers)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_results_equal_the_plain_reference_to_the_last_bit(workspace, seed):
    """`results` reads columns; tests/results_reference.py is the dict-by-dict computation it
    replaced. Every figure of every filter is the same JSON, floating-point sums included."""
    import random

    from brie.judging.stats import results
    from tests.results_reference import reference_results

    fill_every_case(workspace, random.Random(seed), malformed=seed > 0)
    for suite, judge, run in [(None, None, None), ("s1", None, None), (None, "openai:j2", None),
                              (None, "local:p", None), (None, "human:ana", None), (None, None, "r"),
                              ("s2", "openai:j1", "q"), (None, "openai:none", None)]:
        new, old = results(workspace, suite, judge, run), reference_results(workspace, suite, judge, run)
        assert json.dumps(new) == json.dumps(old), (suite, judge, run)
    r = results(workspace)
    assert any("[" in row["judge"] for row in r["results"]) and r["vs_human"] and r["agreement"]
    assert any(row["pref_b"] is not None for row in r["results"])
