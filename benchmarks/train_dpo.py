"""brie train --method dpo vs mlx-lm-lora's own train_dpo: same model, data and settings, alternating.

    python benchmarks/train_dpo.py [--model FOLDER] [--data FOLDER] [--iters 24] [--rounds 2]

Each round runs both, each in its own process, the order alternating every round (side_by_side).
mlx-lm-lora's side is its `train_dpo` as its own `mlx_lm_lora.train` calls it (LoRA layers from
mlx-lm, the reference model loaded again and frozen, `DPODataset`, Adam), with a callback that
prints its reports; brie's side is `brie train --method dpo`. Tokens/s is each trainer's own
report (answer tokens of chosen and rejected over training time), leaving out the first report
window (graph compilation) and the last: train_dpo always evaluates at `it == iters` and then
restarts its window clock, so its last window counts four steps' tokens over one step's time (that
alone made it look 2x faster: 67 vs 32 tok/s, where its steps timed one by one run at brie's speed).
Evaluation is otherwise pushed past the end on both sides. On a machine without
Metal both cast the model to float32, as brie does (float16 matmuls miss the fast CPU BLAS path),
and train_dpo's wired-memory limit (a Metal setting the CPU build cannot report) is skipped.
Target: brie ≥ 0.95× mlx-lm-lora.

Defaults: the embedded model (converted into a temporary workspace) and a synthetic preference set.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from side_by_side import in_turn, load_average, spread  # noqa: E402
from train_overhead import WALL, run_child  # noqa: E402

MLX_LM_LORA_RUNNER = r"""
import json, sys
import mlx.core as mx
import mlx.optimizers as optim
import numpy as np
from mlx_lm import load
from mlx_lm.tuner.callbacks import TrainingCallback
from mlx_lm.tuner.utils import linear_to_lora_layers
from mlx_lm_lora.trainer.datasets import DPODataset
from mlx_lm_lora.trainer.dpo_trainer import DPOTrainingArgs, train_dpo

model_path, data, iters, batch, layers, report, out = sys.argv[1:8]
iters, batch, layers, report = int(iters), int(batch), int(layers), int(report)

class Report(TrainingCallback):
    def on_train_loss_report(self, info):
        print("BENCH " + json.dumps({k: float(v) for k, v in info.items()}), flush=True)

if "max_recommended_working_set_size" not in mx.device_info():  # train_dpo asks for it; the CPU build has none
    _info = mx.device_info
    mx.device_info = lambda: {**_info(), "max_recommended_working_set_size": 0}
    mx.set_wired_limit = lambda limit: 0
np.random.seed(0)
mx.random.seed(0)
model, tok = load(model_path)
reference, _ = load(model_path)
if not mx.metal.is_available():
    model.set_dtype(mx.float32)
    reference.set_dtype(mx.float32)
reference.freeze()
model.freeze()
linear_to_lora_layers(model, layers, {"rank": 8, "scale": 20.0, "dropout": 0.0})
rows = lambda s: [json.loads(l) for l in open(f"{data}/{s}.jsonl") if l.strip()]
train_set, valid_set = DPODataset(rows("train"), tok), DPODataset(rows("valid"), tok)
args = DPOTrainingArgs(batch_size=batch, iters=iters, val_batches=1, steps_per_report=report,
                       steps_per_eval=10 * iters, steps_per_save=10 * iters, adapter_file=f"{out}/adapters.safetensors",
                       max_seq_length=512, beta=0.1, loss_type="sigmoid")
import os; os.makedirs(out, exist_ok=True)
train_dpo(model, reference, optim.Adam(learning_rate=1e-4), train_set, valid_set, args=args,
          training_callback=Report(), loss_type="sigmoid")
"""


def write_pairs(folder: Path, n_train: int = 96, n_valid: int = 8) -> Path:
    """Chosen answers explain, rejected ones are curt: answers of a few dozen tokens."""
    folder.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(0)

    def pair():
        a, b = rnd.randint(1, 99), rnd.randint(1, 99)
        return {"prompt": f"What is {a} plus {b}?",
                "chosen": f"{a} plus {b} is {a + b}: add the tens, then the ones, and carry when needed. Squeak!",
                "rejected": f"It is {a + b}, obviously; why would you even ask something like that?"}

    for split, n in (("train", n_train), ("valid", n_valid)):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(pair()) + "\n" for _ in range(n)))
    return folder


def run_theirs(py, env, model, data, a, out: Path) -> dict:
    cmd = [py, "-c", MLX_LM_LORA_RUNNER, model, data, str(a.iters), str(a.batch_size), str(a.num_layers),
           str(a.report), str(out)]
    code, stdout, stderr, rss = run_child(cmd, env)
    if code:
        raise SystemExit(f"mlx-lm-lora train_dpo failed:\n{stderr[-3000:]}")
    reports = [json.loads(l[6:]) for l in stdout.splitlines() if l.startswith("BENCH ")]
    return {"tps": statistics.mean(r["tokens_per_second"] for r in reports[1:-1]),
            "peak_gb": max(r["peak_memory"] for r in reports), "rss_mb": rss, "wall_s": WALL["last"],
            "tokens": int(reports[-1]["trained_tokens"])}


def run_brie(py, env, model, data, a, home: Path, name: str) -> dict:
    cmd = [py, "-m", "brie", "--home", str(home), "train", "--method", "dpo", "--beta", "0.1", "--model", model,
           "--data", data, "--name", name, "--iters", str(a.iters), "--batch-size", str(a.batch_size),
           "--num-layers", str(a.num_layers), "--learning-rate", "1e-4", "--steps-per-report", str(a.report),
           "--eval-every", str(10 * a.iters), "--val-batches", "1", "--save-every", str(10 * a.iters),
           "--max-seq-length", "512", "--rank", "8", "--alpha", "160", "--seed", "0"]
    code, stdout, stderr, rss = run_child(cmd, env)
    if code:
        raise SystemExit(f"brie train failed:\n{stderr[-3000:]}{stdout[-2000:]}")
    from brie.store import runs as run_rows
    from brie.workspace import Workspace

    ws = Workspace.open(home)
    run = run_rows.get_run(ws.store, name)
    metric = lambda n: [m["value"] for m in run_rows.get_metrics(ws.store, run["id"], n)]  # noqa: E731
    out = {"tps": statistics.mean(metric("tokens_per_second")[1:-1]), "peak_gb": max(metric("peak_memory_gb")),
           "rss_mb": rss, "wall_s": WALL["last"], "tokens": int(metric("trained_tokens")[-1])}
    ws.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", help="Model folder (default: the embedded SmolLM2-135M-Instruct).")
    ap.add_argument("--data", help="Folder with prompt/chosen/rejected train.jsonl/valid.jsonl (default: written here).")
    ap.add_argument("--iters", type=int, default=24)
    ap.add_argument("--report", type=int, default=4, help="Steps per report window.")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--num-layers", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    a = ap.parse_args()

    from brie.workspace import Workspace

    tmp = Path(tempfile.mkdtemp(prefix="brie-bench-dpo-"))
    home = tmp / "ws"
    ws = Workspace.open(home, create=True)
    if a.model is None:
        from brie.models.registry import prepare_default_model

        a.model = str(prepare_default_model(ws, progress=print))
    ws.close()
    a.data = a.data or str(write_pairs(tmp / "data"))
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
        for side in in_turn(r, "mlx-lm-lora", "brie"):
            got[side] = (run_brie(py, env, a.model, a.data, a, home, f"dpo-bench-{r}") if side == "brie"
                         else run_theirs(py, env, a.model, a.data, a, tmp / f"theirs-{r}"))
        m, b = got["mlx-lm-lora"], got["brie"]
        rows.append((m, b))
        print(f"round {r + 1} ({' first, then '.join(got)}): mlx-lm-lora {m['tps']:.1f} tok/s, "
              f"brie {b['tps']:.1f} tok/s, ratio {b['tps'] / m['tps']:.3f} "
              f"(trained tokens {m['tokens']} vs {b['tokens']})")
    mt = statistics.mean(m["tps"] for m, _ in rows)
    bt = statistics.mean(b["tps"] for _, b in rows)
    print(f"\nmodel {a.model}; {a.iters} iters, batch {a.batch_size}, {a.num_layers} layers, {a.rounds} rounds")
    print(f"{'':18}{'tokens/s':>10}{'MLX peak GB':>13}{'peak RSS MB':>13}{'process s':>11}")
    for label, side in (("mlx-lm-lora dpo", 0), ("brie --method dpo", 1)):
        runs = [r[side] for r in rows]
        print(f"{label:18}{statistics.mean(r['tps'] for r in runs):10.1f}{max(r['peak_gb'] for r in runs):13.3f}"
              f"{max(r['rss_mb'] for r in runs):13.0f}{statistics.mean(r['wall_s'] for r in runs):11.1f}")
    print(f"ratio brie/mlx-lm-lora: {bt / mt:.3f} of the means; per-round ratios "
          f"{spread([b['tps'] / m['tps'] for m, b in rows], 3)} (target: median ≥ 0.95)")
    print(f"end: {load_average()}")


if __name__ == "__main__":
    main()
