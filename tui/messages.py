"""Typed messages, named in the past tense: what happened, posted by workers to the screens."""

from __future__ import annotations

from dataclasses import dataclass, field

from textual.message import Message


@dataclass
class RunsRefreshed(Message):
    """The runs overview was read from the store."""

    rows: list[dict]


@dataclass
class RunDetailRefreshed(Message):
    run: dict | None
    checkpoints: list[dict]
    series: dict[str, list[tuple[int, float]]]


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
class ResultsRefreshed(Message):
    tables: dict = field(default_factory=dict)
