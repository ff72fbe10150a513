"""Judgments per minute: the `local:` probability judge vs the same model writing text verdicts via mlx_lm.server.

Both sides judge the same pairwise prompts (brie's pairwise-v1 template; questions and answers from
the demo training set, each question's own answer against the next question's) with the embedded
model. The local side reads the verdict from one batched forward pass in this process; the text side
is `mlx_lm.server` answering through the openai SDK (brie's openai-compatible judge), up to
--judge-tokens tokens per answer, --concurrency requests in flight. Loading the model and starting
the server are not timed. Each round judges fresh prompts with both sides, alternating which goes
first; the script prints each round's ratio, min/median/max, the load average, and how many of the
text answers held a verdict at all.
Usage: .venv/bin/python benchmarks/local_judge.py [--rounds 3] [--per-round 4] [--judge-tokens 256]
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


def demo_prompts(n: int) -> list[tuple[str, str]]:
    from brie.demo.data import demo_dataset_path
    from brie.judging.prompts import pairwise_prompt

    rows = [json.loads(line)["messages"] for line in demo_dataset_path().read_text().splitlines() if line.strip()]
    out = []
    for i in range(n):
        q, a = rows[i % len(rows)][0]["content"], rows[i % len(rows)][1]["content"]
        other = rows[(i + 1) % len(rows)][1]["content"]
        first, second = (a, other) if i % 2 == 0 else (other, a)
        _, system, user = pairwise_prompt([q], [first], [second])
        out.append((system, user))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--per-round", type=int, default=4, help="judgments per side and round")
    ap.add_argument("--judge-tokens", type=int, default=256, help="most tokens of a text verdict (brie compare's default is 1024)")
    ap.add_argument("--concurrency", type=int, default=2, help="text requests in flight")
    ap.add_argument("--home", default=None, help="workspace holding the embedded model (default: a temporary one)")
    args = ap.parse_args()

    import openai  # noqa: F401  (seconds to import: not part of what is measured)

    from brie.judging.judges import connect, local_judge, parse_judge
    from brie.judging.local_server import mlx_server
    from brie.judging.verdicts import parse_verdict
    from brie.models.registry import prepare_default_model
    from brie.workspace import Workspace

    tmp = tempfile.TemporaryDirectory()
    ws = Workspace.open(Path(args.home or tmp.name), create=True)
    folder = prepare_default_model(ws)
    prompts = demo_prompts(args.rounds * args.per_round)
    local = connect(parse_judge(f"local:{folder}", ws), ws=ws)
    local.verdicts(prompts[:1])  # warm up (MLX compiles its kernels on first use)
    load_before = os.getloadavg()
    ratios, text_valid, text_n = [], 0, 0
    with mlx_server(folder, log_path=Path(tmp.name) / "mlx_server.log") as url:
        text = connect(local_judge("openai-compatible:bench", url), max_retries=1, timeout=600,
                       max_tokens=args.judge_tokens)
        text.ask(*prompts[0])  # warm up the server too

        def run_local(chunk):
            return [r.text for r in local.verdicts(chunk)]

        def run_text(chunk):
            with ThreadPoolExecutor(args.concurrency) as pool:
                return [r.text for r in pool.map(lambda p: text.ask(*p), chunk)]

        for r in range(args.rounds):
            chunk = prompts[r * args.per_round:(r + 1) * args.per_round]
            per_minute = {}
            order = [("local", run_local), ("text", run_text)]
            for name, fn in (order if r % 2 == 0 else order[::-1]):
                start = time.perf_counter()
                answers = fn(chunk)
                per_minute[name] = len(chunk) / (time.perf_counter() - start) * 60
                if name == "text":
                    text_valid += sum(parse_verdict(a) is not None for a in answers)
                    text_n += len(answers)
            ratios.append(per_minute["local"] / per_minute["text"])
            print(f"round {r + 1} ({'local' if r % 2 == 0 else 'text'} first): local {per_minute['local']:.1f}/min, "
                  f"text {per_minute['text']:.1f}/min, ratio {ratios[-1]:.1f}x", flush=True)
    load_after = os.getloadavg()
    print(f"judgments per round  {args.per_round} per side, {args.rounds} rounds; text answers up to "
          f"{args.judge_tokens} tokens, concurrency {args.concurrency}; local batch {local.batch_size}")
    print(f"ratio local/text     min {min(ratios):.1f}x, median {statistics.median(ratios):.1f}x, "
          f"max {max(ratios):.1f}x   (target >= 10x)")
    print(f"text verdicts        {text_valid} of {text_n} text answers held a verdict; every local one did")
    print(f"load average         {load_before[0]:.2f} before, {load_after[0]:.2f} after (1 min)")
    tmp.cleanup()


if __name__ == "__main__":
    from brie.blas import ensure_fast_blas

    ensure_fast_blas([__file__, *sys.argv[1:]])
    main()
