"""The reveal after a blind session: which model you preferred, and how you agree with the LLM judges.

Two meanings of A and B meet here, so each is named: during the session A and B were screen positions
(the answer shown on the left, on the right); in the results, model A and model B are the
comparison's sides (`brie compare --a … --b …`). The session's table shows what you pressed as you
saw it, and which model that was.
"""

from __future__ import annotations

import threading

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from brie.words import plural
from brie.workspace import Workspace
from tui import format as fmt
from tui.screens.results import agreement_cells, position_text


class RevealScreen(Screen):
    CSS_PATH = "reveal.tcss"
    BINDINGS = [Binding("escape", "app.pop_screen", "Done")]

    def __init__(self, setup, judged_ids: list[int], writes_done: threading.Event | None = None):
        super().__init__()
        self.setup = setup
        self.judge = f"human:{setup.name}"
        self.judged_ids = judged_ids
        self.writes_done = writes_done
        self.revealed: dict | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll():
            yield Static(f"The reveal — {self.judge}", classes="title")
            yield Static("Counting…", id="summary")
            yield Static("Your win rates over all your verdicts: model B's win rate against model A (the "
                         "comparison's sides, not the screen's), ties as half, 95% CI", classes="title")
            yield DataTable(id="rates", cursor_type="none")
            yield Static("", id="position-bias", classes="hint", markup=False)
            yield Static("Your agreement with each judge, verdict by verdict on the same comparison shown "
                         "in the same order", classes="title")
            yield DataTable(id="agreement", cursor_type="none")
            yield Static("This session, unmasked: what you pressed, as you saw it, and whose answer it was",
                         classes="title")
            yield DataTable(id="session", cursor_type="none")
        yield Footer()

    def on_mount(self) -> None:
        self._compute()

    @work(thread=True)
    def _compute(self) -> None:
        from brie.judging.stats import results
        from brie.store.judging import all_judgments, find_comparisons

        if self.writes_done is not None:
            self.writes_done.wait(timeout=60)
        ws = Workspace(self.app.workspace.root)
        try:
            mine = results(ws, self.setup.suite, self.judge)
            everyone = results(ws, self.setup.suite)
            details = find_comparisons(ws.store, ids=list(self.judged_ids))
            verdicts = {j["comparison_id"]: j["verdict"] for j in all_judgments(ws.store, self.judge)}
        finally:
            ws.close()
        self.app.call_from_thread(self._show, mine, everyone, details, verdicts)

    def _show(self, mine: dict, everyone: dict, details: list[dict], verdicts: dict) -> None:
        self.revealed = {"mine": mine, "everyone": everyone}
        rows = [r for r in mine["results"] if r["category"] == "(all)"]
        self.query_one("#summary", Static).update(
            f"You judged {plural(len(self.judged_ids), 'comparison')} this session "
            f"({sum(r['n'] for r in rows)} in all).")
        rates = self.query_one("#rates", DataTable)
        rates.add_columns("Suite", "Model A", "Model B", "n", "A wins", "B wins", "Ties", "B win rate", "95% CI",
                          "")
        for r in rows:
            rates.add_row(r["suite"], r["a"], r["b"], r["n"], r["a_wins"], r["b_wins"], r["ties"],
                          fmt.pct(r["b_win_rate"]), f"{fmt.pct(r['ci_low'])}–{fmt.pct(r['ci_high'])}",
                          r["warning"] or "")
        agreement = self.query_one("#agreement", DataTable)
        # A person judges one order, so only the judgment-by-judgment columns can hold numbers.
        agreement.add_columns("Judge", "n", "Agreement", "Cohen's kappa")
        for a in everyone["agreement"]:
            if self.judge not in (a["judge_1"], a["judge_2"]):
                continue
            other = a["judge_2"] if a["judge_1"] == self.judge else a["judge_1"]
            agreement.add_row(other, *agreement_cells(a)[:3])
        if agreement.row_count == 0:
            agreement.add_row("(no other judge has judged these comparisons yet)", "", "", "")
        bias = self.query_one("#position-bias", Static)
        bias.update(position_text(mine["position_warnings"]))
        bias.display = bool(mine["position_warnings"])
        session = self.query_one("#session", DataTable)
        session.add_columns("Prompt", "On screen as A", "On screen as B", "You pressed", "Your pick")
        order = {cid: i for i, cid in enumerate(self.judged_ids)}
        for c in sorted(details, key=lambda c: order.get(c["comparison_id"], 0)):
            first, second = (c["a_label"], c["b_label"]) if c["shown_first"] == "a" else (c["b_label"], c["a_label"])
            v = verdicts.get(c["comparison_id"])
            chose = {"a": c["a_label"], "b": c["b_label"], "tie": "tie"}.get(v, v or "—")
            session.add_row(c["prompt_id"], first, second, pressed(v, c["shown_first"]), chose)


def pressed(verdict: str | None, shown_first: str) -> str:
    """The key the person pressed, from the stored verdict (a model's side) and the order they saw."""
    if verdict is None:
        return "—"
    if verdict == "tie":
        return "t (tie)"
    return "a (left)" if verdict == shown_first else "b (right)"
