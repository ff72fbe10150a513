"""Every check that can be made before a run exists is made before it exists: a mistake gives one
line, no traceback, no run row and no run folder, so the name stays free (issue 14, item 2).

The model (a folder, a registered name, a Hugging Face id: in the local cache offline, on the hub
online, against a local server speaking the hub's API), the runs/ folder, and the config as
mlx-lm's own YAML loader types it (its example lora_config.yaml, and the lr_schedule that used to
crash in MLX's scheduler).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from brie.errors import BrieError, ModelError
from brie.store import runs as run_rows
from tests.train_helpers import tiny_config, write_chat_data

EXAMPLE = Path(__file__).parent / "data" / "mlx_lm_lora_config.yaml"
FAST = ["--max-steps", "1", "--num-layers", "-1", "--batch-size", "2", "--val-batches", "1"]


@pytest.fixture
def data_dir(tmp_path):
    return write_chat_data(tmp_path / "chat", n_train=8, n_valid=4)


def no_runs(ws) -> bool:
    return run_rows.list_runs(ws.store) == [] and not any(ws.runs_dir.iterdir())


def brie(ws, *args, env=None, prefix=()):
    """`python -m brie` as its own process (environment variables the hub client reads at import)."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **(env or {})}
    return subprocess.run([*prefix, sys.executable, "-m", "brie", "--home", str(ws.root), *args],
                          capture_output=True, text=True, env=env, timeout=180)


def one_line_error(r, *parts):
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


# ---------------------------------------------------------------- the model


class HubWithoutModels(BaseHTTPRequestHandler):
    """The Hugging Face hub's answer for a repository that does not exist (404, X-Error-Code)."""

    def do_GET(self):
        self.send_response(404)
        self.send_header("X-Error-Code", "RepoNotFound")
        self.send_header("Content-Type", "application/json")
        body = b'{"error":"Repository not found"}'
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


def test_a_hub_id_that_does_not_exist_gives_one_line_and_no_run(workspace, data_dir, tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), HubWithoutModels)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        env = {"HF_ENDPOINT": f"http://127.0.0.1:{server.server_address[1]}", "HF_HOME": str(tmp_path / "hf"),
               "HF_HUB_OFFLINE": "0"}
        r = brie(workspace, "train", "--model", "nobody-here/no-such-model", "--data", str(data_dir),
                 "--name", "hub", *FAST, env=env)
    finally:
        server.shutdown()
    one_line_error(r, "'nobody-here/no-such-model': no such model on the Hugging Face hub")
    assert no_runs(workspace)


def test_offline_a_hub_id_must_be_in_the_local_cache(workspace, data_dir, tmp_path, tiny_model_dir):
    env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1"}
    r = brie(workspace, "train", "--model", "someone/tiny", "--data", str(data_dir), "--name", "off", *FAST, env=env)
    one_line_error(r, "'someone/tiny': not in the local Hugging Face cache, and HF_HUB_OFFLINE is set")
    assert no_runs(workspace)
    # The same id in the cache (the layout huggingface_hub writes): the run is made and trains.
    repo = tmp_path / "hf" / "hub" / "models--someone--tiny"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / ("0" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    r = brie(workspace, "train", "--model", "someone/tiny", "--data", str(data_dir), "--name", "off", *FAST, env=env)
    assert r.returncode == 0, r.stderr
    assert run_rows.get_run(workspace.store, "off")["status"] == "completed"


def test_a_registered_model_whose_folder_broke_is_refused_before_the_run(workspace, data_dir, tiny_model_dir, tmp_path):
    from brie.models.registry import add_model
    from brie.training.lifecycle import create_run

    folder = shutil.copytree(tiny_model_dir, tmp_path / "copy")
    add_model(workspace, str(folder), "mine")
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelError, match="no weights"):
        create_run(workspace, tiny_config("mine", data_dir), "broken")
    assert no_runs(workspace)


# ---------------------------------------------------------------- the run folder


def test_a_runs_folder_that_cannot_be_written_gives_one_line_and_no_run(workspace, data_dir, tiny_model_dir):
    # root writes anywhere (CAP_DAC_OVERRIDE): drop that capability for the brie process, as a user has none.
    prefix = ()
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: a read-only folder cannot be made")
        prefix = ("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all")
    workspace.runs_dir.chmod(0o555)
    try:
        r = brie(workspace, "train", "--model", str(tiny_model_dir), "--data", str(data_dir), "--name", "ro",
                 *FAST, prefix=prefix)
    finally:
        workspace.runs_dir.chmod(0o755)
    one_line_error(r, f"{workspace.runs_dir}: cannot write there (Permission denied)")
    assert no_runs(workspace)


# ---------------------------------------------------------------- the config, typed as mlx-lm types it


def mlx_lm_reads(path: Path) -> dict:
    """What `mlx_lm lora -c` loads from `path`, with mlx-lm's own loader (in its own process:
    importing mlx_lm.lora changes yaml.SafeLoader for everyone)."""
    code = ("import json, sys, yaml; from mlx_lm.lora import yaml_loader; "
            "print(json.dumps(yaml.load(open(sys.argv[1]), yaml_loader)))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def uncommented(text: str, *blocks: str) -> str:
    """The example with its commented-out `blocks` (e.g. lr_schedule) switched on."""
    out, inside = [], False
    for line in text.splitlines():
        if any(line.startswith(f"#{b}:") or line.startswith(f"# {b}:") for b in blocks):
            inside = True
        elif inside and not (line.startswith("#  ") or line.startswith("#    ")):
            inside = False
        out.append(line.lstrip("#").replace(" ", "", 1) if inside and line.startswith("# ") else
                   line.lstrip("#") if inside else line)
    return "\n".join(out) + "\n"


def test_the_yaml_loader_types_values_as_mlx_lm_does(tmp_path):
    from brie.training.config import yaml_value

    full = tmp_path / "full.yaml"
    full.write_text(uncommented(EXAMPLE.read_text(), "lr_schedule", "optimizer_config"))
    for path in (EXAMPLE, full):
        assert yaml_value(path.read_text()) == mlx_lm_reads(path)
    ours = yaml_value(full.read_text())
    assert ours["lr_schedule"]["warmup_init"] == 1e-7 and ours["optimizer_config"]["adamw"]["eps"] == 1e-6
    assert ours["learning_rate"] == 1e-5
    import yaml

    assert yaml.safe_load("x: 1e-7") == {"x": "1e-7"}  # PyYAML's own loader is left as it was


def test_mlx_lm_example_config_is_accepted_key_for_key(tmp_path):
    from brie.training.config import resolve_config

    full = tmp_path / "full.yaml"
    full.write_text(uncommented(EXAMPLE.read_text(), "lr_schedule", "optimizer_config"))
    for path in (EXAMPLE, full):
        cfg = resolve_config(path)
        assert (cfg.fine_tune_type, cfg.optimizer, cfg.num_layers, cfg.batch_size, cfg.iters) == ("lora", "adamw", 16, 4, 1000)
        assert (cfg.learning_rate, cfg.eval_every, cfg.save_every, cfg.val_batches) == (1e-5, 200, 100, 25)
        assert cfg.keys == ["self_attn.q_proj", "self_attn.v_proj"] and cfg.rank == 8
        assert cfg.lora_scale == 20.0 and cfg.max_seq_length == 2048
    cfg = resolve_config(full)
    assert cfg.lr_schedule == {"name": "cosine_decay", "warmup": 100, "warmup_init": 1e-7,
                               "arguments": [1e-5, 1000, 1e-7]}
    assert cfg.optimizer_config == {"adamw": {"betas": [0.9, 0.98], "eps": 1e-6, "weight_decay": 0.05,
                                              "bias_correction": True}}


def test_mlx_lm_keys_brie_does_not_do_are_named(tmp_path):
    from brie.training.config import resolve_config

    cases = {
        "training_mode: dpo\n": ("line 1: training_mode='dpo' is not supported", "supervised"),
        "iters: 5\nhf_dataset:\n  name: billsum\n": ("line 2: hf_dataset=", "brie data import"),
        "resume_adapter_file: adapters/a.safetensors\n": ("line 1: resume_adapter_file=", "--resume"),
    }
    for text, parts in cases.items():
        path = tmp_path / "c.yaml"
        path.write_text(text)
        with pytest.raises(BrieError) as e:
            resolve_config(path)
        assert all(p in str(e.value) for p in parts) and "\n" not in str(e.value), str(e.value)


def test_the_lr_schedule_that_crashed_in_mlx_trains(workspace, data_dir, tiny_model_dir, tmp_path):
    config = tmp_path / "sched.yaml"
    config.write_text("lr_schedule: {name: cosine_decay, warmup: 100, warmup_init: 1e-7, arguments: [1e-4, 6, 1e-6]}\n")
    r = CliRunner().invoke(_app(), ["train", "-c", str(config), "--model", str(tiny_model_dir), "--data",
                                    str(data_dir), "--name", "sched", *FAST])
    assert r.exit_code == 0, r.output
    run = run_rows.get_run(workspace.store, "sched")
    assert run["status"] == "completed"
    assert json.loads(run["config_json"])["lr_schedule"]["warmup_init"] == 1e-7


def test_an_lr_schedule_mlx_cannot_run_is_refused_before_the_run(workspace, data_dir, tiny_model_dir, tmp_path):
    config = tmp_path / "sched.yaml"
    config.write_text("lr_schedule: {name: cosine_decay, warmup: 10, warmup_init: 'soon', arguments: [1e-4, 6, 1e-6]}\n")
    r = CliRunner().invoke(_app(), ["train", "-c", str(config), "--model", str(tiny_model_dir), "--data",
                                    str(data_dir), "--name", "bad", *FAST])
    assert r.exit_code == 1 and "lr_schedule=" in r.output and "mlx-lm cannot build it" in r.output, r.output
    assert isinstance(r.exception, SystemExit)  # brie's error, printed; not a crash
    assert no_runs(workspace)


@pytest.mark.parametrize("text, where", [
    ("iters: 10\nlr_schedule: {name: cosine_decay\nrank: 4\n", "line 3"),
    ("iters: 10\n  rank: 4\n", "line 2"),
    ("rank: 8\n\tdropout: 0.1\n", "line 2"),
])
def test_malformed_yaml_is_one_line_with_file_and_line(workspace, tmp_path, text, where):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    r = CliRunner().invoke(_app(), ["train", "-c", str(config), "--data", "x", "--name", "m"])
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.output
    [line] = [l for l in r.output.splitlines() if l.strip()]
    assert line.startswith(f"error: {config} {where}: invalid YAML ("), line


def test_a_config_that_is_not_utf8_is_one_line(workspace, tmp_path):
    from brie.training.config import resolve_config

    config = tmp_path / "latin1.yaml"
    config.write_bytes(b"iters: 10\nproject_name: caf\xe9\n")
    with pytest.raises(BrieError, match=r"latin1.yaml line 2: not UTF-8: byte 0xe9 at byte"):
        resolve_config(config)


# ---------------------------------------------------------------- resume


def test_resume_retypes_an_older_runs_schedule_and_checks_before_it_starts(workspace, data_dir, tiny_model_dir, tmp_path):
    """A run created before the YAML loader typed `1e-7` stored it as text, and its --resume died in
    MLX's scheduler again and again. Now the stored value is typed on resume; and what preflight
    catches (here the model folder gone) fails the resume before the run is touched."""
    from brie.training.lifecycle import create_run, resume_training

    model = shutil.copytree(tiny_model_dir, tmp_path / "model")
    cfg = tiny_config(model, data_dir, max_steps=1, batch_size=2, val_batches=1,
                      lr_schedule={"name": "cosine_decay", "warmup": 2, "arguments": [1e-4, 6, 1e-6]})
    run = create_run(workspace, cfg, "old")
    stored = json.loads(run["config_json"])
    stored["lr_schedule"]["warmup_init"] = "1e-7"  # as PyYAML's SafeLoader gave it
    run_rows.update_run(workspace.store, run["id"], config_json=json.dumps(stored), status="failed")

    (model / "tokenizer.json").unlink()
    (model / "tokenizer_config.json").unlink()
    with pytest.raises(ModelError, match="no tokenizer"):
        resume_training(workspace, "old")
    assert run_rows.get_run(workspace.store, "old")["status"] == "failed"

    shutil.copy(tiny_model_dir / "tokenizer.json", model)
    shutil.copy(tiny_model_dir / "tokenizer_config.json", model)
    final = resume_training(workspace, "old")
    assert final["status"] == "completed", final["error"]


def _app():
    from brie.cli import app

    return app
