"""The Results screen's filters and its export keys (j, x, p), driven through the pilot."""

from __future__ import annotations

import csv
import json

import pytest
from textual.widgets import DataTable, Select

from tests.tui_fixtures import T0, add_comparisons, wait_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def two_suites(workspace):
    """suite-one: 3 comparisons judged by judge-one; blind-suite: 2, judged by judge-one and judge-two (B)."""
    add_comparisons(workspace, ["a", "b", "a"], llm_judge="anthropic:judge-one")
    with workspace.store.transaction() as db:
        db.execute("update suites set name = 'suite-one' where name = 'blind-suite'")
    made = add_comparisons(workspace, ["b", "a"], llm_judge="anthropic:judge-one")
    with workspace.store.transaction() as db:
        for m in made:
            db["judgments"].insert({"comparison_id": m["comparison_id"], "judge": "openai:judge-two",
                                    "template": "pairwise-v1", "pass": 0, "shown_first": m["shown_first"],
                                    "attempt": 1, "raw": "[[B]]", "verdict": "b", "input_tokens": 10,
                                    "output_tokens": 5, "cache_read_tokens": 0, "cost_usd": 0.0, "judged_at": T0})
    return workspace


async def open_results(app, pilot):
    from tui.screens.results import ResultsScreen

    await pilot.press("v")
    await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen) and app.screen.data is not None, tries=200)
    return app.screen


def notices(app) -> str:
    return " ".join(n.message for n in app._notifications)


async def test_filters_narrow_the_tables_and_the_exports(two_suites):
    from tui.app import BrieApp

    ws = two_suites
    app = BrieApp(ws, poll_interval=0.1)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await open_results(app, pilot)
        table = screen.query_one("#results", DataTable)
        suites = lambda: {table.get_row_at(i)[0] for i in range(table.row_count)}  # noqa: E731
        judges = lambda: {table.get_row_at(i)[7] for i in range(table.row_count)}  # noqa: E731
        await wait_for(pilot, lambda: suites() == {"suite-one", "blind-suite"})
        assert screen.data["judgments"] == 7
        assert len(screen.query_one("#agreement", DataTable).rows) == 1  # two judges on blind-suite

        screen.query_one("#suite-filter", Select).value = "suite-one"
        await wait_for(pilot, lambda: screen.data is not None and suites() == {"suite-one"})
        assert screen.data["judgments"] == 3 and judges() == {"anthropic:judge-one"}
        await pilot.press("j")
        judged = (ws.exports_dir / "judged.jsonl").resolve()
        await wait_for(pilot, lambda: f"Wrote 3 records to {judged}." in notices(app))  # the full path
        lines = [json.loads(line) for line in (ws.exports_dir / "judged.jsonl").read_text().splitlines()]
        assert len(lines) == 3 and {line["suite"] for line in lines} == {"suite-one"}

        screen.query_one("#suite-filter", Select).clear()
        screen.query_one("#judge-filter", Select).value = "openai:judge-two"
        await wait_for(pilot, lambda: screen.data is not None and judges() == {"openai:judge-two"})
        assert suites() == {"blind-suite"} and screen.data["judgments"] == 2
        await pilot.press("x")
        await wait_for(pilot, lambda: (ws.exports_dir / "results.csv").exists())
        rows = list(csv.DictReader((ws.exports_dir / "results.csv").open()))
        assert rows and {r["judge"] for r in rows} == {"openai:judge-two"}
        (all_row,) = [r for r in rows if r["category"] == "(all)"]
        assert all_row["n"] == "2" and all_row["b_wins"] == "2"

        await pilot.press("p")
        await wait_for(pilot, lambda: (ws.exports_dir / "dpo.jsonl").exists())
        pairs = [json.loads(line) for line in (ws.exports_dir / "dpo.jsonl").read_text().splitlines()]
        # judge-two preferred side b (BETA) on both prompts
        assert len(pairs) == 2 and all("BETA" in json.dumps(p["chosen"]) for p in pairs)
        assert all("ALPHA" in json.dumps(p["rejected"]) for p in pairs)

        # A second press finds exports/judged.jsonl there: it asks, and keeps the file unless told yes.
        from tui.screens.confirm import ConfirmScreen

        await pilot.press("j")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert str(judged) in str(app.screen.query_one("#detail").render())
        await pilot.press("n")
        await wait_for(pilot, lambda: f"Kept {judged}" in notices(app))
        assert len(judged.read_text().splitlines()) == 3
        await pilot.press("j")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: f"Wrote 2 records to {judged}." in notices(app))
        assert len(judged.read_text().splitlines()) == 2


async def test_export_with_nothing_to_export_is_dimmed_and_does_nothing(workspace):
    from tui.app import BrieApp

    app = BrieApp(workspace, poll_interval=0.1)
    async with app.run_test(size=(160, 45)) as pilot:
        await open_results(app, pilot)
        await wait_for(pilot, lambda: not app.screen.active_bindings["j"].enabled)  # shown dimmed
        await pilot.press("j")
        await pilot.pause(0.3)
        assert not (workspace.exports_dir / "judged.jsonl").exists() and not notices(app)


def drawn_text(app) -> str:
    from tests.test_tui_app import drawn_text as drawn

    return drawn(app)


async def test_win_rates_lead_with_a_chart_and_fit_80_columns(workspace):
    """A local judge whose name holds a whole URL: shortened, so the win rate stays on screen at 80
    columns; the rest of the table scrolls sideways; a group no judgment decided (n = 0) is left out."""
    from textual_plotext import PlotextPlot

    from tui.app import BrieApp

    long_judge = "openai-compatible:default_model@http://127.0.0.1:8080/v1"
    made = add_comparisons(workspace, ["a", "b", "a", "b"], llm_judge=long_judge)
    with workspace.store.transaction() as db:  # a judge that never gave a verdict it could parse: n = 0
        for m in made:
            db["judgments"].insert({"comparison_id": m["comparison_id"], "judge": "openai:unparsed",
                                    "template": "pairwise-v1", "pass": 0, "shown_first": m["shown_first"],
                                    "attempt": 1, "raw": "no idea", "verdict": "invalid", "input_tokens": 10,
                                    "output_tokens": 5, "cache_read_tokens": 0, "cost_usd": 0.0,
                                    "judged_at": T0})
    app = BrieApp(workspace, poll_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_results(app, pilot)
        assert any(r["n"] == 0 for r in screen.data["results"])  # there is such a group…
        table = screen.query_one("#results", DataTable)
        assert table.row_count and all(table.get_row_at(i)[6] for i in range(table.row_count))  # …not shown
        chart = screen.query_one("#win-chart", PlotextPlot)
        assert chart.display and chart.region.y < table.region.y  # the chart comes first
        await pilot.pause(0.2)
        text = drawn_text(app)
        assert "hidden-run-qq@4242 vs base" in text  # one bar per pair and suite
        assert "hidden-run-qq@4242 vs base · blind-suite" in text
        rate = [c for c in table.ordered_columns if c.key.value == "rate"][0]
        assert sum(c.get_render_width(table) for c in table.ordered_columns[:table.ordered_columns.index(rate) + 1]) < 78
        assert "compat:default_model@127.0.0.1:8080" in str(screen.query_one("#judge-names").render())
        # Past the right edge: reached by scrolling the table sideways.
        assert table.max_scroll_x > 0
        table.focus()
        await pilot.press("right", "right", "right")
        await wait_for(pilot, lambda: table.scroll_x > 0)


async def test_forgetting_shows_deltas_coloured_by_significance_with_relative_paths(workspace, tmp_path):
    from brie.evals import parse_benchmark
    from brie.store import evals as eval_rows
    from tests.evalkit import register_run
    from tui.app import BrieApp

    folder = tmp_path / "ckpt" / "10"
    folder.mkdir(parents=True)
    (folder / "adapters.safetensors").write_bytes(b"not really weights")
    register_run(workspace, "r", "tiny", {10: folder}, best_step=10)
    sha = workspace.store.db.execute("select adapter_sha256 from checkpoints").fetchone()[0]
    data_file = workspace.root / "evals" / "gsm8k_test.jsonl"
    for bench, base_vals, run_vals in ((f"gsm8k:{data_file}", [1] * 30, [0] * 30),  # a clear drop
                                       ("mcq:arc_easy.jsonl", [1, 0] * 15, [0, 1] * 15)):  # no change in the mean
        b = parse_benchmark(bench)
        for label, s, step, values in (("base", None, None, base_vals), ("r@10", sha, 10, run_vals)):
            row = eval_rows.get_or_create_result(workspace.store, label=label, model="tiny",
                                                 run="r" if s else None, step=step, adapter_sha256=s,
                                                 benchmark=bench, settings={}, n_items=len(values))
            for i, v in enumerate(values):
                eval_rows.add_sample(workspace.store, row["id"], i, str(i), f"q{i}", "out", "t", {b.primary: v})
            eval_rows.finish_result(workspace.store, row["id"], b.aggregate([{b.primary: v} for v in values]))

    app = BrieApp(workspace, poll_interval=0.1)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await open_results(app, pilot)
        table = screen.query_one("#forgetting", DataTable)
        await wait_for(pilot, lambda: table.row_count == 2)
        rows = {str(table.get_row_at(i)[0]): table.get_row_at(i) for i in range(2)}
        assert set(rows) == {"gsm8k:evals/gsm8k_test.jsonl", "mcq:arc_easy.jsonl"}  # relative to the workspace
        drop, flat = rows["gsm8k:evals/gsm8k_test.jsonl"], rows["mcq:arc_easy.jsonl"]
        assert str(drop[6]) == "-1.000" and "red" in str(drop[6].style) and "red" in str(drop[7].style)
        assert str(drop[9]) == "significant drop"
        assert str(flat[6]) == "+0.000" and "dim" in str(flat[6].style) and str(flat[9]) == "within noise"


async def test_a_suite_with_a_ranking_draws_it_as_a_forest_plot(workspace):
    """Base and three checkpoints judged on rank-suite: the results lead with the Bradley–Terry
    ranking (score and interval per model, best first), the same numbers `brie rank` fits."""
    from textual_plotext import PlotextPlot

    from brie.judging.rank import judged_ranking
    from tests.tui_fixtures import add_ranking, fill_demo
    from tui.app import BrieApp

    fill_demo(workspace)
    add_ranking(workspace)
    expected = judged_ranking(workspace, "pirate-lora", "rank-suite")["models"]
    app = BrieApp(workspace, poll_interval=0.1)
    async with app.run_test(size=(100, 45)) as pilot:
        screen = await open_results(app, pilot)
        await wait_for(pilot, lambda: screen.query_one("#rank-chart", PlotextPlot).display, tries=200)
        assert [m["label"] for m in screen.data["rankings"][0]["models"]] == [m["label"] for m in expected]
        assert [m["score"] for m in screen.data["rankings"][0]["models"]] == [m["score"] for m in expected]
        await pilot.pause(0.2)
        text = drawn_text(app)
        best = expected[0]
        assert f"✓ {best['label']}  {best['score']:.0f}" in text  # the best clears the base, drawn first
        assert text.index(best["label"]) < text.index("base  1000 (base)")
        assert "36 judgments on 12 prompts" in str(screen.query_one("#rank-note").render())
