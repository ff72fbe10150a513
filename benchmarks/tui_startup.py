"""How fast the UI opens on a big workspace, and whether it stays responsive while a run writes.

Generates a workspace with 100 runs, 5,000 checkpoints and 50,000 judgments (when the judging
tables exist), then prints:
  - the time from creating the app to the Runs screen showing all 100 runs (target: under 1 s);
  - the time of the runs overview query alone;
  - key-press round trips (open a run, go back) while another thread writes metrics and
    checkpoints as a training run would, compared with the same presses on a quiet store.

    PYTHONPATH=. python benchmarks/tui_startup.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import os
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from brie.store.ui import runs_overview  # noqa: E402
from brie.workspace import Workspace  # noqa: E402

RUNS, CHECKPOINTS_PER_RUN, JUDGMENTS = 100, 50, 50_000
T0 = "2026-11-22T10:00:00Z"


def generate(ws: Workspace) -> dict:
    db = ws.store.db
    rng = random.Random(0)
    with ws.store.transaction():
        db["datasets"].insert({"id": 1, "name": "big", "version": 1, "sha256": "0" * 64, "format": "chat",
                               "sample_ratio": 0.5, "rows_train": 10_000, "created_at": T0})
        db["runs"].insert_all({
            "id": r, "name": f"run-{r:03d}", "model": "smollm2-135m-instruct", "dataset_id": 1, "backend": "mlx",
            "method": "lora", "status": rng.choice(["completed", "failed", "cancelled"]), "step": 5000,
            "total_steps": 5000, "best_step": 100 * rng.randint(1, 50), "config_json": json.dumps({"rank": 8}),
            "created_at": T0} for r in range(1, RUNS + 1))
        db["checkpoints"].insert_all({
            "run_id": r, "step": 100 * s, "epoch": s / 10, "train_loss": 2 / s, "val_loss": 2.1 / s,
            "path": f"runs/run-{r:03d}/checkpoints/{100 * s}", "adapter_sha256": f"{r:04d}{s:04d}".ljust(64, "0"),
            "size_bytes": 2_000_000, "created_at": T0}
            for r in range(1, RUNS + 1) for s in range(1, CHECKPOINTS_PER_RUN + 1))
        db["metrics"].insert_all({"run_id": r, "step": s, "name": "train_loss", "value": 2 / (1 + s), "at": T0}
                                 for r in range(1, RUNS + 1) for s in range(0, 5000, 50))
    judgments = 0
    if "judgments" in db.table_names():
        prompts, judges = 1000, 10
        comparisons = JUDGMENTS // (judges * 1)
        with ws.store.transaction():
            suite = db["suites"].insert({"name": "big-suite", "n_prompts": prompts, "created_at": T0}).last_pk
            db["prompts"].insert_all({"id": p, "suite_id": suite, "prompt_id": str(p), "idx": p, "category": "c",
                                      "turns_json": json.dumps(["q"])} for p in range(1, prompts + 1))
            db["generations"].insert_all({
                "id": g, "prompt_row_id": (g - 1) % prompts + 1, "model_key": f"m{(g - 1) // prompts}",
                "label": f"run-{(g - 1) // prompts:03d}@100", "model": "m", "temperature": 0.0, "max_tokens": 64,
                "seed": 0, "sample_idx": 0, "answers_json": json.dumps(["answer"]), "created_at": T0}
                for g in range(1, 2 * comparisons + 1))
            db["comparisons"].insert_all({
                "id": c, "suite_id": suite, "prompt_row_id": (c - 1) % prompts + 1, "gen_a": 2 * c - 1,
                "gen_b": 2 * c, "sample_idx": 0, "shown_first": rng.choice("ab"), "created_at": T0}
                for c in range(1, comparisons + 1))
            db["judgments"].insert_all({
                "comparison_id": c, "judge": f"openai:judge-{j}", "template": "pairwise-v1", "pass": 0,
                "shown_first": "a", "attempt": 1, "raw": "[[A]]", "verdict": rng.choice(["a", "b", "tie"]),
                "cost_usd": 0.001, "judged_at": T0}
                for c in range(1, comparisons + 1) for j in range(judges))
        judgments = db["judgments"].count
    return {"runs": db["runs"].count, "checkpoints": db["checkpoints"].count, "judgments": judgments}


WRITER = """
import sys, time
from brie.store import Store
store = Store(sys.argv[1])
with store.transaction() as db:
    run_id = db["runs"].insert({"name": "live", "model": "m", "dataset_id": 1, "status": "running",
                                "step": 0, "total_steps": 10**6}).last_pk
step = 0
while True:
    step += 1
    with store.transaction() as db:
        db["metrics"].insert({"run_id": run_id, "step": step, "name": "train_loss", "value": 1 / step, "at": "t"})
        db["runs"].update(run_id, {"step": step})
        if step % 100 == 0:
            db["checkpoints"].insert({"run_id": run_id, "step": step, "adapter_sha256": f"live{step}", "created_at": "t"})
    time.sleep(0.005)
"""


def start_writer(db_path: Path) -> subprocess.Popen:
    """A training run, seen from the store: its own process writing a metric row every few ms."""
    return subprocess.Popen([sys.executable, "-c", WRITER, str(db_path)], env={**os.environ, "PYTHONPATH": str(ROOT)})


async def first_screen(root: Path) -> float:
    from tui.app import BrieApp

    start = time.perf_counter()
    app = BrieApp(root)
    async with app.run_test(size=(160, 50)) as pilot:
        table = app.screen.query_one("#runs")
        while table.row_count < RUNS:
            await pilot.pause(0.005)
        return time.perf_counter() - start


async def round_trips(root: Path, n: int = 10) -> list[float]:
    """Seconds from pressing enter on a run to its checkpoints showing, then escape back."""
    from tui.app import BrieApp
    from tui.screens.run_detail import RunDetailScreen

    times = []
    app = BrieApp(root)
    async with app.run_test(size=(160, 50)) as pilot:
        table = app.screen.query_one("#runs")
        while table.row_count < RUNS:
            await pilot.pause(0.01)
        for i in range(n):
            start = time.perf_counter()
            await pilot.press("down", "enter")
            while not (isinstance(app.screen, RunDetailScreen) and app.screen.checkpoints):
                await pilot.pause(0.002)
            times.append(time.perf_counter() - start)
            await pilot.press("escape")
            await pilot.pause(0.05)
    return times


def results_speed(ws: Workspace) -> None:
    """`brie results` over every judgment (what the Results screen shows): statsmodels' import is
    timed apart, once, since a session pays it only on the first call."""
    from brie.judging.stats import results

    t = time.perf_counter()
    import statsmodels.stats.inter_rater  # noqa: F401
    import statsmodels.stats.proportion  # noqa: F401
    imported = time.perf_counter() - t
    times = []
    for _ in range(3):
        t = time.perf_counter()
        r = results(ws)
        times.append(time.perf_counter() - t)
    print(f"results over {r['judgments']} judgments ({len(r['results'])} groups): median "
          f"{statistics.median(times):.2f} s (runs: {', '.join(f'{x:.2f}' for x in times)}; "
          f"statsmodels import {imported:.2f} s apart)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="Build the workspace in this folder and keep it.")
    args = parser.parse_args()
    root = Path(args.keep or tempfile.mkdtemp(prefix="brie-tui-bench-"))
    load = os.getloadavg()[0]
    print(f"machine: {os.cpu_count()} CPUs, load average {load:.1f} at start"
          + (" (busy: timings below are inflated)" if load > (os.cpu_count() or 1) else ""))
    ws = Workspace.open(root, create=True)
    t = time.perf_counter()
    counts = generate(ws)
    print(f"workspace: {counts['runs']} runs, {counts['checkpoints']} checkpoints, {counts['judgments']} judgments "
          f"(generated in {time.perf_counter() - t:.1f} s) at {root}")
    if not counts["judgments"]:
        print("  (no judgments table in this brie yet: judging not merged)")
    t = time.perf_counter()
    for _ in range(10):
        runs_overview(ws.store)
    print(f"runs overview query: {(time.perf_counter() - t) * 100:.1f} ms")
    if counts["judgments"]:
        results_speed(ws)
    ws.close()

    startup = [asyncio.run(first_screen(root)) for _ in range(3)]
    print(f"time to first screen (100 runs shown): median {statistics.median(startup):.3f} s "
          f"(runs: {', '.join(f'{s:.3f}' for s in startup)}; target < 1 s)")

    quiet = asyncio.run(round_trips(root))
    writer = start_writer(root / "brie.db")
    time.sleep(1.0)
    busy = asyncio.run(round_trips(root))
    writer.terminate()
    writer.wait()
    ws = Workspace.open(root)
    written = ws.store.db.execute("select max(step) from runs where name = 'live'").fetchone()[0]
    ws.close()
    q, b = statistics.median(quiet), statistics.median(busy)
    print(f"open-run round trip: quiet store {q * 1000:.0f} ms, while a run writes {b * 1000:.0f} ms "
          f"({written} metric rows written by the other process); ratio busy/quiet {b / q:.2f}")


if __name__ == "__main__":
    main()
