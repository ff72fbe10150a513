"""Helpers for the eval tests: LoRA adapters made on the tiny model, and run/checkpoint rows."""

from __future__ import annotations

import json
from pathlib import Path

LORA = {"rank": 4, "scale": 10.0, "dropout": 0.0}


def make_adapter(model_dir: Path, out: Path, seed: int = 1, size: float = 0.5) -> Path:
    """An adapter folder with random (nonzero) LoRA weights, so the model's outputs change."""
    import mlx.core as mx
    from mlx.utils import tree_flatten, tree_map
    from mlx_lm import load
    from mlx_lm.tuner.utils import linear_to_lora_layers

    model, _ = load(str(model_dir))
    model.freeze()
    linear_to_lora_layers(model, 2, LORA)
    mx.random.seed(seed)
    params = tree_map(lambda p: mx.random.normal(p.shape) * size, model.trainable_parameters())
    out.mkdir(parents=True, exist_ok=True)
    mx.save_safetensors(str(out / "adapters.safetensors"), dict(tree_flatten(params)))
    (out / "adapter_config.json").write_text(json.dumps(
        {"fine_tune_type": "lora", "num_layers": 2, "lora_parameters": LORA}))
    return out


def register_run(ws, name: str, model: str, steps: dict[int, Path], best_step: int | None = None,
                 dry_run: int = 0, dataset_id: int | None = None, config: dict | None = None,
                 losses: dict[int, tuple[float, float]] | None = None) -> int:
    """A completed run with checkpoints at the given steps (folders made by make_adapter)."""
    from brie.models.specs import ADAPTER_FILE, sha256_file

    with ws.store.transaction() as db:
        run_id = db["runs"].insert({
            "name": name, "model": model, "dataset_id": dataset_id, "backend": "mlx", "method": "lora",
            "status": "completed", "dry_run": dry_run, "config_json": json.dumps(config or {"iters": max(steps)}),
            "path": str(ws.runs_dir / name), "step": max(steps), "total_steps": max(steps),
            "best_step": best_step, "created_at": "2026-11-22T03:00:00Z",
            "started_at": "2026-11-22T03:00:00Z", "ended_at": "2026-11-22T03:10:00Z",
        }).last_pk
        for step, folder in sorted(steps.items()):
            train, val = (losses or {}).get(step, (None, None))
            db["checkpoints"].insert({"run_id": run_id, "step": step, "path": str(folder),
                                      "adapter_sha256": sha256_file(folder / ADAPTER_FILE),
                                      "train_loss": train, "val_loss": val,
                                      "created_at": "2026-11-22T03:05:00Z"})
            if train is not None:
                db["metrics"].insert({"run_id": run_id, "step": step, "name": "train_loss", "value": train,
                                      "at": "2026-11-22T03:05:00Z"})
            if val is not None:
                db["metrics"].insert({"run_id": run_id, "step": step, "name": "val_loss", "value": val,
                                      "at": "2026-11-22T03:05:00Z"})
    return run_id


def write_mc_task(folder: Path, questions, name: str = "tiny_mc") -> tuple[Path, Path]:
    """(lm-eval task file, its data file) for multiple-choice rows (question, choices, answer index);
    the data file is also a brie `mcq:` file."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / f"{name}.jsonl"
    data.write_text("".join(json.dumps({"question": q, "choices": c, "answer": a}) + "\n" for q, c, a in questions))
    task = folder / f"{name}.yaml"
    task.write_text(f"""task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: answer
metric_list:
  - metric: acc
  - metric: acc_norm
""")
    return task, data
