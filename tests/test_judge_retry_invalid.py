"""Judging you can mend: --max-attempts counts answers that did not parse (never failed requests, which
are the SDK's --retries), and --retry-invalid asks again for judgments stored without a verdict.

Requests are counted at a real local server (tests/judge_server.py) spoken to by the real SDKs.
"""

import json

import pytest
from typer.testing import CliRunner

from brie.cli import app
from brie.judging.workflows import compare
from brie.store import judging as rows
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.test_judge_compare import CLAUDE, FAST, N, server_env  # noqa: F401  (fixture)


def compare_cli(judge: str, *extra: str):
    return CliRunner().invoke(app, ["compare", "--suite", "s", "--a", "base", "--b", "r1@10", "--judge", judge,
                                    "--max-tokens", "8", *extra])


@pytest.mark.parametrize("scripted, options", [
    ({"status": 500}, []),  # a server that fails every request
    ({"text": "[[A]]", "delay": 1.0}, ["--timeout", "0.3"]),  # a slow server: every request times out
])
@pytest.mark.parametrize("judge", [CLAUDE, "openai:gpt-5"])
def test_failed_requests_cost_retries_plus_one_not_times_max_attempts(fresh_ws, server_env, judge, scripted, options):
    server = server_env(lambda call: scripted)
    r = compare_cli(judge, "--retries", "1", "--max-attempts", "3", "--concurrency", "4", *options)
    # 12 judgments x (1 retry + 1): the issue measured 72 (x 3 attempts) before.
    assert len(server.calls) == N * 2
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert f"no valid verdicts: {N} requests failed" in r.stderr
    assert rows.all_judgments(fresh_ws.store) == []


def test_replies_that_cannot_be_read_count_as_answers_that_did_not_parse(fresh_ws, server_env):
    # An HTML page with status 200 (a proxy's error page): the SDK hands back a str, not a message.
    server = server_env(lambda call: {"raw": b"<html><body>Bad gateway</body></html>"})
    server_content_type = "text/html"
    original = server._send
    server._send = lambda h, status, payload=None, raw=None, content_type="application/json": original(
        h, status, payload, raw, server_content_type if raw else content_type)
    r = compare_cli(CLAUDE, "--retries", "3", "--max-attempts", "2")
    assert len(server.calls) == N * 2  # asked again as an unparsed answer, not retried by the SDK
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "the answer was not of the expected shape" in r.stderr and server.url in r.stderr
    assert rows.all_judgments(fresh_ws.store) == []  # nothing to store: no text came back


def test_retry_invalid_asks_again_once_the_judge_is_fixed_and_keeps_the_old_answers(fresh_ws, server_env):
    server = server_env(lambda call: {"text": "I cannot decide."})
    _, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], max_attempts=2, **FAST)
    assert s.invalid == 2 * N and s.valid == 0 and len(server.calls) == 2 * N

    # Fixed judge, plain rerun: nothing is asked, and it says why and what to do — not "0 asked", exit 0.
    server = server_env(lambda call: {"text": "[[B]]"})
    r = compare_cli(CLAUDE, "--max-attempts", "2")
    assert r.exit_code == 1 and len(server.calls) == 0
    assert f"{N} judgments stored without a verdict" in r.stderr and "--retry-invalid" in r.stderr
    r = compare_cli(CLAUDE, "--max-attempts", "2", "--json")
    summary = json.loads(r.stdout)
    assert r.exit_code == 1 and summary["invalid_stored"] == N and "--retry-invalid" in summary["error"]

    r = compare_cli(CLAUDE, "--max-attempts", "2", "--retry-invalid", "--json")
    summary = json.loads(r.stdout)
    assert r.exit_code == 0, r.output
    assert summary["asked"] == N and summary["valid"] == N and summary["invalid_stored"] == 0
    assert len(server.calls) == N
    stored = rows.all_judgments(fresh_ws.store)
    by_comparison = {}
    for j in stored:
        by_comparison.setdefault(j["comparison_id"], []).append((j["attempt"], j["verdict"], j["raw"]))
    # The two old answers stay, as attempts 1 and 2; the new one is attempt 3.
    assert all(sorted(a) == [(1, "invalid", "I cannot decide."), (2, "invalid", "I cannot decide."),
                             (3, a[2][1], "[[B]]")] and a[2][1] in ("a", "b") for a in by_comparison.values())
    assert len(by_comparison) == N

    # Every judgment has its verdict now: --retry-invalid asks nothing more.
    r = compare_cli(CLAUDE, "--retry-invalid", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["asked"] == 0 and len(server.calls) == N


def test_a_rerun_with_some_invalid_judgments_notes_them(fresh_ws, server_env):
    server_env(lambda call: {"text": "no idea"} if call["n"] <= 3 else {"text": "[[A]]"})
    compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], max_attempts=1, concurrency=1, **FAST)
    r = compare_cli(CLAUDE, "--max-attempts", "1")
    assert r.exit_code == 0
    assert "3 judgments stored without a verdict" in r.stderr and "--retry-invalid" in r.stderr
    assert "--retry-invalid" not in r.stdout  # a notice, on stderr


def test_retry_invalid_in_batches(fresh_ws, server_env):
    server = server_env(lambda call: {"text": "?"})
    _, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], batch=True, poll_seconds=0.01, max_attempts=1, **FAST)
    assert s.invalid == N
    server = server_env(lambda call: {"text": "[[A]]"})
    _, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], batch=True, poll_seconds=0.01, max_attempts=1, **FAST)
    assert s.tasks == 0 and s.invalid_stored == N and not server.batches
    _, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], batch=True, poll_seconds=0.01, max_attempts=1,
                   retry_invalid=True, **FAST)
    assert s.valid == N and [len(b["requests"]) for b in server.batches.values()] == [N]
    assert {j["attempt"] for j in rows.all_judgments(fresh_ws.store) if j["verdict"] != "invalid"} == {2}


@pytest.mark.parametrize("option, words", [
    ("--retry-invalid", "stored without a verdict"), ("--max-attempts", "--retries covers those"),
    ("--retries", "at most --retries + 1 requests"),
])
def test_help_says_what_the_options_do(option, words):
    r = CliRunner().invoke(app, ["compare", "--help"], terminal_width=200)
    text = " ".join(r.output.split())
    assert option in text and words in text


def grade_cli(*extra: str):
    return CliRunner().invoke(app, ["grade", "--suite", "s", "--models", "base", "--judge", CLAUDE,
                                    "--max-tokens", "8", "--retries", "0", *extra])


def test_grades_can_be_mended_too(fresh_ws, server_env):
    """`grade` keeps the same contract as `compare`: --max-attempts unrated answers, then a rerun says
    so and fails; --retry-invalid asks again and keeps the old answers; an unreadable reply is an
    answer without a rating, not a failed request."""
    server = server_env(lambda call: {"text": "A fine answer."})
    r = grade_cli("--max-attempts", "2", "--json")
    first = json.loads(r.stdout)
    n = N  # one answer per prompt of suite s, by base
    assert r.exit_code == 1 and first["invalid"] == 2 * n and len(server.calls) == 2 * n

    server = server_env(lambda call: {"text": "Rating: [[7]]"})
    r = grade_cli("--max-attempts", "2")
    assert r.exit_code == 1 and len(server.calls) == 0
    assert f"{n} grades stored without a rating" in r.stderr and "--retry-invalid" in r.stderr

    # A proxy's error page is an answer without a rating: asked --max-attempts times, nothing stored.
    server = server_env(lambda call: {"raw": b"<html>Bad gateway</html>"})
    r = grade_cli("--max-attempts", "2", "--retry-invalid", "--json")
    assert r.exit_code == 1 and json.loads(r.stdout)["failed"] == n and len(server.calls) == 2 * n
    assert len(rows.all_scores(fresh_ws.store)) == 2 * n

    server = server_env(lambda call: {"text": "Rating: [[7]]"})
    r = grade_cli("--max-attempts", "2", "--retry-invalid", "--json")
    again = json.loads(r.stdout)
    assert r.exit_code == 0, r.output
    assert again["valid"] == n and again["invalid_stored"] == 0 and len(server.calls) == n
    attempts = sorted(s["attempt"] for s in rows.all_scores(fresh_ws.store) if s["valid"])
    assert attempts == [3] * n  # after the two old, unrated answers, which stay
    r = grade_cli("--max-attempts", "2", "--retry-invalid")
    assert r.exit_code == 0 and len(server.calls) == n  # every answer has its rating now: nothing asked
