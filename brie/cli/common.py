"""What every CLI module shares: consoles, JSON output, errors.

Output discipline: results go to stdout (`console`, `print_json`); progress, notices, warnings and
errors to stderr (`err_console`). A command given `--json` prints exactly one JSON document on
stdout, and when it fails that document is `{"error": "<one line>"}` (exit code 1; 2 for a usage
error): `fail` knows whether `--json` was asked, so no command has to.
"""

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

# Whether this command line asked for --json; set by the root group (brie.cli.BrieGroup) as it parses.
_json_asked = False


def ask_json(args: list[str]) -> None:
    """Note whether a command line asks for --json (before a `--`, after which words are arguments)."""
    global _json_asked
    words = args[:args.index("--")] if "--" in args else args
    _json_asked = "--json" in words


def json_asked() -> bool:
    return _json_asked


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


def fail(message: str, code: int = 1) -> NoReturn:
    """End the command with a one-line error: `{"error": …}` on stdout under --json, else red on stderr."""
    if _json_asked:
        print_json({"error": " ".join(message.split())})
    else:
        err_console.print("error: " + message, style="bold red", markup=False, emoji=False, soft_wrap=True)
    raise typer.Exit(code)
