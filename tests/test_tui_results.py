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
        judges = lambda: {table.get_row_at(i)[4] for i in range(table.row_count)}  # noqa: E731
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


async def test_export_with_nothing_to_export_says_so(workspace):
    from tui.app import BrieApp

    app = BrieApp(workspace, poll_interval=0.1)
    async with app.run_test(size=(160, 45)) as pilot:
        await open_results(app, pilot)
        await pilot.press("j")
        await wait_for(pilot, lambda: "export judged" in notices(app))
        assert not (workspace.exports_dir / "judged.jsonl").exists()
