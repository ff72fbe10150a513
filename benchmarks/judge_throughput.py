"""Judging throughput: 200 comparisons against a local server that answers after 200 ms, concurrency 8.

The ideal is 200 × 0.2 s / 8 = 5 s; the target is within 1.25× of it. The real anthropic SDK talks
to tests/judge_server.py over real sockets, and every verdict is committed to SQLite as it lands.
Usage: .venv/bin/python benchmarks/judge_throughput.py [--n 200] [--delay 0.2] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="comparisons")
    ap.add_argument("--delay", type=float, default=0.2, help="server answer delay, seconds")
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()

    from brie.judging.workflows import judge_comparisons, make_comparisons
    from brie.store import judging as rows
    from brie.data.suites import import_suite
    from brie.workspace import Workspace
    from tests.judge_server import JudgeServer

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace.open(Path(tmp) / "ws", create=True)
        suite = Path(tmp) / "bench.jsonl"
        suite.write_text("".join(json.dumps({"prompt": f"Question {i}?"}) + "\n" for i in range(args.n)))
        import_suite(ws, suite, "bench")
        prompt_ids = [r["id"] for r in ws.store.db["prompts"].rows]
        gens = {}
        for label, key in (("base", "base:m"), ("run@1", "sha-of-run")):  # answers stored directly: no model needed
            gens[label] = {(pid, 0): rows.insert_generation(ws.store, {
                "prompt_row_id": pid, "model_key": key, "label": label, "model": "m", "temperature": 0.0,
                "max_tokens": 8, "seed": 0, "sample_idx": 0, "answers_json": json.dumps([f"{label} answer {pid}"])})
                for pid in prompt_ids}
        ids = make_comparisons(ws, "bench", gens, "base", "run@1")
        import anthropic  # noqa: F401  (the SDKs take seconds to import: not part of what is measured)
        import openai  # noqa: F401

        with JudgeServer(lambda call: {"text": "Fine. [[A]]", "delay": args.delay}) as server:
            os.environ.update(ANTHROPIC_API_KEY="bench", ANTHROPIC_BASE_URL=server.url)
            start = time.perf_counter()
            s = judge_comparisons(ws, ids, ["anthropic:claude-sonnet-5-5"], concurrency=args.concurrency)
            wall = time.perf_counter() - start
        ideal = args.n * args.delay / args.concurrency
        print(f"comparisons          {args.n} (valid {s.valid}, failed {s.failed})")
        print(f"server delay         {args.delay * 1000:.0f} ms, concurrency {args.concurrency}")
        print(f"ideal                {ideal:.2f} s")
        print(f"measured             {wall:.2f} s")
        print(f"measured / ideal     {wall / ideal:.2f}x   (target ≤ 1.25x)" if ideal else f"per judgment         {1000 * wall / args.n:.1f} ms")
        ws.close()


if __name__ == "__main__":
    from brie.blas import ensure_fast_blas

    ensure_fast_blas([__file__, *sys.argv[1:]])
    main()
