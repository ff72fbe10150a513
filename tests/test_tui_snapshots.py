"""Snapshots of the main screens on the fixed demo workspace (pytest-textual-snapshot).

Each screen at 80×24 (a laptop terminal: everything, the footer included, must fit) and at 160×45.
Update after an intended change with `pytest tests/test_tui_snapshots.py --snapshot-update`, then
look at the SVGs (snapshot_report.html shows the differences when one fails).
"""

from __future__ import annotations

import random

import pytest

from tests.tui_fixtures import add_comparisons, fill_demo

SIZES = pytest.mark.parametrize("size", [(80, 24), (160, 45)], ids=["80x24", "160x45"])


async def settle(pilot, condition, tries: int = 100):
    from textual.css.query import NoMatches

    for _ in range(tries):
        try:
            if condition():
                break
        except NoMatches:  # the screen has not composed yet
            pass
        await pilot.pause(0.05)
    # Under load a table row could be painted before its columns reached their final widths (seen
    # on CI: the cursor row cut short); repaint everything once the condition holds.
    await pilot.pause(0.1)
    pilot.app.screen.refresh(layout=True)
    for widget in pilot.app.screen.walk_children():
        widget.refresh()
    await pilot.pause(0.1)


def demo_app(ws):
    from tui.app import BrieApp

    app = BrieApp(ws, poll_interval=0.1)
    app.sub_title = "demo workspace"  # the real one is a temporary path that changes every run
    return app


@pytest.fixture
def demo_ws(workspace):
    fill_demo(workspace)
    return workspace


@SIZES
def test_runs_screen(snap_compare, demo_ws, size):
    app = demo_app(demo_ws)

    async def loaded(pilot):
        await settle(pilot, lambda: app.screen.query_one("#runs").row_count == 3)

    assert snap_compare(app, terminal_size=size, run_before=loaded)


@SIZES
def test_run_detail_screen(snap_compare, demo_ws, size):
    from tui.screens.run_detail import RunDetailScreen

    app = demo_app(demo_ws)

    async def opened(pilot):
        app.push_screen(RunDetailScreen("pirate-lora"))
        await settle(pilot, lambda: isinstance(app.screen, RunDetailScreen)
                     and app.screen.query_one("#checkpoints").row_count == 6)

    assert snap_compare(app, terminal_size=size, run_before=opened)


def test_run_detail_screen_with_eval_sweep(snap_compare, demo_ws):
    """The eval metric chart beside the loss curves, after `brie eval --sweep pirate-lora`."""
    from tests.test_tui_app import store_sweep
    from tui.screens.run_detail import RunDetailScreen

    store_sweep(demo_ws)
    app = demo_app(demo_ws)

    async def opened(pilot):
        app.push_screen(RunDetailScreen("pirate-lora"))
        await settle(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.sweep_charts
                     and app.screen.query_one("#checkpoints").row_count == 6)

    assert snap_compare(app, terminal_size=(160, 45), run_before=opened)


@SIZES
def test_data_screen(snap_compare, demo_ws, size):
    app = demo_app(demo_ws)

    async def loaded(pilot):
        await pilot.press("d")
        await settle(pilot, lambda: app.screen.query_one("#datasets").row_count == 2)

    assert snap_compare(app, terminal_size=size, run_before=loaded)


@SIZES
def test_new_run_screen(snap_compare, demo_ws, size):
    app = demo_app(demo_ws)

    async def filled(pilot):
        await pilot.press("n")
        await settle(pilot, lambda: len(app.screen.query_one("#data")._options) > 1)
        app.screen.query_one("#name").value = "pirate-r32"  # set, not typed: a key at a time is slow under load
        app.screen.query_one("#rank").value = "32"
        app.screen.query_one("#name").cursor_blink = False  # a blinking cursor is on or off by chance
        await pilot.pause(0.1)

    assert snap_compare(app, terminal_size=size, run_before=filled)


@SIZES
def test_blind_session_screen(snap_compare, workspace, size):
    from tui.screens.blind import BlindSessionScreen, BlindSetup

    add_comparisons(workspace, ["b", "a", "b"])
    app = demo_app(workspace)

    async def started(pilot):
        app.push_screen(BlindSessionScreen(BlindSetup("ann", None), rng=random.Random(0)))
        await settle(pilot, lambda: isinstance(app.screen, BlindSessionScreen) and app.screen.items is not None)

    assert snap_compare(app, terminal_size=size, run_before=started)


@SIZES
def test_results_screen(snap_compare, workspace, size):
    add_comparisons(workspace, ["a", "b"] * 4, llm_judge="anthropic:claude-sonnet-5-5")
    app = demo_app(workspace)

    async def loaded(pilot):
        await pilot.press("v")
        await settle(pilot, lambda: getattr(app.screen, "data", None) is not None, tries=200)

    assert snap_compare(app, terminal_size=size, run_before=loaded)
