"""Compare from the UI: tiny model, stored checkpoint, a local judge server; results show the win rate."""

from __future__ import annotations

import pytest

from tests.tui_fixtures import wait_for
from textual.widgets import DataTable, Input, Select, Static

pytestmark = pytest.mark.anyio


async def wait_for(pilot, condition, tries: int = 600):
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition never held")


async def test_compare_generates_judges_and_results_show_it(workspace, tiny_model_dir, monkeypatch):
    from tests.judge_fixtures import make_adapter, setup_workspace
    from tests.judge_server import JudgeServer
    from tui.app import BrieApp
    from tui.screens.compare import CompareScreen
    from tui.screens.results import ResultsScreen

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    adapter = make_adapter(tiny_model_dir, workspace.root / "adapters" / "r1" / "10")
    setup_workspace(workspace, tiny_model_dir, adapter)
    with JudgeServer(lambda call: {"text": "A is better. [[A]]"}) as server:
        judge = f"openai-compatible:judge@{server.url}/v1"
        app = BrieApp(workspace, poll_interval=0.1)
        async with app.run_test(size=(150, 45)) as pilot:
            await pilot.press("c")
            screen = app.screen
            assert isinstance(screen, CompareScreen)
            await wait_for(pilot, lambda: len(screen.query_one("#b", Select)._options) > 2)
            screen.query_one("#suite", Select).value = "s"
            screen.query_one("#a", Select).value = "base"
            screen.query_one("#b", Select).value = "r1@10"
            screen.query_one("#judges", Input).value = judge
            screen.query_one("#max_tokens", Input).value = "8"
            await pilot.press("ctrl+s")
            await wait_for(pilot, lambda: not screen.running and "Done" in str(screen.query_one("#status", Static).render()))
            status = str(screen.query_one("#status", Static).render())
            assert "4 comparisons" in status and "4 valid, 0 without a verdict, 0 failed" in status, status
            assert screen.last is not None and screen.last.phase == "judge"
            await pilot.press("v")
            results = app.screen
            assert isinstance(results, ResultsScreen)
            await wait_for(pilot, lambda: results.data is not None and results.data.get("results"))
            table = results.query_one("#results", DataTable)
            keys = [str(c.key.value) for c in table.ordered_columns]
            row = dict(zip(keys, table.get_row_at(0)))
            assert (row["a"], row["b"], row["n"]) == ("base", "r1@10", 4)
            # A judge that always says [[A]] picks whichever answer was shown first.
            assert str(row["first"]).startswith("100%")
