"""`brie data import|list|show`: datasets, validated and normalized for mlx_lm.lora."""

from __future__ import annotations

import json
from typing import Optional

import typer
from rich.table import Table

from brie.cli.common import console, err_console, print_json
from brie.words import plural
from brie.workspace import Workspace

data_app = typer.Typer(help="Datasets: import, validate, normalize, split, sample, report.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")


@data_app.command("import")
def data_import(
    source: Optional[str] = typer.Argument(None, help="A .jsonl/.json/.csv/.tsv/.parquet file, a folder of train/valid/test "
                                           "files, or a Hugging Face dataset id (owner/name, or hf:<id-or-path>); "
                                           "none with --from-judgments."),
    name: str = typer.Option(..., "--name", "-n", help="Name to register the dataset under."),
    from_judgments: bool = typer.Option(False, "--from-judgments", help="Build a preference dataset (prompt/chosen/rejected) "
                                        "from the stored verdicts, by `brie export dpo`'s consensus rules, for "
                                        "`brie train --method dpo|orpo`."),
    suite: Optional[str] = typer.Option(None, "--suite", help="With --from-judgments: only this suite's comparisons."),
    judge: Optional[str] = typer.Option(None, "--judge", help="With --from-judgments: only this judge's verdicts, as stored."),
    fmt: str = typer.Option("auto", "--format", help="auto, chat, completions, text, alpaca, sharegpt or preference "
                                                     "(prompt/chosen/rejected)."),
    prompt_field: str = typer.Option("prompt", "--prompt-field", help="Source field holding the prompt (completions)."),
    completion_field: str = typer.Option("completion", "--completion-field", help="Source field holding the answer (completions)."),
    text_field: str = typer.Option("text", "--text-field", help="Source field holding the text (text format)."),
    messages_field: str = typer.Option("messages", "--messages-field", help="Source field holding the list of role/content messages (chat)."),
    instruction_field: str = typer.Option("instruction", "--instruction-field", help="Source field holding the instruction (alpaca; becomes the prompt)."),
    input_field: str = typer.Option("input", "--input-field", help="Source field holding the optional input (alpaca; appended to the prompt after a blank line when not empty)."),
    output_field: str = typer.Option("output", "--output-field", help="Source field holding the answer (alpaca; becomes the completion)."),
    conversations_field: str = typer.Option("conversations", "--conversations-field", help="Source field holding the list of from/value turns (sharegpt)."),
    chosen_field: str = typer.Option("chosen", "--chosen-field", help="Source field holding the preferred answer (preference)."),
    rejected_field: str = typer.Option("rejected", "--rejected-field", help="Source field holding the worse answer (preference)."),
    valid_fraction: float = typer.Option(0.1, "--valid-fraction", help="Share of rows held out for validation (ignored when the source is split)."),
    test_fraction: float = typer.Option(0.1, "--test-fraction", help="Share of rows held out for testing (ignored when the source is split)."),
    seed: int = typer.Option(0, "--seed", help="Seed for the split and the sample; the same seed gives the same split at any ratio."),
    sample_ratio: float = typer.Option(1.0, "--sample-ratio", help="Share of the training rows to keep (exact count, 0 < r ≤ 1); valid/test stay whole."),
    max_seq_length: Optional[int] = typer.Option(None, "--max-seq-length", min=1, help="Count rows longer than this many tokens (needs --model)."),
    model: Optional[str] = typer.Option(None, "--model", "-m", help="Model whose tokenizer and chat template count tokens (name, folder or HF id)."),
    on_error: str = typer.Option("fail", "--on-error", help="fail: write nothing and list the first errors; skip: import the good rows and keep rejected lines in rejected.jsonl."),
    replace: bool = typer.Option(False, "--replace", help="When the name holds other content, add this as a new version (the old one stays)."),
    max_line_bytes: int = typer.Option(1 << 20, "--max-line-bytes", min=1, help="Longest accepted JSONL line in bytes."),
    as_json: bool = typer.Option(False, "--json", help="Print the dataset record and report as JSON."),
) -> None:
    """Import a dataset: validate, normalize to mlx-lm's formats, dedupe, split, sample, report."""
    from brie.data.normalize import Fields
    from brie.data.datasets import ImportOptions, import_dataset

    opts = ImportOptions(
        format=fmt, fields=Fields(prompt=prompt_field, completion=completion_field, text=text_field,
                                  messages=messages_field, instruction=instruction_field, input=input_field,
                                  output=output_field, conversations=conversations_field,
                                  chosen=chosen_field, rejected=rejected_field),
        valid_fraction=valid_fraction, test_fraction=test_fraction, seed=seed, sample_ratio=sample_ratio,
        max_seq_length=max_seq_length, model=model, on_error=on_error, replace=replace,
        max_line_bytes=max_line_bytes,
    )
    from brie.errors import BrieError

    ws = Workspace.open()
    say = None if as_json else err_console.print
    if from_judgments:
        from brie.data.datasets import import_from_judgments

        if source is not None:
            raise BrieError(f"--from-judgments reads the store: give no source ({source!r})")
        result = import_from_judgments(ws, name, opts, suite, judge, progress=say)
    elif suite is not None or judge is not None:
        raise BrieError("--suite and --judge choose verdicts: they go with --from-judgments")
    elif source is None:
        raise BrieError("give a source to import (a file, folder or dataset id), or --from-judgments")
    else:
        result = import_dataset(ws, source, name, opts, progress=say)
    if as_json:
        print_json({"created": result.created, "message": result.message,
                    "dataset": _public(result.dataset), "report": result.report})
        return
    console.print(result.message, markup=False, soft_wrap=True)
    if result.created:
        _print_report(result.report)


@data_app.command("list")
def data_list(
    all_versions: bool = typer.Option(False, "--all-versions", help="Show every version, not only the latest."),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Datasets in this workspace, with their split sizes, sample ratio and seed."""
    from brie.data.datasets import list_datasets

    rows = list_datasets(Workspace.open(), all_versions)
    if as_json:
        print_json([_public(r) for r in rows])
        return
    table = Table("name", "ver", "format", "train", "valid", "test", "sample", "seed", "rejected", "sha256")
    for r in rows:
        rep = json.loads(r["report_json"] or "{}")
        table.add_row(r["name"], str(r["version"]), r["format"], str(r["rows_train"]), str(r["rows_valid"]),
                      str(r["rows_test"]), f"{r['sample_ratio']:g}", str(r["seed"]),
                      str(rep.get("rows", {}).get("rejected", 0)), r["sha256"][:12])
    console.print(table)


@data_app.command("show")
def data_show(
    name: str = typer.Argument(..., help="Dataset name."),
    version: Optional[int] = typer.Option(None, "--version", "-v", help="Which version (default: the latest)."),
    as_json: bool = typer.Option(False, "--json", help="Print the record and report as JSON."),
) -> None:
    """One dataset: where it is, its report (rows per split, sample, normalizations, rejects, lengths)."""
    from brie.data.datasets import describe_counts, get_dataset

    row = get_dataset(Workspace.open(), name, version)
    if as_json:
        print_json({**_public(row), "report": row["report"]})
        return
    console.print(f"[bold]{row['name']}[/] v{row['version']} — {row['format']} — {describe_counts(row)}", soft_wrap=True)
    console.print(f"path: {row['path']}\nsource: {row['source']}\nsha256: {row['sha256']}\ncreated: {row['created_at']}",
                  markup=False, soft_wrap=True)
    _print_report(row["report"])


def _public(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("report_json", "report")}


def _print_report(rep: dict) -> None:
    rows = rep.get("rows", {})
    sample = rep.get("sample", {})
    lines = [
        ("rows read", str(rows.get("read"))),
        ("rejected", str(rows.get("rejected")) + (f" → {rep['rejected']['file']}" if rep.get("rejected", {}).get("file") else "")),
        ("duplicates removed", str(rows.get("duplicates"))),
        ("leakage removed", f"{rows.get('leaked')} (valid {rep['leakage']['removed_from']['valid']}, "
                            f"test {rep['leakage']['removed_from']['test']})"),
        ("splits", f"train {rows.get('train')}, valid {rows.get('valid')}, test {rows.get('test')}"
                   + (" (as given by the source)" if rep.get("split", {}).get("given_by_source") else "")),
        ("sample", f"ratio {sample.get('ratio'):g}, seed {sample.get('seed')}: "
                   f"{sample.get('train_rows_after')} of {sample.get('train_rows_before')} training rows"),
        ("format", f"{rep.get('input_format')} → {rep.get('format')}"),
    ]
    if rep.get("verdicts"):
        v = rep["verdicts"]
        lines.append(("from verdicts", f"{plural(v['pairs'], 'pair')} kept; skipped {plural(v['skipped_ties'], 'tie')}, "
                                       f"{v['skipped_disagreements']} where judges disagree, "
                                       f"{v['skipped_multi_turn']} multi-turn, {v['without_valid_verdict']} "
                                       "without a valid verdict"))
    for key, item in rep.get("normalizations", {}).items():
        lines.append((key.replace("_", " "), f"{item['count']} (first: {item['first']})"))
    if rep.get("extra_fields_dropped"):
        lines.append(("fields not used", ", ".join(f"{k} ({v})" for k, v in rep["extra_fields_dropped"].items())))
    ch = rep.get("lengths_chars") or {}
    if ch.get("rows"):
        lines.append(("length (chars)", f"min {ch['min']}, median {ch['median']}, p95 {ch['p95']}, max {ch['max']}"))
    tk = rep.get("lengths_tokens")
    if tk and tk.get("rows"):
        text = f"min {tk['min']}, median {tk['median']}, p95 {tk['p95']}, max {tk['max']} ({tk['model']})"
        if tk.get("over_max_seq_length") is not None:
            over = tk["over_max_seq_length"]
            text += (f"; over {tk['max_seq_length']}: {sum(over.values())} "
                     f"(train {over['train']}, valid {over['valid']}, test {over['test']}) — would be truncated")
        lines.append(("length (tokens)", text))
    table = Table(show_header=False, box=None)
    for k, v in lines:
        table.add_row(k, v)
    console.print(table)
    for title, key in (("rejected", "rejected"), ("duplicates", "duplicates"), ("leakage", "leakage")):
        first = rep.get(key, {}).get("first") or []
        if first:
            console.print(f"first {title}:", markup=False, soft_wrap=True)
            for f in first:
                console.print("  " + f, markup=False, soft_wrap=True)
    for w in rep.get("warnings", []):
        err_console.print("warning: " + w, style="yellow", markup=False, soft_wrap=True)
