"""Import speed and memory: a generated 50k-row and 200k-row JSONL, each imported in a fresh process.

Prints rows/s and peak memory (max RSS) for both, and the memory ratio: the import streams, so peak
memory should stay about the same when the file is 4x bigger (ratio near 1.0, not 4.0).

    PYTHONPATH=. python benchmarks/data_import.py [--rows 50000 200000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = ("cheese milk curd whey rind brie cheddar aged soft hard salt wheel cave mold blue goat sheep "
         "cow knife board wine bread fruit honey warm cold sharp mild nutty creamy").split()


def generate(path: Path, n: int, seed: int = 0) -> None:
    """Chat rows with a few percent of duplicates, stringified-JSON answers and broken lines."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            q = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 20)))
            a = " ".join(rng.choice(WORDS) for _ in range(rng.randint(10, 60)))
            r = rng.random()
            if r < 0.02:
                f.write("{not json\n")
                continue
            if r < 0.05:
                a = json.dumps({"answer": a})
            if r < 0.08:
                q = "duplicate question"
                a = "duplicate answer"
            f.write(json.dumps({"messages": [{"role": "user", "content": f"{i % 7} {q}"},
                                             {"role": "assistant", "content": a}]}) + "\n")


def rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB; macOS: bytes


def child(source: str, home: str) -> None:
    from brie.data.datasets import ImportOptions, import_dataset
    from brie.workspace import Workspace

    ws = Workspace.open(home, create=True)
    base = rss_mib()
    t = time.perf_counter()
    result = import_dataset(ws, source, "bench", ImportOptions(on_error="skip"))
    seconds = time.perf_counter() - t
    peak = rss_mib()
    if sys.platform == "darwin":
        base, peak = base / 1024, peak / 1024
    print(json.dumps({"rows": result.report["rows"]["read"], "seconds": seconds, "base_mib": base,
                      "peak_mib": peak, "report_rows": result.report["rows"]}))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, nargs="+", default=[50_000, 200_000])
    ap.add_argument("--keep", help="Folder for the generated files (default: a temporary one, removed).")
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    tmp = Path(args.keep or tempfile.mkdtemp(prefix="brie-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for n in args.rows:
            src = tmp / f"rows-{n}.jsonl"
            if not src.exists():
                generate(src, n)
            home = tmp / f"ws-{n}"
            shutil.rmtree(home, ignore_errors=True)
            out = subprocess.run([sys.executable, __file__, "--child", str(src), str(home)],
                                 capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r["mib"] = src.stat().st_size / 2**20
            results.append(r)
            print(f"{n:>9,} rows ({r['mib']:.0f} MiB): {r['rows'] / r['seconds']:>9,.0f} rows/s "
                  f"({r['seconds']:.1f} s), peak RSS {r['peak_mib']:.0f} MiB "
                  f"(after imports {r['base_mib']:.0f} MiB, import added {r['peak_mib'] - r['base_mib']:.0f} MiB)")
        if len(results) >= 2:
            a, b = results[0], results[-1]
            print(f"{b['rows'] / a['rows']:.1f}x the rows → peak memory x{b['peak_mib'] / a['peak_mib']:.2f}, "
                  f"memory added by the import x{(b['peak_mib'] - b['base_mib']) / max(a['peak_mib'] - a['base_mib'], 1):.2f}; "
                  f"speed x{(b['rows'] / b['seconds']) / (a['rows'] / a['seconds']):.2f}")
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
