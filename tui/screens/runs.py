"""Runs: every training run in the workspace, re-read every second so live runs move."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static

from brie.store import Store
from brie.store.ui import runs_overview
from tui import format as fmt
from tui.messages import RunsRefreshed
from tui.screens.polling import PollingScreen

COLUMNS = [
    ("name", "Run"),
    ("model", "Model"),
    ("dataset", "Dataset"),
    ("backend", "Backend"),
    ("status", "Status"),
    ("progress", "Step"),
    ("best_val", "Best val loss"),
    ("recommended", "Recommended"),
]


def row_cells(row: dict) -> dict:
    best = row.get("best_val_loss")
    rec = row.get("recommended_step")
    return {
        "name": row["name"],
        "model": row.get("model") or "—",
        "dataset": fmt.dataset(row.get("dataset"), row.get("dataset_version"), row.get("sample_ratio")),
        "backend": row.get("backend") or "—",
        "status": fmt.status_text(row.get("status")),
        "progress": fmt.progress(row.get("step"), row.get("total_steps")),
        "best_val": fmt.loss(best) + (f" @{row['best_step']}" if best is not None and row.get("best_step") is not None else ""),
        "recommended": "—" if rec is None else f"step {rec}",
    }


class RunsScreen(PollingScreen):
    CSS_PATH = "runs.tcss"
    BINDINGS = [
        Binding("enter", "open_run", "Open run", priority=True),
        Binding("f5", "refresh_runs", "Refresh", show=False),
    ]

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Runs", classes="title")
        table = DataTable(id="runs", cursor_type="row", zebra_stripes=True)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        yield table
        yield Static("No runs yet. Press n to start one, or run `brie train` in a terminal.", id="empty", classes="hint")
        yield Footer()

    def read(self, store: Store) -> RunsRefreshed:
        return RunsRefreshed(runs_overview(store))

    def on_runs_refreshed(self, message: RunsRefreshed) -> None:
        message.stop()
        table = self.query_one("#runs", DataTable)
        self.query_one("#empty").display = not message.rows
        wanted = [r["name"] for r in message.rows]
        existing = {key.value for key in table.rows}
        # Update in place so the cursor and scroll stay where the user left them.
        for name in existing - set(wanted):
            table.remove_row(name)
        for row in message.rows:
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

    def action_refresh_runs(self) -> None:
        self.refresh_now()

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
