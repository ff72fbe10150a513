"""Compare: choose a suite, model A and B, judges and samples; generate what is missing and judge it.

The work runs in a thread worker calling `brie.judging.workflows.compare`, the same function `brie compare`
runs; its progress callback becomes CompareProgressed messages. Everything it makes is stored as
it lands, so leaving the screen or brie midway loses at most what was in flight, and starting the
same comparison again picks up where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Checkbox, Footer, Header, Input, Label, ProgressBar, Select, Static

from brie.store.ui import model_choices, suite_names
from brie.workspace import Workspace
from tui.reading import reading


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
    phase: str  # generate | judge
    text: str
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
        self.running = False
        self.last: CompareProgressed | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Compare two models on a prompt suite", classes="title")
        with Vertical(id="compare-form"):
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
        yield Static("", id="problems")
        yield ProgressBar(id="progress", show_eta=False)
        yield Static("", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#progress").display = False  # shown once there is something to measure
        self._load_choices()

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
        self.query_one("#problems", Static).update("\n".join(f"[red]•[/] {p}" for p in problems))
        if request is None:
            return
        self.running = True
        self.query_one("#start", Button).disabled = True
        self.query_one("#status", Static).update(f"Starting: {request.a} vs {request.b} on {request.suite}…")
        self._compare(request)

    @work(thread=True, group="compare", exit_on_error=False)
    def _compare(self, request: CompareRequest) -> None:
        def progress(event) -> None:
            if event[0] == "generate":
                _, label, done, total = event
                self.post_message(CompareProgressed("generate", f"Generating {label}: {done}/{total}", done, total))
            else:
                s = event[1]
                answered = s.valid + s.invalid
                rate = s.invalid / answered if answered else 0.0
                self.post_message(CompareProgressed(
                    "judge", f"Judging: {s.valid} valid · {s.invalid} invalid (parse failures {100 * rate:.0f}%) · "
                             f"{s.failed} failed · ${s.cost_usd:.4f}", s.valid + s.failed, s.tasks or None))

        ws = Workspace(self.app.workspace.root)
        try:
            from brie.judging.workflows import compare

            ids, s = compare(ws, request.suite, request.a, request.b, request.judges, swap=request.swap,
                             samples=request.samples, temperature=request.temperature,
                             max_tokens=request.max_tokens, max_cost=request.max_cost, progress=progress,
                             warn=lambda m: self.post_message(CompareProgressed("warn", m, 0, None)))
            text = (f"Done: {len(ids)} comparisons; {s.tasks} judgments asked ({s.already_done} already stored): "
                    f"{s.valid} valid, {s.invalid} invalid answers, {s.failed} failed; ${s.cost_usd:.4f}."
                    + (" Stopped at the cost limit: start again to go on." if s.stopped_for_cost else "")
                    + " Press v for the results.")
            self.post_message(CompareFinished(text, error=bool(s.failed)))
        except Exception as e:  # a user error (bad spec, no key) or a crash: said, not raised
            self.post_message(CompareFinished(f"Stopped: {e}", error=True))
        finally:
            ws.close()

    def on_compare_progressed(self, message: CompareProgressed) -> None:
        message.stop()
        if message.phase == "warn":
            self.notify(message.text, severity="warning")
            return
        self.last = message
        self.query_one("#progress").display = True
        self.query_one("#status", Static).update(message.text)
        self.query_one("#progress", ProgressBar).update(total=message.total, progress=message.done)

    def on_compare_finished(self, message: CompareFinished) -> None:
        message.stop()
        self.running = False
        self.query_one("#start", Button).disabled = False
        self.query_one("#status", Static).update(("[red]" if message.error else "[green]") + message.text + "[/]")
        self.notify(message.text, severity="error" if message.error else "information")
