"""MLX with the bundled reference BLAS vs brie's fast path (OpenBLAS preloaded), side by side.

Prints matmul GFLOP/s (1024² float32) and generation tokens/s of the embedded model under each,
and their ratio. Each configuration runs in its own process (LD_PRELOAD works only at start),
alternating, twice. Usage: .venv/bin/python benchmarks/blas.py [--rounds 2] [--tokens 48]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def child(tokens: int, home: str) -> None:
    from brie.blas import loaded_blas, measure_matmul_gflops
    from brie.generation.mlx_engine import stream_answer
    from brie.models.registry import DEFAULT_MODEL, load_model
    from brie.workspace import Workspace

    ws = Workspace.open(home, create=True)
    model, tok = load_model(ws, DEFAULT_MODEL)
    gflops = measure_matmul_gflops()
    list(stream_answer(model, tok, "Hi", max_tokens=4))  # warm-up
    from mlx_lm import stream_generate
    from brie.generation.chat import chat_prompt

    prompt = chat_prompt(tok, [{"role": "user", "content": "Tell me about the history of cheese."}])
    last = None
    for last in stream_generate(model, tok, prompt, max_tokens=tokens):
        pass
    print(json.dumps({"blas": loaded_blas(), "gflops": gflops, "tokens_per_s": last.generation_tps}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--home", default=str(Path(tempfile.gettempdir()) / "brie-bench"), help="workspace for the model")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.tokens, args.home)

    from brie.blas import find_openblas

    lib = find_openblas()
    if lib is None:
        sys.exit("no system OpenBLAS found (Debian/Ubuntu: apt-get install libopenblas0-pthread)")
    base_env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "BRIE_FAST_BLAS_TRIED")}
    configs = {"reference": {**base_env, "BRIE_NO_FAST_BLAS": "1"}, "fast": {**base_env, "LD_PRELOAD": lib}}
    results: dict[str, list[dict]] = {name: [] for name in configs}
    for round_ in range(args.rounds):
        for name, env in configs.items():
            t = time.perf_counter()
            out = subprocess.run([sys.executable, __file__, "--child", "--tokens", str(args.tokens), "--home", args.home],
                                 env=env, capture_output=True, text=True)
            if out.returncode:
                sys.exit(out.stderr)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            results[name].append(r)
            print(f"round {round_ + 1} {name:9s}: {r['gflops']:7.1f} GFLOP/s  {r['tokens_per_s']:6.1f} tok/s  "
                  f"({r['blas']}, {time.perf_counter() - t:.0f}s)")
    med = {n: {k: statistics.median(r[k] for r in rs) for k in ("gflops", "tokens_per_s")} for n, rs in results.items()}
    print()
    print(f"{'':12s}{'reference':>12s}{'fast':>12s}{'ratio':>10s}")
    for key, label in (("gflops", "matmul GFLOP/s"), ("tokens_per_s", "gen tok/s")):
        ref, fast = med["reference"][key], med["fast"][key]
        print(f"{label:16s}{ref:8.1f}{fast:12.1f}{fast / ref:9.1f}x")


if __name__ == "__main__":
    main()
