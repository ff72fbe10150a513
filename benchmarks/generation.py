"""Batched generation of 16 prompts vs one prompt at a time, on the embedded model: tokens/s and ratio.

Target: 3x or more on a CPU. Both sides are greedy with the same max tokens; tokens are counted
from the answers produced. Usage: .venv/bin/python benchmarks/generation.py [--prompts 16] [--tokens 64]
[--model smollm2-135m-instruct]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROMPTS = ["What is cheese made from?", "Name a planet.", "Write a haiku about rain.", "What is 7 times 8?",
           "Describe a cat.", "Why is the sky blue?", "Give me a synonym for happy.", "What is Python?",
           "How do bees make honey?", "Tell me a joke.", "What is the capital of Italy?", "Define gravity.",
           "List three fruits.", "What does a chef do?", "Explain photosynthesis briefly.", "Say hello in French."]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--model", default=None, help="model reference (default: the embedded model)")
    ap.add_argument("--home", default=None, help="workspace holding the model (default: a temporary one)")
    args = ap.parse_args()

    from brie.generation.mlx_engine import generate_batch, stream_answer
    from brie.models.registry import DEFAULT_MODEL, load_model
    from brie.workspace import Workspace

    home = args.home or tempfile.mkdtemp(prefix="brie-bench-")
    ws = Workspace.open(home, create=True)
    model, tok = load_model(ws, args.model or DEFAULT_MODEL)
    prompts = (PROMPTS * (args.prompts // len(PROMPTS) + 1))[:args.prompts]
    generate_batch(model, tok, [[{"role": "user", "content": "warm up"}]], max_tokens=4)

    start = time.perf_counter()
    single = ["".join(stream_answer(model, tok, p, max_tokens=args.tokens)) for p in prompts]
    t_single = time.perf_counter() - start
    start = time.perf_counter()
    batched = generate_batch(model, tok, [[{"role": "user", "content": p}] for p in prompts],
                             max_tokens=args.tokens, batch_size=args.prompts)
    t_batch = time.perf_counter() - start

    n_single = sum(len(tok.encode(a, add_special_tokens=False)) for a in single)
    n_batch = sum(len(tok.encode(a, add_special_tokens=False)) for a in batched)
    same = sum(a == b for a, b in zip(single, batched))
    print(f"prompts              {len(prompts)}, max tokens {args.tokens}, greedy")
    print(f"one at a time        {n_single} tokens in {t_single:.2f} s = {n_single / t_single:.1f} tokens/s")
    print(f"batched              {n_batch} tokens in {t_batch:.2f} s = {n_batch / t_batch:.1f} tokens/s")
    print(f"ratio                {(n_batch / t_batch) / (n_single / t_single):.2f}x   (target ≥ 3x)")
    print(f"identical answers    {same}/{len(prompts)}")


if __name__ == "__main__":
    from brie.blas import ensure_fast_blas

    ensure_fast_blas([__file__, *sys.argv[1:]])
    main()
