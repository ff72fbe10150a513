"""BrieApp: the Textual UI on one workspace. `brie tui` (or plain `brie`) starts it."""

from __future__ import annotations

from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.notifications import Notification, Notify

from brie.workspace import Workspace
from tui.launch import Launched, log_tail
from tui.messages import SESSION_NOTICE, ActionFinished, RunLaunched
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
    BINDINGS = [
        Binding("r", "switch_mode('runs')", "Runs"),
        Binding("d", "switch_mode('data')", "Data"),
        Binding("c", "switch_mode('compare')", "Compare"),
        Binding("v", "switch_mode('results')", "Results"),
        Binding("b", "blind", "Blind judge"),
        Binding("n", "new_run", "New run"),
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, workspace: Workspace | str | Path, poll_interval: float = 1.0):
        super().__init__()
        self.workspace = workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)
        self.poll_interval = poll_interval
        self.sub_title = str(self.workspace.root)
        self.launched: list[Launched] = []
        self.held_notices: list[Notification] = []

    def on_mount(self) -> None:
        self.set_interval(1.0, self._reap_launched)
        self.set_interval(1.0, self.release_held_notices)

    # --- notices during a blind session ---------------------------------------------------------
    # A toast such as "Started run X" or "X exited…" names a run or model, and a blind session
    # must show no identity before the reveal. While the session is on screen (or under a screen
    # pushed over it), such notices wait in `held_notices` and are shown once it is over.

    def blind_session_on(self) -> bool:
        return any(getattr(screen, "HIDES_IDENTITIES", False) for screen in self.screen_stack)

    def on_notify(self, event: Notify) -> None:
        if self.blind_session_on() and event.notification.title != SESSION_NOTICE:
            event.prevent_default()  # App._on_notify would show it
            self.held_notices.append(event.notification)

    def hold_notices(self) -> None:
        """Take down toasts already showing when a blind session comes on screen; they wait too."""
        self.held_notices += list(self._notifications)  # Textual keeps no public list of them
        self.clear_notifications()

    def release_held_notices(self) -> None:
        if not self.held_notices or self.blind_session_on():
            return
        held, self.held_notices = self.held_notices, []
        for n in held:  # each gets its full time on screen now that it can be read
            self.notify(n.message, title=n.title or "During the blind session", severity=n.severity,
                        timeout=n.timeout, markup=n.markup)

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
            self.push_screen(HelpScreen())

    def action_new_run(self) -> None:
        from tui.screens.new_run import NewRunScreen

        self.push_screen(NewRunScreen())

    def action_blind(self) -> None:
        import importlib.util

        from tui.screens.blind import BlindSessionScreen, BlindSetupScreen

        if importlib.util.find_spec("brie.judge") is None:
            self.notify("This brie has no judging core yet, so no blind session.", severity="error")
            return

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
    BrieApp(workspace).run()
