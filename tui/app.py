"""BrieApp: the Textual UI on one workspace. `brie tui` (or plain `brie`) starts it."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from time import time

from textual.actions import SkipAction
from textual.app import App
from textual.binding import Binding
from textual.notifications import Notification, Notify

from brie.workspace import Workspace
from tui.commands import BrieCommands
from tui.launch import Launched, log_tail
from tui.messages import SESSION_NOTICE, ActionFinished, RunLaunched
from tui.work import Job, stop_jobs
from tui.screens.compare import CompareScreen
from tui.screens.data import DataScreen
from tui.screens.help import HelpScreen
from tui.screens.results import ResultsScreen
from tui.screens.runs import RunsScreen


class BrieApp(App[None]):
    TITLE = "brie"
    CSS_PATH = "app.tcss"
    MODES = {"runs": RunsScreen, "data": DataScreen, "compare": CompareScreen, "results": ResultsScreen}
    DEFAULT_MODE = "runs"
    COMMANDS = App.COMMANDS | {BrieCommands}  # brie's own commands in ctrl+p (tui/commands.py)
    BINDINGS = [
        # Short descriptions, so the footer keeps `? Help` and `q Quit` at 80 columns (help has the long ones).
        Binding("r", "switch_mode('runs')", "Runs"),
        Binding("d", "switch_mode('data')", "Data"),
        Binding("c", "switch_mode('compare')", "Compare"),
        Binding("v", "switch_mode('results')", "Results"),
        Binding("b", "blind", "Blind"),
        Binding("n", "new_run", "New run"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
        # One Ctrl-C quits, whatever has focus: work in this process stops (what finished is kept).
        Binding("ctrl+c", "quit_now", "Quit now", show=False, priority=True, system=True),
        # Before any screen's escape ("Back"): in a text field, escape only leaves the field, so the
        # letters above act again; a second escape goes back (see action_leave_field).
        Binding("escape", "leave_field", "Leave field", priority=True),
    ]

    def __init__(self, workspace: Workspace | str | Path, poll_interval: float = 1.0):
        super().__init__()
        self.workspace = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)
        self.poll_interval = poll_interval
        self.sub_title = str(self.workspace.root)
        self.launched: list[Launched] = []
        self.jobs: list[Job] = []  # long work in this process (tui/work.py): stopped on quit
        self.stopped_jobs: list[Job] = []  # asked to stop on quit: run_app waits a little for them
        self.held_notices: list[Notification] = []
        self.blind_began: float | None = None  # when the blind session now on came on screen

    def on_mount(self) -> None:
        self.set_interval(1.0, self._reap_launched)
        self.set_interval(1.0, self.release_held_notices)

    # --- notices during a blind session ---------------------------------------------------------
    # A toast such as "Started run X" or "X exited…" names a run or model, and a blind session
    # must show no identity before the reveal. While the session is on screen (or under a screen
    # pushed over it), such notices wait in `held_notices` and are shown once it is over. Only
    # those raised during the session are titled so: one from before it (a toast taken down when
    # the session came on) is shown again under its own title, for the time it had left.

    def blind_session_on(self) -> bool:
        return any(getattr(screen, "HIDES_IDENTITIES", False) for screen in self.screen_stack)

    def on_notify(self, event: Notify) -> None:
        if self.blind_session_on() and event.notification.title != SESSION_NOTICE:
            event.prevent_default()  # App._on_notify would show it
            self.held_notices.append(event.notification)

    def hold_notices(self) -> None:
        """Take down toasts already showing when a blind session comes on screen; they wait too."""
        if self.blind_began is None:
            self.blind_began = time()
        # Textual keeps no public list of the toasts showing; the session's own stay up.
        taken = [n for n in self._notifications if n.title != SESSION_NOTICE]
        for n in taken:
            self._unnotify(n, refresh=False)
        self.held_notices += taken
        self._refresh_notifications()

    def release_held_notices(self) -> None:
        if self.blind_session_on():
            return
        began, self.blind_began = self.blind_began, None
        held, self.held_notices = self.held_notices, []
        for n in held:
            if began is not None and n.raised_at < began:  # raised before the session: seen already
                if n.time_left > 0.5:
                    self.notify(n.message, title=n.title, severity=n.severity, timeout=n.time_left,
                                markup=n.markup)
                continue
            # Raised during the session: each gets its full time on screen now that it can be read.
            self.notify(n.message, title=n.title or "During the blind session", severity=n.severity,
                        timeout=n.timeout, markup=n.markup)

    # --- leaving a blind session ------------------------------------------------------------------
    # The session (and its reveal) is pushed over whatever screen was on; switching mode would
    # leave it in that mode's stack, to come back later with a list of prompts judged meanwhile.
    # So every way to another screen (r, d, c, v, n, b) ends it first: queued verdicts are still
    # written, and `b` later goes on with what is left.

    async def end_blind_session(self) -> None:
        from tui.screens.blind import BlindSessionScreen
        from tui.screens.reveal import RevealScreen

        stack = self.screen_stack
        bottom = next((i for i, s in enumerate(stack) if isinstance(s, (BlindSessionScreen, RevealScreen))), None)
        if bottom is None or bottom == 0:
            return
        sessions = [s for s in stack[bottom:] if isinstance(s, BlindSessionScreen)]
        for session in sessions:
            session.end()
        for _ in range(len(stack) - bottom):
            await self.pop_screen()
        for session in sessions:
            given = session.verdicts_given()
            self.notify(f"Blind session ended: {given} verdict{'s' if given != 1 else ''} given as "
                        f"human:{session.setup.name}. Press b to go on with what is left.")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        # The key of the screen already on (r on Runs, where it would do nothing) leaves the footer,
        # for room at 80 columns; over a pushed screen (a run, a blind session) it shows: it leads back.
        if action == "switch_mode" and parameters and parameters[0] == self.current_mode \
                and len(self.screen_stack) == 1:
            return False  # Textual: False hides the binding, None would show it dimmed
        if action == "leave_field":  # only in a text field: elsewhere the screen's own escape shows
            return self._in_text_field()
        return True

    def _in_text_field(self) -> bool:
        from textual.screen import ModalScreen
        from textual.widgets import Input, TextArea

        return not isinstance(self.screen, ModalScreen) and isinstance(self.focused, (Input, TextArea))

    async def action_switch_mode(self, mode: str) -> None:
        await self.end_blind_session()
        # Screens pushed over a mode's own (a run, the new-run form) close on the way out: a mode
        # keeps its stack, so `r` after run → data would come back to that run, not to the list.
        while len(self.screen_stack) > 1:
            await self.pop_screen()
        self.switch_mode(mode)

    def action_leave_field(self) -> None:
        """escape in a text field on a full screen moves focus out of it; anywhere else (a dialog,
        the command palette, no field) the key goes on to the screen's own escape."""
        if not self._in_text_field():
            raise SkipAction()
        self.screen.set_focus(None)

    # --- quitting while work runs ------------------------------------------------------------------
    # Judging and generation run in this process (tui/work.py): `q` asks before stopping them, and
    # names any training started from here, which is its own process and keeps going. Ctrl-C does
    # not ask: it stops the work the same way and leaves.

    def running_jobs(self) -> list[Job]:
        self.jobs = [job for job in self.jobs if job.running]
        return self.jobs

    def running_training(self) -> list[Launched]:
        return [item for item in self.launched if item.process.poll() is None]

    def quit_question(self) -> tuple[str, str]:
        from brie.words import plural

        jobs = self.running_jobs()
        what = " and ".join(dict.fromkeys(job.name for job in jobs))
        detail = ["What finished is kept: starting the same work again goes on from there."]
        training = self.running_training()
        if training:
            # Over a blind session a run's name would say whose answers are on screen: pids only.
            names = ", ".join(f"pid {t.process.pid}" if self.blind_session_on() else f"{t.name} (pid {t.process.pid})"
                              for t in training)
            detail.append(f"{plural(len(training), 'training run')} keep{'s' if len(training) == 1 else ''} "
                          f"running, as {'its' if len(training) == 1 else 'their'} own process: {names}.")
        return f"{what} is running: stop it and quit?", "\n".join(detail)

    async def action_quit(self) -> None:
        from tui.screens.confirm import ConfirmScreen

        if not self.running_jobs():
            self.exit()
            return
        if isinstance(self.screen, ConfirmScreen) and self.screen.id == "quit-question":
            return  # asked already

        def answered(yes: bool | None) -> None:
            if yes:
                self.action_quit_now()

        question, detail = self.quit_question()
        self.push_screen(ConfirmScreen(question, detail, yes="Stop and quit", no="Keep working",
                                       danger=True, id="quit-question"), answered)

    def action_quit_now(self) -> None:
        """Ask the work to stop and leave at once; `after_quit` gives it a moment to store what is in flight."""
        for job in self.running_jobs():
            job.stop.set()
            self.stopped_jobs.append(job)
        self.exit()

    def follow(self, launched: Launched) -> None:
        """Watch a process the UI started, to say so if it fails right away (bad arguments, …)."""
        self.launched.append(launched)

    def _reap_launched(self) -> None:
        for item in list(self.launched):
            code = item.process.poll()
            if code is None:
                continue
            self.launched.remove(item)
            if code == 130:  # what `brie train` exits with when it was asked to stop
                self.notify(f"{item.name} stopped (cancelled).")
            elif code != 0:
                tail = log_tail(item.log_path, 3)
                self.notify(f"{item.name} exited with code {code}:\n{tail}\n(log: {item.log_path})",
                            severity="error", timeout=15)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(type(self.screen).__name__))  # that screen's keys first

    async def action_new_run(self) -> None:
        from tui.screens.new_run import NewRunScreen

        await self.end_blind_session()
        self.push_screen(NewRunScreen())

    async def action_blind(self) -> None:
        from tui.screens.blind import BlindSessionScreen, BlindSetupScreen

        await self.end_blind_session()  # from a reveal: a new session is not pushed over the old one

        def start(setup) -> None:
            if setup is not None:
                self.push_screen(BlindSessionScreen(setup))

        self.push_screen(BlindSetupScreen(), start)

    def on_action_finished(self, message: ActionFinished) -> None:
        self.notify(message.message, severity="error" if message.error else "information",
                    timeout=8 if message.error else 4)

    def on_run_launched(self, message: RunLaunched) -> None:
        self.notify(f"Started run {message.name} (pid {message.pid}); it keeps going if you close brie.")


def run_app(workspace: Workspace) -> None:
    app = BrieApp(workspace)
    app.run()
    after_quit(app)


STOP_GRACE = 5.0  # seconds given to work asked to stop, to store the answers in flight


def after_quit(app: BrieApp, grace: float = STOP_GRACE) -> None:
    """Back at the shell: let stopped work store what is in flight, name what keeps running, and end
    the process even if a slow request is still out (Python would otherwise wait for its thread)."""
    left = stop_jobs(app.stopped_jobs, grace) if app.stopped_jobs else []
    for item in app.running_training():
        print(f"Training run {item.name} keeps running (pid {item.process.pid}); `brie runs` follows it, "
              f"its log is {item.log_path}.", file=sys.stderr)
    if left:
        print(f"{left[0].name} stopped; the requests still in flight were left unanswered (a rerun asks them "
              "again).", file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
