"""`brie generate`: one streamed answer (--prompt), or a whole suite for several models (--suite)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from brie.cli.common import console, err_console, print_json
from brie.errors import BrieError
from brie.models.registry import DEFAULT_MODEL
from brie.workspace import Workspace


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)


def generate(
    prompt: Optional[str] = typer.Option(None, "--prompt", "-p", help="One user message: stream the answer, store nothing."),
    suite: Optional[str] = typer.Option(None, "--suite", help="Answer every prompt of this suite and store the answers."),
    models: Optional[str] = typer.Option(None, "--models", help="Comma-separated base, <run>@<step>, <run>@best|last|recommended "
                                         "(default base). With --prompt each model answers in turn."),
    samples: int = typer.Option(1, "--samples", min=1, help="With --suite: answers per prompt and model."),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Registered name, model folder or Hugging Face id (the base model)."),
    adapter: Optional[str] = typer.Option(None, "--adapter", help="With --prompt: a run's checkpoint (<run>@<step>, <run>@best…) "
                                          "or a LoRA adapter folder (adapter_config.json + weights)."),
    max_tokens: int = typer.Option(256, "--max-tokens", min=1, help="Most tokens to generate."),
    temp: float = typer.Option(0.0, "--temperature", "--temp", min=0.0, help="Sampling temperature; 0 is greedy."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed for sampling (suites: sample k uses seed + k; default 0)."),
    engine: str = typer.Option("auto", "--engine", help="With --suite: mlx, torch (transformers + peft), "
                               "or auto (torch for torch runs on CUDA, else mlx)."),
    as_json: bool = typer.Option(False, "--json", help="Print the summary (--suite) or the answers (--prompt) as JSON."),
) -> None:
    """Stream one answer (--prompt), or generate a suite's answers for several models (--suite), resumably."""
    if (prompt is None) == (suite is None):
        raise BrieError("give either --prompt (one answer) or --suite (a whole suite)")
    ws = Workspace.locate()
    if prompt is not None:
        _answer_one(ws, prompt, models, model, adapter, max_tokens, temp, seed, as_json)
        return
    from brie.models.specs import resolve_specs
    from brie.generation.runner import generate_suite

    ws = Workspace.open()
    specs = resolve_specs(ws, models or "base", base_model=None if model == DEFAULT_MODEL else model)
    gens = generate_suite(ws, suite, specs, samples=samples, temperature=temp, max_tokens=max_tokens,
                          seed=seed or 0, engine=engine,
                          progress=None if as_json else lambda label, done, total: err_console.print(
                              f"{label}: {done}/{total}", markup=False) if done == total or done % 10 == 0 else None)
    summary = {label: len(g) for label, g in gens.items()}
    if as_json:
        print_json({"suite": suite, "generations": summary})
    else:
        for label, n in summary.items():
            console.print(f"{label}: {n} answers stored for suite {suite}.", markup=False)


def _answer_one(ws: Workspace, prompt: str, models: str | None, model: str, adapter: str | None,
                max_tokens: int, temp: float, seed: int | None, as_json: bool = False) -> None:
    """Stream the answer of one model, or of each of --models in turn under a header; under --json,
    print them all at the end as one document instead."""
    from brie.models.specs import resolve_spec, resolve_specs
    from brie.generation.mlx_engine import stream_answer
    from brie.models.registry import load_model

    if models is not None and adapter is not None:
        raise BrieError("give --models or --adapter, not both")
    base_model = None if model == DEFAULT_MODEL else model
    if models is not None:
        targets = [(s.label, s.model, s.adapter_path) for s in resolve_specs(Workspace.open(), models, base_model)]
    elif adapter is not None and "@" in adapter and not Path(adapter).exists():
        # A checkpoint spec, resolved (and its sha256 checked) like everywhere else.
        spec = resolve_spec(Workspace.open(), adapter)
        targets = [(spec.label, spec.model, spec.adapter_path)]
    else:
        targets = [(None, model, adapter)]
    answers = []
    for label, ref, adapter_path in targets:
        m, tok = load_model(ws if ws.exists else None, ref, adapter_path)
        if as_json:
            text = "".join(stream_answer(m, tok, prompt, max_tokens=max_tokens, temp=temp, seed=seed))
            answers.append({"model": label or ref, "adapter": str(adapter_path) if adapter_path else None,
                            "answer": text})
            continue
        if len(targets) > 1:
            console.rule(label, style="dim")
        for piece in stream_answer(m, tok, prompt, max_tokens=max_tokens, temp=temp, seed=seed):
            console.out(piece, end="", highlight=False)
        console.out("")
    if as_json:
        print_json({"prompt": prompt, "answers": answers})
