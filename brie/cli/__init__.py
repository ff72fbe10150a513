"""The `brie` command line: thin — parse, call the core, print (rich tables; --json for scripts).

Each area has its own module here with a `register(app)` that adds its commands; this file joins them.
"""

from __future__ import annotations

import os
from typing import Optional

import click
import typer
from typer.core import TyperGroup

from brie.cli import data, evals, foundation, generation, judge, train, tui
from brie.cli.common import ask_json, console, err_console, export_app, fail, json_asked
from brie.errors import BrieError


# Typer 0.29 vendors its own click (typer._click), whose exceptions are not click's: catch both,
# finding the vendored classes through a public one (BadParameter -> UsageError -> ClickException).
def _bases(name: str) -> tuple[type, ...]:
    return tuple({c for c in typer.BadParameter.__mro__ if c.__name__ == name} | {getattr(click, name)})


_USAGE_ERRORS = _bases("UsageError")
_CLICK_ERRORS = _bases("ClickException")
_ABORTS = (KeyboardInterrupt, typer.Abort, click.Abort)  # Ctrl-C, or a prompt left with Ctrl-D


def _check_plain_values_without_pydantic(param) -> None:
    """Typer checks every option's value with a pydantic TypeAdapter, built on first use, and
    importing pydantic for that is ~1/4 of a `brie runs list` or `brie train --help`. Most values
    need no adapter: an option left out (None), a string for a `str` option, a bool for a flag.
    Those get what typer's own checker returns for them; anything else still goes to that checker.
    (Should typer stop asking through get_runtime_param, this does nothing: typer checks as before.)
    """
    checker = getattr(param, "get_runtime_param", None)
    if checker is None or getattr(checker, "plain_values_pass", False):
        return
    desc = getattr(param, "type_descriptor", None)
    info = getattr(desc, "parameter_info", None)
    plain = desc.annotation if info is not None and info.parser is None else None  # parser=: typer's job

    class PlainValues:
        def coerce(self, value, param, ctx):
            if value is None and not (param.multiple or param.nargs == -1):
                return None  # typer's RuntimeParam.coerce returns None here too
            if plain in (str, bool) and type(value) is plain:
                return value  # the str and bool adapters return such a value unchanged
            return checker().coerce(value, param=param, ctx=ctx)

    def light():
        return PlainValues()

    light.plain_values_pass = True
    param.get_runtime_param = light


def _commands(command):
    yield command
    for sub in getattr(command, "commands", {}).values():
        yield from _commands(sub)


class BrieGroup(TyperGroup):
    """Turns every BrieError raised below into one red line and exit code 1 — no traceback; under
    --json into one JSON document, `{"error": …}` (see common.fail).

    Click's own usage errors (a missing option, a bad value, an unknown command) get the same
    "error:" prefix instead of click's "Error:", after click's usage line and help hint; exit code 2.
    """

    def parse_args(self, ctx, args):
        # The root group sees the whole command line: note --json before anything can fail.
        ask_json(list(args))
        for command in _commands(self):
            for param in command.get_params(ctx):  # with the --help option click adds
                _check_plain_values_without_pydantic(param)
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BrieError as e:
            fail(str(e))
        except _CLICK_ERRORS as e:
            if isinstance(e, _USAGE_ERRORS) and e.ctx is not None:
                err_console.print(e.ctx.get_usage(), markup=False, highlight=False, soft_wrap=True)
                err_console.print(f"Try '{e.ctx.command_path} {e.ctx.help_option_names[0]}' for help.\n",
                                  markup=False, highlight=False, soft_wrap=True)
            fail(e.format_message(), e.exit_code)
        except _ABORTS:
            if not json_asked():
                raise  # click says "Aborted!" on stderr
            fail("interrupted", 130)


app = typer.Typer(
    cls=BrieGroup,
    help="brie: fine-tune small models with LoRA, then find out honestly what got better and what was forgotten.",
    no_args_is_help=False,
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def _root(
    ctx: typer.Context,
    home: Optional[str] = typer.Option(None, "--home", envvar="BRIE_HOME",
                                       help="Workspace folder (default: $BRIE_HOME, else the current folder)."),
) -> None:
    if home:
        os.environ["BRIE_HOME"] = home
    if ctx.invoked_subcommand is None:
        from brie.cli.tui import launch
        from brie.workspace import Workspace

        ws = Workspace.locate()
        if not ws.exists:
            console.print(ctx.get_help())
            console.print(f"\nNo brie workspace at {ws.root}: `brie init` makes one, then `brie` opens the UI.",
                          markup=False, soft_wrap=True)
            return
        launch(ws)


# Each area's module adds its commands and groups; `export` is shared by two areas (see common.py).
for area in (foundation, data, train, generation, judge, evals, tui):
    area.register(app)
app.add_typer(export_app, name="export")
