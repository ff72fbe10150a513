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
    Greedy (temperature 0) on MLX, the base and checkpoints of one LoRA answer together on one loaded
    model, sharing each prompt's lower layers (_generate_shared); their answers are each one's own.
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
    missing: dict[str, list[tuple[int, int]]] = {}
    for spec in specs:
        have = rows.find_generations(ws.store, list(by_row), rows.model_key(spec.model, spec.adapter_sha256),
                                     temperature, max_tokens, seed)
        out[spec.label] = {k: v["id"] for k, v in have.items()}
        missing[spec.label] = [(p["id"], k) for k in range(samples) for p in prompts if (p["id"], k) not in have]
    total = len(prompts) * samples

    def store(spec, pid: int, k: int, answers: list[str]) -> None:
        out[spec.label][(pid, k)] = rows.insert_generation(ws.store, {
            "prompt_row_id": pid, "model_key": rows.model_key(spec.model, spec.adapter_sha256),
            "label": spec.label, "model": spec.model, "run": spec.run, "step": spec.step,
            "adapter_sha256": spec.adapter_sha256, "temperature": temperature, "max_tokens": max_tokens,
            "seed": seed, "sample_idx": k, "engine": engine, "answers_json": json.dumps(answers)})
        if progress:
            progress(spec.label, len(out[spec.label]), total)

    if engine == "mlx" and temperature == 0:
        _generate_shared(ws, specs, missing, by_row, max_tokens, batch_size, store)
    for spec in specs:
        if not missing[spec.label]:
            continue
        model, tokenizer = engine_module.load(ws, spec)
        for k in range(samples):
            todo = [pid for pid, kk in missing[spec.label] if kk == k]
            for start in range(0, len(todo), batch_size):
                chunk = todo[start:start + batch_size]
                answers = _answer_turns(
                    lambda _, conversations, t: engine_module.generate_batch(
                        model, tokenizer, conversations, max_tokens=max_tokens, temp=temperature,
                        seed=seed + k + 1000 * t, batch_size=batch_size),
                    [by_row[pid]["turns"] for pid in chunk])
                for pid, ans in zip(chunk, answers):
                    store(spec, pid, k, ans)
        model = None  # freed before the next model loads
    return out


def _generate_shared(ws, specs: list, missing: dict, by_row: dict, max_tokens: int, batch_size: int, store) -> None:
    """Greedy answers for each group of models that can share a trunk (the base and checkpoints of one
    LoRA, brie.evals.sweep): one model loaded, each prompt's lower layers run once for all of them
    (brie.generation.mlx_engine.generate_shared). What is answered here leaves `missing`; a group
    that cannot be split is left to the model-by-model path."""
    from brie.evals.sweep import open_shared, share_groups
    from brie.generation.mlx_engine import generate_shared, row_batches

    for group in share_groups(specs):
        members = [specs[i] for i in group]
        if sum(1 for m in members if missing[m.label]) < 2:
            continue
        trunk = open_shared(ws, members[0].model, [m.adapter_path for m in members])
        if trunk is None:
            continue
        todos = [[(pid, by_row[pid]) for pid, _ in missing[m.label]] for m in members]  # greedy: k = 0 only
        for rows in row_batches(todos, batch_size):
            answers = _answer_turns(
                lambda active, conversations, t: generate_shared(
                    trunk, [rows[i][0] for i in active], conversations, max_tokens=max_tokens),
                [prompt["turns"] for _, _, prompt in rows])
            for (j, pid, _), ans in zip(rows, answers):
                store(members[j], pid, 0, ans)
        for m in members:
            missing[m.label] = []
        trunk = None  # freed before the next group loads


def _answer_turns(answer, turn_lists: list[list[str]]) -> list[list[str]]:
    """Answer turn 1 of every conversation in one batch, then turn 2 (after its own answer), …
    `answer(active, conversations, t)` answers the conversations at positions `active` in turn t."""
    conversations: list[list[dict]] = [[] for _ in turn_lists]
    answers: list[list[str]] = [[] for _ in turn_lists]
    for t in range(max(len(turns) for turns in turn_lists)):
        active = [i for i, turns in enumerate(turn_lists) if t < len(turns)]
        for i in active:
            conversations[i].append({"role": "user", "content": turn_lists[i][t]})
        texts = answer(active, [conversations[i] for i in active], t)
        for i, text in zip(active, texts):
            conversations[i].append({"role": "assistant", "content": text})
            answers[i].append(text)
    return answers
