"""Training config errors and up-front checks, and looking after runs: delete, prune, cancel,
recommended/best, --grad-clip none, messages for runs without a step, units and plurals."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from brie.models.specs import resolve_spec
from brie.errors import BrieError
from brie.store import runs as run_rows
from brie.store import utcnow
from brie.training.context import TrainCallback
from brie.training.lifecycle import create_run, train
from brie.training.config import resolve_config, value_problem
from tests.train_helpers import tiny_config, write_chat_data


def cli(*args):
    from brie.cli import app

    return CliRunner().invoke(app, list(args))


@pytest.fixture
def data_dir(tmp_path):
    return write_chat_data(tmp_path / "chat")


def no_runs(ws):
    return run_rows.list_runs(ws.store) == [] and not any(ws.runs_dir.iterdir())


# ---------------------------------------------------------------- 1. wrong types in a config file


@pytest.mark.parametrize("text, message", [
    ('iters: 5\nrank: "eight"\n', r"run.yaml line 2: rank='eight': expected a whole number"),
    ("learning_rate: abc\n", r"run.yaml line 1: learning_rate='abc': expected a number"),
    ("iters: 5\nlora_parameters:\n  rank: 8\n  dropout: lots\n",
     r"run.yaml line 4: lora_parameters.dropout='lots': expected a number"),
    ("mask_prompt: maybe\n", r"run.yaml line 1: mask_prompt='maybe': expected true or false"),
    ("optimizer_config: 3\n", r"run.yaml line 1: optimizer_config=3: expected a mapping"),
    ("batch_size: 2.5\n", r"run.yaml line 1: batch_size=2.5: expected a whole number"),
])
def test_yaml_wrong_type_is_one_line_naming_file_line_key_value(tmp_path, text, message):
    yml = tmp_path / "run.yaml"
    yml.write_text(text)
    with pytest.raises(BrieError, match=message.replace(".", r"\.").replace("(", r"\(")):
        resolve_config(yml, {"data": "x"})


def test_yaml_wrong_type_on_the_command_line_has_no_traceback(tmp_path, workspace):
    yml = tmp_path / "run.yaml"
    yml.write_text('rank: "eight"\n')
    r = cli("train", "--data", "x", "--config", str(yml))
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert r.output.strip().splitlines() == [f"error: {yml} line 1: rank='eight': expected a whole number"]
    # YAML's "1e-4" is a string to PyYAML; it is still a number
    yml.write_text("learning_rate: 1e-4\nrank: '16'\n")
    cfg = resolve_config(yml, {"data": "x"})
    assert cfg.learning_rate == 1e-4 and cfg.rank == 16


# ---------------------------------------------------------------- 2. numbers out of range


@pytest.mark.parametrize("field, value, message", [
    ("learning_rate", 0, "--learning-rate 0: must be positive"),
    ("learning_rate", -1e-4, "--learning-rate -0.0001: must be positive"),
    ("rank", 0, "--rank 0: must be at least 1"),
    ("alpha", -2, "--alpha -2: must be positive"),
    ("batch_size", 0, "--batch-size 0: must be at least 1"),
    ("iters", 0, "--iters 0: must be at least 1"),
    ("epochs", 0, "--epochs 0: must be positive"),
    ("save_every", -5, "--save-every -5: must be at least 1"),
    ("eval_every", 0, "--eval-every 0: must be at least 1"),
    ("max_seq_length", 0, "--max-seq-length 0: must be at least 1"),
    ("grad_accumulation_steps", 0, "--grad-accumulation-steps 0: must be at least 1"),
    ("dropout", 1.0, "--dropout 1: must be at least 0 and below 1"),
    ("dropout", -0.1, "--dropout -0.1: must be at least 0 and below 1"),
    ("weight_decay", -0.01, "--weight-decay -0.01: must be 0 or more"),
    ("warmup_steps", -1, "--warmup-steps -1: must be 0 or more"),
    ("num_layers", 0, "--num-layers 0: must be at least 1, or -1 for all"),
    ("val_batches", -2, "--val-batches -2: must be at least 1, or -1 for all"),
    ("early_stopping_patience", 0, "--early-stopping-patience 0: must be at least 1"),
    ("report_to", "foo", "--report-to foo: 'foo' is not one of wandb, tensorboard"),
])
def test_numbers_out_of_range_are_refused_in_one_place(field, value, message):
    with pytest.raises(BrieError) as e:
        resolve_config(None, {"data": "x", field: value})
    assert str(e.value) == message
    # the same rule, for the UI's form
    assert value_problem(field, value) is not None


def test_out_of_range_in_a_file_and_the_ui_form(tmp_path, workspace):
    yml = tmp_path / "run.yaml"
    yml.write_text("iters: 10\nlearning_rate: 0\n")
    with pytest.raises(BrieError, match=r"run\.yaml line 2: learning_rate=0\.0: must be positive"):
        resolve_config(yml, {"data": "x"})
    r = cli("train", "--data", "x", "--lr", "0")
    assert r.exit_code == 1 and r.output.strip() == "error: --learning-rate 0: must be positive"
    from tui.screens.new_run import build_request

    _, problems = build_request({"name": "r", "data": "d", "learning_rate": "0", "save_every": "0"}, taken=set())
    assert problems == ["Learning rate: must be positive.", "Save every: must be at least 1."]


# ---------------------------------------------------------------- 5. --grad-clip none


def test_grad_clip_none_or_zero_disables_clipping(tmp_path):
    for given in ("none", "None", "0", 0, None):
        assert resolve_config(None, {"data": "x", "grad_clip": given}).grad_clip is None
    assert resolve_config(None, {"data": "x", "grad_clip": "1.5"}).grad_clip == 1.5
    yml = tmp_path / "run.yaml"
    yml.write_text("grad_clip: none\n")
    assert resolve_config(yml, {"data": "x", "grad_clip": None}).grad_clip is None
    with pytest.raises(BrieError, match="--grad-clip -1: must be positive"):
        resolve_config(None, {"data": "x", "grad_clip": "-1"})


# ---------------------------------------------------------------- 3. checks before the run exists


def test_every_up_front_check_runs_before_the_run_exists(workspace, tiny_model_dir, data_dir, tmp_path):
    no_valid = write_chat_data(tmp_path / "no-valid", n_valid=0)
    cases = [
        (dict(batch_size=64), r"48 examples, fewer than batch_size=64; lower --batch-size to 48"),
        (dict(model=str(tmp_path / "nowhere")), r"not a registered model, a model folder"),
        (dict(num_layers=5), r"num_layers=5: the model has only 2 layers"),
        (dict(data=str(no_valid), early_stopping_patience=2), r"early stopping watches the validation loss"),
        (dict(guard_data=str(tmp_path / "no-guard")), r"--guard-data '.*no-guard': no dataset of that name"),
    ]
    if importlib.util.find_spec("wandb") is None:
        cases.append((dict(report_to="wandb"), r"--report-to wandb needs wandb"))
    for kw, message in cases:
        cfg = tiny_config(kw.pop("model", tiny_model_dir), kw.pop("data", data_dir), **kw)
        with pytest.raises(BrieError, match=message):
            create_run(workspace, cfg, "taken-if-created")
        assert no_runs(workspace), kw

    # the same on the command line: one line, and the name stays free
    base = ["train", "--model", str(tiny_model_dir), "--num-layers", "-1", "--name", "n1"]
    for extra, message in [(["--data", str(data_dir), "--report-to", "foo"], "--report-to foo"),
                           (["--data", str(data_dir), "--batch-size", "100"], "fewer than batch_size=100"),
                           (["--data", str(tmp_path / "missing")], "no dataset of that name")]:
        r = cli(*base, *extra)
        assert r.exit_code == 1 and message in r.output and "Traceback" not in r.output, r.output
        assert len(r.output.strip().splitlines()) == 1, r.output
    r = cli("train", "--resume", "ghost")
    assert r.exit_code == 1 and r.output.strip() == "error: no run named 'ghost' (see `brie runs list`)"
    assert no_runs(workspace)


def test_resume_refuses_new_settings(workspace, tiny_model_dir, data_dir):
    run = create_run(workspace, tiny_config(tiny_model_dir, data_dir), "paused")
    run_rows.update_run(workspace.store, run["id"], status="cancelled")
    r = cli("train", "--resume", "paused", "--lr", "0.1", "--rank", "4")
    assert r.exit_code == 1 and "continues the run with the settings it started with" in r.output
    assert "--learning-rate" in r.output and "--rank" in r.output
    assert run_rows.get_run(workspace.store, "paused")["status"] == "cancelled"


# ---------------------------------------------------------------- 6. runs that never reached a step


class CancelAtStart(TrainCallback):
    def on_start(self, run, start_step, total_steps):
        raise KeyboardInterrupt


def test_cancelled_before_the_first_step_says_so(workspace, tiny_model_dir, data_dir, capsys):
    from brie.cli.train import _print_outcome

    run = train(workspace, tiny_config(tiny_model_dir, data_dir), "early", callback=CancelAtStart())
    assert run["status"] == "cancelled" and not run["step"]
    assert run["stop_reason"] == "cancelled by the user before the first step"
    _print_outcome(workspace, run)
    out = capsys.readouterr().out
    assert "Run early cancelled before the first step" in out and "None" not in out
    shown = cli("runs", "show", "early").output
    assert "None" not in shown and "none yet (stopped before the first step)" in shown


# ---------------------------------------------------------------- 8. no validation split


def test_no_validation_split_warning_says_what_happens(workspace, tiny_model_dir, tmp_path):
    data = write_chat_data(tmp_path / "no-valid", n_valid=0)
    run = train(workspace, tiny_config(tiny_model_dir, data, iters=4, save_every=2), "nv")
    assert run["status"] == "completed"
    warnings = json.loads(run["warnings"])
    assert len(warnings) == 1 and warnings[0].startswith("no validation set (")
    assert "best checkpoint is simply the last one and early stopping is off" in warnings[0]
    assert run["best_step"] == 4


# ---------------------------------------------------------------- 4, 7, 9. prune, recommend


def test_prune_recommended_best_tty_units_and_plurals(workspace, tiny_model_dir, data_dir):
    r = cli("train", "--model", str(tiny_model_dir), "--data", str(data_dir), "--name", "p", "--iters", "6",
            "--save-every", "2", "--eval-every", "2", "--num-layers", "-1", "--grad-clip", "none", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["status"] == "completed"
    assert json.loads(r.output)["config"]["grad_clip"] is None  # an object, not a string inside the JSON

    r = cli("runs", "recommend", "p", "2", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["recommended_step"] == 2
    run = run_rows.get_run(workspace.store, "p")
    best = run["best_step"]

    # without a terminal and without --yes: says so, deletes nothing, exits non-zero
    r = cli("runs", "prune", "p", "--keep", "last")
    assert r.exit_code == 1 and "add --yes to delete without a prompt" in r.output
    assert len(run_rows.list_checkpoints(workspace.store, run["id"])) == 3

    # delete only step 2, the recommended one: one checkpoint, in MiB
    r = cli("runs", "prune", "p", "--keep", "4,6", "--yes")
    assert r.exit_code == 0, r.output
    assert re.search(r"Will delete 1 checkpoint of p: 2 \(\d+\.\d KiB\)", r.output) and " MB" not in r.output
    assert "the recommended checkpoint (step 2) goes" in r.output
    assert "Deleted 1 checkpoint (" in r.output and "p has no recommended checkpoint now" in r.output
    run = run_rows.get_run(workspace.store, "p")
    assert run["recommended_step"] is None
    with pytest.raises(BrieError, match="has no recommended checkpoint; mark one with `brie runs recommend p"):
        resolve_spec(workspace, "p@recommended")

    # delete the best one: it stays recorded, but p@best says it was pruned
    keep = [s for s in (4, 6) if s != best]
    r = cli("runs", "prune", "p", "--keep", ",".join(map(str, keep)), "--yes")
    assert r.exit_code == 0, r.output
    if best != 2:
        assert "the best checkpoint (step" in r.output
    run = run_rows.get_run(workspace.store, "p")
    assert run["best_step"] == best
    with pytest.raises(BrieError, match=rf"the best checkpoint of 'p' \(step {best}\) was pruned; it has: {keep[0]}"):
        resolve_spec(workspace, "p@best")
    assert "(checkpoint pruned)" in cli("runs", "show", "p").output
    assert " MB" not in cli("runs", "show", "p").output


# ---------------------------------------------------------------- 3. brie runs delete


def _reference(ws, run_name: str, step: int, sha: str) -> None:
    """A generation of the run's checkpoint compared with a base one, judged and scored, and an eval result."""
    from brie.store.suites import insert_suite

    suite = insert_suite(ws.store, "s", "s.jsonl", "x", [{"prompt_id": "p1", "turns": ["hi"]}])
    with ws.store.transaction() as db:
        prompt_id = db.execute("select id from prompts").fetchone()[0]
        common = {"prompt_row_id": prompt_id, "temperature": 0.0, "max_tokens": 8, "seed": 0, "sample_idx": 0,
                  "answers_json": "[\"a\"]", "created_at": utcnow()}
        db["generations"].insert({**common, "model_key": "base:m", "label": "base", "model": "m"})
        db["generations"].insert({**common, "model_key": sha, "label": f"{run_name}@{step}", "model": "m",
                                  "run": run_name, "step": step, "adapter_sha256": sha})
        base_gen, run_gen = [r[0] for r in db.execute("select id from generations order by id")]
        db["comparisons"].insert({"suite_id": suite["id"], "prompt_row_id": prompt_id, "gen_a": base_gen,
                                  "gen_b": run_gen, "sample_idx": 0, "shown_first": "a", "created_at": utcnow()})
        comp = db.execute("select id from comparisons").fetchone()[0]
        db["judgments"].insert({"comparison_id": comp, "judge": "human:me", "pass": 0, "shown_first": "a",
                                "attempt": 1, "verdict": "b"})
        db["scores"].insert({"generation_id": run_gen, "judge": "human:me", "attempt": 1, "valid": 1, "score": 7.0})
        db["eval_results"].insert({"model_key": f"m|{sha}", "label": f"{run_name}@{step}", "model": "m",
                                   "run": run_name, "step": step, "benchmark": "b", "settings_json": "{}",
                                   "status": "completed"})
        result = db.execute("select id from eval_results").fetchone()[0]
        db["eval_samples"].insert({"result_id": result, "item_idx": 0, "item_id": "i", "scores_json": "{}"})


def test_runs_delete(workspace, tiny_model_dir, data_dir):
    run = train(workspace, tiny_config(tiny_model_dir, data_dir, iters=4, save_every=2), "gone")
    other = train(workspace, tiny_config(tiny_model_dir, data_dir, iters=2, save_every=2), "kept")
    folder = workspace.root / run["path"]

    r = cli("runs", "delete", "gone")  # no terminal, no --yes
    out = " ".join(r.output.split())
    assert r.exit_code == 1 and "add --yes" in out and folder.exists()
    assert "Will delete run gone (completed)" in out and "KiB)" in out
    assert "2 checkpoints (2, 4)" in out

    # referenced by judging and eval rows: refused, saying what refers to it, unless --force
    ckpt = run_rows.get_checkpoint(workspace.store, run["id"], 4)
    _reference(workspace, "gone", 4, ckpt["adapter_sha256"])
    r = cli("runs", "delete", "gone", "--yes")
    out = " ".join(r.output.split())
    assert r.exit_code == 1 and folder.exists()
    assert ("run 'gone' is referenced by 1 generation, 1 comparison, 1 judgment, 1 score, 1 eval result, "
            "1 eval sample made from its checkpoints; `brie runs delete gone --force`") in out
    r = cli("runs", "delete", "gone", "--yes", "--force", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["checkpoints"] == [2, 4]
    assert not folder.exists() and not list(workspace.runs_dir.glob(".deleting-*"))
    assert run_rows.get_run(workspace.store, "gone") is None
    db = workspace.store.db
    for table, n in [("checkpoints", 1), ("generations", 1), ("comparisons", 0), ("judgments", 0), ("scores", 0),
                     ("eval_results", 0), ("eval_samples", 0)]:
        assert db.execute(f"select count(*) from {table}").fetchone()[0] == n, table
    assert db.execute("select count(*) from metrics where run_id = ?", [run["id"]]).fetchone()[0] == 0
    assert db.execute("select count(*) from metrics where run_id = ?", [other["id"]]).fetchone()[0] > 0
    assert (workspace.root / other["path"]).exists()
    # the name is free again
    assert create_run(workspace, tiny_config(tiny_model_dir, data_dir), "gone")["name"] == "gone"

    # a run whose process is alive is refused
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run_rows.update_run(workspace.store, other["id"], status="running", pid=sleeper.pid)
        r = cli("runs", "delete", "kept", "--yes")
        assert r.exit_code == 1 and f"process {sleeper.pid} is alive" in r.output
        assert run_rows.get_run(workspace.store, "kept") is not None
    finally:
        sleeper.kill()
        sleeper.wait()
    assert cli("runs", "delete", "nope", "--yes").exit_code == 1


def test_runs_cancel_stops_a_run_started_elsewhere(workspace, tiny_model_dir, data_dir):
    """`brie runs cancel` stops a `brie train` running as another process; it ends cancelled, resumable."""
    import os
    import time

    env = {**os.environ, "BRIE_HOME": str(workspace.root)}
    proc = subprocess.Popen([sys.executable, "-m", "brie", "train", "--model", str(tiny_model_dir), "--data",
                             str(data_dir), "--name", "long", "--iters", "100000", "--save-every", "5",
                             "--batch-size", "2", "--num-layers", "-1", "--json"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            run = run_rows.get_run(workspace.store, "long")
            # a registered checkpoint, not just the step: on a loaded machine the two are apart
            if run and run["status"] == "running" and run_rows.list_checkpoints(workspace.store, run["id"]):
                break
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.3)
        r = cli("runs", "cancel", "long", "--json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.output)["status"] == "cancelled"
        proc.wait(timeout=30)
        run = run_rows.get_run(workspace.store, "long")
        assert run["status"] == "cancelled" and run_rows.list_checkpoints(workspace.store, run["id"])
        again = cli("runs", "cancel", "long")
        assert again.exit_code == 1 and "is not running (it is cancelled)" in again.stderr
    finally:
        if proc.poll() is None:
            proc.kill()
