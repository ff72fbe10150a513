"""The CUDA path: `brie train --backend torch` vs `--backend mlx`, same model, data and config, alternating.

    python benchmarks/train_torch.py [--model FOLDER] [--iters 24] [--rounds 2]

Needs the `cuda` extra (torch, peft, accelerate). On a CUDA machine the torch side runs on the GPU
(its name is printed) and its peak memory is torch's peak allocation; elsewhere both run on the CPU
and torch's peak is the process's RSS. Tokens/s and peak memory are each run's own reports, read
from the store, leaving out the first report window (warm-up). Prints both and their ratio; the
numbers for benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def train(home: Path, name: str, backend: str, a) -> dict:
    cmd = [sys.executable, "-m", "brie", "--home", str(home), "train", "--backend", backend, "--model", a.model,
           "--data", a.data, "--name", name, "--iters", str(a.iters), "--batch-size", "4", "--num-layers", "8",
           "--learning-rate", "1e-4", "--steps-per-report", "4", "--eval-every", str(10 * a.iters),
           "--val-batches", "1", "--save-every", str(a.iters), "--max-seq-length", "512", "--seed", "0", "--json"]
    p = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    if p.returncode:
        raise SystemExit(f"brie train --backend {backend} failed:\n{p.stderr[-3000:]}{p.stdout[-2000:]}")
    from brie.store import runs as run_rows
    from brie.workspace import Workspace

    ws = Workspace.open(home)
    run = run_rows.get_run(ws.store, name)
    tps = [m["value"] for m in run_rows.get_metrics(ws.store, run["id"], "tokens_per_second")]
    tps = tps[1:] or tps  # the first window is warm-up, unless it is the only one
    peak = max(m["value"] for m in run_rows.get_metrics(ws.store, run["id"], "peak_memory_gb"))
    ws.close()
    return {"tps": statistics.mean(tps), "peak_gb": peak}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="Model folder (default: the embedded SmolLM2-135M-Instruct).")
    ap.add_argument("--iters", type=int, default=24)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()
    import torch

    from brie.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="brie-bench-torch-"))
    home = tmp / "ws"
    ws = Workspace.open(home, create=True)
    if a.model is None:
        from brie.models.registry import prepare_default_model

        a.model = str(prepare_default_model(ws, progress=print))
    ws.close()
    from tests.train_helpers import write_chat_data

    a.data = str(write_chat_data(tmp / "data", n_train=96, n_valid=8, word="Squeak! That is a fine cheese question."))
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU (no CUDA)"
    rows = []
    for r in range(a.rounds):
        m, t = train(home, f"mlx-{r}", "mlx", a), train(home, f"torch-{r}", "torch", a)
        rows.append((m, t))
        print(f"round {r + 1}: mlx {m['tps']:.1f} tok/s, torch {t['tps']:.1f} tok/s")
    print(f"\nmodel {a.model}; {a.iters} iters, batch 4, 8 layers; torch on {device}, torch {torch.__version__}")
    for label, side in (("mlx", 0), ("torch", 1)):
        print(f"{label:6} {statistics.mean(r[side]['tps'] for r in rows):10.1f} tok/s"
              f"   peak {max(r[side]['peak_gb'] for r in rows):.3f} GB")
    ratio = statistics.mean(t["tps"] for _, t in rows) / statistics.mean(m["tps"] for m, _ in rows)
    print(f"ratio torch/mlx: {ratio:.2f}")


if __name__ == "__main__":
    main()
