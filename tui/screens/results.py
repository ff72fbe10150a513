"""Results (placeholder until the judging engine lands on main)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class ResultsScreen(Screen):
    CSS_PATH = "results.tcss"

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Results", classes="title")
        yield Static("Comes with judging.", classes="hint")
        yield Footer()
