"""The weighted win rate (issue 15): preferences from verdict probabilities mapped through shown_first,
both orders averaged with --swap (a constant position bias cancels, and is measured), a bootstrap
interval over prompts equal to numpy's and scipy's, and each judge calibrated against the human.

Real judges (the openai SDK against tests/judge_server.py returning logprobs), real SQLite stores."""

from __future__ import annotations

import json
import math
from collections import defaultdict

import pytest

from brie.judging.stats import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED, bootstrap_mean_cis, results
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.judge_server import JudgeServer, answers_in
from tests.results_reference import preference
from tests.test_judge_agreement import reference_kappa, run_cli
from tests.test_judge_logprobs import with_logprobs

FAST = {"max_tokens": 8, "max_retries": 0, "timeout": 5.0}
BIASED = {"A": 0.7, "B": 0.2, "C": 0.1}  # always leans to the answer shown first, whatever it says


def logprobs(p: dict[str, float]) -> dict[str, float]:
    return {k: math.log(v) for k, v in p.items() if v > 0}


def test_a_preference_maps_shown_positions_back_to_models_in_both_orders():
    """The plain definition of one judgment's preference (tests/results_reference.py, the oracle
    `results`' columns must equal, tests/test_results_scale.py)."""
    p = json.dumps({"A": 0.6, "B": 0.3, "C": 0.1})
    # b shown first: position A is model b
    assert preference({"probabilities": p, "shown_first": "b"}, "b") == pytest.approx(0.65)
    assert preference({"probabilities": p, "shown_first": "b"}, "a") == pytest.approx(0.35)
    # a shown first: position B is model b
    assert preference({"probabilities": p, "shown_first": "a"}, "b") == pytest.approx(0.35)
    assert preference({"probabilities": p, "shown_first": "a"}, "a") == pytest.approx(0.65)
    assert preference({"probabilities": None, "shown_first": "a"}, "b") is None
    assert preference({"probabilities": "not json", "shown_first": "a"}, "b") is None


@pytest.fixture
def biased(fresh_ws):
    """A logprobs judge with a constant lean to position A, judging every comparison in both orders."""
    from brie.judging.workflows import compare

    with_logprobs(fresh_ws)
    with JudgeServer(lambda call: {"text": "[[A]]", "verdict_logprobs": logprobs(BIASED)}) as server:
        judge = f"openai-compatible:lp@{server.url}/v1"
        ids, summary = compare(fresh_ws, "s", "base", "r1@10", [judge], swap=True, **FAST)
    assert summary.valid == 2 * len(ids)
    return fresh_ws, judge, ids


def test_swap_averaging_cancels_a_constant_position_bias_and_measures_it(biased):
    from brie.export.report import build_report

    ws, judge, ids = biased
    data = results(ws)
    row = next(r for r in data["results"] if r["category"] == "(all)")
    assert row["pref_n"] == len(ids) and row["pref_prompts"] == 12
    assert row["pref_b"] == pytest.approx(0.5)  # (0.2 + 0.05) and (0.7 + 0.05), averaged
    assert row["pref_b_low"] == pytest.approx(0.5) and row["pref_b_high"] == pytest.approx(0.5)
    assert row["position_bias"] == pytest.approx(0.25) and row["position_bias_n"] == 2 * len(ids)
    # The discrete verdicts flip every time: the binomial warning fires, with the bias in probability terms.
    warning = row["position_warning"]
    assert warning and "0.75 for the answer shown first, a bias of +0.25" in warning
    assert "cancels a constant bias" in warning

    table = run_cli()
    assert "B pref (95% CI)" in table and "50% (50%–50%)" in table and "75%" in table
    assert json.loads(run_cli("--json"))["results"] == data["results"]
    narrow = run_cli(width=100)
    assert "B pref (95% CI)" in narrow and "50% (50%–50%)" in narrow
    assert "B pref" in run_cli(width=80) and "50% (50%–50%)" not in run_cli(width=80)  # the value only
    report = build_report(ws, "r1")
    assert "| B preference | 95% CI (bootstrap) | position bias |" in report
    assert "| 0.5 | [0.50, 0.50] | +0.25 |" in report


def test_without_swap_each_judgment_counts_once_mapped_to_its_model(fresh_ws):
    from brie.judging.workflows import compare

    with_logprobs(fresh_ws)
    with JudgeServer(lambda call: {"text": "[[A]]", "verdict_logprobs": logprobs(BIASED)}) as server:
        judge = f"openai-compatible:lp@{server.url}/v1"
        ids, _ = compare(fresh_ws, "s", "base", "r1@10", [judge], **FAST)
    row = next(r for r in results(fresh_ws)["results"] if r["category"] == "(all)")
    shown_b = sum(r["shown_first"] == "b" for r in fresh_ws.store.db["judgments"].rows)
    # b shown first: 0.75 for b; a shown first: 0.25 for b; one comparison per prompt
    assert row["pref_b"] == pytest.approx((0.75 * shown_b + 0.25 * (len(ids) - shown_b)) / len(ids))
    assert row["position_bias"] == pytest.approx(0.25)


def content_judge(call):
    """Probabilities that depend on both answers (so preferences differ from prompt to prompt)."""
    first, second = answers_in(call["user"])
    w = {"A": 1 + len(first) % 5, "B": 1 + len(second) % 7, "C": 1 + call["n"] % 3}
    total = sum(w.values())
    p = {k: v / total for k, v in w.items()}
    return {"text": f"[[{max(p, key=p.get)}]]", "verdict_logprobs": logprobs(p)}


def test_the_interval_is_a_seeded_percentile_bootstrap_over_prompts(fresh_ws):
    import numpy as np
    from scipy.stats import bootstrap

    from brie.judging.workflows import compare

    with_logprobs(fresh_ws)
    with JudgeServer(content_judge) as server:
        judge = f"openai-compatible:lp@{server.url}/v1"
        compare(fresh_ws, "s", "base", "r1@10", [judge], swap=True, **FAST)
    row = next(r for r in results(fresh_ws)["results"] if r["category"] == "(all)")

    # By hand, straight from the table: P(B's position) + P(C)/2, the two orders averaged per prompt.
    prompt_of = {r["id"]: r["prompt_row_id"] for r in fresh_ws.store.db["comparisons"].rows}
    per_prompt = defaultdict(list)
    for j in fresh_ws.store.db["judgments"].rows:
        p = json.loads(j["probabilities"])
        b_position = "A" if j["shown_first"] == "b" else "B"
        per_prompt[prompt_of[j["comparison_id"]]].append(p[b_position] + p["C"] / 2)
    values = np.array([np.mean(v) for _, v in sorted(per_prompt.items())])
    assert all(len(v) == 2 for v in per_prompt.values()) and len(values) == 12
    assert row["pref_b"] == pytest.approx(values.mean())

    rng = np.random.default_rng(BOOTSTRAP_SEED)
    means = values[rng.integers(0, len(values), size=(BOOTSTRAP_RESAMPLES, len(values)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    assert (row["pref_b_low"], row["pref_b_high"]) == pytest.approx((low, high), abs=1e-12)
    ref = bootstrap((values,), np.mean, n_resamples=BOOTSTRAP_RESAMPLES, method="percentile",
                    confidence_level=0.95, rng=np.random.default_rng(BOOTSTRAP_SEED)).confidence_interval
    assert (row["pref_b_low"], row["pref_b_high"]) == pytest.approx((ref.low, ref.high), abs=1e-12)
    assert row["pref_b_low"] < row["pref_b"] < row["pref_b_high"]
    # Reproducible: the same judgments print the same interval; another seed gives another.
    again = next(r for r in results(fresh_ws)["results"] if r["category"] == "(all)")
    assert (again["pref_b_low"], again["pref_b_high"]) == (row["pref_b_low"], row["pref_b_high"])
    assert bootstrap_mean_cis([list(values)], seed=BOOTSTRAP_SEED + 1)[0] != (row["pref_b_low"], row["pref_b_high"])


def test_a_text_judge_shows_no_preference(fresh_ws):
    from brie.judging.workflows import compare

    with JudgeServer(lambda call: {"text": "[[B]]"}) as server:
        compare(fresh_ws, "s", "base", "r1@10", [f"openai-compatible:plain@{server.url}/v1"], **FAST)
    row = next(r for r in results(fresh_ws)["results"] if r["category"] == "(all)")
    assert row["pref_b"] is None and row["pref_n"] == 0 and row["position_bias"] is None
    assert "B pref" not in run_cli() and "B pref" not in run_cli(width=100)


def test_each_judge_is_calibrated_against_the_human(fresh_ws):
    from brie.export.report import build_report
    from brie.judging.human import record_human_verdict
    from brie.judging.workflows import compare

    with_logprobs(fresh_ws)
    with JudgeServer(content_judge) as server:
        llm = f"openai-compatible:lp@{server.url}/v1"
        ids, _ = compare(fresh_ws, "s", "base", "r1@10", [llm], swap=True, **FAST)
    choices = ["first", "second", "tie", "first", "second", "first", "first", "second"]
    for cid, chosen in zip(ids, choices):
        record_human_verdict(fresh_ws, cid, "ann", chosen)

    data = results(fresh_ws)
    [h] = data["vs_human"]
    assert (h["judge"], h["human"]) == (llm, "human:ann")
    # By hand: the judge's verdict in the order the human saw, the human as reference.
    rows = list(fresh_ws.store.db["judgments"].rows)
    human = {r["comparison_id"]: r for r in rows if r["judge"] == "human:ann"}
    mine = {r["comparison_id"]: r for r in rows if r["judge"] == llm and r["comparison_id"] in human
            and r["shown_first"] == human[r["comparison_id"]]["shown_first"]}
    y_h = [human[c]["verdict"] for c in sorted(mine)]
    y_j = [mine[c]["verdict"] for c in sorted(mine)]
    assert h["n"] == len(choices) and h["agreed"] == sum(a == b for a, b in zip(y_h, y_j))
    assert h["agreement"] == pytest.approx(h["agreed"] / h["n"])
    expected = reference_kappa(y_h, y_j)
    assert h["kappa"] == (None if expected is None else pytest.approx(expected))
    position = {"first": "A", "second": "B", "tie": "C"}
    p_human = [json.loads(mine[c]["probabilities"])[position[human[c]["raw"]]] for c in sorted(mine)]
    assert h["p_human"] == pytest.approx(sum(p_human) / len(p_human)) and h["p_n"] == len(choices)
    # the same numbers as the general agreement table, seen from the human
    [g] = data["agreement"]
    assert (g["n"], g["agreed"], g["kappa"]) == (h["n"], h["agreed"], h["kappa"])

    assert results(fresh_ws, judge=llm)["vs_human"] == data["vs_human"]  # --judge keeps its calibration
    out = " ".join(run_cli().split())
    assert "Judges against the human" in out and f"{h['agreed']} of {h['n']}" in out
    assert json.loads(run_cli("--json"))["vs_human"] == data["vs_human"]
    assert "Each judge against the human" in build_report(fresh_ws, "r1")


def test_the_results_screen_shows_preference_columns_only_when_present(biased):
    from tui.screens.results import RESULT_COLUMNS, result_cells, result_columns

    ws, judge, ids = biased
    rows = results(ws)["results"]
    columns = result_columns(rows)
    assert [k for k, _ in columns][11:14] == ["pref", "pref_ci", "first_pref"]
    cells = result_cells(rows[0], weighted=True)
    assert len(cells) == len(columns) and cells[11:14] == ["50%", "50%–50%", "75%"]
    no_prefs = [{**r, "pref_b": None} for r in rows]
    assert result_columns(no_prefs) is RESULT_COLUMNS and len(result_cells(rows[0])) == len(RESULT_COLUMNS)


@pytest.mark.anyio
async def test_the_results_screen_shows_the_preference_and_the_human_calibration(biased):
    from textual.widgets import DataTable

    from brie.judging.human import record_human_verdict
    from tests.test_tui_results import open_results
    from tests.tui_fixtures import wait_for
    from tui import format as fmt
    from tui.app import BrieApp
    from tui.screens.results import JUDGE_WIDTH

    ws, judge, ids = biased
    for cid in ids[:4]:
        record_human_verdict(ws, cid, "ann", "first")
    app = BrieApp(ws, poll_interval=0.1)
    async with app.run_test(size=(200, 50)) as pilot:
        screen = await open_results(app, pilot)
        table = screen.query_one("#results", DataTable)
        await wait_for(pilot, lambda: table.row_count > 0)
        keys = [str(c.key.value) for c in table.ordered_columns]
        after_ties = keys.index("ties") + 1
        assert keys[after_ties:after_ties + 3] == ["pref", "pref_ci", "first_pref"]
        rows = [dict(zip(keys, table.get_row_at(i))) for i in range(table.row_count)]
        # the judge's name (a whole URL) is shortened on screen, its full name listed under the table
        llm_row = next(r for r in rows if r["judge"] == fmt.judge(judge, JUDGE_WIDTH))
        assert [llm_row["pref"], llm_row["pref_ci"], llm_row["first_pref"]] == ["50%", "50%–50%", "75%"]
        vs_human = screen.query_one("#vs-human", DataTable)
        assert vs_human.display and vs_human.row_count == 1
        # always [[A]] and a human who always picks the first: 4 of 4, P(A) = 0.7 each time; kappa is
        # undefined when the four happened to be shown in the same order (one category only)
        [h] = results(ws)["vs_human"]
        kappa = "—" if h["kappa"] is None else f"{h['kappa']:.2f}"
        assert list(vs_human.get_row_at(0)) == [judge, "human:ann", 4, "100% (4 of 4)", kappa, "70% (4)"]


def test_the_bootstrap_in_blocks_equals_one_draw():
    import numpy as np

    values = list(np.random.default_rng(3).random(2500))  # 2,000 × 2,500 indices: drawn in 3 blocks
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    v = np.array(values)
    means = v[rng.integers(0, len(v), size=(BOOTSTRAP_RESAMPLES, len(v)))].mean(axis=1)
    [got] = bootstrap_mean_cis([values])
    assert got == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])), abs=1e-12)
    assert bootstrap_mean_cis([[], [0.3]]) == [(None, None), pytest.approx((0.3, 0.3))]
