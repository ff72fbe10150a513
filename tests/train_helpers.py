"""Helpers for the training tests: a small chat dataset on disk, registered like the data step does."""

from __future__ import annotations

import json
import random
from pathlib import Path

from brie.store import utcnow
from brie.training.context import TrainCallback


def write_chat_data(folder: Path, n_train: int = 48, n_valid: int = 16, seed: int = 0, word: str = "cheese") -> Path:
    """train/valid/test.jsonl in mlx-lm's chat format: short sums answered with a fixed word."""
    folder.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(seed)

    def example():
        a, b = rnd.randint(1, 50), rnd.randint(1, 50)
        return {"messages": [{"role": "user", "content": f"add {a} {b}"},
                             {"role": "assistant", "content": f"{a + b} {word}"}]}

    for split, n in (("train", n_train), ("valid", n_valid), ("test", 8)):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(example()) + "\n" for _ in range(n)))
    return folder


def write_text_data(folder: Path, n: int = 16) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [{"text": f"The weather on day {i} was mild and the river was calm."} for i in range(n)]
    (folder / "valid.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines))
    return folder


def register_dataset(ws, name: str, folder: Path, version: int = 1) -> int:
    """A datasets row as `brie data import` writes it, for folders the test wrote itself."""
    with ws.store.transaction() as db:
        db["datasets"].insert({"name": name, "version": version, "sha256": "test-" + name, "format": "chat",
                               "source": "test", "path": str(folder), "sample_ratio": 1.0, "seed": 0,
                               "rows_train": 48, "rows_valid": 16, "rows_test": 8, "created_at": utcnow()})
        return db.execute("select last_insert_rowid()").fetchone()[0]


def tiny_config(model: Path, data: Path, **kw):
    from brie.training.config import resolve_config

    values = dict(model=str(model), data=str(data), iters=12, save_every=4, eval_every=4, steps_per_report=2,
                  batch_size=4, num_layers=-1, learning_rate=1e-3, val_batches=2)
    values.update(kw)
    return resolve_config(None, values)


class StopAt(TrainCallback):
    """Interrupts the run at one step, as Ctrl-C would."""

    def __init__(self, step):
        self.step = step

    def on_step(self, step):
        if step == self.step:
            raise KeyboardInterrupt
