"""Data: datasets with their import reports, and prompt suites."""

from __future__ import annotations

import json

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from brie.store import Store
from brie.store.ui import datasets_overview, suites_overview
from tui.messages import DataRefreshed
from tui.screens.polling import PollingScreen


def report_text(dataset: dict) -> str:
    """The dataset's import report as readable lines (whatever keys the importer wrote)."""
    lines = [
        f"[b]{dataset['name']} v{dataset['version']}[/b]  format {dataset.get('format') or '?'}",
        f"source: {dataset.get('source') or '?'}",
        f"sha256: {(dataset.get('sha256') or '')[:16]}…",
        f"sample ratio: {dataset.get('sample_ratio') if dataset.get('sample_ratio') is not None else 1:g}"
        f" (seed {dataset.get('seed')})",
        f"rows: train {dataset.get('rows_train') or 0}, valid {dataset.get('rows_valid') or 0}, "
        f"test {dataset.get('rows_test') or 0}",
    ]
    try:
        report = json.loads(dataset.get("report_json") or "{}")
    except ValueError:
        report = {}
    for key, value in report.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} {_short(v)}" for k, v in value.items())
            lines.append(f"{key.replace('_', ' ')}: {inner or '—'}")
        elif isinstance(value, list):
            lines.append(f"{key.replace('_', ' ')}: {', '.join(map(_short, value[:6])) or '—'}"
                         + (" …" if len(value) > 6 else ""))
        else:
            lines.append(f"{key.replace('_', ' ')}: {_short(value)}")
    return "\n".join(lines)


def _short(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (dict, list)):
        text = json.dumps(value)
        return text if len(text) < 60 else text[:57] + "…"
    return str(value)


class DataScreen(PollingScreen):
    CSS_PATH = "data.tcss"

    def __init__(self):
        super().__init__()
        self.datasets: dict[str, dict] = {}
        self._report_shown = False

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="data-top"):
            with Vertical(id="datasets-box"):
                yield Static("Datasets", classes="title")
                table = DataTable(id="datasets", cursor_type="row", zebra_stripes=True)
                for key, label in [("name", "Name"), ("version", "Ver"), ("format", "Format"),
                                   ("rows", "Train/valid/test"), ("ratio", "Sample")]:
                    table.add_column(label, key=key)
                yield table
            with VerticalScroll(id="report-box"):
                yield Static("Select a dataset to see its report.", id="report")
        yield Static("Prompt suites", classes="title")
        suites = DataTable(id="suites", cursor_type="row", zebra_stripes=True)
        for key, label in [("name", "Suite"), ("n", "Prompts"), ("categories", "Categories"), ("source", "Source")]:
            suites.add_column(label, key=key)
        yield suites
        yield Static("Import with `brie data import FILE --name NAME` and `brie suites import FILE --name NAME`.",
                     classes="hint")
        yield Footer()

    def read(self, store: Store) -> DataRefreshed:
        return DataRefreshed(datasets_overview(store), suites_overview(store))

    def on_data_refreshed(self, message: DataRefreshed) -> None:
        message.stop()
        table = self.query_one("#datasets", DataTable)
        self.datasets = {f"{d['name']}@{d['version']}": d for d in message.datasets}
        existing = {k.value for k in table.rows}
        for key, d in self.datasets.items():
            if key not in existing:
                table.add_row(d["name"], d["version"], d.get("format") or "?",
                              f"{d.get('rows_train') or 0}/{d.get('rows_valid') or 0}/{d.get('rows_test') or 0}",
                              f"{d['sample_ratio']:g}" if d.get("sample_ratio") is not None else "1",
                              key=key)
        suites = self.query_one("#suites", DataTable)
        existing = {k.value for k in suites.rows}
        for s in message.suites:
            if s["name"] not in existing:
                suites.add_row(s["name"], s.get("n_prompts") or 0, s.get("categories") or "—", s.get("source") or "",
                               key=s["name"])
        if table.row_count and not self._report_shown:
            self._show_report(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "datasets" and event.row_key is not None:
            self._show_report(event.row_key.value)

    def _show_report(self, key: str) -> None:
        if key in self.datasets:
            self._report_shown = True
            self.query_one("#report", Static).update(report_text(self.datasets[key]))
