"""`brie tui` (and plain `brie`): open the Textual UI on the workspace."""

from __future__ import annotations

import typer

from brie.workspace import Workspace


def register(app: typer.Typer) -> None:
    app.command("tui")(tui)


def tui() -> None:
    """Open the terminal UI: runs, checkpoints, data, comparisons, blind judging, results."""
    launch(Workspace.open())


def launch(ws: Workspace) -> None:
    # Imported here so that `brie` itself never imports Textual (scripts and the CLI stay light).
    from tui.app import run_app

    run_app(ws)
