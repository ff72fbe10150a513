"""Generation through mlx-lm with the model's chat template."""

from __future__ import annotations

from typing import Iterator


def chat_prompt(tokenizer, messages: list[dict]) -> str:
    """The model's own chat template; a plain fallback for base models that have none."""
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return "\n\n".join(m["content"] for m in messages) + "\n\n"


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


def generate_suite(ws, suite_name: str, specs: list, samples: int = 1, temperature: float = 0.0,
                   max_tokens: int = 256, seed: int = 0, batch_size: int = 16, engine: str = "auto",
                   progress=None) -> dict[str, dict[tuple[int, int], int]]:
    """Answer every prompt of a suite with every model spec; store each generation as it is made.

    Returns {spec label: {(prompt row id, sample index): generation id}}. Only what is missing is
    generated: a rerun with the same parameters loads no model when everything is stored. A
    multi-turn prompt feeds the model its own earlier answers. Sample k uses seed + k.
    `engine`: "mlx", "torch" (transformers + peft, brie/generate_torch.py) or "auto" (torch when a
    spec is a torch run and CUDA is here). `progress(label, done, total)` after each stored generation.
    """
    import json

    from brie.errors import BrieError
    from brie.models import load_model
    from brie.store import judging as rows
    from brie.store.suites import list_prompts
    from brie.suites import get_suite

    if samples < 1:
        raise BrieError("--samples must be at least 1")
    if samples > 1 and temperature == 0:
        raise BrieError("several samples at temperature 0 would be identical; give --temperature above 0")
    if engine not in ("auto", "mlx", "torch"):
        raise BrieError(f"engine {engine!r}: use auto, mlx or torch")
    if engine == "auto":
        from brie.generate_torch import wants_torch

        engine = "torch" if wants_torch(ws, specs) else "mlx"
    suite = get_suite(ws, suite_name)
    prompts = list_prompts(ws.store, suite["id"])
    by_row = {p["id"]: p for p in prompts}
    out: dict[str, dict[tuple[int, int], int]] = {}
    for spec in specs:
        key = rows.model_key(spec.model, spec.adapter_sha256)
        have = rows.find_generations(ws.store, list(by_row), key, temperature, max_tokens, seed)
        out[spec.label] = {k: v["id"] for k, v in have.items()}
        missing = [(p["id"], k) for k in range(samples) for p in prompts if (p["id"], k) not in have]
        total = len(prompts) * samples
        if not missing:
            continue
        if engine == "torch":
            from brie.generate_torch import generate_batch_torch, load_torch_model

            model, tokenizer = load_torch_model(ws, spec)
            batch_fn = generate_batch_torch
        else:
            model, tokenizer = load_model(ws, spec.model, spec.adapter_path)
            batch_fn = generate_batch
        for k in range(samples):
            todo = [pid for pid, kk in missing if kk == k]
            for start in range(0, len(todo), batch_size):
                chunk = todo[start:start + batch_size]
                answers = _answer_turns(batch_fn, model, tokenizer, [by_row[pid]["turns"] for pid in chunk],
                                        max_tokens, temperature, seed + k, batch_size)
                for pid, ans in zip(chunk, answers):
                    gen_id = rows.insert_generation(ws.store, {
                        "prompt_row_id": pid, "model_key": key, "label": spec.label, "model": spec.model,
                        "run": spec.run, "step": spec.step, "adapter_sha256": spec.adapter_sha256,
                        "temperature": temperature, "max_tokens": max_tokens, "seed": seed,
                        "sample_idx": k, "engine": engine, "answers_json": json.dumps(ans)})
                    out[spec.label][(pid, k)] = gen_id
                    if progress:
                        progress(spec.label, len(out[spec.label]), total)
        del model
    return out


def _answer_turns(batch_fn, model, tokenizer, turn_lists: list[list[str]], max_tokens: int, temp: float,
                  seed: int, batch_size: int) -> list[list[str]]:
    """Answer turn 1 of every conversation in one batch, then turn 2 (after its own answer), …"""
    conversations: list[list[dict]] = [[] for _ in turn_lists]
    answers: list[list[str]] = [[] for _ in turn_lists]
    for t in range(max(len(turns) for turns in turn_lists)):
        active = [i for i, turns in enumerate(turn_lists) if t < len(turns)]
        for i in active:
            conversations[i].append({"role": "user", "content": turn_lists[i][t]})
        texts = batch_fn(model, tokenizer, [conversations[i] for i in active], max_tokens=max_tokens,
                         temp=temp, seed=seed + 1000 * t, batch_size=batch_size)
        for i, text in zip(active, texts):
            conversations[i].append({"role": "assistant", "content": text})
            answers[i].append(text)
    return answers
