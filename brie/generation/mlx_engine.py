"""Generation through mlx-lm: one answer streamed, or many conversations batched."""

from __future__ import annotations

from typing import Iterator

from brie.generation.chat import chat_prompt


def stream_answer(model, tokenizer, prompt: str, max_tokens: int = 256, temp: float = 0.0,
                  seed: int | None = None) -> Iterator[str]:
    """Yield the answer to one user prompt, piece by piece."""
    import mlx.core as mx
    from mlx_lm import stream_generate
    from mlx_lm.sample_utils import make_sampler

    if seed is not None:
        mx.random.seed(seed)
    text = chat_prompt(tokenizer, [{"role": "user", "content": prompt}])
    for response in stream_generate(model, tokenizer, text, max_tokens=max_tokens,
                                    sampler=make_sampler(temp=temp)):
        yield response.text


def generate_batch(model, tokenizer, conversations: list[list[dict]], max_tokens: int = 256,
                   temp: float = 0.0, seed: int | None = None, batch_size: int = 16) -> list[str]:
    """Answers for many conversations at once through mlx-lm's batched generation.

    Each conversation is a list of chat messages ending with a user turn. Batching is several
    times faster than one prompt at a time on the same hardware (benchmarks/generation.py).
    """
    import mlx.core as mx
    from mlx_lm import batch_generate
    from mlx_lm.sample_utils import make_sampler

    if seed is not None:
        mx.random.seed(seed)
    prompts = [tokenizer.encode(chat_prompt(tokenizer, c), add_special_tokens=False) for c in conversations]
    answers: list[str] = []
    for start in range(0, len(prompts), batch_size):
        chunk = prompts[start:start + batch_size]
        result = batch_generate(model, tokenizer, chunk, max_tokens=max_tokens,
                                sampler=make_sampler(temp=temp), completion_batch_size=batch_size)
        answers.extend(result.texts)
    return answers


def load(ws, spec):
    """(model, tokenizer) for a ModelSpec: the base model with the checkpoint's adapter, if any."""
    from brie.models.registry import load_model

    return load_model(ws, spec.model, spec.adapter_path)
