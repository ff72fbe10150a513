"""Runs: every training run in the workspace, re-read every second so live runs move.

`/` filters the list (name, model, dataset, status), `s` cycles the sort. The list is read even
while another screen is on, so the end of a run is told wherever the user is.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Input, Static

from brie.store import Store
from brie.store.ui import runs_overview
from brie.words import plural
from tui import format as fmt
from tui.messages import RunsRefreshed
from tui.screens.polling import PollingScreen

# What moves (status, step, time left) first, so it is on screen at 80 columns.
COLUMNS = [
    ("name", "Run"),
    ("status", "Status"),
    ("progress", "Step"),
    ("best_val", "Best val loss"),
    ("recommended", "Recommended"),
    ("model", "Model"),
    ("dataset", "Dataset"),
    ("backend", "Backend"),
]

# `s` cycles through these: (label, key function, reversed). Newest first is how the store reads them.
SORTS = [
    ("newest", lambda r: r["id"], True),
    ("name", lambda r: r["name"], False),
    ("status", lambda r: (r.get("status") or "", -r["id"]), False),
    ("best val loss", lambda r: (r.get("best_val_loss") is None, r.get("best_val_loss") or 0.0), False),
]
ENDED = ("completed", "failed", "cancelled")


def row_cells(row: dict) -> dict:
    best = row.get("best_val_loss")
    rec = row.get("recommended_step")
    return {
        "name": row["name"],
        "model": row.get("model") or "—",
        "dataset": fmt.dataset(row.get("dataset"), row.get("dataset_version"), row.get("sample_ratio")),
        "backend": row.get("backend") or "—",
        "status": fmt.status_text(row.get("status")),
        "progress": fmt.run_progress(row),
        "best_val": fmt.loss(best) + (f" @{row['best_step']}" if best is not None and row.get("best_step") is not None else ""),
        "recommended": "—" if rec is None else f"step {rec}",
    }


def matches(row: dict, text: str) -> bool:
    """Whether the filter text is in the run's name, model, dataset or status (case ignored)."""
    text = text.strip().lower()
    if not text:
        return True
    fields = (row["name"], row.get("model"), row.get("dataset"), row.get("status"), row.get("backend"))
    return any(text in str(f).lower() for f in fields if f)


def shown_rows(rows: list[dict], text: str, sort: int) -> list[dict]:
    _, key, reverse = SORTS[sort]
    return sorted((r for r in rows if matches(r, text)), key=key, reverse=reverse)


def ended_notice(row: dict) -> tuple[str, str]:
    """(message, severity) for a run that has just ended."""
    status = row.get("status")
    text = f"Run {row['name']} {status} at step {fmt.progress(row.get('step'), row.get('total_steps'))}"
    if status == "failed" and row.get("error"):
        return f"{text}: {row['error']}", "error"
    return text + ".", "warning" if status == "cancelled" else "information"


class RunsScreen(PollingScreen):
    CSS_PATH = "runs.tcss"
    POLL_WHEN_HIDDEN = True  # to tell when a run ends, on whatever screen the user is
    AUTO_FOCUS = "#runs"  # not the hidden filter field, which would take the letter keys
    BINDINGS = [
        Binding("enter", "open_run", "Open"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("s", "sort", "Sort"),
        Binding("f5", "refresh_runs", "Refresh", show=False),
    ]

    def __init__(self):
        super().__init__()
        self.rows: list[dict] = []
        self.read_once = False
        self.sort = 0
        self.statuses: dict[str, str] = {}  # as last read, to tell when a run ends

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Runs", classes="title")
        yield Static("", id="runs-state", classes="hint")
        yield Input(placeholder="filter: name, model, dataset or status (enter: back to the list)",
                    id="filter", compact=True)
        yield Static("", id="empty", classes="hint")
        table = DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        yield table
        yield Footer()

    def read(self, store: Store) -> RunsRefreshed:
        return RunsRefreshed(runs_overview(store))

    def on_runs_refreshed(self, message: RunsRefreshed) -> None:
        message.stop()
        self._tell_ended(message.rows)
        self.rows = message.rows
        self.read_once = True
        self._show()

    def _tell_ended(self, rows: list[dict]) -> None:
        for row in rows:
            before = self.statuses.get(row["name"])
            if before in ("running", "pending") and row.get("status") in ENDED:
                text, severity = ended_notice(row)
                self.notify(text, severity=severity, timeout=10)
        self.statuses = {row["name"]: row.get("status") for row in rows}

    def _show(self) -> None:
        table = self.query_one("#runs", DataTable)
        text = self.query_one("#filter", Input).value
        rows = shown_rows(self.rows, text, self.sort)
        wanted = [r["name"] for r in rows]
        existing = {key.value for key in table.rows}
        # Update in place so the cursor and scroll stay where the user left them.
        for name in existing - set(wanted):
            table.remove_row(name)
        for row in rows:
            cells = row_cells(row)
            if row["name"] in existing:
                for key, value in cells.items():
                    if table.get_cell(row["name"], key) != value:
                        table.update_cell(row["name"], key, value, update_width=True)
            else:
                table.add_row(*(cells[k] for k, _ in COLUMNS), key=row["name"])
        if [row.key.value for row in table.ordered_rows] != wanted:
            order = {name: i for i, name in enumerate(wanted)}
            table.sort("name", key=lambda name: order.get(str(name), 0))
        self._show_state(len(rows), text)
        if bool(rows) != getattr(self, "_had_rows", None):  # only then: the footer recomposes on it
            self._had_rows = bool(rows)
            self.refresh_bindings()

    def _show_state(self, shown: int, text: str) -> None:
        empty = self.query_one("#empty", Static)
        if not self.read_once:
            empty.update("Reading runs…")
        elif not self.rows:
            empty.update("No runs yet. Press [b]n[/b] to start one, or run `brie train` in a terminal; "
                         "it shows up here within a second.")
        elif not shown:
            empty.update(f"No run matches “{text.strip()}”. Press [b]/[/b] and empty the filter to see all "
                         f"{len(self.rows)}.")
        empty.display = not shown
        self.query_one("#runs").display = bool(shown)
        label = SORTS[self.sort][0]
        state = f"{shown} of {len(self.rows)} runs" if shown != len(self.rows) else plural(len(self.rows), "run")
        state += f" · sorted by {label} (s)"
        if text.strip():
            state += f" · filter “{text.strip()}” (/)"
        self.query_one("#runs-state", Static).update(state)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "open_run":
            return self.query_one("#runs", DataTable).row_count > 0 or None  # None: shown dimmed
        return True

    def action_refresh_runs(self) -> None:
        self.refresh_now()

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    def action_sort(self) -> None:
        self.sort = (self.sort + 1) % len(SORTS)
        self._show()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self._show()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            self.query_one("#runs", DataTable).focus()

    def on_descendant_blur(self, event) -> None:
        field = self.query_one("#filter", Input)
        if event.widget is field and not field.value.strip():
            field.display = False  # an empty filter takes no room

    def action_open_run(self) -> None:
        table = self.query_one("#runs", DataTable)
        if table.row_count == 0:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        from tui.screens.run_detail import RunDetailScreen

        self.app.push_screen(RunDetailScreen(key))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        from tui.screens.run_detail import RunDetailScreen

        self.app.push_screen(RunDetailScreen(event.row_key.value))
