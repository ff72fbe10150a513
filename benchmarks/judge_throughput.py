"""Judging throughput: 200 comparisons against a local server that answers after 200 ms, concurrency 8.

The ideal is 200 × 0.2 s / 8 = 5 s; the target is within 1.1× of it. The real anthropic SDK talks
to tests/judge_server.py over real sockets, and every verdict is committed to SQLite as it lands.

Every round runs two sides against the same server, the order alternating (benchmarks/side_by_side):
  - brie: `judge_comparisons` on a fresh workspace (prompts rendered, answers parsed and stored);
  - the ideal-bound reference: the same number of requests sent by a plain ThreadPoolExecutor of the
    same concurrency through the same SDK client (anthropic.Anthropic, same retries and timeout), no
    brie: what the SDK and the server cost by themselves.
Prints per-round min / median / max of brie's time over the ideal and over the reference, and the load.
Usage: .venv/bin/python benchmarks/judge_throughput.py [--n 200] [--delay 0.2] [--concurrency 8] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from side_by_side import in_turn, load_average, spread  # noqa: E402  (this script's folder)

JUDGE = "anthropic:claude-sonnet-5-5"


def workspace(tmp: Path, n: int):
    """A fresh workspace with `n` comparisons ready to judge; (workspace, comparison ids)."""
    from brie.data.suites import import_suite
    from brie.judging.workflows import make_comparisons
    from brie.store import judging as rows
    from brie.workspace import Workspace

    ws = Workspace.open(tmp / "ws", create=True)
    suite = tmp / "bench.jsonl"
    suite.write_text("".join(json.dumps({"prompt": f"Question {i}?"}) + "\n" for i in range(n)))
    import_suite(ws, suite, "bench")
    prompt_ids = [r["id"] for r in ws.store.db["prompts"].rows]
    gens = {}
    for label, key in (("base", "base:m"), ("run@1", "sha-of-run")):  # answers stored directly: no model needed
        gens[label] = {(pid, 0): rows.insert_generation(ws.store, {
            "prompt_row_id": pid, "model_key": key, "label": label, "model": "m", "temperature": 0.0,
            "max_tokens": 8, "seed": 0, "sample_idx": 0, "answers_json": json.dumps([f"{label} answer {pid}"])})
            for pid in prompt_ids}
    return ws, make_comparisons(ws, "bench", gens, "base", "run@1")


def brie_side(n: int, concurrency: int) -> float:
    from brie.judging.workflows import judge_comparisons

    with tempfile.TemporaryDirectory() as tmp:
        ws, ids = workspace(Path(tmp), n)
        start = time.perf_counter()
        s = judge_comparisons(ws, ids, [JUDGE], concurrency=concurrency)
        wall = time.perf_counter() - start
        ws.close()
    if s.valid != n:
        raise SystemExit(f"brie stored {s.valid} valid verdicts of {n} (failed {s.failed}: {s.errors[:1]})")
    return wall


def reference_side(n: int, concurrency: int) -> float:
    """The same requests through the same SDK client, from a plain thread pool: the bound."""
    import anthropic

    from brie.judging.providers.anthropic import AnthropicJudge

    client = anthropic.Anthropic(max_retries=4, timeout=120.0)  # AnthropicJudge's defaults
    assert AnthropicJudge.__init__.__defaults__[:2] == (4, 120.0), "keep the reference's client like brie's"
    model = JUDGE.split(":", 1)[1]

    def ask(i: int) -> str:
        msg = client.messages.create(model=model, max_tokens=1024, system="You are a judge.",
                                     messages=[{"role": "user", "content": f"Question {i}? answer {i}"}])
        return msg.content[0].text

    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        answers = list(pool.map(ask, range(n)))
    wall = time.perf_counter() - start
    client.close()
    assert len(answers) == n
    return wall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="comparisons")
    ap.add_argument("--delay", type=float, default=0.2, help="server answer delay, seconds")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()

    from tests.judge_server import JudgeServer

    import anthropic  # noqa: F401  (the SDKs take seconds to import: not part of what is measured)
    import openai  # noqa: F401

    ideal = args.n * args.delay / args.concurrency
    walls: dict[str, list[float]] = {"brie": [], "reference": []}
    print(f"start: {load_average()}")
    with JudgeServer(lambda call: {"text": "Fine. [[A]]", "delay": args.delay}) as server:
        os.environ.update(ANTHROPIC_API_KEY="bench", ANTHROPIC_BASE_URL=server.url)
        sides = {"brie": brie_side, "reference": reference_side}
        for r in range(args.rounds):
            for name in in_turn(r, "reference", "brie"):
                walls[name].append(sides[name](args.n, args.concurrency))
        max_in_flight = server.max_in_flight
    print(f"end:   {load_average()}")
    print(f"{args.n} comparisons, server delay {args.delay * 1000:.0f} ms, concurrency {args.concurrency} "
          f"(at most {max_in_flight} requests in flight at the server); {args.rounds} rounds, order alternating")
    print(f"ideal                 {ideal:.2f} s")
    print(f"reference (no brie)   median {statistics.median(walls['reference']):.2f} s")
    print(f"brie                  median {statistics.median(walls['brie']):.2f} s")
    print(f"brie / ideal          {spread([w / ideal for w in walls['brie']])}   (target ≤ 1.1x)")
    print(f"reference / ideal     {spread([w / ideal for w in walls['reference']])}")
    print(f"brie / reference      {spread([b / r for b, r in zip(walls['brie'], walls['reference'])])}")


if __name__ == "__main__":
    main()
