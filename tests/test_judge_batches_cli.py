"""`brie batches list|cancel`, and a Message Batches endpoint that fails: one line naming its URL, no
traceback, and no stored batch left `submitted` to block every later `--batch` run.

The real anthropic SDK talks to a local server (tests/judge_server.py) whose batch endpoints are
scripted to fail (`batch_failures`).
"""

import json

import pytest
from typer.testing import CliRunner

from brie.cli import app
from brie.store import judging as rows
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.test_judge_compare import CLAUDE, N, server_env  # noqa: F401  (fixture)


def compare_batch(*extra: str):
    return CliRunner().invoke(app, ["compare", "--suite", "s", "--a", "base", "--b", "r1@10", "--judge", CLAUDE,
                                    "--max-tokens", "8", "--retries", "0", "--batch", "--poll", "0.01", *extra])


def cli(*args: str):
    return CliRunner().invoke(app, list(args))


def statuses(ws) -> list[str]:
    return [b["status"] for b in rows.list_batches(ws.store)]


def one_error_line(r, url: str) -> str:
    """The command failed with exactly one line on stderr, naming `url`, and no traceback anywhere."""
    assert r.exit_code == 1 and isinstance(r.exception, SystemExit), r.output
    assert "Traceback" not in r.output
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and url in lines[0], r.stderr
    return lines[0]


@pytest.mark.parametrize("failure", [
    {"status": 500}, {"status": 404},
    {"raw": b"<html>Service Unavailable</html>", "content_type": "text/html"},  # a proxy's page, status 200
    {"raw": b"{}"},  # JSON, but no batch in it
])
def test_a_batch_endpoint_that_fails_to_create_is_one_line_and_stores_nothing(fresh_ws, server_env, failure):
    server = server_env(lambda call: {"text": "[[A]]"})
    server.batch_failures["create"] = failure
    one_error_line(compare_batch(), f"{server.url}/v1/messages/batches")
    assert statuses(fresh_ws) == [] and rows.all_judgments(fresh_ws.store) == []
    server.batch_failures.clear()
    r = compare_batch("--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["valid"] == N


@pytest.mark.parametrize("failure", [{"status": 404}, {"raw": b"<html>oops</html>", "content_type": "text/html"}])
def test_a_batch_the_server_cannot_answer_about_is_marked_failed_and_does_not_block(fresh_ws, server_env, failure):
    server = server_env(lambda call: {"text": "[[A]]"})
    server.batch_failures["get"] = failure
    line = one_error_line(compare_batch(), f"{server.url}/v1/messages/batches/msgbatch_")
    [batch] = rows.list_batches(fresh_ws.store)
    assert batch["status"] == "failed" and f"batch {batch['id']} marked failed" in line
    server.batch_failures.clear()
    r = compare_batch("--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["valid"] == N, r.output
    assert statuses(fresh_ws) == ["collected", "failed"] and len(server.batches) == 2  # newest first


def test_a_batch_stored_by_an_earlier_run_that_the_server_does_not_know_is_warned_about_not_blocking(
        fresh_ws, server_env):
    server = server_env(lambda call: {"text": "[[A]]"})
    server.batch_failures["get"] = {"status": 500}  # the session dies while waiting: the id stays stored
    line = one_error_line(compare_batch(), f"{server.url}/v1/messages/batches/msgbatch_")
    [old] = rows.list_batches(fresh_ws.store)
    assert old["status"] == "submitted" and f"`brie batches cancel {old['id']}` drops it" in line
    # A new server (ANTHROPIC_BASE_URL changed, or the batch is gone): it answers 404 for the old batch.
    server = server_env(lambda call: {"text": "[[B]]"})
    r = compare_batch("--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["valid"] == N, r.output
    assert f"batch {old['id']} marked failed" in r.stderr and "Traceback" not in r.output
    assert {b["id"]: b["status"] for b in rows.list_batches(fresh_ws.store)}[old["id"]] == "failed"


def test_a_batch_endpoint_that_stays_down_keeps_the_batch_until_cancel_drops_it(fresh_ws, server_env):
    server = server_env(lambda call: {"text": "[[A]]"})
    server.batch_failures["get"] = {"status": 500}
    one_error_line(compare_batch(), f"{server.url}/v1/messages/batches/msgbatch_")
    [old] = rows.list_batches(fresh_ws.store)
    # Still down: the kept batch is not sent again (it may be answered and billed), and says how to drop it.
    line = one_error_line(compare_batch(), f"{server.url}/v1/messages/batches/{old['id']}")
    assert f"`brie batches cancel {old['id']}`" in line and len(server.batches) == 1

    r = cli("batches", "list")
    assert r.exit_code == 0 and old["id"] in r.stdout and "submitted" in r.stdout
    listed = json.loads(cli("batches", "list", "--open", "--json").stdout)
    assert [(b["id"], b["status"], b["n_requests"]) for b in listed] == [(old["id"], "submitted", N)]

    r = cli("batches", "cancel", old["id"])
    assert r.exit_code == 0, r.output
    assert f"Canceled batch {old['id']}" in r.stdout and "at the provider and here" in r.stdout
    assert server.canceled == [old["id"]] and statuses(fresh_ws) == ["canceled"]
    assert json.loads(cli("batches", "list", "--open", "--json").stdout) == []

    server.batch_failures.clear()
    polls = server.batches[old["id"]]["polls"]
    r = compare_batch("--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["valid"] == N, r.output
    assert server.batches[old["id"]]["polls"] == polls  # the canceled batch was not collected
    assert len(server.batches) == 2 and sorted(statuses(fresh_ws)) == ["canceled", "collected"]


def test_cancel_when_the_provider_cannot_is_warned_and_still_drops_it(fresh_ws, server_env):
    server = server_env(lambda call: {"text": "[[A]]"})
    server.batch_failures["get"] = {"status": 500}
    compare_batch()
    [old] = rows.list_batches(fresh_ws.store)
    server.batch_failures["cancel"] = {"status": 500}
    r = cli("batches", "cancel", old["id"], "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["canceled_at_provider"] is False and json.loads(r.stdout)["status"] == "canceled"
    assert "was not canceled at the provider" in r.stderr and f"{server.url}/v1/messages/batches/{old['id']}" in r.stderr


def test_cancel_refuses_unknown_and_closed_batches(fresh_ws, server_env):
    server_env(lambda call: {"text": "[[A]]"})
    assert compare_batch().exit_code == 0
    [done] = rows.list_batches(fresh_ws.store)
    r = cli("batches", "cancel", "msgbatch_nope")
    assert r.exit_code == 1 and f"no stored batch 'msgbatch_nope' (known: {done['id']}" in r.stderr
    r = cli("batches", "cancel", done["id"])
    assert r.exit_code == 1 and "is collected, not submitted: nothing to cancel" in r.stderr
    assert "Traceback" not in r.output


def test_batches_list_when_there_are_none(fresh_ws):
    r = cli("batches", "list")
    assert r.exit_code == 0 and "No stored batches" in r.stdout
    assert json.loads(cli("batches", "list", "--json").stdout) == []


@pytest.mark.parametrize("command, words", [
    (["batches", "--help"], ["list", "cancel"]),
    (["batches", "list", "--help"], ["--judge", "Only this judge's batches", "--open", "still submitted", "--json"]),
    (["batches", "cancel", "--help"], ["batch_id", "brie batches list", "--json", "asks its judgments again"]),
    (["compare", "--help"], ["--batch", "`brie batches` lists and cancels them"]),
])
def test_help_says_what_each_option_does(command, words):
    text = " ".join(CliRunner().invoke(app, command).output.split())
    assert all(w in text for w in words), text
