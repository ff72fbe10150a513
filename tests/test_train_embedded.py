"""The embedded model (SmolLM2-135M-Instruct) trained for a few steps end to end, through the demo step."""

from __future__ import annotations

import pytest

from brie.store import runs as run_rows
from tests.train_helpers import register_dataset, write_chat_data


@pytest.mark.slow
def test_demo_step_trains_the_embedded_model(workspace, embedded_model_dir, tmp_path, monkeypatch):
    from brie.demo import steps as demo
    from brie.models.registry import DEFAULT_MODEL
    from brie.store.models import upsert_model

    upsert_model(workspace.store, DEFAULT_MODEL, "test fixture", str(embedded_model_dir), "local")
    register_dataset(workspace, "demo", write_chat_data(tmp_path / "demo", n_train=8, n_valid=4, word="Squeak!"))
    monkeypatch.setattr(demo, "DEMO_TRAIN", {**demo.DEMO_TRAIN, "iters": 3, "save_every": 2, "eval_every": 2,
                                             "batch_size": 2, "num_layers": 2, "val_batches": 1})
    lines = []
    demo.step_train_demo(workspace, lines.append)
    run = run_rows.get_run(workspace.store, demo.DEMO_RUN)
    assert run["status"] == "completed" and run["step"] == 3 and run["model"] == DEFAULT_MODEL
    assert [c["step"] for c in run_rows.list_checkpoints(workspace.store, run["id"])] == [2, 3]
    assert any("checkpoint demo-lora@2" in l for l in lines) and any(l.startswith("[bold]base:[/]") for l in lines)
    lines.clear()
    demo.step_train_demo(workspace, lines.append)  # a rerun reuses the run: no second run, no retraining
    assert "Reusing the finished demo run demo-lora." in lines
    assert [r["name"] for r in run_rows.list_runs(workspace.store)] == ["demo-lora"]
