"""New run: a form for the main hyperparameters that launches `brie train` as its own process.

The form shows the equivalent `brie train` command as you type, so the same run can be started
from a terminal or a script; only values that differ from the defaults are written out. The line
under the form explains the field you are on; a field with a problem is outlined in red, and the
model is checked with brie's own check (brie.models.registry.check_model) before anything starts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Checkbox, Footer, Header, Input, Label, Select, Static

from brie.store.ui import names_for_new_run
from tui.commands import quiet_navigation
from tui.launch import launch_training, shown_command
from tui.messages import RunLaunched
from tui.reading import reading

RUN_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DEFAULT_MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True)
class Field:
    name: str  # the TrainConfig field; the option is --name-with-dashes
    label: str
    default: str
    kind: type  # int or float
    help: str
    minimum: float | None = None
    optional: bool = False  # empty means "not set"


NUMBERS = [
    Field("rank", "LoRA rank", "8", int, "Width of the low-rank update.", 1),
    Field("alpha", "LoRA alpha", "16", float, "The update is scaled by alpha/rank.", 0),
    Field("dropout", "Dropout", "0.0", float, "Dropout on the LoRA input.", 0),
    Field("num_layers", "Layers", "16", int, "Blocks to adapt from the top; -1 for all.", -1),
    Field("learning_rate", "Learning rate", "1e-4", float, "Peak learning rate.", 0),
    Field("batch_size", "Batch size", "4", int, "Examples per micro-batch.", 1),
    Field("iters", "Iterations", "1000", int, "Micro-batches to train for (unless epochs is set).", 1),
    Field("epochs", "Epochs", "", float, "Passes over the training set instead of iterations.", 0, optional=True),
    Field("save_every", "Save every", "100", int, "Checkpoint every N steps.", 1),
    Field("eval_every", "Eval every", "200", int, "Validation loss every N steps.", 1),
    Field("max_seq_length", "Max seq length", "2048", int, "Longer examples are truncated.", 1),
    Field("seed", "Seed", "0", int, "LoRA init, data order, dropout.", 0),
]


def _from_train_config(fields_: list[Field]) -> list[Field]:
    """Defaults and help text from brie's TrainConfig when it is there, so the form never disagrees
    with `brie train` about what a value means or which values can be left out of the command."""
    from dataclasses import MISSING, fields, replace

    from brie.training.config import TrainConfig

    known = {f.name: f for f in fields(TrainConfig)}
    out = []
    for f in fields_:
        tf = known.get(f.name)
        if tf is None:
            out.append(f)
            continue
        default = tf.default if tf.default is not MISSING else None
        out.append(replace(f, default="" if default is None else (f"{default:g}" if isinstance(default, float)
                                                                    else str(default)),
                           help=tf.metadata.get("help", f.help)))
    return out


NUMBERS = _from_train_config(NUMBERS)


def _value_problem(name: str, value) -> str | None:
    """brie train's own range check for the field (the one place it is decided)."""
    from brie.training.config import value_problem

    return value_problem(name, value)


@dataclass(frozen=True)
class RunRequest:
    """A validated form: the arguments of `brie train`."""

    name: str
    args: list[str]


def option(name: str) -> str:
    return "--" + name.replace("_", "-")


# The line under the form for each field that is not a number (those take TrainConfig's help).
FIELD_HELP = {
    "name": "A new name for the run: letters, digits, '.', '_' and '-'. Runs are never overwritten.",
    "model": "A registered model (`brie models list`), a model folder, or a Hugging Face id (owner/name); "
             f"{DEFAULT_MODEL} is built in.",
    "data": "The imported dataset to train on (`brie data import FILE --name NAME`); its newest version.",
    "fine_tune_type": "lora: low-rank adapters; dora: weight-decomposed LoRA; full: every weight (large).",
    "mask_prompt": "Compute the loss on the answers only, not on the prompts (space ticks it).",
    "dry_run": "10 steps, flagged as a dry run: checks that everything loads and trains (space ticks it).",
}


def field_help(field_id: str | None) -> str:
    for f in NUMBERS:
        if f.name == field_id:
            text = f.help if f.help.lower().startswith(f.label.lower()) else f"{f.label}: {f.help}"
            return text + (" Empty: not set." if f.optional else "")
    return FIELD_HELP.get(field_id or "", "")


def build_request(values: dict, taken: set[str]) -> tuple[RunRequest, list[str]]:
    """The `brie train` arguments for the form's values, and the problems that stop a launch."""
    request, problems = check_form(values, taken)
    return request, [text for _, text in problems]


def check_form(values: dict, taken: set[str]) -> tuple[RunRequest, list[tuple[str, str]]]:
    """build_request's work, each problem with the id of the field it is about (to outline it)."""
    problems: list[tuple[str, str]] = []
    name = values.get("name", "").strip()
    if not name:
        problems.append(("name", "Run name: required."))
    elif not RUN_NAME.match(name):
        problems.append(("name", "Run name: letters, digits, '.', '_' and '-' only (64 at most)."))
    elif name in taken:
        problems.append(("name", f"Run name: {name} exists already (runs are never overwritten)."))
    if not values.get("data"):
        problems.append(("data", "Dataset: choose one (import with `brie data import`)."))
    model = values.get("model", "").strip() or DEFAULT_MODEL
    args = ["train", "--model", model, "--data", values.get("data") or "DATASET", "--name", name or "NAME"]
    if values.get("fine_tune_type", "lora") != "lora":
        args += ["--fine-tune-type", values["fine_tune_type"]]
    for f in NUMBERS:
        text = str(values.get(f.name, f.default)).strip()
        if text == "" and f.optional:
            continue
        try:
            number = f.kind(float(text)) if f.kind is int and re.fullmatch(r"-?\d+(\.0*)?", text) else f.kind(text)
        except ValueError:
            problems.append((f.name, f"{f.label}: {text!r} is not {'a whole number' if f.kind is int else 'a number'}."))
            continue
        problem = _value_problem(f.name, number)
        if problem is None and f.minimum is not None and number < f.minimum:
            problem = f"must be at least {f.minimum:g}"
        if problem:
            problems.append((f.name, f"{f.label}: {problem}."))
            continue
        if f.default == "" or number != f.kind(float(f.default)):
            args += [option(f.name), text]
    if values.get("mask_prompt"):
        args.append("--mask-prompt")
    if values.get("dry_run"):
        args.append("--dry-run")
    return RunRequest(name, args), problems


def scale_text(rank: str, alpha: str) -> str:
    try:
        r, a = int(rank), float(alpha)
        return f"LoRA scale alpha/rank = {a:g}/{r} = [b]{a / r:g}[/b]" if r > 0 else "LoRA scale: rank must be ≥ 1"
    except ValueError:
        return "LoRA scale: —"


def model_problem(root, ref: str) -> str | None:
    """What stops `brie train` from loading the model `ref`, said before anything starts: brie's own
    check (a registered name, a folder mlx-lm can load, or a Hugging Face id in the cache or on the
    hub). Call from a worker thread: a hub id may be looked up online."""
    from brie.errors import BrieError
    from brie.models.registry import check_model
    from brie.workspace import Workspace

    ws = Workspace(root)
    try:
        check_model(ws, ref)
    except BrieError as e:
        return str(e)
    except Exception as e:  # a check that breaks must not take the UI down; training would say more
        return f"{ref!r}: could not be checked ({type(e).__name__}: {e})"
    finally:
        ws.close()
    return None


class Tick(Checkbox):
    """A checkbox that shows ✓ when ticked and an empty box when not (Textual's shows an X in
    both, only its colour changes, which is hard to see on many terminals)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.BUTTON_INNER = "✓" if self.value else " "

    def watch_value(self) -> None:
        self.BUTTON_INNER = "✓" if self.value else " "
        super().watch_value()


class NewRunScreen(Screen):
    CSS_PATH = "new_run.tcss"
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+s", "launch", "Launch", priority=True),
        *quiet_navigation(),  # r, d, … still work once out of a field; the footer keeps ? and q
    ]

    def __init__(self):
        super().__init__()
        self.taken: set[str] = set()
        self.known_models: set[str] = {DEFAULT_MODEL}  # registered ones: nothing to check
        self.model_checks: dict[str, str | None] = {}  # model ref → its problem (None: fine), once checked

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("New training run", classes="title")
        with Horizontal(id="form-row"):
            with VerticalScroll(id="form"):
                yield Label("Run name", id="label-name")
                yield Input(placeholder="e.g. pirate-r8", id="name", compact=True)
                yield Label("Base model", id="label-model")
                yield Input(value=DEFAULT_MODEL, id="model", compact=True)
                yield Label("Dataset", id="label-data")
                yield Select([], id="data", prompt="choose a dataset", compact=True)
                yield Label("Fine-tune type", id="label-fine_tune_type")
                yield Select([(t, t) for t in ("lora", "dora", "full")], value="lora", id="fine_tune_type",
                             allow_blank=False, compact=True)
                for f in NUMBERS:
                    yield Label(f.label, id=f"label-{f.name}")
                    yield Input(value=f.default, id=f.name, placeholder="not set" if f.optional else "",
                                tooltip=f.help, compact=True)
                yield Label("")
                yield Tick("Train on answers only (mask the prompt)", id="mask_prompt", compact=True)
                yield Label("")
                yield Tick("Dry run (10 steps, flagged)", id="dry_run", compact=True)
            with Vertical(id="side"):
                yield Static("", id="scale")
                yield Static("Command", classes="title")
                yield Static("", id="preview", markup=False)
                yield Static("", id="problems")
                yield Button("Launch (ctrl+s)", id="launch", variant="success")
        yield Static("", id="field-help")  # what the focused field means (also its tooltip)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()
        self._load_names()
        self._update()

    @work(thread=True)
    def _load_names(self) -> None:
        with reading(self.app.workspace.root) as store:
            names = names_for_new_run(store)
        self.app.call_from_thread(self._names_loaded, names)

    def _names_loaded(self, names: dict) -> None:
        self.taken = set(names["runs"])
        self.known_models |= set(names["models"])
        self.query_one("#data", Select).set_options([(n, n) for n in names["datasets"]])
        self.query_one("#model", Input).suggester = SuggestFromList(names["models"] + [DEFAULT_MODEL])
        self._update()

    def values(self) -> dict:
        out: dict = {}
        for widget in self.query(Input):
            out[widget.id] = widget.value
        for widget in self.query(Select):
            out[widget.id] = None if widget.value is Select.NULL else widget.value
        for widget in self.query(Checkbox):
            out[widget.id] = widget.value
        return out

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "model":
            self._check_model_later()
        self._update()

    def on_descendant_focus(self, event) -> None:
        self.query_one("#field-help", Static).update(field_help(event.widget.id))

    def _check_model_later(self) -> None:
        """Check the model once typing pauses (a hub id may mean a network look-up)."""
        if getattr(self, "_model_timer", None) is not None:
            self._model_timer.stop()
        self._model_timer = self.set_timer(0.4, self._check_model)

    def _check_model(self) -> None:
        ref = self.query_one("#model", Input).value.strip() or DEFAULT_MODEL
        if ref in self.known_models or ref in self.model_checks:
            return
        self._run_model_check(ref)

    @work(thread=True, group="model")
    def _run_model_check(self, ref: str) -> None:
        problem = model_problem(self.app.workspace.root, ref)
        self.app.call_from_thread(self._model_checked, ref, problem)

    def _model_checked(self, ref: str, problem: str | None) -> None:
        self.model_checks[ref] = problem
        self._update()

    def problems(self, values: dict) -> tuple[RunRequest, list[tuple[str, str]]]:
        """The form's problems, the model's included (checking: it is not launched until known)."""
        request, problems = check_form(values, self.taken)
        ref = values.get("model", "").strip() or DEFAULT_MODEL
        if ref not in self.known_models:
            if ref not in self.model_checks:
                problems.append(("model", f"Base model: checking {ref}…"))
            elif self.model_checks[ref]:
                problems.append(("model", f"Base model: {self.model_checks[ref]}"))
        return request, problems

    def on_select_changed(self, _: Select.Changed) -> None:
        self._update()

    def on_checkbox_changed(self, _: Checkbox.Changed) -> None:
        self._update()

    def _update(self) -> None:
        from rich.markup import escape

        values = self.values()
        request, problems = self.problems(values)
        self.query_one("#scale", Static).update(scale_text(values.get("rank", ""), values.get("alpha", "")))
        self.query_one("#preview", Static).update(shown_command(request.args))
        self.query_one("#problems", Static).update("\n".join(f"[red]•[/] {escape(p)}" for _, p in problems))
        launch = self.query_one("#launch", Button)
        if launch.disabled != bool(problems):
            launch.disabled = bool(problems)
            self.refresh_bindings()  # ctrl+s dimmed or not
        wrong = {field for field, text in problems if "checking" not in text}
        for widget in self.query("#form Input, #form Select"):
            widget.set_class(widget.id in wrong, "-problem")  # marked red (new_run.tcss)
        for label in self.query("#form Label"):
            label.set_class(label.id is not None and label.id.removeprefix("label-") in wrong, "-problem")

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "launch":
            return not self.query_one("#launch", Button).disabled or None  # None: shown dimmed
        return True

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "launch":
            self.action_launch()

    def action_launch(self) -> None:
        request, problems = self.problems(self.values())
        if problems:
            self.notify(problems[0][1], severity="error")
            return
        launched = launch_training(self.app.workspace, request.name, request.args[1:])
        self.app.follow(launched)
        self.app.post_message(RunLaunched(request.name, launched.process.pid, request.args))
        # On to the new run itself (it shows "starting…" until `brie train` has written it).
        from tui.screens.run_detail import RunDetailScreen

        self.app.pop_screen()
        self.app.push_screen(RunDetailScreen(request.name))
