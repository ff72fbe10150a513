"""What every CLI module shares: consoles, JSON output, errors."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print("error: " + message, style="bold red", markup=False, emoji=False, soft_wrap=True)
    raise typer.Exit(code)
