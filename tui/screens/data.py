"""Data: datasets with their import reports, and prompt suites."""

from __future__ import annotations

import json

from rich.markup import escape

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static

from brie.store import Store
from brie.store.datasets import list_datasets
from brie.store.ui import suites_overview
from tui.messages import DataRefreshed
from tui.screens.polling import PollingScreen


def report_text(dataset: dict) -> str:
    """The dataset's import report (see brie.data.datasets), as the lines `brie data show` prints."""
    ratio = dataset.get("sample_ratio")
    lines = [
        f"[b]{dataset['name']} v{dataset['version']}[/b] — {dataset.get('format') or '?'}",
        f"rows: train {dataset.get('rows_train') or 0}, valid {dataset.get('rows_valid') or 0}, "
        f"test {dataset.get('rows_test') or 0}",
        f"sample ratio: [b]{1 if ratio is None else ratio:g}[/b] (seed {dataset.get('seed')})",
        f"source: {escape(str(dataset.get('source') or '?'))}",
        f"sha256: {(dataset.get('sha256') or '')[:16]}…",
    ]
    try:
        rep = json.loads(dataset.get("report_json") or "{}")
    except ValueError:
        rep = {}
    rows = rep.get("rows") if isinstance(rep.get("rows"), dict) else {}
    sample = rep.get("sample") if isinstance(rep.get("sample"), dict) else {}
    if rows:
        lines.append(f"read {rows.get('read')} · rejected {rows.get('rejected')} · duplicates {rows.get('duplicates')}"
                     f" · leakage removed {rows.get('leaked')}")
    if sample.get("train_rows_before") is not None:
        lines.append(f"sample: {sample.get('train_rows_after')} of {sample.get('train_rows_before')} training rows")
    if rep.get("input_format"):
        lines.append(f"format: {rep.get('input_format')} → {rep.get('format')}")
    norms = rep.get("normalizations") or {}
    if norms:
        lines.append("[b]normalizations[/b]")
        for key, item in norms.items():
            count = item.get("count") if isinstance(item, dict) else item
            lines.append(f"  {key.replace('_', ' ')}: {count}")
    rejected = rep.get("rejected")
    if isinstance(rejected, dict) and rejected.get("count"):
        lines.append(f"[b]rejected[/b] {rejected['count']} → {rejected.get('file')}")
        for reason, n in (rejected.get("by_reason") or {}).items():
            lines.append(f"  {escape(str(reason))}: {n}")
    elif isinstance(rejected, int):
        lines.append(f"rejected: {rejected}")
    for key, label in (("lengths_chars", "length (chars)"), ("lengths_tokens", "length (tokens)"),
                       ("token_lengths", "length (tokens)")):
        ln = rep.get(key)
        if isinstance(ln, dict) and ln.get("max") is not None:
            text = f"{label}: min {ln.get('min')}, median {ln.get('median')}, p95 {ln.get('p95')}, max {ln.get('max')}"
            over = ln.get("over_max_seq_length")
            if isinstance(over, dict):
                text += f"; over {ln.get('max_seq_length')}: {sum(over.values())} (would be truncated)"
            lines.append(text)
    for warning in rep.get("warnings") or []:
        lines.append(f"[yellow]! {escape(str(warning))}[/]")
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
        return DataRefreshed(list_datasets(store, all_versions=True), suites_overview(store))

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
        elif not table.row_count:  # said where the report would be, not only at the bottom
            self.query_one("#report", Static).update(
                "No datasets yet. Import one in a terminal:\n\n  brie data import FILE --name NAME\n\n"
                "(JSONL or CSV: chat, completions or prompt/answer pairs; `brie data import --help`). "
                "It shows up here within a second.")

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "datasets" and event.row_key is not None:
            self._show_report(event.row_key.value)

    def _show_report(self, key: str) -> None:
        if key in self.datasets:
            self._report_shown = True
            self.query_one("#report", Static).update(report_text(self.datasets[key]))
