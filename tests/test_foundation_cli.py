"""CLI tests through typer's runner on a temporary workspace, plus subprocess checks."""

import json
import os
import shutil
import subprocess
import sys

from typer.testing import CliRunner

from brie.cli import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, list(args))


def test_init_and_models_add_local_folder(workspace, tiny_model_dir):
    result = invoke("models", "add", str(tiny_model_dir), "--name", "tiny")
    assert result.exit_code == 0, result.output
    listed = json.loads(invoke("models", "list", "--json").stdout)
    assert [(m["name"], m["kind"], m["path"]) for m in listed] == [("tiny", "local", str(tiny_model_dir))]


def test_commands_need_a_workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("BRIE_HOME", str(tmp_path / "nowhere"))
    result = invoke("models", "list")
    assert result.exit_code == 1
    assert "no brie workspace" in result.stderr and "brie init" in result.stderr


def _one_line_error(result, *needles):
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_bad_model_id_is_one_line(workspace):
    _one_line_error(invoke("models", "add", "not a model id!"), "not a model id!", "Hugging Face id")


def test_corrupt_model_folders_are_one_line(workspace, tiny_model_dir, tmp_path):
    def copy(name):
        dst = tmp_path / name
        shutil.copytree(tiny_model_dir, dst)
        return dst

    bad_json = copy("bad-json")
    (bad_json / "config.json").write_text("{not json")
    _one_line_error(invoke("models", "add", str(bad_json)), "config.json", "invalid JSON")

    truncated = copy("truncated")
    weights = truncated / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    _one_line_error(invoke("models", "add", str(truncated)), "model.safetensors", "corrupt")

    no_tok = copy("no-tokenizer")
    for f in ("tokenizer.json", "tokenizer_config.json"):
        (no_tok / f).unlink()
    _one_line_error(invoke("models", "add", str(no_tok)), "no tokenizer")

    no_weights = copy("no-weights")
    (no_weights / "model.safetensors").unlink()
    _one_line_error(invoke("generate", "--model", str(no_weights), "--prompt", "hi"), "no weights")


def test_generate_with_a_local_model(workspace, tiny_model_dir):
    result = invoke("generate", "--model", str(tiny_model_dir), "--prompt", "hello", "--max-tokens", "4")
    assert result.exit_code == 0, result.output


def test_doctor_json_reports_keys_without_values(workspace, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-do-not-print")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = invoke("doctor", "--json", "--no-measure")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["judge_keys"] == {"ANTHROPIC_API_KEY": True, "OPENAI_API_KEY": False}
    assert report["workspace"]["schema_version"] >= 1
    assert "sk-ant-secret" not in result.output
    stored = workspace.db_path.read_bytes() + b"".join(p.read_bytes() for p in workspace.root.glob("brie.db-*"))
    assert b"sk-ant-secret" not in stored


def test_doctor_reports_fast_blas_through_the_entry_point(tmp_path):
    """The real `python -m brie` entry point: on Linux with OpenBLAS present it re-execs onto it."""
    from brie.blas import find_openblas

    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "BRIE_FAST_BLAS_TRIED")}
    env["BRIE_HOME"] = str(tmp_path)
    out = subprocess.run([sys.executable, "-m", "brie", "doctor", "--json"], env=env,
                         capture_output=True, text=True, check=True).stdout
    blas = json.loads(out)["blas"]
    if sys.platform.startswith("linux") and find_openblas():
        assert blas["fast"] is True and "openblas" in blas["loaded"]
        assert blas["matmul_gflops"] > 0

    env["BRIE_NO_FAST_BLAS"] = "1"
    out = subprocess.run([sys.executable, "-m", "brie", "doctor", "--json", "--no-measure"], env=env,
                         capture_output=True, text=True, check=True).stdout
    if sys.platform.startswith("linux"):
        report = json.loads(out)
        assert report["blas"]["fast"] is False
        assert any("BRIE_NO_FAST_BLAS" in p["fix"] for p in report["problems"])


def test_core_never_imports_the_ui():
    code = (
        "import sys, pkgutil, importlib, brie\n"
        "for m in pkgutil.walk_packages(brie.__path__, 'brie.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules if m == 'textual' or m.startswith(('textual.', 'tui'))]\n"
        "sys.exit(', '.join(bad) or None)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_unreachable_hub_is_one_line(workspace, monkeypatch):
    import socket

    # A local port nobody listens on stands in for an unreachable hub (no network here anyway).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("HF_HUB_CACHE", str(workspace.root / "hf-cache"))
    _one_line_error(invoke("models", "add", "nobody/no-such-model"), "nobody/no-such-model", "cannot reach")
