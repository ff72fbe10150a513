"""A screen that re-reads the store on a timer, in a thread worker, while it is the current screen.

Polling (rather than being told) is what lets the UI follow a run started from a terminal: the
training process only writes to the store, and every reader sees it within one interval.
"""

from __future__ import annotations

from textual import work
from textual.message import Message
from textual.screen import Screen

from brie.store import Store
from tui.messages import ActionFinished
from tui.reading import reading


class PollingScreen(Screen):
    POLL_EVERY = 1.0  # in units of the app's poll interval; heavier screens read less often
    POLL_WHEN_HIDDEN = False  # the runs list reads on under other screens, to tell when a run ends

    def read(self, store: Store) -> Message:  # pragma: no cover - each screen overrides
        """Runs in a worker thread with its own connection; returns the message to post."""
        raise NotImplementedError

    def on_mount(self) -> None:
        self._reading = False
        self.refresh_now()
        self.set_interval(self.app.poll_interval * self.POLL_EVERY, self._tick)

    def on_screen_resume(self) -> None:
        self.refresh_now()

    def _tick(self) -> None:
        if self.is_current or self.POLL_WHEN_HIDDEN:
            self.refresh_now()

    def refresh_now(self) -> None:
        # One read at a time: a slow read must not pile up workers behind it.
        if getattr(self, "_reading", False):
            return
        self._reading = True
        self._read_in_thread()

    @work(thread=True, group="read", exit_on_error=False)
    def _read_in_thread(self) -> None:
        try:
            with reading(self.app.workspace.root) as store:
                message = self.read(store)
            self.post_message(message)
        except Exception as e:  # shown, not fatal: the next tick tries again
            self.post_message(ActionFinished(f"could not read the store: {e}", error=True))
        finally:
            self._reading = False
