"""Batched generation through transformers (+ peft) for torch runs on CUDA.

Torch runs (brie/training/torch_engine.py) keep each checkpoint twice: in mlx-lm's layout, which the MLX
path loads everywhere, and in peft's own format under `peft/`, which this path loads. On a CUDA
machine `generate_suite` uses this for comparisons that involve a torch run, so both sides of a
comparison go through the same engine.
"""

from __future__ import annotations

from pathlib import Path

from brie.errors import BrieError
from brie.generation.chat import chat_prompt, end_of_text_tokens

PEFT_DIR = "peft"


def load(ws, spec):
    """(model, tokenizer) for a ModelSpec: the base model from its folder, plus the peft adapter."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from brie.models.registry import resolve_model

    path = resolve_model(ws, spec.model)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tok = AutoTokenizer.from_pretrained(path)
    tok.padding_side = "left"  # batched decoding continues every row from its last real token
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(
        path, dtype=torch.bfloat16 if device == "cuda" else torch.float32).to(device)
    if spec.adapter_path:
        peft_dir = Path(spec.adapter_path) / PEFT_DIR
        if not (peft_dir / "adapter_config.json").exists():
            raise BrieError(f"{spec.label}: no peft adapter in {peft_dir} (not a torch run); use --engine mlx")
        from peft import PeftModel

        model = PeftModel.from_pretrained(model, str(peft_dir)).to(device)
    model.eval()
    return model, tok


def generate_batch(model, tokenizer, conversations: list[list[dict]], max_tokens: int = 256,
                   temp: float = 0.0, seed: int | None = None, batch_size: int = 16) -> list[str]:
    """The same contract as the MLX engine's generate_batch, through `model.generate`."""
    import torch

    if seed is not None:
        torch.manual_seed(seed)
    texts = [chat_prompt(tokenizer, c) for c in conversations]
    # the model's own end tokens and its end-of-text ones, as brie.models.registry.load_model does for MLX
    own = model.generation_config.eos_token_id
    own = [] if own is None else [own] if isinstance(own, int) else list(own)
    eos = sorted(set(own) | {tokenizer.convert_tokens_to_ids(t) for t in end_of_text_tokens(tokenizer)})
    answers: list[str] = []
    for start in range(0, len(texts), batch_size):
        enc = tokenizer(texts[start:start + batch_size], return_tensors="pt", padding=True,
                        add_special_tokens=False).to(model.device)
        sampling = {"do_sample": True, "temperature": temp} if temp > 0 else {"do_sample": False}
        with torch.no_grad():
            out = model.generate(**enc, max_new_tokens=max_tokens, pad_token_id=tokenizer.pad_token_id,
                                 eos_token_id=eos, **sampling)
        answers.extend(tokenizer.batch_decode(out[:, enc["input_ids"].shape[1]:], skip_special_tokens=True))
    return answers


def wants_torch(ws, specs) -> bool:
    """Auto engine: torch when a spec is a torch run and CUDA is here; MLX otherwise."""
    from brie.store.runs import get_run

    if not any(s.run and (get_run(ws.store, s.run) or {}).get("backend") == "torch" for s in specs):
        return False
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()
