"""Typed messages, named in the past tense: what happened, posted by workers to the screens."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message

# The title of the blind session's own notices ("Nothing to undo."): they name no model, so the app
# shows them at once, while every other notice waits until the session is over (see BrieApp).
SESSION_NOTICE = "Blind session"


@dataclass
class RunsRefreshed(Message):
    """The runs overview was read from the store."""

    rows: list[dict]


@dataclass
class RunDetailRefreshed(Message):
    run: dict | None
    checkpoints: list[dict]
    series: dict[str, list[tuple[int, float]]]
    # brie.export.plots.sweep_series: {benchmark: {"steps", "metrics", "base"}} from stored eval results
    sweep: dict = field(default_factory=dict)
    # brie.judging.rank.judged_ranking of this run's checkpoints, one per suite judged (with one judge)
    judged: list = field(default_factory=list)


@dataclass
class DataRefreshed(Message):
    datasets: list[dict]
    suites: list[dict]


@dataclass
class RunLaunched(Message):
    """A `brie train` process was started (it outlives the UI)."""

    name: str
    pid: int
    command: list[str]


@dataclass
class ActionFinished(Message):
    """A core action ran from the UI; `message` says what it did."""

    message: str
    error: bool = False


@dataclass
class VerdictRecorded(Message):
    comparison_id: str
    verdict: str


@dataclass
class VerdictNotStored(Message):
    """The blind session's writer could not store the verdict given at `step` (a blind.Step);
    `judged` when this human has a verdict on that comparison already (another session's)."""

    step: object
    error: str
    judged: bool


@dataclass
class ResultsRefreshed(Message):
    tables: dict = field(default_factory=dict)
