"""brie train vs plain mlx_lm.lora: same model, data and config, alternating in one run.

    python benchmarks/train_overhead.py [--model FOLDER] [--data FOLDER] [--iters 24] [--rounds 2]

Each round runs both, one after the other, each in its own process (so each starts cold and its peak
memory is its own); which one goes first alternates every round, so a changing load favours
neither (use an even --rounds). Prints the min / median / max of the per-round ratios and the load
average at the start and the end. Tokens/s is trained tokens over training time, from each trainer's own reports,
leaving out the first report window (graph compilation) and evaluation time; the whole process's
wall time (loading, evaluation, checkpoints, store writes) is printed too. Prints tokens/s of
each, the ratio brie/mlx-lm (target: 0.95 or better), and the peak memory of each: MLX's peak
allocation as reported during training, and the process's peak RSS.

Defaults: the embedded model (converted into a temporary workspace) and a chat dataset written here.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from side_by_side import in_turn, load_average, spread  # noqa: E402  (benchmarks/, this script's folder)

MLX_LM_RUNNER = r"""
import json, sys, types
import numpy as np
from mlx_lm import lora
from mlx_lm.tuner.callbacks import TrainingCallback
from mlx_lm.tuner.datasets import load_dataset
from mlx_lm.utils import load

class Report(TrainingCallback):
    def on_train_loss_report(self, info):
        print("BENCH " + json.dumps({k: float(v) for k, v in info.items()}), flush=True)

args = vars(lora.build_parser().parse_args(sys.argv[1:]))
for k, v in lora.CONFIG_DEFAULTS.items():
    if args.get(k) is None:
        args[k] = v
args = types.SimpleNamespace(**args)
# What lora.run() does, except that run() replaces the callback with its wandb/swanlab ones.
np.random.seed(args.seed)
model, tokenizer = load(args.model)
train_set, valid_set, _ = load_dataset(args, tokenizer)
lora.train_model(args, model, train_set, valid_set, Report())
"""


WALL = {}


def run_child(cmd, env) -> tuple[int, str, str, float]:
    """(exit code, stdout, stderr, peak RSS in MB) of one child process, its own rusage via wait4."""
    import time

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        tic = time.perf_counter()
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(p.pid, 0)
        WALL["last"] = time.perf_counter() - tic
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return p.returncode, out.read(), err.read(), usage.ru_maxrss / 1024


def run_mlx_lm(py, env, model, data, a, out: Path) -> dict:
    cmd = [py, "-c", MLX_LM_RUNNER, "--model", model, "--train", "--data", data, "--iters", str(a.iters),
           "--batch-size", str(a.batch_size), "--num-layers", str(a.num_layers), "--learning-rate", "1e-4",
           "--steps-per-report", str(a.report), "--steps-per-eval", str(10 * a.iters), "--val-batches", "1",
           "--save-every", str(10 * a.iters), "--max-seq-length", "512", "--adapter-path", str(out), "--seed", "0"]
    code, stdout, stderr, rss = run_child(cmd, env)
    if code:
        raise SystemExit(f"mlx_lm.lora failed:\n{stderr[-3000:]}")
    reports = [json.loads(l[6:]) for l in stdout.splitlines() if l.startswith("BENCH ")]
    tps = [r["tokens_per_second"] for r in reports[1:]]
    return {"tps": statistics.mean(tps), "peak_gb": max(r["peak_memory"] for r in reports),
            "rss_mb": rss, "wall_s": WALL["last"], "tokens": [int(r["trained_tokens"]) for r in reports]}


def run_brie(py, env, model, data, a, home: Path, name: str) -> dict:
    cmd = [py, "-m", "brie", "--home", str(home), "train", "--model", model, "--data", data, "--name", name,
           "--iters", str(a.iters), "--batch-size", str(a.batch_size), "--num-layers", str(a.num_layers),
           "--learning-rate", "1e-4", "--steps-per-report", str(a.report), "--eval-every", str(10 * a.iters),
           "--val-batches", "1", "--save-every", str(10 * a.iters), "--max-seq-length", "512",
           "--rank", "8", "--alpha", "160", "--seed", "0"]  # alpha 160 = mlx-lm's scale 20; with its progress bar, as users run it
    code, stdout, stderr, rss = run_child(cmd, env)
    if code:
        raise SystemExit(f"brie train failed:\n{stderr[-3000:]}{stdout[-2000:]}")
    from brie.store import runs as run_rows
    from brie.workspace import Workspace

    ws = Workspace.open(home)
    run = run_rows.get_run(ws.store, name)
    tps = [m["value"] for m in run_rows.get_metrics(ws.store, run["id"], "tokens_per_second")][1:]
    peak = max(m["value"] for m in run_rows.get_metrics(ws.store, run["id"], "peak_memory_gb"))
    ws.close()
    tokens = [int(m["value"]) for m in run_rows.get_metrics(ws.store, run["id"], "trained_tokens")]
    return {"tps": statistics.mean(tps), "peak_gb": peak, "rss_mb": rss, "wall_s": WALL["last"], "tokens": tokens}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="Model folder (default: the embedded SmolLM2-135M-Instruct).")
    ap.add_argument("--data", help="Folder with train.jsonl/valid.jsonl (default: a chat set written here).")
    ap.add_argument("--iters", type=int, default=24)
    ap.add_argument("--report", type=int, default=4, help="Steps per report window.")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--num-layers", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()

    from brie.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="brie-bench-"))
    home = tmp / "ws"
    ws = Workspace.open(home, create=True)
    if a.model is None:
        from brie.models.registry import prepare_default_model

        a.model = str(prepare_default_model(ws, progress=print))
    ws.close()
    if a.data is None:
        from tests.train_helpers import write_chat_data

        a.data = str(write_chat_data(tmp / "data", n_train=96, n_valid=8, word="Squeak! That is a fine cheese question."))
    py = sys.executable
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    from brie.blas import find_openblas

    lib = find_openblas() if sys.platform.startswith("linux") else None
    if lib and "openblas" not in env.get("LD_PRELOAD", ""):  # both get the fast BLAS, as brie's CLI does
        env["LD_PRELOAD"] = lib

    print(f"start: {load_average()}")
    rows = []
    for r in range(a.rounds):
        got = {}
        for side in in_turn(r, "mlx_lm.lora", "brie"):
            if side == "brie":
                got[side] = run_brie(py, env, a.model, a.data, a, home, f"bench-{r}")
            else:
                got[side] = run_mlx_lm(py, env, a.model, a.data, a, tmp / f"mlx-{r}")
        m, b = got["mlx_lm.lora"], got["brie"]
        rows.append((m, b))
        same = "same batches" if m["tokens"] == b["tokens"] else f"DIFFERENT batches ({m['tokens']} vs {b['tokens']})"
        print(f"round {r + 1} ({' first, then '.join(got)}): "
              f"mlx_lm.lora {m['tps']:.1f} tok/s, brie {b['tps']:.1f} tok/s, ratio {b['tps'] / m['tps']:.3f} ({same})")
    mt = statistics.mean(m["tps"] for m, _ in rows)
    bt = statistics.mean(b["tps"] for _, b in rows)
    print(f"\nmodel {a.model}; {a.iters} iters, batch {a.batch_size}, {a.num_layers} layers, {a.rounds} rounds")
    print(f"{'':14}{'tokens/s':>10}{'MLX peak GB':>13}{'peak RSS MB':>13}{'process s':>11}")
    for label, side in (("mlx_lm.lora", 0), ("brie train", 1)):
        runs = [r[side] for r in rows]
        print(f"{label:14}{statistics.mean(r['tps'] for r in runs):10.1f}{max(r['peak_gb'] for r in runs):13.3f}"
              f"{max(r['rss_mb'] for r in runs):13.0f}{statistics.mean(r['wall_s'] for r in runs):11.1f}")
    print(f"ratio brie/mlx-lm: {bt / mt:.3f} of the means; per-round ratios "
          f"{spread([b['tps'] / m['tps'] for m, b in rows], 3)} (target: median ≥ 0.95)")
    print(f"end: {load_average()}")


if __name__ == "__main__":
    main()
