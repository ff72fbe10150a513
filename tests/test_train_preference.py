"""Preference training (`brie train --method dpo|orpo`) on the tiny model, through mlx-lm-lora's losses.

The synthetic set: every chosen answer ends with a marker word the rejected one lacks, so a model
that learns the preference ranks held-out pairs right and its reward margin grows.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brie.cli import app
from brie.store import runs as run_rows
from tests.train_helpers import StopAt, tiny_config

TOL = 1e-5


def write_pairs(folder: Path, n_train: int = 24, n_valid: int = 8, seed: int = 0) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rnd = random.Random(seed)

    def pair():
        a, b = rnd.randint(1, 50), rnd.randint(1, 50)
        return {"prompt": f"add {a} {b}", "chosen": f"{a + b} cheese", "rejected": f"{a + b} bread"}

    for split, n in (("train", n_train), ("valid", n_valid)):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(pair()) + "\n" for _ in range(n)))
    return folder


def series(ws, run, name):
    row = run_rows.get_run(ws.store, run)
    return {m["step"]: m["value"] for m in run_rows.get_metrics(ws.store, row["id"], name)}


def test_dpo_learns_the_preference_and_reports_what_mlx_lm_lora_computes(workspace, tiny_model_dir, tmp_path):
    import mlx.core as mx
    from mlx_lm_lora.trainer.datasets import DPODataset
    from mlx_lm_lora.trainer.dpo_trainer import evaluate_dpo

    from brie.models.registry import load_model
    from brie.training.lifecycle import train

    data = write_pairs(tmp_path / "prefs")
    cfg = tiny_config(tiny_model_dir, data, method="dpo", beta=0.1, iters=12, save_every=6, eval_every=6,
                      steps_per_report=3, batch_size=2, val_batches=-1)
    run = train(workspace, cfg, "dpo")
    assert run["status"] == "completed" and run["method"] == "dpo lora"
    acc, margin = series(workspace, "dpo", "val_preference_accuracy"), series(workspace, "dpo", "val_reward_margin")
    loss = series(workspace, "dpo", "val_loss")
    assert sorted(margin) == [0, 6, 12]
    assert abs(loss[0] - 0.6931472) < 1e-5 and margin[0] == 0  # the policy starts as its reference
    assert acc[12] > 0.5 and 0 < margin[6] < margin[12]  # held-out pairs: above chance, margin growing
    assert loss[12] < loss[6] < loss[0]
    for name in ("train_loss", "reward_chosen", "reward_rejected", "reward_margin", "preference_accuracy"):
        assert sorted(series(workspace, "dpo", name)) == [3, 6, 9, 12]

    # The recorded validation numbers are mlx-lm-lora's own evaluate_dpo on the saved checkpoint.
    ckpt = workspace.runs_dir / "dpo" / "checkpoints" / "12"
    model, tok = load_model(None, str(tiny_model_dir), adapter_path=ckpt)
    ref, _ = load_model(None, str(tiny_model_dir))
    rows = [json.loads(x) for x in (data / "valid.jsonl").read_text().splitlines()]
    mx.random.seed(0)
    val, rewards, _, metrics = evaluate_dpo(model, ref, DPODataset(rows, tok), 2, -1, beta=0.1, delta=50.0,
                                            max_seq_length=cfg.max_seq_length, loss_type="sigmoid")
    assert abs(val - loss[12]) < 1e-4 and abs(metrics["margins"] - margin[12]) < 1e-3
    assert abs(metrics["accuracies"] - acc[12]) < 1e-6


def test_interrupted_dpo_run_resumes_to_the_losses_of_an_uninterrupted_one(workspace, tiny_model_dir, tmp_path):
    from brie.training.lifecycle import resume_training, train

    data = write_pairs(tmp_path / "prefs")
    settings = dict(method="dpo", iters=10, save_every=3, eval_every=3, steps_per_report=1, batch_size=2,
                    grad_accumulation_steps=2, dropout=0.1, val_batches=2, seed=3)
    # Stopped at step 5: after the checkpoint at 3, taken in the middle of gradient accumulation.
    stopped = train(workspace, tiny_config(tiny_model_dir, data, **settings), "stopped", callback=StopAt(5))
    assert stopped["status"] == "cancelled"
    resumed = resume_training(workspace, "stopped")
    assert resumed["status"] == "completed"
    train(workspace, tiny_config(tiny_model_dir, data, **settings), "straight")
    for name in ("train_loss", "reward_margin", "val_loss", "val_preference_accuracy"):
        a, b = series(workspace, "stopped", name), series(workspace, "straight", name)
        assert sorted(a) == sorted(b) and a, name
        assert max(abs(a[s] - b[s]) for s in b) <= TOL, name
    ckpts = run_rows.list_checkpoints(workspace.store, resumed["id"])
    assert [c["step"] for c in ckpts] == [3, 6, 9, 10]


def test_orpo_trains_and_the_method_must_match_the_data(workspace, tiny_model_dir, tmp_path):
    from brie.errors import BrieError
    from brie.training.lifecycle import train
    from tests.train_helpers import write_chat_data

    prefs = write_pairs(tmp_path / "prefs")
    run = train(workspace, tiny_config(tiny_model_dir, prefs, method="orpo", iters=4, save_every=4, batch_size=2),
                "orpo")
    assert run["status"] == "completed" and sorted(series(workspace, "orpo", "val_reward_margin")) == [0, 4]
    # The recorded validation numbers are mlx-lm-lora's own evaluate_orpo on the saved checkpoint.
    import mlx.core as mx
    from mlx_lm_lora.trainer.datasets import ORPODataset
    from mlx_lm_lora.trainer.orpo_trainer import evaluate_orpo

    from brie.models.registry import load_model

    model, tok = load_model(None, str(tiny_model_dir), adapter_path=workspace.runs_dir / "orpo" / "checkpoints" / "4")
    rows = [json.loads(x) for x in (prefs / "valid.jsonl").read_text().splitlines()]
    mx.random.seed(0)
    loss, _, _, metrics = evaluate_orpo(model, ORPODataset(rows, tok, system_key="system"), 2, 2, beta=0.1,
                                        max_seq_length=tiny_config(tiny_model_dir, prefs).max_seq_length)
    assert abs(loss - series(workspace, "orpo", "val_loss")[4]) < 1e-4
    assert abs(metrics["margins"] - series(workspace, "orpo", "val_reward_margin")[4]) < 1e-4
    with pytest.raises(BrieError, match="--method dpo or --method orpo"):
        train(workspace, tiny_config(tiny_model_dir, prefs, iters=2), "sft-on-pairs")
    with pytest.raises(BrieError, match="trains on preference pairs"):
        train(workspace, tiny_config(tiny_model_dir, write_chat_data(tmp_path / "chat"), method="dpo"), "dpo-on-chat")
    assert run_rows.get_run(workspace.store, "dpo-on-chat") is None  # refused before the run existed

    # mlx-lm-lora's config keys mean the same here
    from brie.training.config import resolve_config

    (tmp_path / "c.yaml").write_text("train_mode: dpo\ndpo_cpo_loss_type: ipo\nbeta: 0.3\n")
    cfg = resolve_config(tmp_path / "c.yaml", {"data": str(prefs)})
    assert (cfg.method, cfg.dpo_loss_type, cfg.beta) == ("dpo", "ipo", 0.3)
    (tmp_path / "c.yaml").write_text("train_mode: grpo\n")
    with pytest.raises(BrieError, match="line 1: train_mode='grpo': choose one of sft, dpo, orpo"):
        resolve_config(tmp_path / "c.yaml", {"data": str(prefs)})


def test_preference_jsonl_import_follows_the_import_rules(workspace, tmp_path):
    good = tmp_path / "pairs.jsonl"
    rows = [{"prompt": f"q{i}", "chosen": f"good {i}", "rejected": f"bad {i}", "extra": 1} for i in range(10)]
    good.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = CliRunner().invoke(app, ["data", "import", str(good), "--name", "p", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["dataset"]["format"] == "preference" and out["report"]["extra_fields_dropped"] == {"extra": 10}
    assert sum(out["dataset"][f"rows_{s}"] for s in ("train", "valid", "test")) == 10
    line = json.loads((Path(out["dataset"]["path"]) / "train.jsonl").read_text().splitlines()[0])
    assert set(line) == {"prompt", "chosen", "rejected"}

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(rows[0]) + "\n" + json.dumps({"prompt": "q", "chosen": "x", "rejected": None}) + "\n"
                   + json.dumps({"prompt": "q", "chosen": "same", "rejected": "same"}) + "\n")
    r = CliRunner().invoke(app, ["data", "import", str(bad), "--name", "b"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "line 2: field 'rejected' is null" in r.output and "line 3: chosen and rejected are the same" in r.output


def test_dpo_training_reports_what_mlx_lm_lora_train_dpo_reports(workspace, tiny_model_dir, tmp_path, monkeypatch):
    """brie's loop against mlx-lm-lora's own train_dpo, step for step, with gradient accumulation. One batch
    of pairs, so the batch order (theirs draws it from numpy's global generator) is the same on both sides."""
    import mlx.core as mx
    import mlx.optimizers as optim
    from mlx_lm.tuner.callbacks import TrainingCallback
    from mlx_lm.tuner.utils import linear_to_lora_layers
    from mlx_lm_lora.trainer.datasets import DPODataset
    from mlx_lm_lora.trainer.dpo_trainer import DPOTrainingArgs, train_dpo

    from brie.models.registry import load_model
    from brie.training.lifecycle import train

    data = write_pairs(tmp_path / "prefs", n_train=2, n_valid=0)
    cfg = tiny_config(tiny_model_dir, data, method="dpo", beta=0.1, iters=6, save_every=6, steps_per_report=1,
                      batch_size=2, grad_accumulation_steps=2, seed=5)
    assert train(workspace, cfg, "ours")["status"] == "completed"

    if "max_recommended_working_set_size" not in mx.device_info():  # a Metal value train_dpo asks for
        info = mx.device_info
        monkeypatch.setattr(mx, "device_info", lambda: {**info(), "max_recommended_working_set_size": 0})
        monkeypatch.setattr(mx, "set_wired_limit", lambda limit: 0)
    model, tok = load_model(None, str(tiny_model_dir))
    reference, _ = load_model(None, str(tiny_model_dir))
    reference.freeze()
    mx.random.seed(cfg.seed)  # the LoRA initialisation brie draws
    model.freeze()
    linear_to_lora_layers(model, len(model.layers), cfg.lora_parameters())
    reports = {}

    class Record(TrainingCallback):
        def on_train_loss_report(self, info):
            reports[info["iteration"]] = info

    rows = [json.loads(x) for x in (data / "train.jsonl").read_text().splitlines()]
    args = DPOTrainingArgs(batch_size=2, iters=6, steps_per_report=1, steps_per_save=100, gradient_accumulation_steps=2,
                           adapter_file=str(tmp_path / "theirs.safetensors"), max_seq_length=cfg.max_seq_length,
                           beta=0.1, loss_type="sigmoid")
    train_dpo(model, reference, optim.Adam(learning_rate=cfg.learning_rate), DPODataset(rows, tok), None, args=args,
              training_callback=Record(), loss_type="sigmoid")
    assert sorted(reports) == list(range(1, 7))
    for ours, theirs in (("train_loss", "train_loss"), ("reward_chosen", "train_chosen_reward"),
                         ("reward_rejected", "train_rejected_reward"), ("reward_margin", "train_margins"),
                         ("preference_accuracy", "train_accuracies"), ("trained_tokens", "trained_tokens")):
        got = series(workspace, "ours", ours)
        assert sorted(got) == list(range(1, 7)), ours
        assert max(abs(got[s] - float(reports[s][theirs])) for s in got) <= TOL, ours
    assert series(workspace, "ours", "reward_margin")[6] > 0  # it learned something, so the match means something


def test_preference_split_reader_raises_only_one_line_brie_errors(tmp_path):
    from hypothesis import given
    from hypothesis import strategies as st

    from brie.errors import BrieError
    from brie.training.preference import read_pairs
    from tests.test_hostile_input import FAST, JSON_VALUES, TEXT, _encode, json_texts

    row = st.fixed_dictionaries({k: st.one_of(TEXT, JSON_VALUES) for k in ("prompt", "chosen", "rejected")},
                                optional={"system": st.one_of(st.none(), TEXT, JSON_VALUES)})
    lines = st.one_of(row.map(lambda r: json.dumps(r, ensure_ascii=False)), json_texts()).map(_encode)
    path = tmp_path / "train.jsonl"

    @FAST
    @given(st.lists(st.one_of(lines, st.binary(max_size=20)), max_size=5))
    def check(chunks):
        path.write_bytes(b"\n".join(chunks))
        try:
            rows = read_pairs(path)
        except BrieError as e:
            assert str(e).startswith(f"{path} line ") and "\n" not in str(e)
            return
        for r in rows or []:
            assert all(isinstance(r[k], str) for k in ("prompt", "chosen", "rejected"))
            assert isinstance(r.get("system", ""), str)

    check()
