"""GSM8K questions per minute on the embedded model: batched vs one-at-a-time generation.

Both modes answer the same questions greedily with the same token budget, through the code
`brie eval` uses (brie.generation.mlx_engine.generate_batch): sequential is batch size 1, batched is one batch
of all questions. Prints each mode's questions/minute, tokens/s and their ratio, and how many
answers agree (greedy batched and sequential decoding should give the same text up to float noise).

Usage: .venv/bin/python benchmarks/eval_speed.py [--questions 8] [--max-tokens 96]
       [--data FILE or hub id (default: the GSM8K test split shipped with brie)] [--home /tmp/brie-bench]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from brie.blas import ensure_fast_blas

    ensure_fast_blas([str(Path(__file__).resolve()), *sys.argv[1:]])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=8, help="GSM8K questions to answer in each mode")
    parser.add_argument("--max-tokens", type=int, default=96, help="token budget per answer")
    parser.add_argument("--data", default=None, help="GSM8K JSONL file or hub id (default: the shipped test split)")
    parser.add_argument("--home", default=None, help="workspace holding the converted embedded model")
    args = parser.parse_args()

    from brie.blas import loaded_blas
    from brie.evals.gsm8k import GSM8K, score_output
    from brie.generation.mlx_engine import generate_batch
    from brie.models.registry import DEFAULT_MODEL, load_model
    from brie.workspace import Workspace

    ws = Workspace.open(args.home or Path(tempfile.gettempdir()) / "brie-bench", create=True)
    model, tok = load_model(ws, DEFAULT_MODEL)
    bench = GSM8K("gsm8k", source=args.data, max_tokens=args.max_tokens)
    items = bench.items(ws)[: args.questions]
    conversations = [bench.conversation(it.input) for it in items]
    generate_batch(model, tok, conversations[:1], max_tokens=4)  # warm-up: first-call compilation

    results = {}
    for mode, batch_size in (("sequential", 1), ("batched", len(conversations))):
        start = time.perf_counter()
        answers = generate_batch(model, tok, conversations, max_tokens=args.max_tokens, batch_size=batch_size)
        seconds = time.perf_counter() - start
        tokens = sum(len(tok.encode(a, add_special_tokens=False)) for a in answers)
        correct = sum(score_output(a, it.target)["flexible"] for a, it in zip(answers, items))
        results[mode] = {"answers": answers, "seconds": seconds, "qpm": 60 * len(items) / seconds,
                         "tps": tokens / seconds, "correct": correct}

    seq, bat = results["sequential"], results["batched"]
    same = sum(a == b for a, b in zip(seq["answers"], bat["answers"]))
    print(f"embedded model {DEFAULT_MODEL}, {len(items)} GSM8K questions, max {args.max_tokens} tokens, "
          f"BLAS: {loaded_blas()}")
    print(f"{'mode':<12}{'seconds':>10}{'questions/min':>16}{'tokens/s':>12}{'flexible correct':>18}")
    for mode in ("sequential", "batched"):
        r = results[mode]
        print(f"{mode:<12}{r['seconds']:>10.1f}{r['qpm']:>16.1f}{r['tps']:>12.1f}{r['correct']:>18}")
    print(f"batched / sequential: {bat['qpm'] / seq['qpm']:.2f}x questions per minute; "
          f"{same}/{len(items)} answers identical")


if __name__ == "__main__":
    main()
