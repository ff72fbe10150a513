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


def step_import_demo_data(ws: Workspace, say) -> None:
    """Import the demo training set as dataset `demo`; a second run finds identical content and says so."""
    from brie.datasets import describe_counts, import_dataset
    from brie.demo_data import DEMO_DATASET, demo_dataset_path

    result = import_dataset(ws, str(demo_dataset_path()), DEMO_DATASET)
    say(result.message if not result.created else
        f"Imported the demo dataset {DEMO_DATASET!r} ({describe_counts(result.dataset)}) into {result.dataset['path']}.")


DEMO_RUN = "demo-lora"
# Short enough for a couple of minutes on 2 CPU cores; 20 steps at this rate already turn the
# answers into the demo set's style ("Squeak! … 🧀").
DEMO_TRAIN = dict(model=DEFAULT_MODEL, data="demo", iters=20, save_every=10, eval_every=10, batch_size=4,
                  num_layers=8, learning_rate=2e-4, mask_prompt=True, val_batches=2, steps_per_report=2)


def step_train_demo(ws: Workspace, say) -> None:
    """A short LoRA on the `demo` dataset; a rerun reuses the finished run instead of training again."""
    from brie.errors import BrieError
    from brie.generate import stream_answer
    from brie.store.runs import get_run, list_checkpoints
    from brie.train import TrainCallback, resolve_data, train
    from brie.train_config import resolve_config

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


def step_ui_pointer(ws: Workspace, say) -> None:
    """The UI is interactive, so the demo only says how to open it on what the demo made."""
    say(f"[bold]Look at it all in the terminal UI:[/] cd {ws.root} && brie   "
        "(r runs, enter a run's curves and checkpoints, b a blind session where you judge, ? help)")


STEPS = [step_answer_prompts, step_import_demo_data, step_train_demo, step_ui_pointer]


def run_demo(ws: Workspace, say=print) -> None:
    say(f"brie demo in {ws.root}")
    prepare_default_model(ws, progress=say)
    for step in STEPS:
        step(ws, say)
    say("Demo finished.")
