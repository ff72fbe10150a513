"""Batched generation of 16 prompts vs one prompt at a time, on the embedded model: tokens/s and ratio.

Target: 3x or more on a CPU. Both sides are greedy with the same max tokens; tokens are counted
from the answers produced. Each round runs both sides, alternating which goes first, so a changing
load favours neither; prints the min / median / max of the per-round ratios and the load average at
the start and the end. Usage: .venv/bin/python benchmarks/generation.py [--prompts 16] [--tokens 64]
[--rounds 2] [--model smollm2-135m-instruct]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from side_by_side import in_turn, load_average, spread  # noqa: E402  (benchmarks/, this script's folder)

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
    ap.add_argument("--rounds", type=int, default=2, help="Side-by-side rounds (even: each side first as often).")
    args = ap.parse_args()

    from brie.generation.mlx_engine import generate_batch, stream_answer
    from brie.models.registry import DEFAULT_MODEL, load_model
    from brie.workspace import Workspace

    home = args.home or tempfile.mkdtemp(prefix="brie-bench-")
    ws = Workspace.open(home, create=True)
    model, tok = load_model(ws, args.model or DEFAULT_MODEL)
    prompts = (PROMPTS * (args.prompts // len(PROMPTS) + 1))[:args.prompts]
    generate_batch(model, tok, [[{"role": "user", "content": "warm up"}]], max_tokens=4)

    def one_at_a_time():
        return ["".join(stream_answer(model, tok, p, max_tokens=args.tokens)) for p in prompts]

    def batched():
        return generate_batch(model, tok, [[{"role": "user", "content": p}] for p in prompts],
                              max_tokens=args.tokens, batch_size=args.prompts)

    def tokens(answers):
        return sum(len(tok.encode(a, add_special_tokens=False)) for a in answers)

    print(f"start: {load_average()}")
    print(f"prompts {len(prompts)}, max tokens {args.tokens}, greedy, {args.rounds} rounds")
    rounds = []  # per round: {side: (tokens, seconds, answers)}
    for r in range(args.rounds):
        got = {}
        for name, side in in_turn(r, ("one at a time", one_at_a_time), ("batched", batched)):
            start = time.perf_counter()
            answers = side()
            got[name] = (tokens(answers), time.perf_counter() - start, answers)
        rounds.append(got)
        (ns, ts, _), (nb, tb, _) = got["one at a time"], got["batched"]
        print(f"round {r + 1} ({' first, then '.join(got)}): one at a time {ns / ts:.1f} tokens/s, batched {nb / tb:.1f} tokens/s, "
              f"ratio {(nb / tb) / (ns / ts):.2f}x")

    ratios = [(g["batched"][0] / g["batched"][1]) / (g["one at a time"][0] / g["one at a time"][1]) for g in rounds]
    for name in ("one at a time", "batched"):
        n = sum(g[name][0] for g in rounds)
        t = sum(g[name][1] for g in rounds)
        print(f"{name:<20} {n} tokens in {t:.2f} s = {n / t:.1f} tokens/s (all rounds)")
    print(f"ratio                {spread(ratios)} (target: median ≥ 3x)")
    last = rounds[-1]
    same = sum(a == b for a, b in zip(last["one at a time"][2], last["batched"][2]))
    print(f"identical answers    {same}/{len(prompts)} (last round)")
    print(f"end: {load_average()}")

if __name__ == "__main__":
    from brie.blas import ensure_fast_blas

    ensure_fast_blas([__file__, *sys.argv[1:]])
    main()
