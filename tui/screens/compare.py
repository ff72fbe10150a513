"""Compare: choose a suite, model A and B, judges and samples; generate what is missing and judge it.

The work runs as a tui.work.Job (a thread that quitting can stop) calling `brie.judging.workflows.compare`,
the same function `brie compare` runs; its progress callback becomes CompareProgressed messages, and
a timer keeps the spinner, elapsed time and time left moving between them. Everything it makes is
stored as it lands, so leaving the screen or brie midway loses at most what was in flight, and
starting the same comparison again picks up where it stopped.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Header, Input, Label, ProgressBar, Select, Static

from brie.store.ui import model_choices, suite_names
from brie.workspace import Workspace
from tui.reading import reading
from tui.work import SPINNER, Job, JobStopped, Phase, start_job, timing


@dataclass(frozen=True)
class CompareRequest:
    suite: str
    a: str
    b: str
    judges: list[str]
    samples: int
    swap: bool
    max_cost: float | None
    max_tokens: int = 256
    temperature: float = 0.0


@dataclass
class CompareProgressed(Message):
    phase: str  # generate | judge | warn
    text: str  # generate: the model's label; judge: the counts; warn: the warning
    done: int
    total: int | None


@dataclass
class CompareFinished(Message):
    text: str
    error: bool = False


def check_request(values: dict) -> tuple[CompareRequest | None, list[str]]:
    problems = []
    for key, label in (("suite", "Suite"), ("a", "Model A"), ("b", "Model B")):
        if not values.get(key):
            problems.append(f"{label}: choose one.")
    if values.get("a") and values.get("a") == values.get("b"):
        problems.append("Model A and model B are the same.")
    judges = [j.strip() for j in (values.get("judges") or "").split(",") if j.strip()]
    if not judges:
        problems.append("Judges: give at least one (e.g. anthropic:claude-sonnet-5-5).")
    if any(j.startswith("human:") for j in judges):
        problems.append("Judges: human verdicts are given in a blind session (b), not here.")
    try:
        samples = int(values.get("samples") or "1")
        if samples < 1:
            raise ValueError
    except ValueError:
        problems.append("Samples: a whole number ≥ 1.")
        samples = 1
    try:
        max_tokens = int(values.get("max_tokens") or "256")
        if max_tokens < 1:
            raise ValueError
    except ValueError:
        problems.append("Max tokens: a whole number ≥ 1.")
        max_tokens = 256
    try:
        temperature = float(values.get("temperature") or "0")
        if temperature < 0:
            raise ValueError
    except ValueError:
        problems.append("Temperature: a number ≥ 0.")
        temperature = 0.0
    if samples > 1 and temperature == 0:
        problems.append("Samples > 1 need a temperature above 0 (greedy answers would all be the same).")
    max_cost = None
    if (values.get("max_cost") or "").strip():
        try:
            max_cost = float(values["max_cost"])
        except ValueError:
            problems.append("Max cost: a number of USD, or empty for no limit.")
    if problems:
        return None, problems
    return CompareRequest(values["suite"], values["a"], values["b"], judges, samples,
                          bool(values.get("swap")), max_cost, max_tokens, temperature), []


class CompareScreen(Screen):
    CSS_PATH = "compare.tcss"
    BINDINGS = [Binding("ctrl+s", "start", "Start", priority=True)]

    def __init__(self):
        super().__init__()
        self.job: Job | None = None
        self.phase: Phase | None = None  # what the progress bar and the time left measure now
        self.last: CompareProgressed | None = None
        self.counts = ""  # the judging counts, or "" while generating
        self.starting = ""  # "A vs B on suite", said until the first result
        self.last_at = 0.0  # time.monotonic() of the last progress message

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Compare two models on a prompt suite", classes="title")
        with VerticalScroll(id="compare-form"):
            with Horizontal(classes="row"):
                yield Label("Suite")
                yield Select([], id="suite", prompt="choose a suite", compact=True)
            with Horizontal(classes="row"):
                yield Label("Model A")
                yield Select([], id="a", prompt="base or a checkpoint", compact=True)
            with Horizontal(classes="row"):
                yield Label("Model B")
                yield Select([], id="b", prompt="base or a checkpoint", compact=True)
            with Horizontal(classes="row"):
                yield Label("Judges")
                yield Input(id="judges", placeholder="anthropic:claude-sonnet-5-5, openai:…", compact=True)
            with Horizontal(classes="row"):
                yield Label("Samples")
                yield Input("1", id="samples", compact=True)
            with Horizontal(classes="row"):
                yield Label("Temperature")
                yield Input("0", id="temperature", compact=True)
            with Horizontal(classes="row"):
                yield Label("Max tokens")
                yield Input("256", id="max_tokens", compact=True)
            with Horizontal(classes="row"):
                yield Label("Max cost (USD)")
                yield Input("", id="max_cost", placeholder="no limit", compact=True)
            with Horizontal(classes="row"):
                yield Label("")
                yield Checkbox("Swap: judge both orders (position flips count as ties)", id="swap", compact=True)
            with Horizontal(classes="row"):
                yield Label("")
                yield Button("Start (ctrl+s)", id="start", variant="success", compact=True)
        # Under the form, which scrolls: the work's status stays in sight at 80×24.
        with Vertical(id="work"):
            yield Static("", id="problems")
            yield ProgressBar(id="progress", show_eta=False)
            yield Static("", id="status")
        yield Footer()

    @property
    def running(self) -> bool:
        return self.job is not None and self.job.running

    def on_mount(self) -> None:
        self.query_one("#progress").display = False  # shown once there is something to measure
        self.query_one("#problems").display = False
        self._load_choices()
        self.set_interval(0.25, self._tick)  # the spinner and the clock move between results too

    def on_screen_resume(self) -> None:
        if not self.running:
            self._load_choices()

    @work(thread=True, exclusive=True, group="choices")
    def _load_choices(self) -> None:
        with reading(self.app.workspace.root) as store:
            suites, models = suite_names(store), model_choices(store)
        from brie.judging.judges import load_table

        try:
            default = load_table(Workspace(self.app.workspace.root))["default"]
        except Exception:  # no judges table, or one without a default: leave the field for the user
            default = ""
        self.app.call_from_thread(self._choices_loaded, suites, models, default)

    def _choices_loaded(self, suites: list[str], models: list[str], default_judge: str) -> None:
        for selector, options in (("#suite", suites), ("#a", models), ("#b", models)):
            select = self.query_one(selector, Select)
            current = select.value
            select.set_options([(o, o) for o in options])
            if current in options:
                select.value = current
        if not suites:  # an empty workspace: say what to do next where the user looks
            self.query_one("#suite", Select).prompt = "no suites yet: brie suites import FILE --name NAME"
        judges = self.query_one("#judges", Input)
        if not judges.value and default_judge:
            judges.value = default_judge

    def values(self) -> dict:
        out = {}
        for w in self.query(Select):
            out[w.id] = None if w.value is Select.NULL else w.value
        for w in self.query(Input):
            out[w.id] = w.value
        out["swap"] = self.query_one("#swap", Checkbox).value
        return out

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_start()

    def action_start(self) -> None:
        if self.running:
            self.notify("A comparison is running; it goes on if you leave this screen.")
            return
        request, problems = check_request(self.values())
        shown = self.query_one("#problems", Static)
        shown.update("\n".join(f"[red]•[/] {p}" for p in problems))
        shown.display = bool(problems)  # no empty line between the form and the status
        if request is None:
            return
        # Nothing of the last run stays up: its bar at 100 % would read as this one's.
        self.last, self.phase, self.counts = None, None, ""
        bar = self.query_one("#progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = False
        self.query_one("#start", Button).disabled = True
        self.starting = f"{request.a} vs {request.b} on {request.suite}"
        self.job = start_job("Judging", lambda job: self._compare(job, request))
        self.app.jobs.append(self.job)
        self._tick()

    def _post(self, message: Message) -> None:
        try:
            self.post_message(message)
        except RuntimeError:  # the app has closed its loop (quit while this ran): nobody to tell
            pass

    def _compare(self, job: Job, request: CompareRequest) -> None:
        """Runs in the job's thread."""
        def progress(event) -> None:
            if event[0] == "generate":
                job.check()  # a stop during generation ends it here, after an answer was stored
                job.name = "Generating answers"
                _, label, done, total = event
                self._post(CompareProgressed("generate", label, done, total))
            else:
                job.name = "Judging"
                s = event[1]
                self._post(CompareProgressed("judge", judge_counts(s), s.finished, s.tasks or None))

        ws = Workspace(self.app.workspace.root)
        try:
            from brie.judging.workflows import compare

            ids, s = compare(ws, request.suite, request.a, request.b, request.judges, swap=request.swap,
                             samples=request.samples, temperature=request.temperature,
                             max_tokens=request.max_tokens, max_cost=request.max_cost, progress=progress,
                             warn=lambda m: self._post(CompareProgressed("warn", m, 0, None)), stop=job.stop)
            self._post(CompareFinished(finished_text(ids, s), error=bool(s.failed)))
        except JobStopped:
            self._post(CompareFinished("Stopped while generating answers: those made are kept; "
                                       "start again to go on.", error=True))
        except Exception as e:  # a user error (bad spec, no key) or a crash: said, not raised
            self._post(CompareFinished(f"Stopped: {e}", error=True))
        finally:
            ws.close()

    def on_compare_progressed(self, message: CompareProgressed) -> None:
        message.stop()
        if message.phase == "warn":
            self.notify(message.text, severity="warning")
            return
        label = message.text if message.phase == "generate" else "judging"
        now = time.monotonic()
        if self.phase is None or self.phase.label != label or self.phase.total != message.total:
            # A new stretch, begun when the last one's last result came (or the job began; loading a
            # model counts). Answers stored before it took no time here: left out of the estimate.
            began = self.last_at if self.phase is not None else self.job.started
            self.phase = Phase(label, message.total, began,
                               done_at_start=max(0, message.done - 1) if message.phase == "generate" else 0)
        self.phase.done = message.done
        self.last_at = now
        self.counts = message.text if message.phase == "judge" else ""
        self.last = message
        bar = self.query_one("#progress", ProgressBar)
        bar.display = True
        bar.update(total=message.total, progress=message.done)
        self._tick()

    def _tick(self) -> None:
        if not self.running:
            return
        frame = SPINNER[int(time.monotonic() * 8) % len(SPINNER)]
        elapsed = timing(self.job, None)
        if self.job.stop.is_set():
            line = f"{frame} Stopping: waiting for the answers in flight…"
        elif self.phase is None:
            line = f"{frame} Starting: {self.starting}… · {elapsed}"
        elif self.phase.label == "judging":
            total = f" of {self.phase.total}" if self.phase.total else ""
            line = f"{frame} Judging {self.phase.done}{total} · {self.counts} · {timing(self.job, self.phase)}"
        else:
            line = (f"{frame} Generating {self.phase.label}: {self.phase.done} of {self.phase.total} answers · "
                    f"{timing(self.job, self.phase)}")
        self.query_one("#status", Static).update(Text(line))

    def on_compare_finished(self, message: CompareFinished) -> None:
        message.stop()
        self.query_one("#start", Button).disabled = False
        if self.job in self.app.jobs:
            self.app.jobs.remove(self.job)
        self.query_one("#status", Static).update(Text(message.text, style="red" if message.error else "green"))
        self.notify(message.text, severity="error" if message.error else "information", markup=False)


def judge_counts(s) -> str:
    """Every outcome so far: a judge that answers without a verdict must not look stuck at 0 %."""
    return (f"{s.valid} valid · {s.invalid} without a verdict · {s.failed} failed · ${s.cost_usd:.4f}")


def failure_reasons(errors: list[str], most: int = 2) -> str:
    """'HTTP 500: boom (×11); timed out (×1)': the reasons, most frequent first."""
    counted = Counter(errors).most_common()
    text = "; ".join(f"{e} (×{n})" if n > 1 else e for e, n in counted[:most])
    if len(counted) > most:
        text += f"; and {len(counted) - most} other reason{'s' if len(counted) - most != 1 else ''}"
    return text


def finished_text(ids: list[int], s) -> str:
    from brie.words import plural

    if s.stopped:
        head = (f"Stopped: {s.finished} of {s.tasks} judgments done ({s.valid} valid, {s.invalid} without a "
                f"verdict, {s.failed} failed; ${s.cost_usd:.4f}); what finished is kept: start again to go on.")
    else:
        head = (f"Done: {plural(len(ids), 'comparison')}; {plural(s.tasks, 'judgment')} asked "
                f"({s.already_done} already stored): {s.valid} valid, {s.invalid} without a verdict, "
                f"{s.failed} failed; ${s.cost_usd:.4f}."
                + (" Stopped at the cost limit: start again to go on." if s.stopped_for_cost else "")
                + " Press v for the results.")
    if s.failed and s.errors:
        head += f" Failed: {failure_reasons(s.errors)}."
    return head
