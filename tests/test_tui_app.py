"""The UI shell, the Runs screen and the run detail, driven through Textual's pilot."""

from __future__ import annotations

import subprocess
import sys

import pytest
from textual.widgets import DataTable

from brie.store import Store
from tests.tui_fixtures import add_checkpoint, fill_demo, wait_for

pytestmark = pytest.mark.anyio


@pytest.fixture
def demo_ws(workspace):
    fill_demo(workspace)
    return workspace


def make_app(ws):
    from tui.app import BrieApp

    return BrieApp(ws, poll_interval=0.1)


def test_brie_core_imports_no_textual():
    code = ("import sys, brie, brie.cli, brie.workspace, brie.store.ui, brie.cli.tui; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'tui')]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


async def test_runs_screen_shows_runs_and_follows_a_run_written_elsewhere(demo_ws):
    app = make_app(demo_ws)
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.screen.query_one("#runs", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        assert [r.key.value for r in table.ordered_rows] == ["support-dry", "pirate-r16", "pirate-lora"]
        assert str(table.get_cell("support-dry", "dataset")) == "support-logs v2 ×0.25"

        # Another process (a terminal's `brie train`) writes through its own connection.
        other = Store(demo_ws.db_path)
        with other.transaction() as db:
            db["runs"].update(2, {"step": 150})
            db["runs"].insert({"id": 4, "name": "from-terminal", "model": "m", "dataset_id": 1, "backend": "mlx",
                               "method": "lora", "status": "running", "step": 3, "total_steps": 10})
        other.close()
        await wait_for(pilot, lambda: table.row_count == 4)
        await wait_for(pilot, lambda: table.get_cell("pirate-r16", "progress") == "150/300 50%")  # running: with its %
        assert [r.key.value for r in table.ordered_rows][0] == "from-terminal"


async def test_enter_opens_run_detail_with_checkpoints_and_curves(demo_ws):
    from tui.screens.run_detail import RunDetailScreen

    app = make_app(demo_ws)
    async with app.run_test(size=(140, 40)) as pilot:
        table = app.screen.query_one("#runs", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        await pilot.press("down", "down", "enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        screen = app.screen
        assert screen.run_name == "pirate-lora"
        checkpoints = screen.query_one("#checkpoints", DataTable)
        await wait_for(pilot, lambda: checkpoints.row_count == 6)
        assert checkpoints.get_cell("200", "mark") == "★✓"
        assert set(screen._shown_series) == {"train_loss", "val_loss"}
        # A checkpoint written by the training process appears without any key press.
        other = type(demo_ws)(demo_ws.root)  # a second Workspace: its own connection
        with other.store.transaction():
            add_checkpoint(other, 1, 350)
        other.close()
        await wait_for(pilot, lambda: checkpoints.row_count == 7)
        await pilot.press("escape")
        assert not isinstance(app.screen, RunDetailScreen)


async def test_help_screen_opens_and_closes(demo_ws):
    from tui.screens.help import HelpScreen

    app = make_app(demo_ws)
    async with app.run_test() as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_mode_keys_switch_screens(demo_ws):
    from tui.screens.data import DataScreen

    app = make_app(demo_ws)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("d")
        assert isinstance(app.screen, DataScreen)
        datasets = app.screen.query_one("#datasets", DataTable)
        await wait_for(pilot, lambda: datasets.row_count == 2)
        suites = app.screen.query_one("#suites", DataTable)
        assert suites.row_count == 1
        assert "normalizations" in str(app.screen.query_one("#report").render())
        await pilot.press("r")
        assert app.screen.query_one("#runs", DataTable)


STOPPABLE = """
import signal, sys, time
from brie.store import Store
store = Store(sys.argv[1])
def stop(*_):
    with store.transaction() as db:
        db["runs"].update(int(sys.argv[2]), {"status": "cancelled"})
    sys.exit(130)
signal.signal(signal.SIGTERM, stop)
print("ready", flush=True)
time.sleep(60)
"""


async def test_cancel_sends_sigterm_to_the_runs_process(demo_ws):
    """The run's process (here a stand-in that, like `brie train`, marks the run cancelled on SIGTERM)."""
    from tui.screens.confirm import ConfirmScreen
    from tui.screens.run_detail import RunDetailScreen

    proc = subprocess.Popen([sys.executable, "-c", STOPPABLE, str(demo_ws.db_path), "2"], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        with demo_ws.store.transaction() as db:
            db["runs"].update(2, {"pid": proc.pid})
        app = make_app(demo_ws)
        async with app.run_test(size=(140, 40)) as pilot:
            app.push_screen(RunDetailScreen("pirate-r16"))
            await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.run is not None)
            await pilot.press("x")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            await pilot.press("y")
            assert proc.wait(timeout=30) == 130
            await wait_for(pilot, lambda: app.screen.run["status"] == "cancelled")
    finally:
        if proc.poll() is None:
            proc.kill()


def test_plain_brie_without_a_workspace_says_how_to_make_one(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from brie.cli import app

    monkeypatch.setenv("BRIE_HOME", str(tmp_path / "nothing-here"))
    result = CliRunner().invoke(app, [])
    assert result.exit_code == 0
    # on one line: a path or command broken by an inserted newline cannot be copied
    assert f"No brie workspace at {tmp_path / 'nothing-here'}: `brie init` makes one" in result.output
    result = CliRunner().invoke(app, ["tui"])
    assert result.exit_code == 1 and "no brie workspace" in result.output


async def test_mark_recommended_then_prune_keeps_best_last_and_recommended(demo_ws):
    from brie.store.runs import get_run, list_checkpoints
    from tui.screens.confirm import ConfirmScreen
    from tui.screens.run_detail import RunDetailScreen

    app = make_app(demo_ws)
    async with app.run_test(size=(140, 40)) as pilot:
        app.push_screen(RunDetailScreen("pirate-lora"))
        await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.checkpoints)
        table = app.screen.query_one("#checkpoints", DataTable)
        table.focus()
        await pilot.press("down", "down", "down", "down")  # step 250
        await pilot.press("m")
        await wait_for(pilot, lambda: app.screen.run["recommended_step"] == 250)
        await wait_for(pilot, lambda: table.get_cell("250", "mark") == " ✓")
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "50, 100, 150" in str(app.screen.query_one("#detail").render())
        await pilot.press("y")
        await wait_for(pilot, lambda: table.row_count == 3)
    run = get_run(demo_ws.store, "pirate-lora")
    assert [c["step"] for c in list_checkpoints(demo_ws.store, run["id"])] == [200, 250, 300]


def drawn_text(app) -> str:
    """The terminal's text as drawn (the SVG screenshot's text runs)."""
    import html
    import re

    svg = app.export_screenshot()
    return "".join(html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)).replace(
        "\xa0", " ")


def store_sweep(ws, run_name="pirate-lora", benchmark="gsm8k:gsm8k_test.jsonl"):
    """Results as `brie eval --sweep` stores them: base once, then each checkpoint of the run."""
    from brie.store import evals as eval_rows
    from brie.store.runs import get_run, list_checkpoints

    settings = {"limit": 10, "shots": 0}
    points = [(None, None, {"strict": 0.2, "flexible": 0.25, "n": 10})]
    run = get_run(ws.store, run_name)
    for c, (strict, flexible) in zip(list_checkpoints(ws.store, run["id"])[1::2], [(0.3, 0.4), (0.1, 0.5), (0.0, 0.3)]):
        points.append((c["step"], c["adapter_sha256"], {"strict": strict, "flexible": flexible, "n": 10}))
    for step, sha, metrics in points:
        row = eval_rows.get_or_create_result(
            ws.store, label="base" if step is None else f"{run_name}@{step}", model=run["model"],
            run=None if step is None else run_name, step=step, adapter_sha256=sha, benchmark=benchmark,
            settings=settings, n_items=10)
        eval_rows.finish_result(ws.store, row["id"], metrics)


async def test_run_detail_plots_each_eval_metric_against_step_with_the_base_line(demo_ws):
    from textual_plotext import PlotextPlot

    from tui.screens.run_detail import RunDetailScreen

    app = make_app(demo_ws)
    async with app.run_test(size=(160, 45)) as pilot:
        app.push_screen(RunDetailScreen("pirate-lora"))
        await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.run is not None)
        screen = app.screen
        sweep = screen.query_one("#sweep", PlotextPlot)
        assert not sweep.display and "Next chart" not in drawn_text(app)  # no evals: no chart, no key

        store_sweep(demo_ws)  # `brie eval --sweep` finishing while the screen is open
        await wait_for(pilot, lambda: sweep.display)
        assert screen.sweep_charts == [("eval", "gsm8k:gsm8k_test.jsonl", "flexible"), ("eval", "gsm8k:gsm8k_test.jsonl", "strict")]
        assert screen.sweep["gsm8k:gsm8k_test.jsonl"]["steps"] == [100, 200, 300]
        await pilot.pause(0.1)
        text = drawn_text(app)
        assert "gsm8k:gsm8k_test.jsonl: flexible" in text and "base 0.25" in text and "pirate-lora" in text
        assert "Next chart" in text
        await pilot.press("s")
        await pilot.pause(0.1)
        text = drawn_text(app)
        assert "gsm8k:gsm8k_test.jsonl: strict" in text and "base 0.2" in text


@pytest.mark.parametrize("key", ["r", "v"])
async def test_help_and_quit_fit_in_an_80_column_footer(demo_ws, key):
    from textual.widgets import Footer

    app = make_app(demo_ws)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press(key)
        await pilot.pause(0.3)
        footer = app.screen.query_one(Footer)

        def shown():
            return {k.key: k.region for k in footer.children if getattr(k, "key", None) and k.region.width}

        await wait_for(pilot, lambda: {"question_mark", "q"} <= set(shown()))
        keys = shown()
        for k in ("question_mark", "q"):
            assert keys[k].right <= 80, f"{k} cut off at 80 columns"
        if key == "r":
            assert "r" not in keys  # the key of the screen already on makes room


async def test_confirm_dialogs_focus_the_safe_answer_and_say_their_keys(demo_ws):
    from textual.widgets import Button, Static

    from tui.screens.confirm import ConfirmScreen

    app = make_app(demo_ws)
    answers = []
    async with app.run_test(size=(80, 24)) as pilot:
        app.push_screen(ConfirmScreen("Delete 3 checkpoints?", "Steps: 50, 100, 150", yes="Delete"), answers.append)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.query("#no"))
        dialog = app.screen
        await wait_for(pilot, lambda: app.focused is not None)
        assert app.focused is dialog.query_one("#no", Button)
        assert str(dialog.query_one("#yes", Button).label) == "Delete (y)"
        assert str(dialog.query_one("#no", Button).label) == "No (n)"
        assert "y or n" in str(dialog.query_one("#keys", Static).render())
        await pilot.press("enter")  # a stray Enter keeps the checkpoints
        await wait_for(pilot, lambda: answers == [False])

        app.push_screen(ConfirmScreen("Export again?", yes="Export again", danger=False), answers.append)
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.query("#yes"))
        assert app.screen.query_one("#yes", Button).variant == "primary"  # nothing is lost: not in red
        await pilot.press("y")
        await wait_for(pilot, lambda: answers == [False, True])
