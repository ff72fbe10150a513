"""`brie demo`: the whole loop on the embedded default model, offline. Each issue adds its step."""

from __future__ import annotations

from brie.models import DEFAULT_MODEL, load_model, prepare_default_model
from brie.workspace import Workspace

DEMO_PROMPTS = [
    "What is the capital of France?",
    "Name three primary colors.",
    "Write one sentence about cheese.",
]


def step_answer_prompts(ws: Workspace, say) -> None:
    from brie.generate import stream_answer

    model, tokenizer = load_model(ws, DEFAULT_MODEL)
    for prompt in DEMO_PROMPTS:
        answer = "".join(stream_answer(model, tokenizer, prompt, max_tokens=60))
        say(f"[bold]Q:[/] {prompt}\n[bold]A:[/] {answer.strip()}\n")


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
    from pathlib import Path

    from brie.errors import BrieError
    from brie.report import write_report

    run = demo_run_name(ws)
    if run is None:
        say("No training run in this workspace yet: no evaluation or report to write.")
        return
    gsm8k = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "gsm8k_test.jsonl"
    if gsm8k.exists():
        from brie.checkpoints import resolve_specs
        from brie.evals import parse_benchmarks
        from brie.evals.runner import evaluate
        from brie.forgetting import base_result_for, compare_results

        try:
            specs = resolve_specs(ws, f"base,{run}@best")
        except BrieError:
            specs = resolve_specs(ws, f"base,{run}@last")
        benches = parse_benchmarks(f"gsm8k:{gsm8k}", max_tokens=DEMO_EVAL_TOKENS)
        say(f"Evaluating base and {specs[1].label} on {DEMO_EVAL_QUESTIONS} GSM8K questions (batched)…")
        results = evaluate(ws, specs, benches, limit=DEMO_EVAL_QUESTIONS, batch_size=DEMO_EVAL_QUESTIONS)
        for r in results:
            say(f"  {r['label']}: flexible {r['metrics']['flexible']:.2f}, strict {r['metrics']['strict']:.2f} "
                f"(n={r['metrics']['n']})")
        base = base_result_for(ws, results[1])
        if base is not None:
            d = compare_results(ws, base, results[1])
            say(f"  change vs base: {d.delta:+.2f} (McNemar p = {d.p_value:.2f}; n={d.n} is far too small to tell)")
    else:
        say(f"GSM8K data not found at {gsm8k}: skipped the evaluation (`brie eval` takes any path or hub id).")
    path = write_report(ws, run)
    say(f"Report written: {path}")


STEPS = [step_answer_prompts, step_eval_and_report]


def run_demo(ws: Workspace, say=print) -> None:
    say(f"brie demo in {ws.root}")
    prepare_default_model(ws, progress=say)
    for step in STEPS:
        step(ws, say)
    say("Demo finished.")
