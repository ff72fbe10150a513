"""`brie suites …`, `brie compare`, `brie grade`, `brie results`, `brie export judged|csv|dpo`."""

from __future__ import annotations

from typing import Optional

import typer
from rich.table import Table

from brie.cli.common import console, err_console, export_app, fail, print_json
from brie.words import plural
from brie.workspace import Workspace

suites_app = typer.Typer(help="Prompt suites: the prompts generation and judging run over.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(suites_app, name="suites")
    app.command("compare")(compare)
    app.command("grade")(grade)
    app.command("results")(results)
    app.command("rank")(rank)
    app.add_typer(batches_app, name="batches")


def _warn(msg: str) -> None:
    err_console.print("warning: " + msg, style="yellow", markup=False)


@suites_app.command("import")
def suites_import(
    file: str = typer.Argument(..., help="JSONL: `prompt` or MT-Bench `turns`; optional `id`, `category`, `reference`."),
    name: Optional[str] = typer.Option(None, "--name", help="Suite name (default: the file name without .jsonl)."),
    replace: bool = typer.Option(False, "--replace", help="Replace the prompts of an existing suite of this name "
                                 "(refused once generations, comparisons or evals were made from them)."),
    as_json: bool = typer.Option(False, "--json", help="Print the suite record as JSON."),
) -> None:
    """Import a prompt suite from a JSONL file."""
    from brie.data.suites import import_suite

    row = import_suite(Workspace.open(), file, name, replace=replace)
    if as_json:
        print_json(row)
    elif row["status"] == "unchanged":
        console.print(f"Suite {row['name']} already holds this file's prompts (sha256 {row['sha256'][:12]}); "
                      "nothing changed.", markup=False, soft_wrap=True)
    else:
        verb = "Replaced" if row["status"] == "replaced" else "Imported"
        console.print(f"{verb} suite {row['name']}: {plural(row['n_prompts'], 'prompt')}.", markup=False)


@suites_app.command("list")
def suites_list(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Suites in this workspace."""
    from brie.data.suites import list_suites

    rows = list_suites(Workspace.open())
    if as_json:
        print_json(rows)
        return
    table = Table("name", "prompts", "source", "imported")
    for r in rows:
        table.add_row(r["name"], str(r["n_prompts"]), r["source"], r["created_at"])
    console.print(table)


@suites_app.command("show")
def suites_show(
    name: str = typer.Argument(..., help="Suite name."),
    as_json: bool = typer.Option(False, "--json", help="Print the suite and its prompts as JSON."),
) -> None:
    """The prompts of one suite."""
    from brie.data.suites import show_suite

    suite = show_suite(Workspace.open(), name)
    if as_json:
        print_json(suite)
        return
    table = Table("id", "category", "turns", "reference", "prompt", title=f"{suite['name']} ({plural(suite['n_prompts'], 'prompt')})")
    for p in suite["prompts"]:
        table.add_row(p["prompt_id"], p["category"] or "", str(len(p["turns"])), "yes" if p["reference"] else "",
                      p["turns"][0][:80])
    console.print(table)


batches_app = typer.Typer(help="Message Batches that `brie compare --batch` stored: list them, cancel one.",
                          no_args_is_help=True)


@batches_app.command("list")
def batches_list(
    judge: Optional[str] = typer.Option(None, "--judge", help="Only this judge's batches."),
    open_only: bool = typer.Option(False, "--open", help="Only batches still submitted (the next --batch run collects them)."),
    as_json: bool = typer.Option(False, "--json", help="Print the batches as a JSON list."),
) -> None:
    """Stored Message Batches, newest first: status (submitted, collected, failed, canceled) and size."""
    from brie.judging.batch import list_batches

    found = list_batches(Workspace.open(), judge, open_only)
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("No stored batches" + (" matching these filters" if judge or open_only else "")
                      + " (`brie compare --batch` makes them).")
        return
    table = Table("id", "judge", "status", "requests", "created", "closed", title="Message Batches")
    for b in found:
        table.add_row(b["id"], b["judge"], b["status"], str(b["n_requests"]), b["created_at"], b["collected_at"] or "")
    console.print(table)


@batches_app.command("cancel")
def batches_cancel(
    batch_id: str = typer.Argument(..., help="The batch id, as `brie batches list` shows it."),
    as_json: bool = typer.Option(False, "--json", help="Print the canceled batch as JSON."),
) -> None:
    """Drop a submitted batch (and ask the provider to stop it): the next `brie compare` asks its judgments again."""
    from brie.judging.batch import cancel_batch

    b = cancel_batch(Workspace.open(), batch_id, warn=_warn)
    if as_json:
        print_json(b)
        return
    where = "at the provider and here" if b["canceled_at_provider"] else "here (not at the provider)"
    console.print(f"Canceled batch {b['id']} of {b['judge']} {where}: {plural(b['n_requests'], 'request')} "
                  "will be asked again by the next `brie compare`.", markup=False, soft_wrap=True)


def compare(
    suite: str = typer.Option(..., "--suite", help="Prompt suite to compare on."),
    a: str = typer.Option(..., "--a", help="Model A: base, <run>@<step>, <run>@best|last|recommended."),
    b: str = typer.Option(..., "--b", help="Model B, same forms as --a."),
    judge: str = typer.Option(None, "--judge", help="Comma-separated judges: anthropic:<model>, openai:<model>, "
                              "openai-compatible:<model>@<base-url>, local:<model> (an MLX model in-process, "
                              "read from its token probabilities) (default: the table's default judge)."),
    swap: bool = typer.Option(False, "--swap", help="Judge every pair in both orders; disagreement counts as a tie."),
    samples: int = typer.Option(1, "--samples", min=1, help="Answers per prompt and model (needs --temperature > 0 above 1)."),
    temperature: float = typer.Option(0.0, "--temperature", min=0.0, help="Sampling temperature for generation."),
    max_tokens: int = typer.Option(256, "--max-tokens", min=1, help="Most tokens per generated answer."),
    seed: int = typer.Option(0, "--seed", help="Generation seed (sample k uses seed + k)."),
    concurrency: int = typer.Option(4, "--concurrency", min=1, help="Judge requests in flight at once."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", min=0.0, help="Stop starting requests once this run has spent this many USD (requests in flight still land)."),
    batch: bool = typer.Option(False, "--batch", help="Use Anthropic's Message Batches API (half price; a rerun "
                               "collects a pending batch; `brie batches` lists and cancels them)."),
    max_attempts: int = typer.Option(3, "--max-attempts", min=1, help="Answers asked per judgment while they do not "
                                     "parse (each stored as invalid). A failed request is not an answer: --retries "
                                     "covers those."),
    retry_invalid: bool = typer.Option(False, "--retry-invalid", help="Ask again for judgments stored without a "
                                       "verdict (invalid after --max-attempts answers), up to --max-attempts more "
                                       "answers each; the old answers stay stored as earlier attempts."),
    retries: int = typer.Option(4, "--retries", min=0, help="SDK retries of a failed request (429/5xx/timeout/no "
                                "connection, with backoff): a judgment costs at most --retries + 1 requests per answer."),
    timeout: float = typer.Option(120.0, "--timeout", min=0.1, help="Seconds per judge request."),
    judge_max_tokens: int = typer.Option(1024, "--judge-max-tokens", min=16, help="Most tokens a judge may answer with."),
    poll: float = typer.Option(30.0, "--poll", min=0.01, help="Seconds between Message Batch status checks."),
    engine: str = typer.Option("auto", "--engine", help="Generation engine: mlx, torch (transformers + peft), "
                               "or auto (torch for torch runs on CUDA, else mlx)."),
    base_model: Optional[str] = typer.Option(None, "--base-model", help="Base model for `base` when no run names one."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Generate what is missing for A and B on a suite, then judge them blind; resumable."""
    from brie.judging.workflows import compare as run_compare

    ws = Workspace.open()
    # None: the table's default, which the core names in its error when that judge cannot be used.
    judges = [j.strip() for j in judge.split(",") if j.strip()] if judge else None

    def progress(event) -> None:
        if event[0] == "judge" and not as_json:
            s = event[1]
            done = s.valid + s.invalid
            if done % 10 == 0:
                err_console.print(f"judged {done} (invalid {s.invalid}), ${s.cost_usd:.4f}", markup=False)

    ids, s = run_compare(ws, suite, a, b, judges, swap=swap, samples=samples, temperature=temperature,
                         max_tokens=max_tokens, seed=seed, concurrency=concurrency, max_cost=max_cost,
                         batch=batch, max_attempts=max_attempts, max_retries=retries, timeout=timeout,
                         poll_seconds=poll, judge_max_tokens=judge_max_tokens, base_model=base_model, engine=engine, progress=progress, warn=_warn,
                         retry_invalid=retry_invalid)
    from collections import Counter

    grouped = [{"error": e, "count": n} for e, n in Counter(s.errors).most_common()]
    summary = {"comparisons": len(ids), "asked": s.tasks, "already_stored": s.already_done, "valid": s.valid,
               "invalid": s.invalid, "failed": s.failed, "cost_usd": round(s.cost_usd, 6),
               "stopped_for_cost": s.stopped_for_cost, "errors": grouped, "invalid_stored": s.invalid_stored,
               "notices": s.notices}
    # Something was asked and not one usable verdict came back: that is a failure, not a result.
    nothing_valid = s.tasks > 0 and s.valid == 0 and not s.stopped_for_cost
    # Nothing asked because every stored judgment is out of attempts without a verdict: a failure too.
    all_invalid = s.tasks == 0 and s.invalid_stored > 0 and s.invalid_stored == s.already_done
    retry_hint = (f"{plural(s.invalid_stored, 'judgment')} stored without a verdict after --max-attempts answers; "
                  "fix the judge and rerun with --retry-invalid to ask again")
    if all_invalid:
        if as_json:
            summary["error"] = "no valid verdicts: " + retry_hint
            print_json(summary)
            raise typer.Exit(1)
        fail(f"no valid verdicts, nothing asked: {retry_hint}")
    if as_json:
        if nothing_valid:  # a failed --json carries a one-line "error", beside the counts that explain it
            summary["error"] = "no valid verdicts; fix the judge and rerun (stored judgments are kept)"
        print_json(summary)
        if nothing_valid:
            raise typer.Exit(1)
        return
    console.print(f"{plural(len(ids), 'comparison')}; {plural(s.tasks, 'judgment')} asked "
                  f"({s.already_done} already stored): {s.valid} valid, "
                  f"{plural(s.invalid, 'invalid answer')}, {s.failed} failed; ${s.cost_usd:.4f}.")
    if s.stopped_for_cost:
        err_console.print(f"[yellow]Stopped: --max-cost {max_cost} reached. Rerun to continue.[/]")
    for g in grouped:
        err_console.print(f"  {g['count']}× {g['error']}", markup=False, soft_wrap=True)
    if nothing_valid:
        why = []
        if s.failed:
            why.append(f"{plural(s.failed, 'request')} failed")
        if s.invalid:
            why.append(f"{plural(s.invalid, 'answer')} had no valid verdict")
        fail(f"no valid verdicts: {' and '.join(why) or 'nothing came back'}; fix the judge and rerun "
             "(stored judgments are kept)")
    if s.failed:
        err_console.print(f"[yellow]{plural(s.failed, 'request')} failed (above). Rerun to retry them.[/]")
    if s.invalid_stored and not retry_invalid:
        err_console.print(f"note: {retry_hint}.", markup=False, soft_wrap=True)
    console.print("See `brie results`.")


def rank(
    suite: str = typer.Option(..., "--suite", help="Prompt suite to rank on."),
    models: str = typer.Option(..., "--models", help="Comma-separated models: base, <run>@<step>, <run>@best|last|"
                               "recommended, and <run>@* for every checkpoint of a run."),
    judge: str = typer.Option(None, "--judge", help="One judge, as for `brie compare` (default: the table's default)."),
    swap: bool = typer.Option(False, "--swap", help="Judge every pair in both orders; disagreement counts as a tie."),
    samples: int = typer.Option(1, "--samples", min=1, help="Answers per prompt and model (needs --temperature > 0 "
                                "above 1); the interval then covers sampling too."),
    temperature: float = typer.Option(0.0, "--temperature", min=0.0, help="Sampling temperature for generation."),
    max_tokens: int = typer.Option(256, "--max-tokens", min=1, help="Most tokens per generated answer."),
    seed: int = typer.Option(0, "--seed", help="Generation seed (sample k uses seed + k); also orders the prompts "
                             "for --until-clear and seeds the bootstrap."),
    until_clear: bool = typer.Option(False, "--until-clear", help="Judge each pair in rounds and stop it once an "
                                     "anytime-valid confidence sequence for its win rate excludes 50%."),
    alpha: float = typer.Option(0.05, "--alpha", min=0.0001, max=0.5, help="Error level of --until-clear's "
                                "confidence sequences (per pair)."),
    round_size: int = typer.Option(10, "--round", min=1, help="Prompts per pair and round with --until-clear (each with its --samples answers)."),
    max_judgments: Optional[int] = typer.Option(None, "--max-judgments", min=1, help="Ask at most this many "
                                                "judgments in this run."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", min=0.0, help="Stop starting requests once this "
                                             "run has spent this many USD."),
    neighbours: bool = typer.Option(True, "--neighbours/--no-neighbours", help="After every model against the base, "
                                    "also judge neighbouring models whose order is still uncertain."),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=50, help="Bootstrap resamples of the prompts for the "
                                  "95% intervals."),
    plot: bool = typer.Option(True, "--plot/--no-plot", help="Write a forest plot PNG of the scores to exports/."),
    concurrency: int = typer.Option(4, "--concurrency", min=1, help="Judge requests in flight at once."),
    max_attempts: int = typer.Option(3, "--max-attempts", min=1, help="Answers asked per judgment while they do "
                                     "not parse."),
    retries: int = typer.Option(4, "--retries", min=0, help="SDK retries of a failed request (with backoff)."),
    timeout: float = typer.Option(120.0, "--timeout", min=0.1, help="Seconds per judge request."),
    judge_max_tokens: int = typer.Option(1024, "--judge-max-tokens", min=16, help="Most tokens a judge may answer with."),
    engine: str = typer.Option("auto", "--engine", help="Generation engine: mlx, torch or auto."),
    base_model: Optional[str] = typer.Option(None, "--base-model", help="Base model for `base` when no run names one."),
    as_json: bool = typer.Option(False, "--json", help="Print the ranking as JSON."),
) -> None:
    """Rank base and checkpoints by judged quality: Bradley–Terry scores with bootstrap 95% intervals,
    length-controlled win rates, and with --until-clear judging that stops once the answer is clear."""
    from brie.judging.rank import rank as run_rank

    ws = Workspace.open()

    said = {"judged": 0, "before": 0, "last": 0}  # each round's summary starts from 0

    def progress(event) -> None:
        if as_json:
            return
        if event[0] == "round":
            said["before"] += said["last"]
            said["last"] = 0
        elif event[0] == "judge":
            s = event[1]
            said["last"] = s.valid + s.invalid
            done = said["before"] + said["last"]
            if done and done % 25 == 0 and done != said["judged"]:
                said["judged"] = done
                err_console.print(f"judged {done}", markup=False)

    r = run_rank(ws, suite, models, judge, swap=swap, samples=samples, temperature=temperature,
                 max_tokens=max_tokens, seed=seed, concurrency=concurrency, max_cost=max_cost,
                 max_judgments=max_judgments, until_clear=until_clear, alpha=alpha, round_size=round_size,
                 bootstrap=bootstrap, neighbours=neighbours, max_attempts=max_attempts, max_retries=retries,
                 timeout=timeout, judge_max_tokens=judge_max_tokens, base_model=base_model, engine=engine,
                 progress=progress, warn=_warn)
    if plot:
        from brie.export.plots import plot_ranking

        r["plot"] = str(plot_ranking(ws, r))
    if as_json:
        print_json(r)
        return
    console.print(_rank_table(r))
    j = r["judgments"]
    money = f"${r['cost_usd']:.4f}" + (f", about ${r['saved_usd']:.4f} saved" if r["saved_usd"] else "")
    console.print(f"{plural(j['handed_to_judge'], 'judgment')} of {j['scheduled']} scheduled "
                  f"({j['asked']} asked now, {j['already_stored']} already stored; {j['saved']} saved); {money}.")
    if r["until_clear"]:
        clear = [p for p in r["pairs"] if p["clear"]]
        console.print(f"--until-clear: {len(clear)} of {plural(len(r['pairs']), 'pair')} clear at alpha {r['alpha']:g} "
                      + "(" + ", ".join(f"{p['b']} vs {p['a']} after {plural(p['clear_after'], 'prompt')}" for p in clear if p['clear_after'])
                      + ").", markup=False, soft_wrap=True)
    for m in r["models"]:
        if m["length_warning"]:
            _warn(f"{m['label']}: the length-controlled win rate ({_pct(m['lc_win_rate_vs_anchor'])}) differs from "
                  f"the raw one ({_pct(m['win_rate_vs_anchor'])}) by more than 10 points: length sways the judge")
    if r["unconnected"]:
        _warn("no comparison links these to the base, so they have no score: " + ", ".join(r["unconnected"]))
    if r["stopped_for_cost"]:
        err_console.print(f"[yellow]Stopped: --max-cost {max_cost} reached. Rerun to continue.[/]")
    if r["stopped_for_judgments"]:
        err_console.print(f"[yellow]Stopped: --max-judgments {max_judgments} reached. Rerun to continue.[/]")
    if r.get("plot"):
        console.print(f"Forest plot: {r['plot']}", markup=False, soft_wrap=True)


def _rank_table(r: dict) -> Table:
    """The ranked table: score and interval, win rate against the base (raw and length-controlled), n,
    and whether each model is separable from the next."""
    sep = {n["higher"]: n["separable"] for n in r["separable"]}
    sampled = any(m["sampling_share"] is not None for m in r["models"])
    t = Table(title=f"Ranking on {r['suite']} by {r['judge']} ({r['prompts']} prompts)")
    for col in ["#", "model", "score (95% CI)", f"vs {r['anchor']}", "LC", "n", "next"] + (["sampling"] if sampled else []):
        t.add_column(col, overflow="fold") if col == "model" else t.add_column(col, no_wrap=True)
    for m in r["models"]:
        next_cell = "" if m["label"] not in sep else ("separable" if sep[m["label"]] else "unclear")
        cells = [str(m["rank"]), m["label"],
                 f"{m['score']:.0f}" + ("" if m["anchor"] else f" ({m['ci_low']:.0f}–{m['ci_high']:.0f})"),
                 "" if m["anchor"] else f"{_pct(m['win_rate_vs_anchor'])}",
                 "" if m["anchor"] else (_pct(m["lc_win_rate_vs_anchor"]) or "-")
                 + (" [yellow]![/]" if m["length_warning"] else ""),
                 str(m["n"]), next_cell]
        if sampled:
            cells.append(_pct(m["sampling_share"]) or "")
        t.add_row(*cells)
    # The bootstrap resamples prompts only: a prompt drawn brings every sample of it along (ranking.py).
    resampled = ("a bootstrap over prompts" if r.get("samples", 1) <= 1 else
                 f"a bootstrap over prompts, each drawn with all {r['samples']} of its samples")
    t.caption = ("score: Bradley–Terry on the Elo scale, the base at 1000; 95% interval: 2.5th–97.5th percentile of "
                 f"{resampled}. LC: win rate controlled for answer length (AlpacaEval 2). next: "
                 "whether the interval of the difference to the model below excludes 0."
                 + (" sampling: share of the variance of the win rate from repeated samples." if sampled else ""))
    t.caption_justify = "left"
    return t


def grade(
    suite: str = typer.Option(..., "--suite", help="Prompt suite."),
    models: str = typer.Option(..., "--models", help="Comma-separated models: base, <run>@<step>, …"),
    judge: str = typer.Option(None, "--judge", help="Comma-separated judges (default: the table's default)."),
    samples: int = typer.Option(1, "--samples", min=1, help="Answers per prompt and model."),
    temperature: float = typer.Option(0.0, "--temperature", min=0.0, help="Sampling temperature."),
    max_tokens: int = typer.Option(256, "--max-tokens", min=1, help="Most tokens per answer."),
    concurrency: int = typer.Option(4, "--concurrency", min=1, help="Judge requests in flight at once."),
    retries: int = typer.Option(4, "--retries", min=0, help="SDK retries on 429/5xx/timeouts (with backoff)."),
    timeout: float = typer.Option(120.0, "--timeout", min=0.1, help="Seconds per judge request."),
    max_attempts: int = typer.Option(3, "--max-attempts", min=1, help="Answers asked per grade while they give no "
                                     "rating (each stored as invalid). A failed request is not an answer: --retries "
                                     "covers those."),
    retry_invalid: bool = typer.Option(False, "--retry-invalid", help="Ask again for grades stored without a rating "
                                       "(invalid after --max-attempts answers), up to --max-attempts more answers "
                                       "each; the old answers stay stored as earlier attempts."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Single-answer grading (MT-Bench: `Rating: [[N]]`, 1–10; reference-guided when a prompt has a reference)."""
    from brie.judging.workflows import grade as run_grade

    ws = Workspace.open()
    judges = [j.strip() for j in judge.split(",") if j.strip()] if judge else None
    counts = run_grade(ws, suite, models, judges, samples=samples, temperature=temperature,
                       max_tokens=max_tokens, concurrency=concurrency, max_retries=retries, timeout=timeout,
                       max_attempts=max_attempts, retry_invalid=retry_invalid, warn=_warn)
    from collections import Counter

    counts["errors"] = [{"error": e, "count": n} for e, n in Counter(counts["errors"]).most_common()]
    # nothing asked because every stored grade is out of attempts without a rating: a failure too
    nothing_valid = counts["valid"] == 0 and (counts["invalid"] or counts["failed"] or counts["invalid_stored"])
    retry_hint = (f"{plural(counts['invalid_stored'], 'grade')} stored without a rating after --max-attempts "
                  "answers; fix the judge and rerun with --retry-invalid to ask again")
    if as_json:
        if nothing_valid:  # a failed --json carries a one-line "error", beside the counts that explain it
            counts["error"] = "no valid grades; " + (retry_hint if counts["invalid_stored"] else
                                                     "fix the judge and rerun")
        print_json(counts)
        if nothing_valid:
            raise typer.Exit(1)
        return
    console.print(f"Graded: {counts['valid']} valid, {counts['invalid']} invalid, {counts['failed']} failed; "
                  f"${counts['cost_usd']:.4f}.")
    for g in counts["errors"]:
        err_console.print(f"  {g['count']}× {g['error']}", markup=False, soft_wrap=True)
    if counts["invalid_stored"] and not nothing_valid:
        err_console.print(f"note: {retry_hint}.", markup=False, soft_wrap=True)
    if nothing_valid:
        fail(f"no valid grades: {plural(counts['failed'], 'request')} failed, "
             f"{plural(counts['invalid'], 'answer')} without a valid rating"
             + (f"; {retry_hint}" if counts["invalid_stored"] else "; fix the judge and rerun"))
    console.print("See `brie results`.")


def _pct(x) -> str:
    return "" if x is None else f"{100 * x:.0f}%"


WIDE = 160  # the full table needs about this many columns


def _results_table(rows: list[dict], width: int):
    """The pairwise table. Narrower than WIDE it keeps what a win rate needs to be read (who, n, the
    rate and interval, position bias, swap consistency) and leaves per-row parse failures and cost to
    the totals line, --json and `brie export csv`; a column with one value for every row moves into
    the title (so several suites make one table each), and long labels fold instead of being cut."""
    def ci(row) -> str:
        return f"{_pct(row['b_win_rate'])} ({_pct(row['ci_low'])}–{_pct(row['ci_high'])})" if row["n"] else "-"

    def n(row) -> str:
        return str(row["n"]) + (" [yellow]![/]" if row["warning"] else "")

    def pref(row) -> str:
        if row.get("pref_b") is None:
            return "-"
        return f"{_pct(row['pref_b'])} ({_pct(row['pref_b_low'])}–{_pct(row['pref_b_high'])})"

    def first_pref(row) -> str:
        return "-" if row.get("position_bias") is None else _pct(0.5 + row["position_bias"])

    def spread(row) -> str:
        return f"±{_pct(row['sample_win_rate_sd'])} ({row['samples']})" if row["samples"] > 1 else ""

    # The spread across repeated samples only means something with more than one sample.
    sampled = any(row["samples"] > 1 for row in rows)
    # Preference columns only for judges that stored verdict probabilities.
    weighted = any(row.get("pref_b") is not None for row in rows)
    if width >= WIDE:
        headers = ["suite", "category", "A", "B", "judge", "n", "B wins", "A wins", "ties", "B win rate (95% CI)"]
        headers += ["sample sd (samples)"] if sampled else []
        headers += ["B pref (95% CI)", "1st-shown pref"] if weighted else []
        table = Table(*headers, "1st-shown wins", "swap consistent", "parse fail", "cost $",
                      title="Pairwise results (win rate of B; ties count half)")
        for row in rows:
            cells = [row["suite"], row["category"], row["a"], row["b"], row["judge"], n(row), str(row["b_wins"]),
                     str(row["a_wins"]), str(row["ties"]), ci(row)] + ([spread(row)] if sampled else [])
            cells += [pref(row), first_pref(row)] if weighted else []
            table.add_row(*cells, _pct(row["first_shown_win_rate"]), _pct(row["swap_consistency"]),
                          _pct(row["parse_failure_rate"]), f"{row['cost_usd']:.4f}")
        if weighted:
            table.caption = PREF_CAPTION
            table.caption_justify = "left"
        return table
    from rich import box

    suites = list(dict.fromkeys(r["suite"] for r in rows))
    if len(suites) > 1:
        # One table per suite: a suite column left too little room to read suite or category at 80
        # columns. The explanations go once, under the last; each keeps its own judge legend.
        import re

        from rich.console import Group

        tables = [_results_table([r for r in rows if r["suite"] == s], width) for s in suites]
        for t in tables[:-1]:
            t.caption = "\n".join(line for line in t.caption.splitlines() if re.match(r"\S+ = ", line)) or None
        return Group(*tables)
    names = {"suite": "suite", "a": "A", "b": "B", "judge": "judge"}
    same = {k: rows[0][k] for k in names if rows and len({r[k] for r in rows}) == 1}
    keys = judge_keys([r["judge"] for r in rows]) if "judge" not in same else {}
    title = "Pairwise results (win rate of B; ties count half)"
    if same:
        title += "\n" + " · ".join(f"{names[k]}: {v}" for k, v in same.items())
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    columns = [(names[k], (lambda row, k=k: keys.get(row[k], row[k]) if k == "judge" else row[k]),
                {"overflow": "fold"}) for k in names if k not in same]
    columns += [("category", lambda row: row["category"], {"overflow": "fold"}),
                ("n", n, {"no_wrap": True, "justify": "right"}),
                ("B/A/tie", lambda row: f"{row['b_wins']}/{row['a_wins']}/{row['ties']}", {"no_wrap": True}),
                ("B win % (95% CI)", ci, {"no_wrap": True}),
                *([("spread", spread, {"no_wrap": True})] if sampled else []),
                ("1st won", lambda row: _pct(row["first_shown_win_rate"]), {"no_wrap": True, "justify": "right"})]
    if any(row["swap_consistency"] is not None for row in rows):
        columns.append(("swap ok", lambda row: _pct(row["swap_consistency"]), {"no_wrap": True, "justify": "right"}))
    if weighted:  # as much as fits beside the judge: the interval from 100 columns, the first-shown from 120
        columns += [("B pref (95% CI)", pref, {"no_wrap": True}) if width >= 100 else
                    ("B pref", lambda row: _pct(row.get("pref_b")) or "-", {"no_wrap": True, "justify": "right"})]
        columns += [("1st pref", first_pref, {"no_wrap": True, "justify": "right"})] if width >= 120 else []
    for header, _, opts in columns:
        table.add_column(header, **opts)
    for row in rows:
        table.add_row(*[str(get(row)) for _, get, _ in columns])
    legend = [f"{k} = {name}" for name, k in keys.items() if k != name]
    table.caption = "\n".join(legend + [
        ("spread: sd of B's win rate across repeated samples (how many). " if sampled else "")
        + "1st won: how often the answer shown first won; swap ok: same verdict in both orders. "
        "Per-row parse failures and cost: a wider terminal, --json or `brie export csv`."]
        + ([PREF_CAPTION + ("" if width >= 120 else " Its interval and the first-shown preference: a wider "
                                                   "terminal or --json.")] if weighted else []))
    table.caption_justify = "left"
    return table


PREF_CAPTION = ("B pref: the mean probability the judge gave B (ties half), from its verdict token's "
                "probabilities, both orders averaged with --swap; 95% bootstrap interval over prompts. "
                "1st(-shown) pref: the same for the answer shown first (50% = no position bias).")


def _vs_human_table(rows: list[dict], width: int) -> Table:
    """Calibration: each judge against a human's verdicts on the same comparisons in the same order."""
    keys = judge_keys([g["judge"] for g in rows] + [g["human"] for g in rows]) if width < WIDE else {}
    probs = any(g["p_human"] is not None for g in rows)
    t = Table(title="Judges against the human (the human's verdicts are the reference)")
    for i, col in enumerate(["judge", "human", "judgments", "agree", "kappa"] + (["P(human's verdict)"] if probs else [])):
        t.add_column(col, overflow="fold") if i < 2 else t.add_column(col, no_wrap=True, justify="right")
    for g in rows:
        cells = [keys.get(g["judge"], g["judge"]), keys.get(g["human"], g["human"]), str(g["n"]),
                 f"{_pct(g['agreement'])} ({g['agreed']} of {g['n']})",
                 "undefined" if g["kappa"] is None else f"{g['kappa']:.2f}"]
        if probs:
            cells.append("-" if g["p_human"] is None else f"{_pct(g['p_human'])} ({g['p_n']})")
        t.add_row(*cells)
    legend = [f"{k} = {name}" for name, k in keys.items() if k != name]
    t.caption = "\n".join(legend + ["judgments: comparisons both judged in the same shown order."
                                    + (" P(human's verdict): the mean probability the judge gave the verdict "
                                       "the human chose." if probs else "")])
    t.caption_justify = "left"
    return t


def _agreement_table(rows: list[dict], width: int) -> Table:
    """Agreement between every two judges, over judgments (same comparison, same shown order) and,
    when both judged both orders, over merged pair verdicts; each with its own n."""
    keys = judge_keys([j for g in rows for j in (g["judge_1"], g["judge_2"])]) if width < WIDE else {}
    pairs = any(g["pairs_n"] for g in rows)

    def kappa(value) -> str:
        return "undefined" if value is None else f"{value:.2f}"

    headers = ["judge 1", "judge 2", "judgments", "agree", "kappa"]
    headers += ["pairs", "agree", "kappa"] if pairs else []
    t = Table(title="Judge agreement, judgment by judgment (same comparison, same shown order)")
    for i, col in enumerate(headers):  # judge names fold; numbers are never broken
        t.add_column(col, overflow="fold") if i < 2 else t.add_column(col, no_wrap=True, justify="right")
    for g in rows:
        cells = [keys.get(g["judge_1"], g["judge_1"]), keys.get(g["judge_2"], g["judge_2"]), str(g["n"]),
                 f"{_pct(g['agreement'])} ({g['agreed']} of {g['n']})", kappa(g["kappa"])]
        if pairs:
            cells += [str(g["pairs_n"]), _pct(g["pairs_agreement"]) or "-", kappa(g["pairs_kappa"])
                      if g["pairs_n"] else "-"]
        t.add_row(*cells)
    legend = [f"{k} = {name}" for name, k in keys.items() if k != name]
    t.caption = "\n".join(legend + ["judgments: verdicts both judges gave on the same comparison shown in the "
                                     "same order."
                                     + (" pairs: comparisons both judged in both orders (--swap), each "
                                        "judge's two verdicts merged (a flip is a tie)." if pairs else "")])
    t.caption_justify = "left"
    return t


def judge_keys(names: list[str], longest: int = 24) -> dict[str, str]:
    """{judge name: what a narrow table shows}: the name itself when short, else "J1", "J2", … with a
    legend under the table (a local judge's name holds its whole URL)."""
    unique = list(dict.fromkeys(names))
    if all(len(n) <= longest for n in unique):
        return {n: n for n in unique}
    return {n: f"J{i}" for i, n in enumerate(unique, 1)}


def results(
    suite: Optional[str] = typer.Option(None, "--suite", help="Only this suite."),
    judge: Optional[str] = typer.Option(None, "--judge", help="Only this judge."),
    as_json: bool = typer.Option(False, "--json", help="Print everything as JSON."),
) -> None:
    """Win rates (ties as half) with 95% Wilson intervals, preferences from verdict probabilities, position bias,
    swap consistency, agreement, each judge against the human, cost."""
    from rich.markup import escape

    from brie.export.judged import check_filters
    from brie.judging.stats import results as compute

    ws = Workspace.open()
    # A typo in --suite or --judge is an error listing what exists, as in `brie export`, not an
    # empty table that reads as "nothing judged yet".
    check_filters(ws, suite, judge)
    r = compute(ws, suite, judge)
    if as_json:
        print_json(r)
        return
    if r["results"]:
        console.print(_results_table(r["results"], console.width))
    else:
        console.print("No pairwise judgments" + (" matching these filters" if suite or judge else "")
                      + " yet (`brie compare` makes them).")
    if any(row["warning"] for row in r["results"]):
        console.print("[yellow]![/] fewer than 30 comparisons: the interval is wide; do not conclude from it.")
    for text in r["position_warnings"]:
        console.print(f"[yellow]![/] position bias: {escape(text)}")
    if r["agreement"]:
        console.print(_agreement_table(r["agreement"], console.width))
    if r["vs_human"]:
        console.print(_vs_human_table(r["vs_human"], console.width))
    if r["scores"]:
        t = Table(title="Single-answer grades (1–10)")
        for col in ("suite", "model", "judge", "n", "mean score", "sd", "parse fail"):
            t.add_column(col, overflow="fold")
        for g in r["scores"]:
            t.add_row(g["suite"], g["model"], g["judge"], str(g["n"]),
                      "" if g["mean_score"] is None else f"{g['mean_score']:.2f}",
                      "" if g["sd"] is None else f"{g['sd']:.2f}", _pct(g["parse_failure_rate"]))
        console.print(t)
    console.print(f"{plural(r['judgments'], 'judgment')}; parse-failure rate {_pct(r['parse_failure_rate']) or '-'}; "
                  f"total cost ${r['total_cost_usd']:.4f}.")


def _export(kind: str, out, suite, judge, force: bool, as_json: bool) -> None:
    from brie.export.judged import write_export

    r = write_export(Workspace.open(), kind, out, suite, judge, force)
    if as_json:
        print_json(r)
        return
    c = r["counts"]
    if kind == "judged":
        detail = "verdicts: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())) if c else ""
    elif kind == "csv":
        detail = f"over {plural(c['comparisons'], 'comparison')}"
    else:
        detail = (f"skipped: {plural(c['skipped_ties'], 'tie')}, "
                  f"{plural(c['skipped_disagreements'], 'pair')} the judges disagree on, "
                  f"{plural(c['skipped_multi_turn'], 'multi-turn prompt')}")
    what = {"judged": "judgment", "csv": "results row", "dpo": "DPO pair"}[kind]
    console.print(f"Wrote {plural(r['rows'], what)} to {r['path']}" + (f" ({detail})." if detail else "."),
                  markup=False, soft_wrap=True)  # soft_wrap: a path broken over lines cannot be copied


_OUT = typer.Option(None, "--out", help="Output file (default: exports/judged.jsonl, results.csv or dpo.jsonl).")
_SUITE = typer.Option(None, "--suite", help="Only this suite (an unknown name is an error that lists the suites).")
_JUDGE = typer.Option(None, "--judge", help="Only this judge, as stored (an unknown name lists the judges).")
_FORCE = typer.Option(False, "--force", help="Overwrite the output file if it exists (the default refuses).")
_JSON = typer.Option(False, "--json", help="Print what was written as JSON: kind, path, rows, counts.")


@export_app.command("judged")
def export_judged(out: Optional[str] = _OUT, suite: Optional[str] = _SUITE, judge: Optional[str] = _JUDGE,
                  force: bool = _FORCE, as_json: bool = _JSON) -> None:
    """Judged JSONL: one line per judgment (docs/architecture.md's schema), invalid answers included."""
    _export("judged", out, suite, judge, force, as_json)


@export_app.command("csv")
def export_csv(out: Optional[str] = _OUT, suite: Optional[str] = _SUITE, judge: Optional[str] = _JUDGE,
               force: bool = _FORCE, as_json: bool = _JSON) -> None:
    """The results table as CSV."""
    _export("csv", out, suite, judge, force, as_json)


@export_app.command("dpo")
def export_dpo(out: Optional[str] = _OUT, suite: Optional[str] = _SUITE, judge: Optional[str] = _JUDGE,
               force: bool = _FORCE, as_json: bool = _JSON) -> None:
    """prompt/chosen/rejected JSONL from decisive verdicts (for mlx-lm-lora or TRL's DPO trainer)."""
    _export("dpo", out, suite, judge, force, as_json)
