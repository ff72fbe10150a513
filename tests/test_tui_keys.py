"""Keyboard: text fields keep their keys until `escape`, `r` goes back to the runs list, the runs list
filters (`/`) and sorts (`s`), the command palette carries brie's commands, and `?` explains the
screen on. Driven through Textual's pilot on the demo workspace."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Input

from tests.tui_fixtures import add_comparisons, fill_demo, wait_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def demo_ws(workspace):
    fill_demo(workspace)
    return workspace


def make_app(ws):
    from tui.app import BrieApp

    return BrieApp(ws, poll_interval=0.1)


async def test_keys_type_into_a_field_and_escape_leaves_it(demo_ws):
    from tui.screens.new_run import NewRunScreen
    from tui.screens.runs import RunsScreen

    app = make_app(demo_ws)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("n")
        assert isinstance(app.screen, NewRunScreen)
        name = app.screen.query_one("#name", Input)
        assert app.focused is name
        await pilot.press("b", "r", "q", "d")
        assert name.value == "brqd" and isinstance(app.screen, NewRunScreen)  # typed, not obeyed
        await pilot.press("escape")
        assert isinstance(app.screen, NewRunScreen)  # the first escape leaves the field only
        assert app.focused is not name
        await pilot.press("r")  # now the navigation keys act again
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))


async def test_r_after_run_detail_then_data_comes_back_to_the_runs_list(demo_ws):
    from tui.screens.data import DataScreen
    from tui.screens.run_detail import RunDetailScreen
    from tui.screens.runs import RunsScreen

    app = make_app(demo_ws)
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.screen.query_one("#runs", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DataScreen))
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        assert len(app.screen_stack) == 1
        # and `r` on a run leads back to the list too
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        await pilot.press("r")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))


async def test_slash_filters_and_s_sorts_the_runs_list(demo_ws):
    app = make_app(demo_ws)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = app.screen
        table = screen.query_one("#runs", DataTable)
        shown = lambda: [r.key.value for r in table.ordered_rows]  # noqa: E731
        await wait_for(pilot, lambda: table.row_count == 3)
        assert shown() == ["support-dry", "pirate-r16", "pirate-lora"]  # newest first
        await pilot.press("slash")
        assert isinstance(app.focused, Input)
        await pilot.press(*"pirate")
        await wait_for(pilot, lambda: shown() == ["pirate-r16", "pirate-lora"])
        await pilot.press("enter")  # back to the list, the filter kept
        assert app.focused is table
        await pilot.press("s")  # sort by name
        await wait_for(pilot, lambda: shown() == ["pirate-lora", "pirate-r16"])
        assert "name" in str(screen.query_one("#runs-state").render())
        await pilot.press("slash", "ctrl+u", "enter")  # an emptied filter shows all again
        await wait_for(pilot, lambda: shown() == ["pirate-lora", "pirate-r16", "support-dry"])
        # a filter that matches the status too
        await pilot.press("slash", *"failed", "enter")
        await wait_for(pilot, lambda: shown() == ["support-dry"])


async def test_running_runs_show_progress_and_time_left(demo_ws):
    from brie.store import Store

    other = Store(demo_ws.db_path)
    with other.transaction() as db:  # pirate-r16 started at 10:00, step 140 of 300 by 10:14
        db.execute("update metrics set at = '2026-11-22T10:14:00Z' where run_id = 2 and step = 140")
    other.close()
    app = make_app(demo_ws)
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.screen.query_one("#runs", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        cell = str(table.get_cell("pirate-r16", "progress"))
        # 140 steps in 14 minutes: the 160 left take 16 more
        assert cell == "140/300 47% ~16m left", cell
        assert str(table.get_cell("pirate-lora", "progress")) == "300/300"


async def test_a_run_that_completes_is_told(demo_ws):
    from brie.store import Store

    app = make_app(demo_ws)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.screen.query_one("#runs", DataTable).row_count == 3)
        await pilot.press("d")  # on another screen: still told
        other = Store(demo_ws.db_path)
        with other.transaction() as db:
            db["runs"].update(2, {"status": "completed", "step": 300})
        other.close()
        await wait_for(pilot, lambda: any("pirate-r16 completed" in n.message for n in app._notifications))


async def test_command_palette_offers_brie_commands(demo_ws):
    from textual.command import CommandPalette

    from tui.screens.run_detail import RunDetailScreen

    app = make_app(demo_ws)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("ctrl+p")
        await wait_for(pilot, lambda: isinstance(app.screen, CommandPalette))
        # Typed in one go (a key at a time, the palette searches after each, slowly under load).
        app.screen.query_one(Input).value = "pirate-r16"
        from textual.command import CommandList

        hits = app.screen.query_one(CommandList)
        await wait_for(pilot, lambda: hits.option_count and "Open run pirate-r16" in str(hits.get_option_at_index(0).prompt))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        assert app.screen.run_name == "pirate-r16"

        from tui.commands import brie_commands

        names = [name for name, _, _ in brie_commands(app, [])]
        for wanted in ("New run", "Compare", "Blind session", "Export judged JSONL", "Export results CSV",
                       "Export DPO pairs", "Runs", "Data", "Results"):
            assert wanted in names
        # An export from the palette goes to Results and writes with its filters, as `x` there does.
        add_comparisons(demo_ws, ["a", "b"], llm_judge="anthropic:judge-one")
        export_csv = dict((name, go) for name, go, _ in brie_commands(app, []))["Export results CSV"]
        await export_csv()
        await wait_for(pilot, lambda: (demo_ws.exports_dir / "results.csv").exists())


async def test_question_mark_explains_the_screen_on(demo_ws):
    from tui.screens.help import HelpScreen

    app = make_app(demo_ws)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert app.screen.section == "Runs"
        text = app.screen.text
        assert "Filter" in text and text.index("Runs") < text.index("Everywhere")
        await pilot.press("escape", "v")
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen) and app.screen.section == "Results"


async def test_disabled_actions_are_not_offered(demo_ws):
    from tui.screens.run_detail import RunDetailScreen

    app = make_app(demo_ws)
    async with app.run_test(size=(140, 40)) as pilot:
        app.push_screen(RunDetailScreen("pirate-lora"))  # completed: nothing to resume or cancel
        await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.run is not None)
        await pilot.pause(0.1)
        keys = {b.binding.action for b in app.active_bindings.values() if b.enabled}
        assert "resume" not in keys and "cancel_run" not in keys
        assert "recommend" in keys and "export" in keys


async def test_empty_states_say_what_to_do_next_where_the_user_looks(workspace):
    from textual.widgets import Select

    from tui.screens.compare import CompareScreen

    app = make_app(workspace)  # nothing in it
    async with app.run_test(size=(80, 24)) as pilot:
        empty = app.screen.query_one("#empty")
        await wait_for(pilot, lambda: "No runs yet" in str(empty.render()))
        assert "Press n" in str(empty.render())
        assert empty.region.y <= 5  # under the title, not at the bottom of the screen
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen))
        suite = app.screen.query_one("#suite", Select)
        await wait_for(pilot, lambda: "brie suites import" in str(suite.prompt))
        await pilot.press("d")
        report = app.screen.query_one("#report")
        await wait_for(pilot, lambda: "No datasets yet" in str(report.render()))


def footer_keys(app) -> dict:
    from textual.widgets import Footer

    footer = app.screen.query_one(Footer)
    return {k.key: k.region for k in footer.children if getattr(k, "key", None) and k.region.width}


@pytest.mark.parametrize("where", ["run", "new run", "blind"])
async def test_the_footer_fits_80_columns_on_busy_screens(demo_ws, where):
    import random

    from tests.tui_fixtures import add_comparisons
    from tui.screens.blind import BlindSessionScreen, BlindSetup
    from tui.screens.run_detail import RunDetailScreen

    add_comparisons(demo_ws, ["a", "b"])
    app = make_app(demo_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        if where == "run":  # a running run with checkpoints offers the most: back, mark, cancel, prune, export
            app.push_screen(RunDetailScreen("pirate-r16"))
            await wait_for(pilot, lambda: app.screen.run is not None, tries=200)
            wanted = {"escape", "m", "x", "p", "e"}
        elif where == "new run":
            await pilot.press("n", "escape")  # out of the name field: every key of the form shows
            wanted = {"escape", "ctrl+s"}
        else:
            app.push_screen(BlindSessionScreen(BlindSetup("ann", None), rng=random.Random(0)))
            await wait_for(pilot, lambda: app.screen.items is not None, tries=200)
            wanted = {"a", "b", "t", "s", "u", "escape"}
        wanted |= {"question_mark", "q"}
        await wait_for(pilot, lambda: wanted <= set(footer_keys(app)))
        assert all(region.right <= 80 for region in footer_keys(app).values()), footer_keys(app)
        if where != "blind":  # the screen keys still work, though the footer leaves them out
            await pilot.press("d")
            from tui.screens.data import DataScreen

            await wait_for(pilot, lambda: isinstance(app.screen, DataScreen))
