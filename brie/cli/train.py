"""`brie train`, `brie runs list|show|recommend|prune|delete|pack|import`, `brie export model`."""

from __future__ import annotations

import json
import signal
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich import box
from rich.table import Column, Table

from brie.cli.common import console, err_console, export_app, fail, print_json
from brie.errors import BrieError
from brie.training.context import TrainCallback
from brie.training.config import help_text as h
from brie.workspace import Workspace

runs_app = typer.Typer(help="Training runs and their checkpoints.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
    app.add_typer(runs_app, name="runs")


class Notices(TrainCallback):
    """What `brie train --json` shows: no progress bar, but messages and warnings still, on stderr
    (stdout holds only the JSON document)."""

    def on_message(self, text):
        err_console.print(text, markup=False, soft_wrap=True)


class RichProgress(Notices):
    """A progress bar with step, loss, tokens/s and ETA; evaluations and checkpoints as lines above it.
    All of it on stderr: it is progress, and stdout is for the result."""

    def __init__(self):
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"), TextColumn("{task.fields[tps]} tok/s"),
            TimeRemainingColumn(), console=err_console, transient=False)
        self.task = None

    def on_start(self, run, start_step, total_steps):
        self.progress.start()
        self.task = self.progress.add_task(run["name"], total=total_steps, completed=start_step, loss="–", tps="–")

    def on_step(self, step):
        self.progress.update(self.task, completed=step)

    def on_report(self, step, metrics):
        self.progress.update(self.task, loss=f"{metrics['train_loss']:.3f}", tps=f"{metrics['tokens_per_second']:.0f}")
        if "reward_margin" in metrics:  # a preference run: what the loss alone does not show
            err_console.print(f"step {step}: loss {metrics['train_loss']:.4f}, reward margin {metrics['reward_margin']:.4f} "
                              f"(chosen {metrics['reward_chosen']:.4f}, rejected {metrics['reward_rejected']:.4f}), "
                              f"preference accuracy {metrics['preference_accuracy']:.3f}")

    def on_eval(self, step, metrics):
        parts = [f"{k.replace('_', ' ')} {v:.4f}" for k, v in metrics.items()]
        err_console.print(f"step {step}: " + ", ".join(parts))

    def on_checkpoint(self, step, row):
        val = f", val loss {row['val_loss']:.4f}" if row["val_loss"] is not None else ""
        err_console.print(f"checkpoint {step}{val} → {row['path']} (sha256 {row['adapter_sha256'][:12]})", markup=False)

    def on_end(self, run):
        if self.task is not None:
            self.progress.stop()


def _raise_interrupt(signum, frame):
    raise KeyboardInterrupt


def train(
    model: Optional[str] = typer.Option(None, "--model", "-m", help=h("model")),
    data: Optional[str] = typer.Option(None, "--data", "-d", help=h("data")),
    name: Optional[str] = typer.Option(None, "--name", "-n", help="Run name (a new folder runs/<name>/); default: <data>-<date>-<time>."),
    config: Optional[str] = typer.Option(None, "--config", "-c", help="YAML config (brie or mlx-lm lora keys); options given here override it."),
    resume: Optional[str] = typer.Option(None, "--resume", help="Continue this failed or cancelled run from its last checkpoint (optimizer, step, data position), with the settings it started with."),
    suffix: bool = typer.Option(False, "--suffix", help="If the name is taken, add -2, -3, … instead of failing."),
    backend: Optional[str] = typer.Option(None, "--backend", help=h("backend")),
    method: Optional[str] = typer.Option(None, "--method", help=h("method")),
    beta: Optional[float] = typer.Option(None, "--beta", help=h("beta")),
    dpo_loss_type: Optional[str] = typer.Option(None, "--dpo-loss-type", help=h("dpo_loss_type")),
    delta: Optional[float] = typer.Option(None, "--delta", help=h("delta")),
    init_from: Optional[str] = typer.Option(None, "--from", help=h("init_from")),
    fine_tune_type: Optional[str] = typer.Option(None, "--fine-tune-type", help=h("fine_tune_type")),
    rank: Optional[int] = typer.Option(None, "--rank", help=h("rank")),
    alpha: Optional[float] = typer.Option(None, "--alpha", help=h("alpha")),
    dropout: Optional[float] = typer.Option(None, "--dropout", help=h("dropout")),
    num_layers: Optional[int] = typer.Option(None, "--num-layers", help=h("num_layers")),
    keys: Optional[str] = typer.Option(None, "--keys", help="Comma-separated target modules, e.g. self_attn.q_proj,self_attn.v_proj (default: all linear layers)."),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", help=h("optimizer")),
    learning_rate: Optional[float] = typer.Option(None, "--learning-rate", "--lr", help=h("learning_rate")),
    warmup_steps: Optional[int] = typer.Option(None, "--warmup-steps", help=h("warmup_steps")),
    lr_decay: Optional[str] = typer.Option(None, "--lr-decay", help=h("lr_decay")),
    min_lr: Optional[float] = typer.Option(None, "--min-lr", help=h("min_lr")),
    weight_decay: Optional[float] = typer.Option(None, "--weight-decay", help=h("weight_decay")),
    grad_clip: Optional[str] = typer.Option(None, "--grad-clip", metavar="FLOAT|none", help=h("grad_clip")),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help=h("batch_size")),
    grad_accumulation_steps: Optional[int] = typer.Option(None, "--grad-accumulation-steps", help=h("grad_accumulation_steps")),
    max_seq_length: Optional[int] = typer.Option(None, "--max-seq-length", help=h("max_seq_length")),
    mask_prompt: Optional[bool] = typer.Option(None, "--mask-prompt/--no-mask-prompt", help=h("mask_prompt")),
    iters: Optional[int] = typer.Option(None, "--iters", help=h("iters")),
    epochs: Optional[float] = typer.Option(None, "--epochs", help=h("epochs")),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", help=h("max_steps")),
    dry_run: Optional[bool] = typer.Option(None, "--dry-run", help=h("dry_run")),
    save_every: Optional[int] = typer.Option(None, "--save-every", help=h("save_every")),
    eval_every: Optional[int] = typer.Option(None, "--eval-every", help=h("eval_every")),
    val_batches: Optional[int] = typer.Option(None, "--val-batches", help=h("val_batches")),
    steps_per_report: Optional[int] = typer.Option(None, "--steps-per-report", help=h("steps_per_report")),
    seed: Optional[int] = typer.Option(None, "--seed", help=h("seed")),
    grad_checkpoint: Optional[bool] = typer.Option(None, "--grad-checkpoint", help=h("grad_checkpoint")),
    patience: Optional[int] = typer.Option(None, "--early-stopping-patience", "--patience", help=h("early_stopping_patience")),
    min_delta: Optional[float] = typer.Option(None, "--early-stopping-min-delta", help=h("early_stopping_min_delta")),
    guard_data: Optional[str] = typer.Option(None, "--guard-data", help=h("guard_data")),
    guard_threshold: Optional[float] = typer.Option(None, "--guard-threshold", help=h("guard_threshold")),
    guard_action: Optional[str] = typer.Option(None, "--guard-action", help=h("guard_action")),
    guard_batches: Optional[int] = typer.Option(None, "--guard-batches", help=h("guard_batches")),
    report_to: Optional[str] = typer.Option(None, "--report-to", help=h("report_to")),
    as_json: bool = typer.Option(False, "--json", help="Print the finished run record as JSON."),
) -> None:
    """Train a LoRA (or DoRA, or full) fine-tune as a new run, or --resume one.

    Example: brie train --data my-chat --name my-chat-r8 --rank 8 --iters 600

    Checkpoints go to runs/<name>/checkpoints/<step>/ every --save-every steps (one step = one
    micro-batch of --batch-size examples); afterwards use the run as <name>@best, <name>@last or
    <name>@<step>. A --config YAML file (brie or mlx-lm lora keys) sets defaults; options here win.
    """
    given = dict(locals())  # first: the options, and nothing else
    from brie.training.distributed import launch_rank

    ws = Workspace.open()
    # Under `accelerate launch` every process runs this command; only the main one prints.
    main = launch_rank()[0] == 0
    callback = (Notices() if as_json else RichProgress()) if main else TrainCallback()
    # The UI stops a run with SIGTERM: treat it as Ctrl-C, so the run is marked cancelled.
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        run = _train(ws, given, callback, name, config, resume, suffix, as_json, patience, min_delta, keys)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not main:
        return
    if as_json:
        print_json(_decoded(run, ws))
        return
    _print_outcome(ws, run)
    if run["status"] == "cancelled":
        raise typer.Exit(130)


def _train(ws, given, callback, name, config, resume, suffix, as_json, patience, min_delta, keys):
    from brie.training.lifecycle import create_run, resume_training, run_training
    from brie.training.config import resolve_config

    if resume:
        from brie.training.distributed import launch_rank

        if launch_rank()[0] == 0:  # the other processes of a launch may be on machines without this run
            _run(ws, resume)
        ignored = [k for k, v in given.items() if k not in ("resume", "as_json") and v not in (None, False)]
        if ignored:
            names = {"patience": "early_stopping_patience", "min_delta": "early_stopping_min_delta",
                     "init_from": "from"}
            opts = ", ".join("--" + names.get(k, k).replace("_", "-") for k in ignored)
            raise BrieError(f"--resume {resume} continues the run with the settings it started with; "
                            f"drop {opts} (or start a new run to use other settings)")
        run = resume_training(ws, resume, callback)
    else:
        overrides = {k: v for k, v in given.items() if k not in (
            "name", "config", "resume", "suffix", "as_json", "patience", "min_delta", "keys")}
        overrides.update(early_stopping_patience=patience, early_stopping_min_delta=min_delta,
                         keys=keys.split(",") if keys else None)
        cfg = resolve_config(config, overrides)
        from brie.training.distributed import launch_rank

        run = create_run(ws, cfg, name, suffix)
        if not as_json and launch_rank()[0] == 0:
            console.print(f"Run {run['name']} ({run['backend']}, "
                          + ("" if cfg.method == "sft" else f"{cfg.method} beta {cfg.beta:g}"
                             + (f" from {cfg.init_from}" if cfg.init_from else "") + ", ")
                          + f"{cfg.fine_tune_type}"
                          + (f", rank {cfg.rank}, alpha {cfg.alpha:g}, LoRA scale {cfg.lora_scale:g}"
                             if cfg.fine_tune_type != "full" else "")
                          + (", dry run" if cfg.is_dry_run else "")
                          + f"; data {_data_text(_dataset(ws, run), run, long=True)}) → {run['path']}/")
        run = run_training(ws, run["name"], callback)
    return run


def _print_outcome(ws, run):
    from brie.store.runs import list_checkpoints
    from brie.training.lifecycle import step_text

    ckpts = list_checkpoints(ws.store, run["id"])
    last = ckpts[-1]["step"] if ckpts else None
    line = f"Run {run['name']} {run['status']} {step_text(run['step'])}"
    if run["stop_reason"]:
        line += f" ({run['stop_reason']})"
    console.print(line + ".")
    if ckpts:
        console.print(f"Checkpoints: {', '.join(str(c['step']) for c in ckpts)}; best {run['best_step']}, last {last}"
                      + (f", recommended {run['recommended_step']}" if run["recommended_step"] is not None else "")
                      + f". Use it as {run['name']}@best.")
    elif run["status"] in ("cancelled", "failed"):
        console.print("No checkpoint was written" + (f"; `brie train --resume {run['name']}` starts it again from step 0."
                                                      if run["status"] == "cancelled" else "."))


# ---------------------------------------------------------------- brie runs


def _open():
    from brie.training.lifecycle import reap_dead_runs

    ws = Workspace.open()
    for name in reap_dead_runs(ws):
        err_console.print(f"[yellow]Run {name} was marked failed: its process is gone.[/]")
    return ws


def _run(ws, name):
    from brie.store.runs import get_run

    run = get_run(ws.store, name)
    if run is None:
        raise BrieError(f"no run named {name!r} (see `brie runs list`)")
    return run


@runs_app.command("list")
def runs_list(as_json: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """All runs, newest last, with status, step and best checkpoint."""
    from brie.store.runs import list_runs

    ws = _open()
    rows = list_runs(ws.store)
    if as_json:
        print_json([_decoded(r, ws) for r in rows])
        return
    # Fits 80 columns: only the model (often a long path) and the data fold; everything else
    # stays on one line. Backend and method show only when not the usual MLX LoRA (runs show has them all).
    fixed = dict(no_wrap=True)
    table = Table(Column("name", **fixed), Column("status", **fixed), Column("model", overflow="fold"),
                  Column("data", overflow="fold"), Column("step", **fixed), Column("best/rec.", **fixed),
                  Column("started", **fixed), box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for r in rows:
        step = f"{r['step'] or 0}/{r['total_steps']}" if r["total_steps"] else str(r["step"] or 0)
        marks = "/".join("—" if r[k] is None else str(r[k]) for k in ("best_step", "recommended_step"))
        how = "" if (r["backend"], r["method"]) in (("mlx", "lora"), (None, None)) else f" ({r['backend']} {r['method']})"
        table.add_row(r["name"], r["status"] + (" (dry)" if r["dry_run"] else ""), r["model"] + how,
                      _data_text(_dataset(ws, r), r), step, marks,
                      (r["started_at"] or "")[5:16].replace("T", " "))  # MM-DD HH:MM
    console.print(table)


def _dataset(ws, run: dict) -> dict | None:
    """The dataset version a run trains on: name, version, sample ratio; None for a plain folder."""
    from brie.store.datasets import get_dataset_by_id

    if run.get("dataset_id") is None:
        return None
    row = get_dataset_by_id(ws.store, run["dataset_id"])
    if row is None:
        return None
    return {"id": row["id"], "name": row["name"], "version": row["version"], "sample_ratio": row["sample_ratio"]}


def _data_text(dataset: dict | None, run: dict, long: bool = False) -> str:
    """'chat v2 (50%)' (short) or 'chat v2, sample ratio 0.5' (long); a folder as its path."""
    if dataset is None:
        return run["data"] if long else run["data"].rstrip("/").rsplit("/", 1)[-1] + "/"
    text = f"{dataset['name']} v{dataset['version']}"
    ratio = dataset["sample_ratio"]
    if ratio is None:
        return text
    if long:
        return f"{text}, sample ratio {ratio:g}"
    return text if ratio == 1 else f"{text} ({ratio:.0%})"


def _decoded(run: dict, ws) -> dict:
    """A run row for --json: its config as an object, not a JSON string inside the JSON, and its
    dataset version (name, version, sample ratio; null for a plain folder)."""
    out = {k: v for k, v in run.items() if k != "config_json"}
    out["config"] = json.loads(run["config_json"]) if run.get("config_json") else None
    out["dataset"] = _dataset(ws, run)
    return out


@runs_app.command("show")
def runs_show(name: str = typer.Argument(..., help="Run name."),
              as_json: bool = typer.Option(False, "--json", help="Print as JSON (run, config, checkpoints, last metrics).")) -> None:
    """One run: status, config, LoRA scale, checkpoints, metrics."""
    from brie.judging.rank import recommended_why
    from brie.training.housekeeping import size_text

    from brie.store.runs import get_metrics, list_checkpoints

    ws = _open()
    run = _run(ws, name)
    ckpts = list_checkpoints(ws.store, run["id"])
    last = {}
    for m in get_metrics(ws.store, run["id"]):
        last[m["name"]] = {"step": m["step"], "value": m["value"]}
    cfg = json.loads(run["config_json"])
    if as_json:
        shown = _decoded(run, ws)
        print_json({"run": shown, "config": shown.pop("config"), "checkpoints": ckpts, "last_metrics": last})
        return
    table = Table(show_header=False, box=None)
    steps = {c["step"] for c in ckpts}
    for key in ("name", "status", "model", "data", "backend", "method", "path", "step", "total_steps",
                "best_step", "recommended_step", "stop_reason", "error", "warnings", "pid",
                "created_at", "started_at", "ended_at"):
        if key == "step" and not run["step"]:
            table.add_row("[bold]step[/]", "none yet (stopped before the first step)"
                          if run["status"] in ("completed", "failed", "cancelled") else "none yet")
        elif run.get(key) is not None:
            text = str(run[key])
            if key in ("best_step", "recommended_step") and run[key] not in steps:
                text += " (checkpoint pruned)"
            if key == "data":
                text = _data_text(_dataset(ws, run), run, long=True)
            table.add_row(f"[bold]{key}[/]", text)
    if run["recommended_step"] is not None:
        table.add_row("[bold]recommended by[/]", recommended_why(run))
    if cfg["fine_tune_type"] != "full":
        table.add_row("[bold]LoRA[/]", f"rank {cfg['rank']}, alpha {cfg['alpha']:g} → scale {cfg['lora_scale']:g}, "
                                       f"dropout {cfg['dropout']}, layers {cfg['num_layers']}")
    table.add_row("[bold]optimizer[/]", f"{cfg['optimizer']}, lr {cfg['learning_rate']:g} ({cfg['lr_decay']}, "
                                        f"warmup {cfg['warmup_steps']}), batch {cfg['batch_size']}×{cfg['grad_accumulation_steps']}")
    if run["dry_run"]:
        table.add_row("[bold]dry run[/]", "yes")
    console.print(table)
    ct = Table("step", "epoch", "train loss", "val loss", "size", "sha256", "")
    for c in ckpts:
        tags = [t for t, s in (("best", run["best_step"]), ("recommended", run["recommended_step"])) if s == c["step"]]
        ct.add_row(str(c["step"]), f"{c['epoch']:.2f}", _fmt(c["train_loss"]), _fmt(c["val_loss"]),
                   size_text(c["size_bytes"]), c["adapter_sha256"][:12], ", ".join(tags))
    console.print(ct)
    if last:
        console.print("last metrics: " + ", ".join(f"{k} {v['value']:.4g} (step {v['step']})" for k, v in last.items()))


def _fmt(x):
    return "" if x is None else f"{x:.4f}"


@runs_app.command("cancel")
def runs_cancel(name: str = typer.Argument(..., help="Run name."),
                wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait until the run has stopped."),
                as_json: bool = typer.Option(False, "--json", help="Print the run as JSON when done.")) -> None:
    """Stop a running run (started here, in another terminal or from the UI); it can be resumed."""
    import time

    from brie.training.housekeeping import cancel_run
    from brie.store.runs import ACTIVE, get_run
    from brie.training.lifecycle import alive, reap_dead_runs

    ws = _open()
    pid = cancel_run(ws, name)
    if not as_json:
        err_console.print(f"Asked {name} (process {pid}) to stop" + ("; waiting for it…" if wait else "."), markup=False)
    # It stops at the end of the step in progress, after writing its state.
    while wait and alive(pid):
        time.sleep(0.5)
    reap_dead_runs(ws)  # a process that died without saying so is marked failed
    run = get_run(ws.store, name)
    if as_json:
        print_json(_decoded(run, ws))
    elif run["status"] not in ACTIVE:
        console.print(f"Run {name} is {run['status']} at step {run['step'] or 0}; "
                      f"`brie train --resume {name}` continues it.")


@runs_app.command("recommend")
def runs_recommend(name: str = typer.Argument(..., help="Run name."),
                   step: Optional[int] = typer.Argument(None, help="The checkpoint step to mark recommended "
                                                        "(leave out with --by judged)."),
                   by: str = typer.Option("step", "--by", help="step: the STEP given; judged: the checkpoint with "
                                          "the best Bradley–Terry score whose interval clears the base, from the "
                                          "judgments stored on --suite (`brie rank` makes them)."),
                   suite: Optional[str] = typer.Option(None, "--suite", help="With --by judged: the suite judged."),
                   judge: Optional[str] = typer.Option(None, "--judge", help="With --by judged: the judge, when "
                                                       "several judged the run."),
                   as_json: bool = typer.Option(False, "--json", help="Print the updated run record as JSON.")) -> None:
    """Mark a checkpoint recommended (<run>@recommended): by step, or by judged quality.

    Until you mark one, recommended follows the best checkpoint (lowest validation loss).
    """
    from brie.store.runs import get_checkpoint, get_run, set_recommended

    ws = _open()
    run = _run(ws, name)
    if by == "judged":
        from brie.judging.rank import recommend_by_judged, recommended_why

        if suite is None or step is not None:
            raise BrieError("--by judged takes --suite and no STEP (it picks the step)")
        chosen = recommend_by_judged(ws, name, suite, judge)
        step = chosen["step"]
    elif by != "step":
        raise BrieError(f"--by {by!r}: use step or judged")
    else:
        if step is None:
            raise BrieError("give the STEP to mark, or --by judged --suite S")
        if get_checkpoint(ws.store, run["id"], step) is None:
            raise BrieError(f"run {name!r} has no checkpoint at step {step} (see `brie runs show {name}`)")
        set_recommended(ws.store, run["id"], step)
    if as_json:
        print_json(_decoded(get_run(ws.store, name), ws))
        return
    console.print(f"Marked {name}@{step} recommended"
                  + (f": {recommended_why(get_run(ws.store, name))}." if by == "judged" else "."),
                  markup=False, soft_wrap=True)


def _confirm(question: str, yes: bool, command: str) -> None:
    """Ask before deleting; without a terminal to ask on, say that --yes is needed (exit 1)."""
    import sys

    if yes:
        return
    if not sys.stdin.isatty():
        raise BrieError(f"{command} asks before deleting and there is no terminal to ask on; "
                        "add --yes to delete without a prompt")
    if not typer.confirm(question, err=True):  # the question is a notice: stderr, like the plan above it
        fail("nothing deleted (the answer was no)")


@runs_app.command("prune")
def runs_prune(name: str = typer.Argument(..., help="Run name."),
               keep: str = typer.Option("best,last,recommended", "--keep",
                                        help="Checkpoints to keep: best, last, recommended and/or step numbers, comma-separated."),
               force: bool = typer.Option(False, "--force", help="Also delete checkpoints that generations, judgments or "
                                                                 "evaluations were made from (those rows stay; otherwise they are kept)."),
               yes: bool = typer.Option(False, "--yes", "-y", help="Delete without asking (needed when not run from a terminal)."),
               as_json: bool = typer.Option(False, "--json", help="Print what was deleted, kept and unlinked as JSON.")) -> None:
    """Delete checkpoints except --keep ones (shows, then asks).

    A checkpoint that generations, judgments or evaluations were made from is kept too, unless
    --force. Deleting the recommended checkpoint unmarks it; a deleted best checkpoint stays
    recorded as the best step, but <run>@best no longer loads.
    """
    from brie.training.housekeeping import checkpoint_references_text, prune, prune_notes, prune_plan, size_text
    from brie.words import plural

    ws = _open()
    run = _run(ws, name)
    planned = prune_plan(ws, run, keep, force=True)
    held = [] if force else [c for c in planned if c["references"]]
    doomed = [c for c in planned if c not in held]
    unlinked = [c for c in doomed if c["references"]]
    size = size_text(sum(c["size_bytes"] for c in doomed))
    if held and not as_json:
        err_console.print(f"Keeping {plural(len(held), 'checkpoint')} that other records were made from: "
                          + checkpoint_references_text(held) + f". `brie runs prune {name} --force` deletes "
                          "them too (those records stay, naming a checkpoint that is gone).", markup=False, soft_wrap=True)
    if doomed:
        if not as_json:
            err_console.print(f"Will delete {plural(len(doomed), 'checkpoint')} of {name}: "
                              + ", ".join(str(c["step"]) for c in doomed) + f" ({size}).", markup=False, soft_wrap=True)
            if unlinked:
                err_console.print("Unlinks what was made from them (it stays, naming a checkpoint that is gone): "
                                  + checkpoint_references_text(unlinked) + ".", markup=False, soft_wrap=True)
            for note in prune_notes(run, doomed):
                err_console.print(f"Note: {note}.", markup=False, soft_wrap=True)
        _confirm("Delete them?", yes, f"brie runs prune {name}")
        late = prune(ws, run, doomed, force=force)
        if late:
            err_console.print("Kept after all, as something was made from them meanwhile: "
                              + ", ".join(str(c["step"]) for c in late) + ".", markup=False, soft_wrap=True)
            held += late
            doomed = [c for c in doomed if c not in late]
    if as_json:
        print_json({"run": name, "deleted": [c["step"] for c in doomed],
                    "size_bytes": sum(c["size_bytes"] for c in doomed),
                    "kept_referenced": [{"step": c["step"], "references": c["references"]} for c in held],
                    "unlinked": [{"step": c["step"], "references": c["references"]} for c in unlinked]})
    elif not doomed:
        console.print("Nothing to delete.")
    else:
        console.print(f"Deleted {plural(len(doomed), 'checkpoint')} ({size})."
                      + (f" Unlinked what was made from them: {checkpoint_references_text(unlinked)}."
                         if unlinked else "")
                      + (f" {name} has no recommended checkpoint now." if run["recommended_step"] in
                         {c["step"] for c in doomed} else ""), markup=False, soft_wrap=True)


@runs_app.command("delete")
def runs_delete(name: str = typer.Argument(..., help="Run name."),
                yes: bool = typer.Option(False, "--yes", "-y", help="Delete without asking (needed when not run from a terminal)."),
                force: bool = typer.Option(False, "--force", help="Also delete the generations, judgments, scores and "
                                                                 "eval results made from its checkpoints (otherwise refused)."),
                as_json: bool = typer.Option(False, "--json", help="Print what was deleted as JSON.")) -> None:
    """Delete a whole run: folder and records (shows them, then asks).

    Its checkpoints, metrics and config go, and its name becomes free. Refuses a run whose training process is still alive.
    """
    from brie.training.housekeeping import delete_plan, delete_run

    ws = _open()
    plan = delete_plan(ws, name, force=force)
    if not as_json:
        err_console.print("Will delete " + plan.describe() + ".", markup=False, soft_wrap=True)
    _confirm("Delete the run?", yes, f"brie runs delete {name}")
    delete_run(ws, plan)
    if as_json:
        print_json({"run": name, "folder": str(plan.folder), "size_bytes": plan.size_bytes,
                    "checkpoints": plan.checkpoints, "references": plan.references})
    else:
        console.print(f"Deleted run {name}.")


@runs_app.command("pack")
def runs_pack(name: str = typer.Argument(..., help="Run name."),
              out: Optional[str] = typer.Option(None, "--out", "-o", help="Archive to write, .tar.gz or .zip "
                                                "(default: exports/runs/<run>.tar.gz); must not exist."),
              checkpoints: str = typer.Option("best,last,recommended", "--checkpoints",
                                              help="Checkpoints to include: best, last, recommended, all and/or step "
                                                   "numbers, comma-separated."),
              as_json: bool = typer.Option(False, "--json", help="Print the archive's path, checkpoints and size as JSON.")) -> None:
    """Write one archive of a run (config, metrics, chosen checkpoints; not the base model) to move it
    to another machine, where `brie runs import` takes it."""
    from brie.training.housekeeping import size_text
    from brie.training.transfer import pack_run

    ws = _open()
    packed = pack_run(ws, name, out, checkpoints)
    if as_json:
        print_json({k: v for k, v in packed.items() if k != "summary"})
        return
    console.print(f"Packed {name} ({packed['summary']}: {', '.join(map(str, packed['checkpoints']))}; "
                  f"{size_text(packed['size_bytes'])}) → {packed['path']}", markup=False, soft_wrap=True)


@runs_app.command("import")
def runs_import(source: str = typer.Argument(..., help="A brie run folder or archive (`brie runs pack`), an mlx-lm "
                                                       "adapter folder or a peft adapter folder."),
                name: Optional[str] = typer.Option(None, "--name", "-n", help="Run name here (default: the source's run or folder name)."),
                model: Optional[str] = typer.Option(None, "--model", "-m", help="Base model here (registered name, folder or "
                                                                                "Hugging Face id), when the one the source names is elsewhere."),
                check: bool = typer.Option(True, "--check/--no-check", help="Load each imported adapter through MLX on the base "
                                                                            "model (and, for peft, compare its outputs with peft's) before registering it."),
                as_json: bool = typer.Option(False, "--json", help="Print the imported run, its checkpoints and the check as JSON.")) -> None:
    """Register a run trained elsewhere as a completed run here: checkpoints keep their sha256 (checked),
    and work with generate, compare, eval and export like any other."""
    from brie.training.transfer import import_run

    ws = _open()
    done = import_run(ws, source, name=name, model=model, check=check,
                      say=lambda text: err_console.print(text, markup=False, soft_wrap=True))
    if as_json:
        print_json({**done, "run": _decoded(done["run"], ws)})
        return
    run = done["run"]
    gap = done["check"].get("peft_relative_gap")
    console.print(f"Imported {run['name']} ({done['kind']}; checkpoints "
                  f"{', '.join(str(c['step']) for c in done['checkpoints'])}; base {run['model']})"
                  + (f"; outputs equal peft's within {gap:.1e}" if gap is not None else "")
                  + f". Use it as {run['name']}@best.", markup=False, soft_wrap=True)


# ---------------------------------------------------------------- brie export model


@export_app.command("model")
def export_model(
    spec: str = typer.Argument(..., help="A checkpoint: <run>@<step>, <run>@best, @last or @recommended."),
    fuse: bool = typer.Option(True, "--fuse/--no-fuse", help="Fuse the adapter into the weights (mlx-lm fuse); --no-fuse copies the adapter folder only."),
    dequantize: bool = typer.Option(False, "--dequantize", help="Write a dequantized model (for a quantized base)."),
    gguf: bool = typer.Option(False, "--gguf", help="Also write a GGUF file (llama, mistral, mixtral)."),
    upload: Optional[str] = typer.Option(None, "--upload", help="Upload the fused model to this Hugging Face repo."),
    out: Optional[str] = typer.Option(None, "--out", "-o", help="Output folder (default: exports/models/<run>-<step>); must not exist."),
) -> None:
    """Export a checkpoint as a standalone model (through mlx-lm's fuse)."""
    from brie.export.model import export_model as do_export

    path = do_export(Workspace.open(), spec, out=out, fuse=fuse, dequantize=dequantize, gguf=gguf, upload=upload)
    console.print(f"Exported {spec} → {path}")
