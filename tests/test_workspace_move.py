"""A workspace copied to another folder works there: the store keeps paths relative to it."""

from __future__ import annotations

import shutil
import sqlite3

from brie.data.datasets import ImportOptions, import_dataset
from brie.models.registry import add_model, resolve_model
from brie.models.specs import resolve_specs
from brie.store import Store
from brie.store import runs as run_rows
from brie.training.lifecycle import resume_training, train
from brie.workspace import Workspace
from tests.train_helpers import tiny_config, write_chat_data


def test_a_copied_workspace_finds_its_model_data_and_checkpoints(tmp_path, tiny_model_dir):
    ws = Workspace.open(tmp_path / "laptop", create=True)
    shutil.copytree(tiny_model_dir, ws.models_dir / "tiny")
    add_model(ws, str(ws.models_dir / "tiny"), "tiny")
    source = write_chat_data(tmp_path / "raw")
    import_dataset(ws, str(source / "train.jsonl"), "sums", ImportOptions(seed=0))
    folder_data = write_chat_data(ws.data_dir / "plain")
    train(ws, tiny_config("tiny", "sums", iters=2, save_every=2, eval_every=2), "r1")
    # r2: the model, data and forgetting guard as folders inside the workspace, not by name
    train(ws, tiny_config(str(ws.models_dir / "tiny"), str(folder_data), iters=2, save_every=2, eval_every=2,
                          guard_data=str(folder_data)), "r2")
    stored = [*ws.store.db.execute("select path from models where name = 'tiny'"),
              *ws.store.db.execute("select path from datasets"),
              *ws.store.db.execute("select path from runs"),
              *ws.store.db.execute("select data from runs where name = 'r2' union all select model from runs"),
              *ws.store.db.execute("select path from checkpoints")]
    assert stored and all(not p.startswith("/") for (p,) in stored), stored
    ws.close()

    shutil.copytree(tmp_path / "laptop", tmp_path / "gpu-box")
    shutil.rmtree(tmp_path / "laptop")  # nothing may still point there
    moved = Workspace.open(tmp_path / "gpu-box")
    assert resolve_model(moved, "tiny") == str(moved.root / "models" / "tiny")
    (spec,) = resolve_specs(moved, "r1@last")
    assert spec.adapter_path == str(moved.root / "runs" / "r1" / "checkpoints" / "2")
    (spec,) = resolve_specs(moved, "r2@last")
    assert resolve_model(moved, spec.model) == str(moved.root / "models" / "tiny")
    assert train(moved, tiny_config("tiny", "sums", iters=2, save_every=2, eval_every=2), "r3")["status"] == "completed"
    # r2 resumes from its stored (relative) model, data and guard paths, in the new place
    run_rows.update_run(moved.store, run_rows.get_run(moved.store, "r2")["id"], status="failed")
    assert resume_training(moved, "r2")["status"] == "completed"
    moved.close()


def test_the_migration_makes_paths_under_the_workspace_relative(tmp_path):
    root = tmp_path.resolve()
    db = sqlite3.connect(root / "brie.db")
    Store(root / "brie.db").close()  # every migration, on an empty store
    db.execute("delete from _migrations where name = 'm060_relative_paths'")
    db.execute("insert into models (name, source, path, kind, added_at) values (?, ?, ?, ?, ?)",
               ["inside", "x", str(root / "models" / "inside"), "local", "t"])
    db.execute("insert into models (name, source, path, kind, added_at) values (?, ?, ?, ?, ?)",
               ["outside", "x", "/somewhere/else/model", "local", "t"])
    db.commit()
    db.close()
    store = Store(root / "brie.db")  # applies m060 again, to the rows an older brie wrote
    paths = dict(store.db.execute("select name, path from models").fetchall())
    store.close()
    assert paths == {"inside": "models/inside", "outside": "/somewhere/else/model"}
