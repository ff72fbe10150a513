"""Judge agreement judgment by judgment, and position bias stated in words.

Real judges (the SDKs against tests/judge_server.py), real SQLite stores; every figure is checked
in `brie.judging.stats.results`, `brie results` (table and --json), the report and the UI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from brie.cli import app
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.judge_server import JudgeServer, answers_in
from tests.tui_fixtures import wait_for

FAST = {"max_tokens": 8, "max_retries": 0, "timeout": 5.0}


def by_position(call):
    """Judge `first` always answers [[A]], any other judge always [[B]]: pure position, no content."""
    return {"text": "[[A]]" if call["body"]["model"] == "first" else "[[B]]"}


def prefer_longer(call):
    first, second = answers_in(call["user"])
    if len(first.strip()) == len(second.strip()):
        return {"text": "[[C]]"}
    return {"text": "[[A]]" if len(first.strip()) > len(second.strip()) else "[[B]]"}


def judge(server, model: str) -> str:
    return f"openai-compatible:{model}@{server.url}/v1"


def run_cli(*args: str, width: int = 200) -> str:
    from brie.cli import common

    old = common.console._width
    common.console._width = width
    try:
        r = CliRunner().invoke(app, ["results", *args])
    finally:
        common.console._width = old
    assert r.exit_code == 0, r.output
    return r.output


def flat(text: str) -> str:
    return " ".join(text.split())


def reference_kappa(y1: list[str], y2: list[str]) -> float | None:
    import math
    import warnings

    from sklearn.metrics import cohen_kappa_score

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        k = float(cohen_kappa_score(y1, y2, labels=["a", "b", "tie"]))
    return None if math.isnan(k) else k


def stored_verdicts(ws) -> dict[tuple[int, str, str], str]:
    """{(comparison, shown_first, judge): verdict}, read straight from the judgments table."""
    return {(r["comparison_id"], r["shown_first"], r["judge"]): r["verdict"] for r in ws.store.db["judgments"].rows}


@pytest.fixture
def opposite_judges(fresh_ws):
    """An always-[[A]] and an always-[[B]] judge, both with --swap."""
    from brie.judging.workflows import compare

    with JudgeServer(by_position) as server:
        judges = [judge(server, "first"), judge(server, "second")]
        ids, summary = compare(fresh_ws, "s", "base", "r1@10", judges, swap=True, **FAST)
    assert summary.valid == 2 * 2 * len(ids)
    return fresh_ws, judges, ids


def test_opposite_position_judges_with_swap_disagree_on_every_judgment(opposite_judges):
    from brie.export.report import build_report
    from brie.judging.stats import results

    ws, (first, second), ids = opposite_judges
    n = 2 * len(ids)  # each comparison judged in both orders
    data = results(ws)
    [g] = data["agreement"]
    assert (g["judge_1"], g["judge_2"]) == tuple(sorted([first, second]))
    assert g["n"] == n and g["agreed"] == 0 and g["agreement"] == 0.0
    stored = stored_verdicts(ws)
    keys = [(c, o) for c in ids for o in "ab"]
    assert g["kappa"] == pytest.approx(reference_kappa([stored[(*k, g["judge_1"])] for k in keys],
                                                       [stored[(*k, g["judge_2"])] for k in keys]))
    # Merged, both judges flip every pair to a tie: they "agree" on pairs, and the table says so apart.
    assert g["pairs_n"] == len(ids) and g["pairs_agreement"] == 1.0 and g["pairs_kappa"] is None

    for width in (200, 80):
        out = run_cli(width=width)
        assert f"0% (0 of {n})" in out and "100% (" not in out
        assert max(len(line) for line in out.splitlines()) <= width
    assert json.loads(run_cli("--json"))["agreement"] == data["agreement"]

    report = build_report(ws, "r1")
    kappa = f"{g['kappa']:.4g}"
    assert f"| {g['judge_1']} | {g['judge_2']} | {n} | 0 | {kappa} | {len(ids)} | 1 | – |" in report

    # Both judges follow position completely: the warning says so, and that --swap already ran.
    assert len(data["position_warnings"]) == 2
    assert any(f"picked the answer shown first in {n} of {n} decided judgments" in w for w in data["position_warnings"])
    assert any(f"picked the answer shown first in 0 of {n} decided judgments" in w for w in data["position_warnings"])
    assert all("--swap was used" in w for w in data["position_warnings"])


@pytest.mark.anyio
async def test_the_results_screen_shows_the_same_agreement(opposite_judges):
    from textual.widgets import DataTable, Static

    from brie.judging.stats import results
    from tui.app import BrieApp
    from tui.screens.results import ResultsScreen

    ws, _, ids = opposite_judges
    [g] = results(ws)["agreement"]
    app = BrieApp(ws, poll_interval=0.1)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen) and app.screen.data is not None, tries=200)
        table = app.screen.query_one("#agreement", DataTable)
        assert [str(c) for c in table.get_row_at(0)] == [
            g["judge_1"], g["judge_2"], str(2 * len(ids)), f"0% (0 of {2 * len(ids)})", f"{g['kappa']:.2f}",
            str(len(ids)), "100%", "—"]
        bias = str(app.screen.query_one("#position-bias", Static).render())
        assert "picked the answer shown first" in bias


@pytest.fixture
def human_matches_judge(fresh_ws):
    """An always-[[A]] judge with --swap, and a human who picked the first-shown answer on 8 comparisons."""
    from brie.judging.human import record_human_verdict
    from brie.judging.workflows import compare

    with JudgeServer(lambda call: {"text": "[[A]]"}) as server:
        llm = judge(server, "first")
        ids, _ = compare(fresh_ws, "s", "base", "r1@10", [llm], swap=True, **FAST)
    seen = ids[:8]
    for cid in seen:
        record_human_verdict(fresh_ws, cid, "ann", "first")
    return fresh_ws, llm, seen


def test_a_human_who_matches_the_judge_on_every_shown_order_agrees_100(human_matches_judge):
    from brie.export.report import build_report
    from brie.judging.stats import results

    ws, llm, seen = human_matches_judge
    data = results(ws)
    [g] = data["agreement"]
    assert {g["judge_1"], g["judge_2"]} == {llm, "human:ann"}
    assert g["n"] == len(seen) and g["agreed"] == len(seen) and g["agreement"] == 1.0
    assert g["pairs_n"] == 0 and g["pairs_agreement"] is None  # a person sees one order only
    stored = stored_verdicts(ws)
    shown = [(c, o) for c in seen for o in "ab" if (c, o, "human:ann") in stored]
    assert len(shown) == len(seen)
    expected = reference_kappa([stored[(*k, g["judge_1"])] for k in shown], [stored[(*k, g["judge_2"])] for k in shown])
    assert g["kappa"] == (None if expected is None else pytest.approx(expected))

    assert f"100% ({len(seen)} of {len(seen)})" in run_cli()
    assert json.loads(run_cli("--json"))["agreement"] == data["agreement"]
    kappa = "–" if g["kappa"] is None else f"{g['kappa']:.4g}"
    assert f"| {g['judge_1']} | {g['judge_2']} | {len(seen)} | 1 | {kappa} | 0 | – | – |" in build_report(ws, "r1")


@pytest.mark.anyio
async def test_the_reveal_shows_the_same_agreement(human_matches_judge):
    from textual.widgets import DataTable

    from brie.judging.stats import results
    from tui.app import BrieApp
    from tui.screens.blind import BlindSetup
    from tui.screens.reveal import RevealScreen

    ws, llm, seen = human_matches_judge
    [g] = results(ws)["agreement"]
    app = BrieApp(ws, poll_interval=0.1)
    async with app.run_test(size=(200, 50)) as pilot:
        app.push_screen(RevealScreen(BlindSetup("ann", None), list(seen)))
        await wait_for(pilot, lambda: isinstance(app.screen, RevealScreen) and app.screen.revealed is not None, tries=200)
        row = [str(c) for c in app.screen.query_one("#agreement", DataTable).get_row_at(0)]
        assert row == [llm, str(len(seen)), f"100% ({len(seen)} of {len(seen)})",
                       "—" if g["kappa"] is None else f"{g['kappa']:.2f}"]


@pytest.fixture
def always_b(fresh_ws):
    from brie.judging.workflows import compare

    with JudgeServer(lambda call: {"text": "B is better. [[B]]"}) as server:
        name = judge(server, "second")
        ids, _ = compare(fresh_ws, "s", "base", "r1@10", [name], **FAST)
    return fresh_ws, name, ids


def test_an_always_B_judge_without_swap_is_called_position_biased(always_b):
    from scipy.stats import binomtest

    from brie.export.report import build_report
    from brie.judging.stats import results

    ws, name, ids = always_b
    n = len(ids)
    data = results(ws)
    [row] = [r for r in data["results"] if r["category"] == "(all)"]
    p = binomtest(0, n, 0.5).pvalue
    assert row["first_shown_wins"] == 0 and row["first_shown_n"] == n and row["first_shown_p"] == pytest.approx(p)
    [warning] = data["position_warnings"]
    assert warning == row["position_warning"]
    assert f"{name} picked the answer shown first in 0 of {n} decided judgments (p={p:.2g})" in warning
    assert "may follow position" in warning and "rerun with --swap" in warning
    assert all(r["position_warning"] is None for r in data["results"] if r["category"] != "(all)")

    assert flat(warning) in flat(run_cli())
    assert json.loads(run_cli("--json"))["position_warnings"] == [warning]
    report = build_report(ws, "r1")
    assert f"**Position bias:** {warning}" in report
    assert f"- Position bias: {warning}" in report.split("## Caveats")[1]


@pytest.mark.anyio
async def test_the_results_screen_states_the_position_bias(always_b):
    from textual.widgets import Static

    from brie.judging.stats import results
    from tui.app import BrieApp
    from tui.screens.results import ResultsScreen

    ws, _, _ = always_b
    [warning] = results(ws)["position_warnings"]
    app = BrieApp(ws, poll_interval=0.1)
    async with app.run_test(size=(200, 50)) as pilot:
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen) and app.screen.data is not None, tries=200)
        bias = app.screen.query_one("#position-bias", Static)
        assert bias.display and flat(warning) in flat(str(bias.render()))


def test_a_content_judge_with_swap_is_not_called_position_biased(fresh_ws):
    from brie.export.report import build_report
    from brie.judging.stats import results
    from brie.judging.workflows import compare

    with JudgeServer(prefer_longer) as server:
        compare(fresh_ws, "s", "base", "r1@10", [judge(server, "fair")], swap=True, **FAST)
    data = results(fresh_ws)
    [row] = [r for r in data["results"] if r["category"] == "(all)"]
    # Judged on content in both orders, the first-shown answer wins exactly half the decided judgments.
    assert row["first_shown_n"] > 0 and 2 * row["first_shown_wins"] == row["first_shown_n"]
    assert row["first_shown_p"] == 1.0 and row["position_warning"] is None and data["position_warnings"] == []
    assert "position bias" not in run_cli().lower()
    assert "Position bias" not in build_report(fresh_ws, "r1")
