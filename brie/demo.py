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


STEPS = [step_answer_prompts, step_import_demo_data]


def run_demo(ws: Workspace, say=print) -> None:
    say(f"brie demo in {ws.root}")
    prepare_default_model(ws, progress=say)
    for step in STEPS:
        step(ws, say)
    say("Demo finished.")
