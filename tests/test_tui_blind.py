"""The blind session: nothing identifies a model before the reveal; verdicts map to the right model."""

from __future__ import annotations

import html
import re

import pytest
from textual.widgets import DataTable, Static

from tests.tui_fixtures import SECRET_MODEL, SECRET_RUN, SECRET_STEP, add_comparisons, fill_demo, wait_for

pytestmark = pytest.mark.anyio

SECRETS = [SECRET_MODEL, SECRET_RUN, str(SECRET_STEP), "base", "pirate-lora"]


def screen_text(app) -> str:
    """Everything drawn on the terminal: the text of the SVG screenshot, plus each Static's content."""
    svg = app.export_screenshot()
    drawn = " ".join(html.unescape(t) for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S))
    statics = " ".join(str(w.render()) for w in app.screen.query(Static))
    return drawn.replace("\xa0", " ") + "\n" + statics


def shown_text(app, side: str) -> str:
    return str(app.screen.query_one(f"#text-{side}", Static).render())


async def start_session(app, pilot, name="ann"):
    from tui.screens.blind import BlindSessionScreen, BlindSetup

    app.push_screen(BlindSessionScreen(BlindSetup(name, None)))
    await wait_for(pilot, lambda: isinstance(app.screen, BlindSessionScreen) and app.screen.items is not None)
    return app.screen


async def test_no_model_name_run_or_step_before_the_reveal(workspace):
    from tui.app import BrieApp

    fill_demo(workspace)
    add_comparisons(workspace, ["a", "b", "b", "a"], llm_judge="anthropic:claude-test")
    app = BrieApp(workspace, poll_interval=0.1)
    async with app.run_test(size=(150, 45)) as pilot:
        session = await start_session(app, pilot)
        assert len(session.items) == 4
        for item in session.items:  # the data the screen holds carries no identity either
            assert not {"a_label", "b_label", "a_model", "b_model", "a_run", "b_run"} & set(item)
        for _ in range(4):
            text = screen_text(app)
            assert "ALPHA" in text or "BETA" in text  # the answers themselves are shown …
            for secret in SECRETS:  # … and nothing that says whose they are
                assert secret not in text, f"{secret!r} visible before the reveal"
            await pilot.press("t")
        text = screen_text(app)
        assert not any(secret in text for secret in SECRETS)

        from tui.screens.reveal import RevealScreen

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RevealScreen) and app.screen.revealed is not None)
        await pilot.pause(0.1)
        revealed = screen_text(app)
        assert f"{SECRET_RUN}@{SECRET_STEP}" in revealed  # after the session, the names are shown
        agreement = app.screen.query_one("#agreement", DataTable)
        assert agreement.get_row_at(0)[0] == "anthropic:claude-test"


@pytest.mark.parametrize("key", ["a", "b"])
async def test_verdict_maps_to_the_model_whose_answer_was_chosen_in_both_orders(workspace, key):
    from tui.app import BrieApp

    made = add_comparisons(workspace, ["a", "b"])
    app = BrieApp(workspace, poll_interval=0.1)
    expected = {}
    async with app.run_test(size=(150, 45)) as pilot:
        session = await start_session(app, pilot)
        for _ in made:
            item = session.current()
            chosen_text = shown_text(app, key)
            # The answer text says which model wrote it: ALPHA is side a, BETA side b.
            expected[item["comparison_id"]] = "a" if "ALPHA" in chosen_text else "b"
            await pilot.press(key)
        await wait_for(pilot, lambda: session.recorded == len(made))
    rows = {r["comparison_id"]: r for r in workspace.store.db["judgments"].rows_where("judge = ?", ["human:ann"])}
    assert {cid: r["verdict"] for cid, r in rows.items()} == expected
    by_order = {m["shown_first"]: rows[m["comparison_id"]]["verdict"] for m in made}
    # Pressing A picks whatever was shown first; pressing B the other one — for both stored orders.
    if key == "a":
        assert by_order == {"a": "a", "b": "b"}
    else:
        assert by_order == {"a": "b", "b": "a"}


async def test_undo_skip_and_resume(workspace):
    from tui.app import BrieApp

    made = add_comparisons(workspace, ["a", "b", "a"])
    app = BrieApp(workspace, poll_interval=0.1)
    async with app.run_test(size=(150, 45)) as pilot:
        session = await start_session(app, pilot)
        first = session.current()["comparison_id"]
        await pilot.press("a", "u")  # changed my mind
        assert session.current()["comparison_id"] == first
        await pilot.press("b", "s")  # B on the first, skip the second
        await wait_for(pilot, lambda: session.recorded == 1)
    rows = list(workspace.store.db["judgments"].rows_where("judge = ?", ["human:ann"]))
    assert [r["comparison_id"] for r in rows] == [first]
    shown_first = next(m["shown_first"] for m in made if m["comparison_id"] == first)
    assert rows[0]["verdict"] == ("b" if shown_first == "a" else "a")

    app = BrieApp(workspace, poll_interval=0.1)  # a new session resumes with what is left
    async with app.run_test(size=(150, 45)) as pilot:
        session = await start_session(app, pilot)
        assert len(session.items) == 2 and first not in {i["comparison_id"] for i in session.items}


async def test_b_asks_for_a_name_then_starts_the_session(workspace):
    from textual.widgets import Input

    from tui.app import BrieApp
    from tui.screens.blind import BlindSessionScreen, BlindSetupScreen

    add_comparisons(workspace, ["a", "b"])
    app = BrieApp(workspace, poll_interval=0.1)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.press("b")
        assert isinstance(app.screen, BlindSetupScreen)
        app.screen.query_one("#judge-name", Input).value = "bo"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BlindSessionScreen) and app.screen.items is not None)
        assert app.screen.setup.name == "bo" and len(app.screen.items) == 2
        await pilot.press("t")
        await wait_for(pilot, lambda: app.screen.recorded == 1)
    assert [r["judge"] for r in workspace.store.db["judgments"].rows] == ["human:bo"]


async def test_notices_naming_a_run_wait_until_the_session_is_over(workspace, tmp_path):
    """"Started run X" and "X exited…" are app-wide toasts; over a blind session they would name a run."""
    import subprocess
    import sys

    from tui.app import BrieApp
    from tui.launch import Launched
    from tui.messages import RunLaunched
    from tui.screens.reveal import RevealScreen

    add_comparisons(workspace, ["a", "b"])
    app = BrieApp(workspace, poll_interval=0.1)

    def notices() -> str:
        return " ".join(n.message for n in app._notifications)

    async with app.run_test(size=(150, 45)) as pilot:
        # still up when the session starts; a long timeout, since it comes back only for the time it
        # has left, and on a loaded machine the session below can outlast the default 5 s
        app.notify(f"Started run {SECRET_RUN} (pid 1)", timeout=120)
        await wait_for(pilot, lambda: SECRET_RUN in notices())
        await start_session(app, pilot)
        await pilot.pause(0.1)
        app.post_message(RunLaunched(SECRET_RUN, 4242, ["train"]))
        failing = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
        app.follow(Launched(SECRET_RUN, failing, tmp_path / "none.log", ["train"], 0))
        await wait_for(pilot, lambda: not app.launched)  # the app has seen it exit
        await pilot.pause(1.2)  # past the app's one-second release tick
        assert SECRET_RUN not in notices()
        assert SECRET_RUN not in screen_text(app)
        assert len(app.held_notices) == 3  # the old toast, started, exited
        await pilot.press("u")  # the session's own notice names nothing and shows at once
        await wait_for(pilot, lambda: "Nothing to undo." in notices())
        assert SECRET_RUN not in screen_text(app)

        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RevealScreen))
        await wait_for(pilot, lambda: f"{SECRET_RUN} exited with code 3" in notices())
        assert f"Started run {SECRET_RUN} (pid 4242)" in notices() and not app.held_notices
        def title(start: str) -> str:
            (found,) = [n.title for n in app._notifications if n.message.startswith(start)]
            return found

        assert title(f"Started run {SECRET_RUN} (pid 4242)") == "During the blind session"
        # The toast from before the session is shown again as it was: it did not arise during it.
        assert title(f"Started run {SECRET_RUN} (pid 1)") != "During the blind session"


def notice_messages(app) -> str:
    return " ".join(n.message for n in app._notifications)


@pytest.mark.parametrize("key", ["r", "d", "c", "n"])
async def test_leaving_with_an_app_key_ends_the_session_and_b_resumes_with_what_is_left(workspace, key):
    """The repro: v, b, a name, enter, a, a, then another screen's key, then v: no stale session."""
    from textual.widgets import Input

    from tui.app import BrieApp
    from tui.screens.blind import BlindSessionScreen, BlindSetupScreen
    from tui.screens.results import ResultsScreen

    add_comparisons(workspace, ["a", "b", "a", "b"])
    app = BrieApp(workspace, poll_interval=0.1)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen))
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BlindSetupScreen))
        app.screen.query_one("#judge-name", Input).value = "tester"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BlindSessionScreen) and app.screen.items is not None)
        session = app.screen
        await pilot.press("a", "a")
        await pilot.press(key)
        await wait_for(pilot, lambda: not any(isinstance(s, BlindSessionScreen) for s in app.screen_stack))
        await wait_for(pilot, lambda: "Blind session ended: 2 verdicts given as human:tester" in notice_messages(app))
        await wait_for(pilot, lambda: session.recorded == 2)  # what was queued is still written
        if key == "n":
            await pilot.press("escape")  # out of the new-run form
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(app.screen, ResultsScreen))  # not the old session

        app.clear_notifications()
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BlindSetupScreen))
        await wait_for(pilot, lambda: app.screen.query_one("#judge-name", Input).value == "tester")  # prefilled
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, BlindSessionScreen) and app.screen.items is not None)
        assert len(app.screen.items) == 2  # only what is left
        await pilot.press("a")
        await wait_for(pilot, lambda: app.screen.recorded == 1)
        assert "could not store" not in notice_messages(app)
    judged = [r["comparison_id"] for r in workspace.store.db["judgments"].rows_where("judge = ?", ["human:tester"])]
    assert len(judged) == len(set(judged)) == 3


async def test_the_name_dialog_offers_the_last_human_judge_of_the_workspace(workspace):
    from textual.widgets import Input

    from brie.judging.human import record_human_verdict
    from tui.app import BrieApp
    from tui.screens.blind import BlindSetupScreen

    made = add_comparisons(workspace, ["a", "b"])
    record_human_verdict(workspace, made[0]["comparison_id"], "old-name", "tie")
    record_human_verdict(workspace, made[1]["comparison_id"], "zoe", "tie")  # the most recent
    app = BrieApp(workspace, poll_interval=0.1)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.press("b")
        await wait_for(pilot, lambda: isinstance(app.screen, BlindSetupScreen))
        await wait_for(pilot, lambda: app.screen.query_one("#judge-name", Input).value == "zoe")


async def test_a_verdict_that_cannot_be_stored_is_taken_back(workspace, monkeypatch):
    import brie.judging.human
    from brie.errors import BrieError
    from tui.app import BrieApp

    add_comparisons(workspace, ["a", "b", "a"])
    real = brie.judging.human.record_human_verdict
    calls = []

    def flaky(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise BrieError("database is locked")
        return real(*args, **kwargs)

    monkeypatch.setattr(brie.judging.human, "record_human_verdict", flaky)
    app = BrieApp(workspace, poll_interval=0.1)
    async with app.run_test(size=(150, 45)) as pilot:
        session = await start_session(app, pilot)
        first = session.current()["comparison_id"]
        await pilot.press("a")
        await wait_for(pilot, lambda: "could not store the verdict: database is locked" in notice_messages(app))
        # Not advanced past it: the same prompt is shown again, and nothing counts as judged.
        assert session.current()["comparison_id"] == first and session.index == 0
        assert session.history == [] and session.recorded == 0 and session.verdicts_given() == 0
        await pilot.press("b")
        await wait_for(pilot, lambda: session.recorded == 1)
        assert session.history[0].comparison_id == first
    rows = list(workspace.store.db["judgments"].rows_where("judge = ?", ["human:ann"]))
    assert [r["comparison_id"] for r in rows] == [first]


async def test_a_prompt_judged_elsewhere_meanwhile_is_not_counted_nor_undone(workspace):
    from brie.judging.human import record_human_verdict
    from tui.app import BrieApp
    from tui.screens.reveal import RevealScreen

    add_comparisons(workspace, ["a", "b", "a"])
    app = BrieApp(workspace, poll_interval=0.1)
    async with app.run_test(size=(150, 45)) as pilot:
        session = await start_session(app, pilot)
        first = session.current()["comparison_id"]
        record_human_verdict(workspace, first, "ann", "tie")  # another session under the same name
        await pilot.press("a")
        await wait_for(pilot, lambda: f"human:ann already judged comparison {first}" in notice_messages(app))
        await wait_for(pilot, lambda: not session.history)
        assert first not in {i["comparison_id"] for i in session.items[session.index:]}
        assert session.index == 0 and len(session.items) == 2
        await pilot.press("u")  # nothing of this session to undo: the other session's verdict stays
        await wait_for(pilot, lambda: "Nothing to undo." in notice_messages(app))
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RevealScreen) and app.screen.revealed is not None)
        summary = str(app.screen.query_one("#summary", Static).render())
        assert summary.startswith("You judged 0 comparisons this session")
    rows = list(workspace.store.db["judgments"].rows_where("judge = ?", ["human:ann"]))
    assert [(r["comparison_id"], r["raw"]) for r in rows] == [(first, "tie")]


async def test_a_resumed_session_drops_what_was_judged_meanwhile(workspace):
    from brie.judging.human import record_human_verdict
    from tui.app import BrieApp
    from tui.screens.blind import BlindSessionScreen
    from tui.screens.help import HelpScreen

    add_comparisons(workspace, ["a", "b", "a"])
    app = BrieApp(workspace, poll_interval=0.1)
    async with app.run_test(size=(150, 45)) as pilot:
        session = await start_session(app, pilot)
        await pilot.press("t")
        await wait_for(pilot, lambda: session.recorded == 1)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        later = session.items[2]["comparison_id"]
        record_human_verdict(workspace, later, "ann", "tie")  # judged elsewhere while help was up
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, BlindSessionScreen))
        await wait_for(pilot, lambda: len(session.items) == 2)
        assert later not in {i["comparison_id"] for i in session.items}
        await pilot.press("u")  # undo still steps back to the first prompt
        assert session.index == 0


async def test_the_reveal_counts_in_words_and_shows_the_keys_as_they_were_pressed(workspace):
    from tui.app import BrieApp
    from tui.screens.reveal import RevealScreen

    made = add_comparisons(workspace, ["b", "a"])
    app = BrieApp(workspace, poll_interval=0.1)
    async with app.run_test(size=(150, 45)) as pilot:
        session = await start_session(app, pilot)
        cid = session.current()["comparison_id"]
        await pilot.press("a")  # the answer on the left
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RevealScreen) and app.screen.revealed is not None)
        reveal = app.screen
        assert str(reveal.query_one("#summary", Static).render()).startswith("You judged 1 comparison this session")
        rates = reveal.query_one("#rates", DataTable)
        assert [str(c.label) for c in rates.ordered_columns][1:3] == ["Model A", "Model B"]
        table = reveal.query_one("#session", DataTable)
        assert [str(c.label) for c in table.ordered_columns] == [
            "Prompt", "On screen as A", "On screen as B", "You pressed", "Your pick"]
        row = table.get_row_at(0)
        shown_first = next(m["shown_first"] for m in made if m["comparison_id"] == cid)
        left = "base" if shown_first == "a" else f"{SECRET_RUN}@{SECRET_STEP}"
        assert row[1] == left and row[3] == "a (left)" and row[4] == left


async def test_a_resumed_session_counts_on_from_what_was_judged_before(workspace):
    from tui.app import BrieApp

    add_comparisons(workspace, ["a", "b", "a", "b"])
    app = BrieApp(workspace, poll_interval=0.1)
    async with app.run_test(size=(150, 45)) as pilot:
        session = await start_session(app, pilot)
        assert str(session.query_one("#progress", Static).render()).startswith("Prompt 1 of 4")
        await pilot.press("t", "b")
        await wait_for(pilot, lambda: session.recorded == 2)
    app = BrieApp(workspace, poll_interval=0.1)
    async with app.run_test(size=(150, 45)) as pilot:
        session = await start_session(app, pilot)
        assert str(session.query_one("#progress", Static).render()).startswith("Prompt 3 of 4")
        await pilot.press("s")
        assert str(session.query_one("#progress", Static).render()).startswith("Prompt 4 of 4")


async def test_a_blind_session_with_no_comparisons_says_what_to_do_next(workspace):
    from tui.app import BrieApp
    from tui.screens.blind import BlindSessionScreen

    fill_demo(workspace)  # runs and a suite, but nothing compared yet
    app = BrieApp(workspace, poll_interval=0.1)
    async with app.run_test(size=(80, 24)) as pilot:
        session = await start_session(app, pilot)
        assert session.items == []
        assert "No comparisons to judge" in str(session.query_one("#progress", Static).render())
        what = str(session.query_one("#prompt", Static).render())
        assert "Press c (Compare)" in what and "brie compare --suite" in what and "b." in what
        footer_keys = {b.binding.key for b in app.active_bindings.values() if b.enabled}
        assert not {"a", "t", "s"} & footer_keys  # nothing to judge: the verdict keys are not offered
        await pilot.press("escape")  # nothing judged, nothing to reveal: back where it started
        await wait_for(pilot, lambda: not isinstance(app.screen, BlindSessionScreen))
        assert type(app.screen).__name__ == "RunsScreen"
