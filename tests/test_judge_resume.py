"""`brie compare` as a real process: kill -9 mid-session and resume; the API key never stored."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from brie.store import judging as rows
from brie.workspace import Workspace
from tests.judge_fixtures import judged_template  # noqa: F401  (fixture)
from tests.judge_server import JudgeServer, answers_in

REPO = Path(__file__).resolve().parents[1]
SECRET = "sk-ant-api03-SECRET-never-store-me-0123456789"


def content_judge(call):
    first, second = answers_in(call["user"])
    if len(first.strip()) == len(second.strip()):
        return {"text": "[[C]]", "delay": 0.25}
    return {"text": "[[A]]" if len(first.strip()) > len(second.strip()) else "[[B]]", "delay": 0.25}


def brie(ws_root: Path, server: JudgeServer, *args: str) -> subprocess.Popen:
    env = {**os.environ, "BRIE_HOME": str(ws_root), "ANTHROPIC_API_KEY": SECRET,
           "ANTHROPIC_BASE_URL": server.url, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "brie", *args], env=env, cwd=ws_root,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


COMPARE = ["compare", "--suite", "s", "--a", "base", "--b", "r1@10", "--judge", "anthropic:claude-sonnet-5-5",
           "--max-tokens", "8", "--concurrency", "2", "--retries", "1", "--timeout", "5"]


def judged(ws_root: Path) -> tuple[dict, list[dict]]:
    ws = Workspace.open(ws_root)
    try:
        comps = {c["comparison_id"]: c for c in rows.find_comparisons(ws.store)}
        js = rows.all_judgments(ws.store)
        return {(comps[j["comparison_id"]]["prompt_id"], j["pass"]): j["verdict"] for j in js}, js
    finally:
        ws.close()


def test_kill_9_then_resume_equals_an_uninterrupted_run(judged_template, tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    shutil.copytree(judged_template, whole)
    shutil.copytree(judged_template, killed)
    with JudgeServer(content_judge) as server:
        p = brie(whole, server, *COMPARE)
        assert p.wait(120) == 0, p.stdout.read()
        expected, _ = judged(whole)

    with JudgeServer(content_judge) as server:
        p = brie(killed, server, *COMPARE)
        db = killed / "brie.db"
        deadline = time.time() + 90
        while time.time() < deadline:
            time.sleep(0.05)
            if db.exists() and _count(db) >= 3:
                break
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
        stored_at_kill = _count(db)
        assert 3 <= stored_at_kill < len(expected), "the kill came too late to test anything"
        calls_before = len(server.calls)
        p = brie(killed, server, *COMPARE)
        assert p.wait(120) == 0, p.stdout.read()
        got, js = judged(killed)
        assert got == expected
        assert len(js) == len(expected)  # no duplicate rows
        # Paid calls: one per judgment, plus at most the two that were in flight at the kill.
        assert len(server.calls) - calls_before == len(expected) - stored_at_kill
        assert calls_before <= stored_at_kill + 2


def _count(db: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute("select count(*) from judgments").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def test_api_key_never_reaches_db_logs_or_exports(judged_template, tmp_path):
    ws_root = tmp_path / "ws"
    shutil.copytree(judged_template, ws_root)
    outputs = []
    # a judge that reads the answers, not their order, so the swapped pairs agree and DPO has pairs to export
    with JudgeServer(content_judge) as server:
        for args in (COMPARE + ["--swap"], ["results", "--json"], ["export", "judged"], ["export", "csv"],
                     ["export", "dpo"]):
            p = brie(ws_root, server, *args)
            out, _ = p.communicate(timeout=120)
            assert p.returncode == 0, out
            outputs.append(out)
        assert server.api_keys_seen == {SECRET}  # the key did go to the API: the search below can fail
    assert (ws_root / "exports" / "judged.jsonl").stat().st_size > 0
    needle = SECRET.encode()
    for path in ws_root.rglob("*"):
        if path.is_file():
            assert needle not in path.read_bytes(), f"API key found in {path}"
    assert all(SECRET not in out for out in outputs)
