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


def generate_shared(shared, models: list[int], conversations: list[list[dict]], max_tokens: int = 256) -> list[str]:
    """Greedy answers to `conversations`, conversation i by model models[i] of a SharedTrunk
    (brie.evals.sweep): the base and checkpoints of one LoRA in one batch.

    Each distinct prompt runs through the layers below the first adapted one once; that prefill's
    KV cache is copied into the row of every model answering it, and the adapted layers run for all
    rows at once, each through its own model's adapters. Decoding then steps every row together.
    The tokens are the ones mlx-lm's batch_generate picks for each model alone (greedy), up to
    float rounding: stop at an end-of-sequence token (left out of the answer) or at max_tokens.
    """
    import mlx.core as mx

    from brie.evals.loglik import head
    from brie.evals.sweep import new_cache

    tokenizer, model, first = shared.tokenizer, shared.model, shared.first
    prompts = [tuple(tokenizer.encode(chat_prompt(tokenizer, c), add_special_tokens=False)) for c in conversations]
    position = {p: u for u, p in enumerate(dict.fromkeys(prompts))}  # each distinct prompt's row
    unique = list(position)
    width = max(len(p) for p in unique)
    padding = [width - len(p) for p in unique]
    cache = new_cache(model, padding)[:first]
    h = shared.trunk(mx.array([[0] * n + list(p) for n, p in zip(padding, unique)]), cache)
    pick = [position[p] for p in prompts]
    for c in cache:  # every distinct prompt's trunk cache, copied into each row that answers it
        c.filter(mx.array(pick))
    top = new_cache(model, [padding[u] for u in pick])[first:]
    cache += top
    normed = shared.top(h[mx.array(pick)], models, top)
    y = mx.argmax(head(model, normed[:, -1:, :])[:, -1], axis=-1)
    eos = set(tokenizer.eos_token_ids)
    answers: list[list[int]] = [[] for _ in prompts]
    alive = list(range(len(prompts)))  # rows still generating, in batch order
    while True:
        keep = []
        for j, (row, token) in enumerate(zip(alive, y.tolist())):
            if token in eos:
                continue
            answers[row].append(token)
            if len(answers[row]) < max_tokens:
                keep.append(j)
        if not keep:
            break
        if len(keep) < len(alive):
            index = mx.array(keep)
            for c in cache:
                c.filter(index)
            y, alive = y[index], [alive[j] for j in keep]
        logits = shared.forward(y[:, None], [models[row] for row in alive], cache)
        y = mx.argmax(logits[:, -1], axis=-1)
    return [tokenizer.decode(a) for a in answers]


def answer_items_shared(shared, todos: list[list[tuple[int, object]]], conversation, max_tokens: int,
                        batch_size: int) -> Iterator[tuple[list[tuple[int, int, object]], list[str]]]:
    """Greedy answers to the items each model of a SharedTrunk still needs (todos: per model, its
    (index, item) pairs), through generate_shared, items in order. Yields ([(model position, index,
    item)], their answers) per batch; `conversation(item)` gives the chat messages to answer."""
    for chunk in row_batches(todos, batch_size):
        yield chunk, generate_shared(shared, [which for which, _, _ in chunk],
                                     [conversation(item) for _, _, item in chunk], max_tokens=max_tokens)


def row_batches(todos: list[list[tuple[int, object]]], batch_size: int) -> Iterator[list[tuple[int, int, object]]]:
    """(model position, index, item) rows for every item each model still needs, items in order,
    cut into batches of about batch_size rows (as one model alone would batch) that never split an
    item's rows, so each item's prompt is shared by all the models answering it."""
    wanted = [{idx for idx, _ in todo} for todo in todos]
    batch: list[tuple[int, int, object]] = []
    for idx, item in sorted({idx: item for todo in todos for idx, item in todo}.items()):
        batch += [(which, idx, item) for which in range(len(todos)) if idx in wanted[which]]
        if len(batch) >= batch_size:
            yield batch
            batch = []
    if batch:
        yield batch
