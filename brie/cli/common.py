"""What every CLI module shares: consoles, JSON output, errors."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

# `brie export …` gathers commands from two areas: judged/csv/dpo (judge.py) and model (train.py).
export_app = typer.Typer(help="Write judged JSONL, the results CSV, DPO pairs or a fused model into exports/.",
                         no_args_is_help=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print("error: " + message, style="bold red", markup=False, emoji=False, soft_wrap=True)
    raise typer.Exit(code)
