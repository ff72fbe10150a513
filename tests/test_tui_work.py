"""Long work started from the UI: live status with every outcome, and `q`/Ctrl-C stopping it cleanly."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from textual.widgets import Input, Select, Static

from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.tui_fixtures import wait_for

pytestmark = pytest.mark.anyio


def status_text(screen) -> str:
    return str(screen.query_one("#status", Static).render())


async def start_comparison(app, pilot, judge: str):
    from tui.screens.compare import CompareScreen

    await pilot.press("c")
    screen = app.screen
    assert isinstance(screen, CompareScreen)
    await wait_for(pilot, lambda: len(screen.query_one("#b", Select)._options) > 2, tries=200)
    screen.query_one("#suite", Select).value = "s"
    screen.query_one("#a", Select).value = "base"
    screen.query_one("#b", Select).value = "r1@10"
    screen.query_one("#judges", Input).value = judge
    screen.query_one("#max_tokens", Input).value = "8"  # what the template generated: nothing to generate
    await pilot.press("ctrl+s")
    return screen


class HeldJudge:
    """Answers the first four requests at once, then holds each until `release` is set: the work is
    surely still running when the test presses a key, however loaded the machine."""

    def __init__(self):
        import threading

        self.release = threading.Event()

    def __call__(self, call) -> dict:
        if call["n"] > 4:
            self.release.wait(20)
        return {"text": "[[A]]"}


def stored_judgments(ws) -> int:
    return ws.store.db.execute("select count(*) from judgments").fetchone()[0]


async def test_q_while_judging_asks_then_stops_the_judging_and_quits(fresh_ws, monkeypatch):
    from tests.judge_server import JudgeServer
    from tui.app import BrieApp
    from tui.screens.confirm import ConfirmScreen

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    judge = HeldJudge()
    with JudgeServer(judge) as server:
        app = BrieApp(fresh_ws, poll_interval=0.1)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await start_comparison(app, pilot, f"openai-compatible:judge@{server.url}/v1")
            await wait_for(pilot, lambda: screen.phase is not None and screen.phase.done >= 1, tries=200)
            job = screen.job
            text = status_text(screen)
            # every outcome counted, a clock and an estimate
            assert "Judging" in text and "valid" in text and "without a verdict" in text and "failed" in text, text
            assert "elapsed" in text and "left" in text, text
            await pilot.press("q")  # the question appears (wait_for fails if it never does)
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.query("#detail"))
            dialog = app.screen
            await wait_for(pilot, lambda: app.focused is not None)
            assert "Judging is running: stop it and quit?" in str(dialog.query_one(".title", Static).render())
            assert "What finished is kept" in str(dialog.query_one("#detail", Static).render())
            assert app.focused is dialog.query_one("#no")  # Enter would keep working
            await pilot.press("y")
        assert app.return_code in (0, None)
        assert job.stop.is_set()
        judge.release.set()
        job.thread.join(5)  # the requests in flight finish and are stored; no new one starts
        assert not job.thread.is_alive()
        calls = len(server.calls)
        time.sleep(0.8)
        assert len(server.calls) == calls  # nothing asked after the stop
    stored = stored_judgments(fresh_ws)
    assert 4 <= stored <= 8 and stored == calls  # what finished is kept, the rest left for a rerun


async def test_ctrl_c_quits_at_once_and_stops_the_judging(fresh_ws, monkeypatch):
    from tests.judge_server import JudgeServer
    from tui.app import BrieApp

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    judge = HeldJudge()
    with JudgeServer(judge) as server:
        app = BrieApp(fresh_ws, poll_interval=0.1)
        async with app.run_test(size=(120, 40)) as pilot:
            screen = await start_comparison(app, pilot, f"openai-compatible:judge@{server.url}/v1")
            await wait_for(pilot, lambda: screen.running, tries=200)
            job = screen.job
            await pilot.press("ctrl+c")
            await wait_for(pilot, lambda: not app.is_running)
        assert job.stop.is_set() and job in app.stopped_jobs
        judge.release.set()
        job.thread.join(5)
        assert not job.thread.is_alive()


async def test_the_quit_question_names_a_training_run_that_keeps_running(fresh_ws, tmp_path):
    from tui.app import BrieApp
    from tui.launch import Launched
    from tui.screens.confirm import ConfirmScreen
    from tui.work import start_job

    app = BrieApp(fresh_ws, poll_interval=0.1)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        async with app.run_test(size=(100, 30)) as pilot:
            app.follow(Launched("pirate-r16", proc, tmp_path / "log", ["train"], 0))
            job = start_job("Judging", lambda job: job.stop.wait(10))
            app.jobs.append(job)
            await pilot.press("q")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen.query("#detail"))
            detail = str(app.screen.query_one("#detail", Static).render())
            assert "pirate-r16" in detail and f"pid {proc.pid}" in detail and "keeps running" in detail, detail
            await pilot.press("n")  # keep working
            assert not isinstance(app.screen, ConfirmScreen) and app.is_running and not job.stop.is_set()
            await pilot.press("q", "y")
        job.thread.join(2)
        assert not job.thread.is_alive()
        assert proc.poll() is None  # the training process is not touched
    finally:
        proc.kill()


DELAY = {"s": 0.2}


def mixed_judge(call) -> dict:
    """One prompt's request fails (HTTP 400, not retried), two never get a verdict, the rest say [[A]]."""
    user = call["user"]
    if "Name a colour" in user:
        return {"status": 400, "delay": DELAY["s"]}
    if "fact number 1." in user or "fact number 2." in user:
        return {"text": "Both answers have merit.", "delay": DELAY["s"]}
    return {"text": "[[A]]", "delay": DELAY["s"]}


async def test_progress_counts_every_outcome_and_a_failure_says_and_stores_its_reason(fresh_ws, monkeypatch):
    from textual.widgets import ProgressBar

    from brie.store.judging import judge_failures
    from tests.judge_server import JudgeServer
    from tui.app import BrieApp

    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    DELAY["s"] = 0.2
    with JudgeServer(mixed_judge) as server:
        judge = f"openai-compatible:judge@{server.url}/v1"
        app = BrieApp(fresh_ws, poll_interval=0.1)
        async with app.run_test(size=(160, 45)) as pilot:
            screen = await start_comparison(app, pilot, judge)
            bar = screen.query_one("#progress", ProgressBar)
            await wait_for(pilot, lambda: not screen.running and "Done" in status_text(screen), tries=400)
            text = status_text(screen)
            # 12 judgments: 9 verdicts, 2 without one after 3 answers each, 1 failed request
            assert "9 valid, 6 without a verdict, 1 failed" in text, text
            assert bar.total == 12 and bar.progress == 12  # unparseable answers and failures move the bar
            assert "Failed: judge " in text and "BadRequestError" in text and "scripted 400" in text, text
            stored = judge_failures(fresh_ws.store, judge)
            assert len(stored) == 1 and "scripted 400" in stored[0]["error"]

            # Again: only the failed one is asked; "Starting…" shows no bar left from the last run.
            DELAY["s"] = 2.0  # its answer comes after the check below, on a loaded machine too
            await pilot.press("ctrl+s")
            assert not bar.display and bar.progress == 0 and "Starting" in status_text(screen)
            await wait_for(pilot, lambda: not screen.running and "Done" in status_text(screen), tries=400)
            assert "1 judgment asked" in status_text(screen) and len(judge_failures(fresh_ws.store, judge)) == 2
