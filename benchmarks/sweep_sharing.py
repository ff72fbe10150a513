"""Checkpoint sweep on the embedded model: the shared frozen trunk vs one model at a time.

The base and 8 checkpoints of a LoRA on the top 8 of the embedded model's 30 layers are evaluated
on perplexity, multiple choice (log-likelihood) and the same questions as an lm-eval task (a local
task file, scored through lm-eval and mlx-lm's harness adapter), through `brie.evals.runner.evaluate` both ways:
shared (all nine models in one call: the base model is loaded once and layers 0-21 run once per
item, brie.evals.sweep) and one at a time (one call per model, each loading its model, as before).
The checkpoints are not trained: each is a LoRA with random weights (seeded), saved in mlx-lm's
adapter format, which costs the same to evaluate as a trained one and makes every model's numbers
differ. Each (round, side) reads its own copy of the data files, so no side finds the other's stored
results. The order of the sides alternates every round; the script prints the per-round ratio
(min / median / max), the load average, and whether both sides stored the same metrics.

Then generation: the same nine models answer a prompt suite greedily through
`brie.generation.runner.generate_suite`, shared (one call: each prompt's lower layers and their KV
cache once, every model's rows decoded together, brie.generation.mlx_engine.generate_shared) vs one
model per call; each (round, side) imports its own copy of the suite, so nothing is found stored.
It prints the same spread and whether both sides gave the same answers.

Usage: .venv/bin/python benchmarks/sweep_sharing.py [--rounds 2] [--items 4] [--checkpoints 8]
       [--layers 8] [--prompts 8] [--max-tokens 32] [--home /tmp/brie-sweep-bench]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LORA = {"rank": 8, "scale": 20.0, "dropout": 0.0}  # mlx-lm's defaults


def make_checkpoints(ws, run: str, model_dir: Path, count: int, layers: int) -> dict[int, Path]:
    """`count` adapter folders with random LoRA weights on the top `layers` layers (seeded)."""
    import mlx.core as mx
    from mlx.utils import tree_flatten, tree_map
    from mlx_lm import load
    from mlx_lm.tuner.utils import linear_to_lora_layers

    model, _ = load(str(model_dir))
    model.freeze()
    linear_to_lora_layers(model, layers, LORA)
    folders = {}
    for n in range(1, count + 1):
        mx.random.seed(n)
        params = tree_map(lambda p: mx.random.normal(p.shape) * 0.02, model.trainable_parameters())
        folder = ws.runs_dir / run / "checkpoints" / str(100 * n)
        folder.mkdir(parents=True, exist_ok=True)
        mx.save_safetensors(str(folder / "adapters.safetensors"), dict(tree_flatten(params)))
        (folder / "adapter_config.json").write_text(json.dumps(
            {"fine_tune_type": "lora", "num_layers": layers, "lora_parameters": LORA}))
        folders[100 * n] = folder
    return folders


def write_data(folder: Path, items: int) -> tuple[Path, Path, Path]:
    """A perplexity folder (chat rows), a multiple-choice file and an lm-eval task file over the same
    questions, `items` rows each."""
    from tests.evalkit import write_mc_task
    from tests.train_helpers import write_chat_data

    write_chat_data(folder / "chat", n_train=1, n_valid=1)
    rows = (folder / "chat" / "test.jsonl").read_text().splitlines()
    (folder / "chat" / "test.jsonl").write_text("".join(r + "\n" for r in (rows * items)[:items]))
    questions = [("What is the capital of France?", ["Paris", "Berlin", "Rome", "Madrid"], 0),
                 ("Which animal barks?", ["cat", "dog", "fish", "bird"], 1),
                 ("What colour is the sky on a clear day?", ["green", "red", "blue", "black"], 2),
                 ("How many legs does a spider have?", ["six", "four", "ten", "eight"], 3)]
    task, mcq = write_mc_task(folder, (questions * items)[:items], "sweep_mc")
    return folder / "chat", mcq, task


def main() -> None:
    from brie.blas import ensure_fast_blas

    ensure_fast_blas([str(Path(__file__).resolve()), *sys.argv[1:]])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, help="rounds, each running both sides")
    parser.add_argument("--items", type=int, default=4, help="items per benchmark")
    parser.add_argument("--checkpoints", type=int, default=8, help="checkpoints besides the base")
    parser.add_argument("--layers", type=int, default=8, help="top layers the LoRA adapts")
    parser.add_argument("--prompts", type=int, default=8, help="prompts in the generation suite (0: no generation part)")
    parser.add_argument("--max-tokens", type=int, default=32, help="most tokens per generated answer")
    parser.add_argument("--home", default="/tmp/brie-sweep-bench", help="workspace (kept: the model converts once)")
    args = parser.parse_args()

    from benchmarks.side_by_side import load_average, spread
    from brie.evals import parse_benchmarks
    from brie.evals.runner import evaluate, sweep_specs
    from brie.models.registry import DEFAULT_MODEL, prepare_default_model
    from brie.store import runs as run_rows
    from brie.workspace import Workspace
    from tests.evalkit import register_run

    ws = Workspace.open(Path(args.home), create=True)
    model_dir = prepare_default_model(ws)
    run = f"top{args.layers}-{time.strftime('%H%M%S')}"
    if run_rows.get_run(ws.store, run) is None:
        register_run(ws, run, DEFAULT_MODEL, make_checkpoints(ws, run, model_dir, args.checkpoints, args.layers))
    specs = sweep_specs(ws, run)
    n_layers = json.loads((model_dir / "config.json").read_text())["num_hidden_layers"]
    print(f"{len(specs)} models (base + {len(specs) - 1} checkpoints), LoRA on the top {args.layers} of "
          f"{n_layers} layers; perplexity, mcq and an lm-eval task, {args.items} items each", file=sys.stderr)
    from brie.models.registry import load_model

    load_model(ws, DEFAULT_MODEL)  # imports (mlx-lm, transformers) and the file cache warm before any timing

    def shared(tag):
        return evaluate(ws, specs, benches_for(tag))

    def one_at_a_time(tag):
        benches = benches_for(tag)
        return [r for spec in specs for r in evaluate(ws, [spec], benches)]

    def benches_for(tag):
        folder = Path(args.home) / "data" / run / tag
        if folder.exists():
            shutil.rmtree(folder)
        chat, mcq, task = write_data(folder, args.items)
        return parse_benchmarks(f"perplexity:{chat},mcq:{mcq},lm-eval:{task}")

    for bench in benches_for("warm-up"):  # lm-eval and datasets imported before any timing too
        bench.items(ws)
    print(f"start: {load_average()}")

    def same_metrics(shared_results, alone_results):
        ours, theirs = ([(x["label"], x["benchmark"].split(":")[0], x["metrics"]) for x in results]
                        for results in (shared_results, alone_results))
        return len(ours) == len(theirs) and all(
            a[:2] == b[:2] and all(abs(a[2][k] - b[2][k]) <= 1e-4 * max(1.0, abs(b[2][k])) for k in b[2])
            for a, b in zip(ours, theirs))

    ratios, agree = compare_rounds(args.rounds, shared, one_at_a_time, same_metrics, "metrics")
    print(f"one at a time / shared: {spread(ratios)} (target >= 2.5x)")
    print(f"every metric equal within 1e-4: {agree}")
    if args.prompts:
        generation(ws, specs, args, run)
    print(f"end: {load_average()}")


TOPICS = ["the sea", "a mountain", "bread", "the moon", "a river", "winter", "a library", "music", "trains",
          "gardens", "bees", "clocks"]


def generation(ws, specs, args, run: str) -> None:
    """Greedy answers to a prompt suite by every model: shared (one call) vs one model per call."""
    from benchmarks.side_by_side import spread
    from brie.data.suites import import_suite
    from brie.generation.runner import generate_suite

    print(f"generation: {len(specs)} models answer {args.prompts} prompts, greedy, at most {args.max_tokens} tokens")

    def suite_for(tag):
        path = Path(args.home) / "data" / run / f"suite-{tag}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"Write two sentences about {TOPICS[i % len(TOPICS)]}."
                                            + " Be brief." * (i % 3)}) + "\n" for i in range(args.prompts)))
        import_suite(ws, path, f"{run}-{tag}")
        return f"{run}-{tag}"

    def texts(out):
        """{(label, prompt position): answers} of what generate_suite returned."""
        return {(label, ws.store.db["prompts"].get(pid)["idx"]): ws.store.db["generations"].get(gid)["answers_json"]
                for label, ids in out.items() for (pid, _), gid in ids.items()}

    def shared(tag):
        suite = suite_for(tag)
        return texts(generate_suite(ws, suite, specs, max_tokens=args.max_tokens))

    def one_at_a_time(tag):
        suite = suite_for(tag)
        out = {}
        for spec in specs:
            out.update(generate_suite(ws, suite, [spec], max_tokens=args.max_tokens))
        return texts(out)

    ratios, agree = compare_rounds(args.rounds, shared, one_at_a_time, lambda x, y: x == y, "answers")
    print(f"generation, one at a time / shared: {spread(ratios)}")
    print(f"every answer the same: {agree}")


def compare_rounds(rounds: int, shared, one_at_a_time, same, what: str) -> tuple[list[float], bool]:
    """Both sides once per round, order alternating, each called with a tag of its own; prints each
    round and returns the per-round ratios (one at a time / shared) and whether `same(shared's,
    one at a time's)` held in every round."""
    from benchmarks.side_by_side import in_turn

    ratios, agree = [], True
    for r in range(rounds):
        times, results = {}, {}
        for name, side in in_turn(r, ("shared", shared), ("one at a time", one_at_a_time)):
            start = time.perf_counter()
            results[name] = side(f"{time.strftime('%H%M%S')}-{r}-{name.replace(' ', '-')}")
            times[name] = time.perf_counter() - start
        ok = same(results["shared"], results["one at a time"])
        agree &= ok
        ratios.append(times["one at a time"] / times["shared"])
        print(f"round {r + 1}: shared {times['shared']:.1f} s, one at a time {times['one at a time']:.1f} s, "
              f"ratio {ratios[-1]:.2f}x, same {what}: {ok}")
    return ratios, agree


if __name__ == "__main__":
    main()
