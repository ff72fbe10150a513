"""`brie results` at scale (issue 20): its statistics need none of statsmodels, scipy, pandas or
scikit-learn (tests/conformance/test_stats_reference.py checks each figure against them), numpy
only for the preference interval, and the shortcuts it takes give the same numbers as the long way.

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

from brie.judging.stats import bootstrap_mean_ci, probabilities_of, read_probabilities

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


def test_results_without_probabilities_load_no_heavy_package(tmp_path):
    build(tmp_path, with_probabilities=False)
    assert loaded_by_results(tmp_path) == []


def test_results_with_probabilities_load_numpy_only(tmp_path):
    """The preference's bootstrap interval is numpy's; nothing else heavy comes with it."""
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
    """bootstrap_mean_ci draws its indices as int32: the same stream as numpy's default int64."""
    import numpy as np

    values = list(np.random.default_rng(n).random(n))
    a = np.random.default_rng(0).integers(0, n, size=(50, n))
    b = np.random.default_rng(0).integers(0, n, size=(50, n), dtype=np.int32)
    assert (a == b).all()
    v = np.asarray(values)
    means = v[np.random.default_rng(0).integers(0, n, size=(2000, n))].mean(axis=1)
    assert bootstrap_mean_ci(values) == tuple(float(x) for x in np.percentile(means, [2.5, 97.5]))
