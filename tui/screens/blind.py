"""The blind session: you judge answers yourself, one prompt at a time, identities hidden.

The two answers are shown as A and B in the comparison's stored random order (`shown_first`), the
same order every judge of that comparison saw; the screen never receives a model name, run or step
(`brie.judging.human.pending_for_human` leaves them out), so nothing can leak before the reveal. Each key
press is written at once as judge `human:<name>` through one writer thread, so leaving and coming
back resumes where you were, and undo removes exactly the last verdict.
"""

from __future__ import annotations

import getpass
import queue
import random
import threading
from dataclasses import dataclass

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Footer, Header, Input, Label, Select, Static
from textual.worker import get_current_worker

from brie.store.ui import last_human_judge, suite_names
from brie.workspace import Workspace
from tui.commands import quiet_navigation
from tui.messages import SESSION_NOTICE, VerdictNotStored, VerdictRecorded
from tui.reading import reading

KEY_TO_CHOICE = {"a": "first", "b": "second", "t": "tie"}


@dataclass(frozen=True)
class BlindSetup:
    name: str  # stored as judge human:<name>
    suite: str | None  # None: every suite


@dataclass
class Step:
    """One thing the user did, kept so `u` can undo it."""

    index: int
    comparison_id: int
    choice: str  # first | second | tie | skip


class BlindSetupScreen(ModalScreen[BlindSetup | None]):
    CSS_PATH = "blind.tcss"
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="setup"):
            yield Static("Blind session", classes="title")
            yield Static("You will see one prompt and two answers, A and B, with no model names. "
                         "Press a, b, t (tie) or s (skip); u undoes. Your verdicts are stored as you go.",
                         classes="hint")
            yield Label("Your name (judge human:<name>)")
            yield Input(value=_default_name(), id="judge-name")
            yield Label("Suite")
            yield Select([], id="suite", prompt="every suite")
            with Horizontal(id="setup-buttons"):
                yield Button("Start", variant="success", id="start")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self._load_suites()

    @work(thread=True)
    def _load_suites(self) -> None:
        with reading(self.app.workspace.root) as store:
            names = suite_names(store)
            last = last_human_name(store)
        self.app.call_from_thread(self._loaded, names, last)

    def _loaded(self, suites: list[str], last: str | None) -> None:
        self.query_one("#suite", Select).set_options([(n, n) for n in suites])
        name = self.query_one("#judge-name", Input)
        # The name judged under last in this workspace, so a resumed session keeps its judge, unless
        # the user has started typing one already.
        if last and name.value == _default_name():
            name.value = last

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self._start()
        else:
            self.dismiss(None)

    def on_input_submitted(self, _: Input.Submitted) -> None:
        self._start()

    def _start(self) -> None:
        name = self.query_one("#judge-name", Input).value.strip()
        if not name or ":" in name:
            self.notify("Give a name without ':'.", severity="error")
            return
        suite = self.query_one("#suite", Select).value
        self.dismiss(BlindSetup(name, None if suite is Select.NULL else suite))

    def action_cancel(self) -> None:
        self.dismiss(None)


def last_human_name(store) -> str | None:
    """The <name> of the most recent human:<name> verdict in the store, if any."""
    judge = last_human_judge(store)
    return judge.split(":", 1)[1] or None if judge else None


def _default_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in some containers
        return "me"


class BlindSessionScreen(Screen):
    CSS_PATH = "blind.tcss"
    HIDES_IDENTITIES = True  # the app holds back notices (which may name a run) while this is on screen
    BINDINGS = [
        # Short, and the screen keys (r, d, c, v, n: they end the session) out of the footer, so
        # `? Help` and `q Quit` fit in 80 columns.
        Binding("a", "choose('a')", "A better"),
        Binding("b", "choose('b')", "B better"),
        Binding("t", "choose('t')", "Tie"),
        Binding("s", "skip", "Skip"),
        Binding("u", "undo", "Undo"),
        Binding("escape", "finish", "Finish & reveal"),
        *[b for b in quiet_navigation() if b.key != "b"],  # b is "B better" here
    ]

    def __init__(self, setup: BlindSetup, rng: random.Random | None = None):
        super().__init__()
        self.setup = setup
        self.rng = rng or random.Random()
        self.items: list[dict] | None = None
        self.index = 0
        self.before = 0  # comparisons in scope this human had judged before: the counter goes on from them
        self.history: list[Step] = []
        self.recorded = 0
        self._writes: queue.Queue = queue.Queue()
        self._writes_done = threading.Event()
        self.ended = False  # finished (the reveal) or left (another screen): takes no more keys

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Loading…", id="progress", classes="title")
        with VerticalScroll(id="prompt-box"):
            yield Static("", id="prompt", markup=False)
        with Horizontal(id="answers"):
            with VerticalScroll(id="answer-a", classes="answer"):
                yield Static("", id="text-a", markup=False)
            with VerticalScroll(id="answer-b", classes="answer"):
                yield Static("", id="text-b", markup=False)
        yield Footer()

    def on_screen_resume(self) -> None:
        self.app.hold_notices()  # a toast from before the session ("Started run X") must not stay up
        if self.items is not None:  # back from a dialog: what is left may have changed meanwhile
            self._load(resumed=True)

    def on_unmount(self) -> None:
        self.app.call_later(self.app.release_held_notices)

    def notify(self, message: str, *, title: str = "", severity="information", timeout: float | None = None,
               markup: bool = True) -> None:
        """This screen's own notices name no model, so they are marked to show during the session."""
        self.app.notify(message, title=SESSION_NOTICE, severity=severity, timeout=timeout, markup=markup)

    def on_mount(self) -> None:
        self.query_one("#answer-a").border_title = "A"
        self.query_one("#answer-b").border_title = "B"
        self.query_one("#prompt-box").border_title = "Prompt"
        self._load()
        self._writer()

    @work(thread=True, exit_on_error=False, group="load", exclusive=True)
    def _load(self, resumed: bool = False) -> None:
        ws = Workspace(self.app.workspace.root)
        try:
            from brie.judging.human import pending_for_human
            from brie.store.judging import find_comparisons

            items = pending_for_human(ws, self.setup.name, self.setup.suite)
            in_scope = len(find_comparisons(ws.store, suite=self.setup.suite or None))
        except Exception as e:  # said on screen; the app goes on
            self.app.call_from_thread(self.query_one("#progress", Static).update, f"Could not load comparisons: {e}")
            return
        finally:
            ws.close()
        if resumed:
            self.app.call_from_thread(self._reloaded, items)
            return
        # Shuffle prompt order too, so a session does not walk a suite in file order.
        self.rng.shuffle(items)
        self.app.call_from_thread(self._loaded, items, in_scope - len(items))

    def _loaded(self, items: list[dict], before: int = 0) -> None:
        self.items = items
        self.index = 0
        self.before = before
        self._show()

    def _reloaded(self, pending: list[dict]) -> None:
        """What is left to judge, read again: prompts judged elsewhere meanwhile drop out, new ones
        join at the end. The prompts already passed stay as they are, so undo still steps back."""
        if self.items is None or self.ended:
            return
        before = (self.current() or {}).get("comparison_id"), len(self.items)
        left = {p["comparison_id"] for p in pending}
        known = {item["comparison_id"] for item in self.items}
        # The store may not yet hold a verdict still queued for the writer: those were passed already.
        ahead = [item for item in self.items[self.index:] if item["comparison_id"] in left]
        self.before += len(self.items) - self.index - len(ahead)  # judged elsewhere: done, not gone
        new = [p for p in pending if p["comparison_id"] not in known]
        self.rng.shuffle(new)
        self.items = self.items[:self.index] + ahead + new
        if ((self.current() or {}).get("comparison_id"), len(self.items)) != before:
            self._show()

    def _show(self) -> None:
        self.refresh_bindings()
        items = self.items or []
        self.query_one("#answers").display = self.index < len(items)
        if self.index >= len(items):
            self.query_one("#progress", Static).update(self._nothing_left())
            self.query_one("#prompt-box").border_title = "What next"
            self.query_one("#prompt", Static).update(self._what_next())
            self.query_one("#text-a", Static).update("")
            self.query_one("#text-b", Static).update("")
            return
        self.query_one("#prompt-box").border_title = "Prompt"
        item = items[self.index]
        where = f" · {item['category']}" if item.get("category") else ""
        # Counted over every comparison in scope, so a resumed session goes on at "Prompt 6 of 15".
        self.query_one("#progress", Static).update(
            f"Prompt {self.before + self.index + 1} of {self.before + len(items)}{where} · "
            f"judging as human:{self.setup.name}")
        turns, first, second = item["turns"], item["first"], item["second"]
        if len(turns) == 1:
            self.query_one("#prompt", Static).update(turns[0])
            self.query_one("#text-a", Static).update(first[0] if first else "")
            self.query_one("#text-b", Static).update(second[0] if second else "")
        else:  # multi-turn: each side shows its own conversation
            self.query_one("#prompt", Static).update("\n\n".join(f"Turn {i + 1}: {t}" for i, t in enumerate(turns)))
            self.query_one("#text-a", Static).update(_conversation(first))
            self.query_one("#text-b", Static).update(_conversation(second))
        for box in ("#answer-a", "#answer-b", "#prompt-box"):
            self.query_one(box, VerticalScroll).scroll_home(animate=False)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        # With nothing on screen to judge, the verdict keys leave the footer (Textual: False hides).
        if action in ("choose", "skip") and self.items is not None and self.current() is None:
            return False
        return True

    def _nothing_left(self) -> str:
        from brie.words import plural

        scope = f"in suite {self.setup.suite}" if self.setup.suite else "in this workspace"
        if not self.items and not self.before:
            return f"No comparisons to judge {scope} yet."
        given = self.verdicts_given()
        return (f"Nothing left to judge {scope}: {plural(self.before + given, 'comparison')} judged as "
                f"human:{self.setup.name}, {given} of them this session.")

    def _what_next(self) -> str:
        if not self.items and not self.before:
            return ("A blind session judges comparisons already made: answers of two models to the same "
                    "prompts.\n\n"
                    "1. Press c (Compare): pick a suite, model A and model B and a judge, then ctrl+s. Or in a "
                    "terminal: brie compare --suite SUITE --a base --b RUN@best --judge JUDGE\n"
                    "2. Come back with b.\n\n"
                    "A suite of prompts is imported with brie suites import (d shows those you have).")
        if self.history:
            return "Press escape for the reveal: which model wrote each answer you picked, and how you agree with the judges."
        return "Press escape to leave, c to compare more models, or v for the results."

    def current(self) -> dict | None:
        if self.items is None or self.index >= len(self.items):
            return None
        return self.items[self.index]

    def action_choose(self, key: str) -> None:
        item = self.current()
        if item is None or self.ended:
            return
        choice = KEY_TO_CHOICE[key]
        step = Step(self.index, item["comparison_id"], choice)
        self.history.append(step)
        self._writes.put(("record", step))
        self.index += 1
        self._show()

    def on_verdict_not_stored(self, message: VerdictNotStored) -> None:
        """Take back the step whose verdict failed: it is not this session's, and must not count."""
        message.stop()
        step = message.step
        if self.items is None or not any(s is step for s in self.history):  # undone meanwhile
            self.notify(f"could not store the verdict: {message.error}", severity="error", timeout=8)
            return
        self.history = [s for s in self.history if s is not step]
        item = self.items.pop(step.index)
        for later in self.history:
            if later.index > step.index:
                later.index -= 1
        self.index -= 1
        if message.judged:  # judged as this human already (another session): nothing left to do here
            self.before += 1
            self.notify(f"could not store the verdict: {message.error}; that prompt is left out of this session.",
                        severity="error", timeout=8)
        else:  # shown again, now, to be judged again
            self.items.insert(self.index, item)
            self.notify(f"could not store the verdict: {message.error}; the prompt is shown again.",
                        severity="error", timeout=8)
        self._show()

    def action_skip(self) -> None:
        item = self.current()
        if item is None or self.ended:
            return
        self.history.append(Step(self.index, item["comparison_id"], "skip"))
        self.index += 1
        self._show()

    def action_undo(self) -> None:
        if self.ended:
            return
        if not self.history:
            self.notify("Nothing to undo.")
            return
        step = self.history.pop()
        if step.choice != "skip":
            self._writes.put(("undo", step))
        self.index = step.index
        self._show()

    def verdicts_given(self) -> int:
        """Verdicts given this session (stored, or queued for the writer), failed ones taken back."""
        return sum(1 for s in self.history if s.choice != "skip")

    def end(self) -> None:
        """No more keys; the writer finishes what is queued and stops."""
        if not self.ended:
            self.ended = True
            self._writes.put(None)

    def action_finish(self) -> None:
        from tui.screens.reveal import RevealScreen

        if self.ended:
            return
        self.end()  # the writer finishes what is queued, then the reveal reads it all
        if self.items is not None and not self.items and not self.before:  # nothing to judge: nothing to reveal
            self.app.pop_screen()
            return
        judged = [s.comparison_id for s in self.history if s.choice != "skip"]
        self.app.switch_screen(RevealScreen(self.setup, judged, self._writes_done))

    @work(thread=True, group="verdict-writer")
    def _writer(self) -> None:
        """The one thread that writes this session's verdicts, in the order they were given."""
        from brie.judging.human import record_human_verdict, undo_human_verdict
        from brie.store.judging import judgment_attempts

        worker = get_current_worker()
        ws = Workspace(self.app.workspace.root)
        judge = f"human:{self.setup.name}"
        stored: set[int] = set()  # what this session wrote: undo deletes only those, never an older verdict
        try:
            while True:
                try:
                    job = self._writes.get(timeout=0.2)
                except queue.Empty:
                    if worker.is_cancelled:
                        break
                    continue
                if job is None:
                    break
                op, step = job
                if op == "undo":
                    if step.comparison_id in stored:
                        try:
                            undo_human_verdict(ws, step.comparison_id, self.setup.name)
                            stored.discard(step.comparison_id)
                            self.recorded -= 1
                        except Exception as e:  # names no model
                            self.notify(f"could not undo the verdict: {e}", severity="error", timeout=8)
                    continue
                try:
                    row = record_human_verdict(ws, step.comparison_id, self.setup.name, step.choice)
                except Exception as e:  # names no model; the screen takes the step back
                    try:
                        judged = bool(judgment_attempts(ws.store, judge, [step.comparison_id]))
                    except Exception:
                        judged = False
                    if not self.post_message(VerdictNotStored(step, str(e), judged)):  # the screen is gone
                        self.notify(f"could not store the verdict: {e}", severity="error", timeout=8)
                    continue
                stored.add(step.comparison_id)
                self.recorded += 1
                self.post_message(VerdictRecorded(step.comparison_id, row["verdict"]))
        finally:
            ws.close()
            self._writes_done.set()

    def on_verdict_recorded(self, message: VerdictRecorded) -> None:
        message.stop()  # deliberately not shown: the mapped verdict would reveal which side is which


def _conversation(answers: list[str]) -> str:
    return "\n\n".join(f"— turn {i + 1} —\n{a}" for i, a in enumerate(answers))
