"""Helpers for the judging tests: a tiny model registered, a checkpoint made on it, a suite."""

from __future__ import annotations

import json
from pathlib import Path

SUITE_LINES = [
    {"id": "p1", "prompt": "Say hello.", "category": "chat"},
    {"id": "p2", "prompt": "Name a colour.", "category": "chat"},
    {"id": "p3", "prompt": "Count to three.", "category": "math", "reference": "1, 2, 3"},
    {"id": "p4", "turns": ["Pick a fruit.", "Now a vegetable."], "category": "chat"},
]


def make_adapter(model_dir: Path, out: Path, seed: int = 1) -> Path:
    """A LoRA adapter on the tiny model with non-zero weights, saved the way mlx_lm.load reads it."""
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm import load
    from mlx_lm.tuner.utils import linear_to_lora_layers

    model, _ = load(str(model_dir))
    params = {"rank": 4, "scale": 10.0, "dropout": 0.0}
    model.freeze()
    linear_to_lora_layers(model, 2, params)
    mx.random.seed(seed)
    weights = {k: mx.random.normal(v.shape) * 0.5 for k, v in tree_flatten(model.trainable_parameters())}
    out.mkdir(parents=True, exist_ok=True)
    mx.save_safetensors(str(out / "adapters.safetensors"), weights)
    (out / "adapter_config.json").write_text(json.dumps(
        {"fine_tune_type": "lora", "num_layers": 2, "lora_parameters": params}))
    return out


def register_run(ws, model_name: str, run: str, step: int, adapter_dir: Path) -> None:
    """A completed run with one checkpoint, written straight into the store (as training would)."""
    from brie.models.specs import sha256_file
    from brie.store import utcnow

    with ws.store.transaction() as db:
        if not list(db["runs"].rows_where("name = ?", [run])):
            db["runs"].insert({"name": run, "model": model_name, "backend": "mlx", "method": "lora",
                               "status": "completed", "path": str(adapter_dir.parent), "best_step": step,
                               "created_at": utcnow()})
        run_id = db.execute("select id from runs where name = ?", [run]).fetchone()[0]
        db["checkpoints"].insert({"run_id": run_id, "step": step, "path": str(adapter_dir),
                                  "adapter_sha256": sha256_file(adapter_dir / "adapters.safetensors"),
                                  "created_at": utcnow()})


def write_suite(path: Path, lines=SUITE_LINES) -> Path:
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return path


def setup_workspace(ws, tiny_model_dir: Path, adapter_dir: Path, suite_lines=SUITE_LINES) -> None:
    """Tiny model registered as `tiny`, run `r1` with a checkpoint at step 10, suite `s`."""
    from brie.models.registry import add_model
    from brie.data.suites import import_suite

    add_model(ws, str(tiny_model_dir), "tiny")
    register_run(ws, "tiny", "r1", 10, adapter_dir)
    import_suite(ws, write_suite(ws.root / "s.jsonl", suite_lines), "s")


MORE_LINES = [{"id": f"q{i}", "prompt": f"Tell me fact number {i}.", "category": "facts"} for i in range(8)]

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def judged_template(tmp_path_factory, tiny_model_dir):
    """A workspace with a 12-prompt suite `s` answered by `base` and `r1@10` (tiny model), built once.

    Tests copy it (`fresh_ws`) so each starts from the same stored generations.
    """
    from brie.models.specs import resolve_specs
    from brie.generation.runner import generate_suite
    from brie.workspace import Workspace

    root = tmp_path_factory.mktemp("judge-template")
    adapter = make_adapter(tiny_model_dir, root / "adapters" / "r1" / "10")
    ws = Workspace.open(root / "ws", create=True)
    setup_workspace(ws, tiny_model_dir, adapter, SUITE_LINES + MORE_LINES)
    generate_suite(ws, "s", resolve_specs(ws, "base,r1@10"), max_tokens=8)
    ws.store.db.execute("pragma wal_checkpoint(truncate)")
    ws.close()
    return root / "ws"


@pytest.fixture
def fresh_ws(judged_template, tmp_path, monkeypatch):
    import shutil

    from brie.workspace import Workspace

    dest = tmp_path / "ws"
    shutil.copytree(judged_template, dest)
    monkeypatch.setenv("BRIE_HOME", str(dest))
    ws = Workspace.open(dest)
    yield ws
    ws.close()
