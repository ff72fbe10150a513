"""`brie generate`: one answer from a model (and optional adapter), streamed."""

from __future__ import annotations

from typing import Optional

import typer

from brie.cli.common import console
from brie.models import DEFAULT_MODEL
from brie.workspace import Workspace


def register(app: typer.Typer) -> None:
    app.command("generate")(generate)


def generate(
    prompt: str = typer.Option(..., "--prompt", "-p", help="The user message."),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Registered name, model folder or Hugging Face id."),
    adapter: Optional[str] = typer.Option(None, "--adapter", help="LoRA adapter folder (adapter_config.json + weights)."),
    max_tokens: int = typer.Option(256, "--max-tokens", min=1, help="Most tokens to generate."),
    temp: float = typer.Option(0.0, "--temp", min=0.0, help="Sampling temperature; 0 is greedy."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Random seed for sampling."),
) -> None:
    """Stream one answer through mlx-lm with the model's chat template."""
    from brie.generate import stream_answer
    from brie.models import load_model

    ws = Workspace.locate()
    m, tok = load_model(ws if ws.exists else None, model, adapter)
    for piece in stream_answer(m, tok, prompt, max_tokens=max_tokens, temp=temp, seed=seed):
        console.out(piece, end="", highlight=False)
    console.out("")
