"""`brie init`, `brie doctor`, `brie models …`, `brie demo`."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.table import Table

from brie.cli.common import console, err_console, print_json
from brie.workspace import Workspace

models_app = typer.Typer(help="Models: the embedded default, local folders, Hugging Face ids.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("doctor")(doctor)
    app.command("demo")(demo)
    app.add_typer(models_app, name="models")


def init(path: Optional[str] = typer.Argument(None, help="Folder to make a workspace (default: $BRIE_HOME or here).")) -> None:
    """Make a workspace: brie.db plus data/, models/, runs/, exports/."""
    ws = Workspace.open(path, create=True)
    console.print(f"Workspace ready at {ws.root} (schema version {ws.store.schema_version}).")


def doctor(
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    measure: bool = typer.Option(True, "--measure/--no-measure", help="Time a 1024² matmul to show BLAS speed."),
) -> None:
    """Check this machine and workspace: MLX, BLAS speed, torch/CUDA, default model, judge keys."""
    from brie.doctor import check

    ws = Workspace.locate()
    report = check(ws, measure=measure)
    if ws.exists:
        from brie.store.models import record_doctor_report

        record_doctor_report(ws.store, json.dumps(report))
    if as_json:
        print_json(report)
        return
    blas = report["blas"]
    rows = [
        ("platform", report["platform"]),
        ("python", report["python"]),
        ("mlx", f"{report['mlx'].get('version')} on {report['mlx'].get('device', report['mlx'].get('error'))}"),
        ("BLAS", f"{blas['loaded']}" + (f" — {blas['matmul_gflops']} GFLOP/s (1024² matmul)" if "matmul_gflops" in blas else "")),
        ("torch", "not installed" if not report["torch"]["installed"]
         else f"{report['torch'].get('version')} (CUDA: {report['torch'].get('cuda')})"),
        ("default model", f"{report['default_model']['name']}: " + ("ready" if report["default_model"]["ready"] else report["default_model"].get("note", "not prepared"))),
        ("judge keys", ", ".join(f"{k} {'set' if v else 'not set'}" for k, v in report["judge_keys"].items())),
        ("workspace", f"{report['workspace']['path']}" + (f" (schema {report['workspace']['schema_version']})" if report["workspace"]["exists"] else " (none)")),
    ]
    table = Table(show_header=False, box=None)
    table.add_column(no_wrap=True)
    table.add_column(overflow="fold")  # paths fold onto the next line whole, never cut with an ellipsis
    for k, v in rows:
        table.add_row(f"[bold]{k}[/]", v)
    console.print(table)
    for p in report["problems"]:
        console.print(f"[yellow]![/] {p['problem']}\n    fix: {p['fix']}")
    if not report["problems"]:
        console.print("[green]All good.[/]")


@models_app.command("list")
def models_list(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Models registered in this workspace."""
    from brie.store.models import list_models

    rows = list_models(Workspace.open().store)
    if as_json:
        print_json(rows)
        return
    table = Table("name", "kind", "source", "path")
    for r in rows:
        table.add_row(r["name"], r["kind"], r["source"], r["path"] or "(hub, downloaded on first use)")
    console.print(table)


@models_app.command("add")
def models_add(
    source: str = typer.Argument(..., help="A Hugging Face id (owner/name) or a local MLX/HF model folder."),
    name: Optional[str] = typer.Option(None, "--name", help="Short name to refer to it (default: the folder or repo name)."),
    as_json: bool = typer.Option(False, "--json", help="Print the record as JSON."),
) -> None:
    """Register a model under a short name."""
    from brie.models.registry import add_model

    row = add_model(Workspace.open(), source, name)
    if as_json:
        print_json(row)
    else:
        console.print(f"Added model {row['name']} ({row['kind']}: {row['source']}).")


@models_app.command("prepare")
def models_prepare() -> None:
    """Prepare the embedded default model (SmolLM2-135M-Instruct) from its GGUF, offline."""
    from brie.models.registry import prepare_default_model

    path = prepare_default_model(Workspace.open(create=True),
                                 progress=lambda text: err_console.print(text, markup=False, soft_wrap=True))
    console.print(f"Default model ready at {path}.")


def demo() -> None:
    """The whole loop on the embedded default model, offline, in this workspace."""
    from brie.demo.steps import run_demo

    # soft_wrap: the terminal wraps long lines itself, so paths are not broken by inserted newlines
    run_demo(Workspace.open(create=True), lambda text: console.print(text, soft_wrap=True))
