"""Answers from base models and checkpoints over a prompt suite, each stored as it is made."""

from __future__ import annotations


def generate_suite(ws, suite_name: str, specs: list, samples: int = 1, temperature: float = 0.0,
                   max_tokens: int = 256, seed: int = 0, batch_size: int = 16, engine: str = "auto",
                   progress=None) -> dict[str, dict[tuple[int, int], int]]:
    """Answer every prompt of a suite with every model spec; store each generation as it is made.

    Returns {spec label: {(prompt row id, sample index): generation id}}. Only what is missing is
    generated: a rerun with the same parameters loads no model when everything is stored. A
    multi-turn prompt feeds the model its own earlier answers. Sample k uses seed + k.
    `engine`: "mlx", "torch" (transformers + peft, brie/generation/torch_engine.py) or "auto" (torch when a
    spec is a torch run and CUDA is here). `progress(label, done, total)` after each stored generation.
    """
    import json

    from brie.errors import BrieError
    from brie.store import judging as rows
    from brie.store.suites import list_prompts
    from brie.data.suites import get_suite

    if samples < 1:
        raise BrieError("--samples must be at least 1")
    if samples > 1 and temperature == 0:
        raise BrieError("several samples at temperature 0 would be identical; give --temperature above 0")
    if engine not in ("auto", "mlx", "torch"):
        raise BrieError(f"engine {engine!r}: use auto, mlx or torch")
    if engine == "auto":
        from brie.generation.torch_engine import wants_torch

        engine = "torch" if wants_torch(ws, specs) else "mlx"
    if engine == "torch":
        from brie.generation import torch_engine as engine_module
    else:
        from brie.generation import mlx_engine as engine_module
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
        model, tokenizer = engine_module.load(ws, spec)
        for k in range(samples):
            todo = [pid for pid, kk in missing if kk == k]
            for start in range(0, len(todo), batch_size):
                chunk = todo[start:start + batch_size]
                answers = _answer_turns(engine_module.generate_batch, model, tokenizer,
                                        [by_row[pid]["turns"] for pid in chunk],
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
