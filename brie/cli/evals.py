"""`brie eval`, `brie experiments`, `brie report`."""

from __future__ import annotations

from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from brie.cli.common import console, err_console, print_json
from brie.errors import BrieError
from brie.workspace import Workspace


def register(app: typer.Typer) -> None:
    app.command("eval")(eval_command)
    app.command("experiments")(experiments)
    app.command("report")(report)


def eval_command(
    models: Optional[str] = typer.Option(None, "--models", "-m",
                                         help="Comma-separated specs: base, <run>@<step>, <run>@best|last|recommended."),
    benchmarks: str = typer.Option(..., "--benchmarks", "-b",
                                   help="Comma-separated: gsm8k[:file or hub id], perplexity:<dataset|folder|file>, "
                                        "mcq:<file>, overlap:<suite|file>, mt-bench[:file], lm-eval:<task> "
                                        "(what each needs: see above)."),
    sweep: Optional[str] = typer.Option(None, "--sweep", help="Evaluate base and every checkpoint of this run, "
                                                              "then plot each metric against step."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N items of each benchmark."),
    shots: int = typer.Option(0, "--shots", min=0, help="Few-shot examples for gsm8k and lm-eval tasks."),
    max_tokens: Optional[int] = typer.Option(None, "--max-tokens", min=1,
                                             help="Most tokens per generated answer (default 256; mt-bench: "
                                                  "1024, FastChat's)."),
    batch_size: int = typer.Option(8, "--batch-size", min=1, help="Prompts generated together (batched generation)."),
    base_model: Optional[str] = typer.Option(None, "--base-model", help="What `base` means when no run is named."),
    judge: Optional[str] = typer.Option(None, "--judge", help="Judge for mt-bench (required by it), e.g. "
                                                              "anthropic:<model>, openai:<model> or "
                                                              "openai-compatible:<model>@<base-url>."),
    as_json: bool = typer.Option(False, "--json", help="Print results and deltas as JSON."),
) -> None:
    """Run benchmarks on the base model and checkpoints; every item is stored, reruns resume.

    \b
    What each benchmark needs (--benchmarks takes several, comma-separated):
    gsm8k[:FILE]     math word problems, scored by lm-eval's gsm8k filters:
                     strict (strict-match), flexible (flexible-extract).
                     FILE: a JSONL of {question, answer}, or a hub id
                     such as openai/gsm8k; without it, the test split
                     shipped with brie (1,319 problems, offline).
    mt-bench[:FILE]  1-10 grades of both turns; needs --judge. FILE: FastChat's
                     question.jsonl format, or a hub id; without it, the
                     80 questions shipped with brie (offline). Graded as
                     FastChat does (its judge prompts, references and
                     generation settings; see docs/evals.md).
    perplexity:DATA  mean loss and perplexity. DATA: a registered dataset
                     (test or valid split), a folder with test.jsonl or
                     valid.jsonl, or a .jsonl file.
    mcq:FILE         multiple choice by log-likelihood (acc, acc_norm).
                     FILE: ARC/MMLU/HellaSwag-style JSONL, or
                     {question, choices, answer}.
    overlap:SUITE    BLEU and ROUGE-L against references. SUITE: a prompt
                     suite with references, or a JSONL of {prompt, reference}.
    lm-eval:TASK     an lm-evaluation-harness task by name, or a task .yaml
                     of your own; registry tasks need the network or a
                     cached copy.
    """
    from brie.models.specs import resolve_specs
    from brie.evals import display_name, parse_benchmarks
    from brie.evals.forgetting import mean_change_text, worst_text
    from brie.evals.mtbench import protocol_label
    from brie.evals.runner import evaluate_vs_base, sweep_specs
    from brie.export.experiments import headline

    ws = Workspace.open()
    if bool(models) == bool(sweep):
        raise BrieError("give either --models or --sweep <run>")
    specs = sweep_specs(ws, sweep) if sweep else resolve_specs(ws, models, base_model)
    benches = parse_benchmarks(benchmarks, shots=shots, max_tokens=max_tokens)
    judge_obj = None
    if judge:
        from brie.evals.mtbench import make_judge

        judge_obj = make_judge(judge, ws)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err_console,
                  disable=as_json, transient=True) as bar:
        tasks: dict = {}

        def on_progress(p):
            key = (p.label, p.benchmark)
            if key not in tasks:
                tasks[key] = bar.add_task(f"{p.label} · {p.benchmark}", total=p.total)
            bar.update(tasks[key], completed=p.done)

        done = evaluate_vs_base(ws, specs, benches, limit=limit, batch_size=batch_size, progress=on_progress,
                                judge=judge_obj)
    results, deltas, summaries = done.results, done.deltas, done.summaries
    plots = []
    if sweep:
        from brie.export.plots import plot_sweep

        plots = plot_sweep(ws, sweep)
    if as_json:
        print_json({"results": [{**{k: r[k] for k in ("id", "label", "run", "step", "adapter_sha256", "benchmark",
                                                      "settings", "n_done", "status", "metrics")},
                                 **({"protocol": protocol_label(r)} if r["benchmark"].startswith("mt-bench") else {})}
                                for r in results],
                    "deltas": [d.to_dict() for d in deltas], "summary": summaries, "plots": [str(p) for p in plots]})
        return
    table = Table(title="Evaluations")
    for col in ("model", "benchmark", "n", "metrics"):
        table.add_column(col)
    for r in results:
        table.add_row(r["label"], display_name(r["benchmark"]), str(r["n_done"]), headline(r))
    console.print(table)
    for r in results:  # what an MT-Bench number can be placed next to, and what differs
        if r["benchmark"].startswith("mt-bench"):
            console.print(f"{r['label']}: {protocol_label(r)}", markup=False, soft_wrap=True)
    # A stored result keeps every item an earlier, larger --limit scored (see brie/evals/runner.py):
    # say so, or "--limit 3" next to "n 5" looks like a bug.
    more = [r for r in results if limit and r["n_done"] > limit]
    for r in more:
        console.print(f"{r['label']} · {display_name(r['benchmark'])}: {r['n_done']} items were already stored "
                      f"(more than --limit {limit}); n and the metrics cover all of them.",
                      markup=False, soft_wrap=True)
    if deltas:
        table = Table(title="Change vs base (paired)")
        for col in ("model", "benchmark", "metric", "delta", "95% CI", "p", ""):
            table.add_column(col)
        for d in deltas:
            ci = "–" if d.ci_low is None else f"[{d.ci_low:+.3g}, {d.ci_high:+.3g}]"
            table.add_row(d.label, display_name(d.benchmark), d.metric, f"{d.delta:+.4g}", ci,
                          "–" if d.p_value is None else f"{d.p_value:.3g}",
                          "[red]drop[/]" if d.drop else ("better" if d.significant else ""))
        console.print(table)
        for label, s in summaries.items():
            drops = ", ".join(display_name(b) for b in s["drops"]) or "none"
            console.print(f"{label}: {worst_text(s)}; significant drops: {drops}; mean change per unit: "
                          f"{mean_change_text(s)}", markup=False, soft_wrap=True)
    for p in plots:
        console.print(f"Plot written: {p}")


def experiments(
    as_json: bool = typer.Option(False, "--json", help="Print the rows as JSON."),
    as_csv: bool = typer.Option(False, "--csv", help="Print the rows as CSV."),
    as_markdown: bool = typer.Option(False, "--markdown", help="Print the rows as a Markdown table."),
) -> None:
    """One row per training run and per evaluation: model, data, method, config, status, dates, metrics.

    The table on screen shows the main columns; --csv, --json and --markdown have every column.
    """
    from brie.export.experiments import experiment_rows, to_csv, to_markdown

    if as_json + as_csv + as_markdown > 1:
        raise BrieError("choose one of --json, --csv, --markdown")
    rows = experiment_rows(Workspace.open())
    if as_json:
        print_json(rows)
    elif as_csv:
        console.out(to_csv(rows), end="")
    elif as_markdown:
        console.out(to_markdown(rows), end="")
    elif not rows:
        console.print("No runs or evaluations yet.")
    else:
        # The terminal view keeps the columns that fit; --csv/--json/--markdown carry all of them.
        shown = ["id", "kind", "model", "dataset", "status", "started", "metrics"]
        table = Table(title="Experiments")
        for col in shown:
            table.add_column(col, overflow="fold")
        for r in rows:
            table.add_row(*[(str(r[c] or "")[:16].replace("T", " ") if c == "started" else str(r[c] or ""))
                            for c in shown])
        console.print(table)


def report(
    run: str = typer.Argument(..., help="Run name."),
    as_json: bool = typer.Option(False, "--json", help="Print {\"path\": …} as JSON."),
) -> None:
    """Write exports/<run>/report.md: loss curves, checkpoints, win rates, forgetting, caveats."""
    from brie.export.report import write_report

    path = write_report(Workspace.open(), run)
    if as_json:
        print_json({"path": str(path)})
    else:
        console.print(f"Report written: {path}")
