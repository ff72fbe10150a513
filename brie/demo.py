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


DEMO_SUITES = ("demo-in-domain", "demo-out-of-domain")
DEMO_GEN_TOKENS = 64  # short answers keep the demo quick on two CPU cores
DEMO_JUDGE_TOKENS = 64
DEMO_JUDGED_PER_SUITE = 3


def _demo_run(ws: Workspace) -> str | None:
    """The training step's demo run (DEMO_RUN when it names one), else the newest run with a best checkpoint."""
    from brie.store.runs import get_run, list_runs

    named = globals().get("DEMO_RUN")
    if named and get_run(ws.store, named) and get_run(ws.store, named)["best_step"] is not None:
        return named
    runs = [r for r in list_runs(ws.store) if r["best_step"] is not None and r["status"] == "completed"]
    return runs[-1]["name"] if runs else None


def step_compare_demo(ws: Workspace, say) -> None:
    """Base vs the demo run's best checkpoint on the demo suites, judged by the embedded model."""
    from importlib.resources import files

    from brie.local_judge import mlx_server
    from brie.models import default_model_dir
    from brie.stats import results
    from brie.suites import import_suite, list_suites

    have = {s["name"] for s in list_suites(ws)}
    for name in DEMO_SUITES:
        source = files("brie.demo_data").joinpath(f"{name}.jsonl") if _has_demo_data() else None
        if name not in have and source is not None and source.is_file():
            import_suite(ws, str(source), name)
            say(f"Imported the prompt suite {name}.")
    suites = [n for n in DEMO_SUITES if n in {s["name"] for s in list_suites(ws)}]
    run = _demo_run(ws)
    if not suites or run is None:
        say("Skipping the A/B comparison: " + ("no demo suites" if not suites else "no trained demo run yet") + ".")
        return
    from brie.checkpoints import resolve_specs
    from brie.generate import generate_suite
    from brie.judge import judge_comparisons, make_comparisons

    specs = resolve_specs(ws, f"base,{run}@best")
    say(f"[bold]Blind A/B:[/] base vs {specs[1].label} on {', '.join(suites)}.")
    ids = []
    for suite in suites:  # generate before the judge server starts: the two would share the CPU
        gens = generate_suite(ws, suite, specs, max_tokens=DEMO_GEN_TOKENS)
        ids += make_comparisons(ws, suite, gens, specs[0].label, specs[1].label)[:DEMO_JUDGED_PER_SUITE]
    say("[yellow]The judge here is the embedded 135M model behind mlx_lm.server, for the demo only: its "
        "verdicts are close to noise and often do not parse. Real sessions use Claude "
        "(brie compare --judge anthropic:claude-sonnet-5-5).[/] "
        f"To stay quick it judges the first {DEMO_JUDGED_PER_SUITE} prompts of each suite.")
    with mlx_server(default_model_dir(ws), log_path=ws.root / "exports" / "mlx_server.log") as url:
        judge = f"openai-compatible:default_model@{url}"
        s = judge_comparisons(ws, ids, [judge], concurrency=2, max_attempts=1, max_retries=1, timeout=300,
                              judge_max_tokens=DEMO_JUDGE_TOKENS)
    say(f"Judged: {s.valid} verdicts, {s.invalid} answers without a valid verdict (stored raw), {s.failed} failed.")
    for row in results(ws, judge=judge)["results"]:
        if row["category"] == "(all)" and row["suite"] in suites and row["n"]:
            say(f"{row['suite']}: {row['b']} vs {row['a']}: win rate {100 * row['b_win_rate']:.0f}% "
                f"(95% CI {100 * row['ci_low']:.0f}–{100 * row['ci_high']:.0f}%, n={row['n']})")
    say("See `brie results` and `brie export judged`.")


def _has_demo_data() -> bool:
    import importlib.util

    return importlib.util.find_spec("brie.demo_data") is not None


STEPS = [step_answer_prompts, step_compare_demo]


def run_demo(ws: Workspace, say=print) -> None:
    say(f"brie demo in {ws.root}")
    prepare_default_model(ws, progress=say)
    for step in STEPS:
        step(ws, say)
    say("Demo finished.")
