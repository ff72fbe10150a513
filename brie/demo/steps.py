"""`brie demo`: the whole loop on the embedded default model, offline. Each issue adds its step."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from brie.models.registry import DEFAULT_MODEL, load_model, prepare_default_model
from brie.words import plural
from brie.workspace import Workspace

DEMO_PROMPTS = [
    "What is the capital of France?",
    "Name three primary colors.",
    "Write one sentence about cheese.",
]


def step_answer_prompts(ws: Workspace, say) -> None:
    from brie.generation.mlx_engine import stream_answer

    model, tokenizer = load_model(ws, DEFAULT_MODEL)
    for prompt in DEMO_PROMPTS:
        answer = "".join(stream_answer(model, tokenizer, prompt, max_tokens=60))
        say(f"[bold]Q:[/] {prompt}\n[bold]A:[/] {answer.strip()}\n")


def step_import_demo_data(ws: Workspace, say) -> None:
    """Import the demo training set as dataset `demo`; a second run finds identical content and says so."""
    from brie.data.datasets import describe_counts, import_dataset
    from brie.demo.data import DEMO_DATASET, demo_dataset_path

    result = import_dataset(ws, str(demo_dataset_path()), DEMO_DATASET)
    say(result.message if not result.created else
        f"Imported the demo dataset {DEMO_DATASET!r} into {result.dataset['path']}: {describe_counts(result.dataset)}.")


DEMO_RUN = "demo-lora"
# Short enough for a couple of minutes on 2 CPU cores; 20 steps at this rate already turn the
# answers into the demo set's style ("Squeak! … 🧀").
DEMO_TRAIN = dict(model=DEFAULT_MODEL, data="demo", iters=20, save_every=10, eval_every=10, batch_size=4,
                  num_layers=8, learning_rate=2e-4, mask_prompt=True, val_batches=2, steps_per_report=2)


def step_train_demo(ws: Workspace, say) -> None:
    """A short LoRA on the `demo` dataset; a rerun reuses the finished run instead of training again."""
    from brie.errors import BrieError
    from brie.generation.mlx_engine import stream_answer
    from brie.store.runs import get_run, list_checkpoints
    from brie.training.context import TrainCallback
    from brie.training.data import resolve_data
    from brie.training.lifecycle import train
    from brie.training.config import resolve_config

    try:
        resolve_data(ws, "demo")
    except BrieError:
        say("Skipped training: no dataset named 'demo' in this workspace.")
        return

    class Say(TrainCallback):
        def on_report(self, step, m):
            say(f"  step {step}: train loss {m['train_loss']:.3f}, {m['tokens_per_second']:.0f} tokens/s")

        def on_eval(self, step, m):
            if "val_loss" in m:
                say(f"  step {step}: validation loss {m['val_loss']:.3f}")

    run = get_run(ws.store, DEMO_RUN)
    if run is None or run["status"] != "completed":
        say(f"Training a LoRA on 'demo' ({DEMO_TRAIN['iters']} steps; a couple of minutes on a laptop CPU)…")
        run = train(ws, resolve_config(None, DEMO_TRAIN), DEMO_RUN, suffix=True, callback=Say())
    else:
        say(f"Reusing the finished demo run {run['name']}.")
    for c in list_checkpoints(ws.store, run["id"]):
        tag = " (best)" if c["step"] == run["best_step"] else ""
        val = f"val loss {c['val_loss']:.3f}, " if c["val_loss"] is not None else ""
        say(f"  checkpoint {run['name']}@{c['step']}{tag}: {val}sha256 {c['adapter_sha256'][:12]}, {c['path']}")
    prompt = "What is stilton?"
    base = load_model(ws, DEFAULT_MODEL)
    tuned = load_model(ws, DEFAULT_MODEL, ws.root / run["path"] / "checkpoints" / str(run["best_step"]))
    for label, (model, tok) in (("base", base), (f"{run['name']}@{run['best_step']}", tuned)):
        answer = "".join(stream_answer(model, tok, prompt, max_tokens=40)).strip()
        say(f"[bold]{label}:[/] {prompt} → {answer}")


DEMO_SUITES = ("demo-in-domain", "demo-out-of-domain")  # from brie/demo (demo_suite_paths)
DEMO_GEN_TOKENS = 64  # short answers keep the demo quick on two CPU cores


def _demo_run(ws: Workspace) -> str | None:
    """The training step's demo run (DEMO_RUN when it names one), else the newest run with a best checkpoint."""
    from brie.store.runs import get_run, list_runs

    named = get_run(ws.store, DEMO_RUN)
    if named and named["best_step"] is not None:
        return DEMO_RUN
    runs = [r for r in list_runs(ws.store) if r["best_step"] is not None and r["status"] == "completed"]
    return runs[-1]["name"] if runs else None


# The demo's judge: the embedded model in-process, its verdicts read from the next token's
# probabilities (brie/judging/providers/local.py), so every pair gets a verdict and none fails to parse.
DEMO_JUDGE = f"local:{DEFAULT_MODEL}"


def step_compare_demo(ws: Workspace, say) -> None:
    """Base vs the demo run's best checkpoint on both demo suites, every pair judged in both orders
    by the embedded model read from its token probabilities."""
    from brie.demo.data import demo_suite_paths
    from brie.judging.stats import results
    from brie.data.suites import import_suite, list_suites

    have = {s["name"] for s in list_suites(ws)}
    for name, path in demo_suite_paths().items():
        if name not in have and path.is_file():
            import_suite(ws, path, name)
            say(f"Imported the prompt suite {name}.")
    suites = [n for n in DEMO_SUITES if n in {s["name"] for s in list_suites(ws)}]
    run = _demo_run(ws)
    if not suites or run is None:
        say("Skipping the A/B comparison: " + ("no demo suites" if not suites else "no trained demo run yet") + ".")
        return
    from brie.models.specs import resolve_specs
    from brie.generation.runner import generate_suite
    from brie.judging.workflows import judge_comparisons, make_comparisons

    specs = resolve_specs(ws, f"base,{run}@best")
    say(f"[bold]Blind A/B:[/] base vs {specs[1].label} on {', '.join(suites)}, every pair judged in both orders.")
    ids = []
    for suite in suites:
        gens = generate_suite(ws, suite, specs, max_tokens=DEMO_GEN_TOKENS)
        ids += make_comparisons(ws, suite, gens, specs[0].label, specs[1].label)
    say(f"[yellow]The judge here is the embedded 135M model ({DEMO_JUDGE}), run in this process: its verdict "
        "is read from the probabilities of its next token after \"[[\" (A, B or C), so it always gives one. "
        "A 135M judge is for showing the mechanics, not for conclusions. For real verdicts use Claude: "
        "export ANTHROPIC_API_KEY=… and run brie compare --judge anthropic:claude-sonnet-5-5 --swap.[/]")
    s = judge_comparisons(ws, ids, [DEMO_JUDGE], swap=True)
    judge = DEMO_JUDGE
    if s.tasks == 0:
        say(f"Nothing new to judge: reusing {plural(s.already_done, 'stored judgment')} by {judge}.")
    else:
        say(f"Judged {plural(len(ids), 'pair')} in both orders: {plural(s.valid, 'verdict')}, "
            f"{s.invalid} without a verdict, {s.failed} failed.")
    for row in results(ws, judge=judge)["results"]:
        if row["category"] != "(all)" or row["suite"] not in suites or not row["n"]:
            continue
        say(f"{row['suite']}: {row['b']} vs {row['a']}: win rate {100 * row['b_win_rate']:.0f}% "
            f"(95% CI {100 * row['ci_low']:.0f}–{100 * row['ci_high']:.0f}%, n={row['n']}; "
            f"{row['b_wins']} wins, {row['ties']} ties, {row['a_wins']} losses)")
        if row.get("pref_b") is not None:
            say(f"  mean preference for {row['b']}: {row['pref_b']:.2f} (95% CI {row['pref_b_low']:.2f}–"
                f"{row['pref_b_high']:.2f}, bootstrap over {plural(row['pref_prompts'], 'prompt')}; "
                "both orders averaged)")
        measured = [f"the answer shown first won {row['first_shown_wins']} of {row['first_shown_n']} decided "
                    f"judgments (binomial p = {row['first_shown_p']:.2g})" if row["first_shown_n"]
                    else "no decided judgment (every verdict a tie)"]
        if row.get("position_bias") is not None:
            measured.append(f"its probabilities gave the answer shown first {0.5 + row['position_bias']:.2f} "
                            f"on average ({row['position_bias']:+.2f} from even; --swap averages it out)")
        say("  position bias: " + "; ".join(measured))
        if row.get("position_warning"):
            say(f"  [yellow]{row['position_warning']}[/]")
    say("See `brie results` and `brie export judged`.")


def step_ui_pointer(ws: Workspace, say) -> None:
    """The UI is interactive, so the demo only says how to open it on what the demo made."""
    say(f"[bold]Look at it all in the terminal UI:[/] cd {ws.root} && {_brie_command(ws)}   "
        "(r runs, enter a run's curves and checkpoints, b a blind session where you judge, ? help)")



def _brie_command(ws: Workspace) -> str:
    """`brie` when it is on PATH; else the entry point beside this Python (.venv/bin/brie)."""
    if shutil.which("brie"):
        return "brie"
    exe = Path(sys.executable).parent / "brie"
    try:
        return str(exe.relative_to(ws.root))
    except ValueError:
        return str(exe)


def demo_run_name(ws: Workspace) -> str | None:
    """The run an earlier demo step trained: the newest run named demo…, else the newest run."""
    from brie.store import runs as run_rows

    runs = run_rows.list_runs(ws.store)
    demo = [r for r in runs if r["name"].startswith("demo")]
    return (demo or runs or [{"name": None}])[-1]["name"]


# Small on purpose: two models × 5 questions, batched, about half a minute on 2 idle CPU cores.
DEMO_EVAL_QUESTIONS = 5
DEMO_EVAL_TOKENS = 64


def step_eval_and_report(ws: Workspace, say) -> None:
    """Base vs the demo run's best checkpoint on a few GSM8K questions, then the run's report."""
    from brie.errors import BrieError
    from brie.evals import parse_benchmarks
    from brie.evals.runner import evaluate_vs_base
    from brie.export.report import write_report
    from brie.models.specs import resolve_specs

    run = _demo_run(ws) or demo_run_name(ws)
    if run is None:
        say("No training run in this workspace yet: no evaluation or report to write.")
        return
    try:
        specs = resolve_specs(ws, f"base,{run}@best")
    except BrieError:
        specs = resolve_specs(ws, f"base,{run}@last")
    benches = parse_benchmarks("gsm8k", max_tokens=DEMO_EVAL_TOKENS)  # the test split shipped with brie
    say(f"Evaluating base and {specs[1].label} on {DEMO_EVAL_QUESTIONS} GSM8K questions (batched)…")
    done = evaluate_vs_base(ws, specs, benches, limit=DEMO_EVAL_QUESTIONS, batch_size=DEMO_EVAL_QUESTIONS)
    for r in done.results:
        say(f"  {r['label']}: flexible {r['metrics']['flexible']:.2f}, strict {r['metrics']['strict']:.2f} "
            f"(n={r['metrics']['n']})")
    for d in done.deltas:
        say(f"  change vs base: {d.delta:+.2f} (McNemar p = {d.p_value:.2f}; n={d.n} is far too small to tell)")
    path = write_report(ws, run)
    say(f"Report written: {path}")


STEPS = [step_answer_prompts, step_import_demo_data, step_train_demo, step_compare_demo, step_eval_and_report, step_ui_pointer]


def run_demo(ws: Workspace, say=print) -> None:
    say(f"brie demo in {ws.root}")
    prepare_default_model(ws, progress=say)
    for step in STEPS:
        step(ws, say)
    say("Demo finished.")
