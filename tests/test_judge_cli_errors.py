"""What `brie compare` and the exports say when things go wrong: exit codes, one-line errors, names."""

import json
import socket

import pytest
from typer.testing import CliRunner

from brie.cli import app
from brie.store.judging import judge_failures
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.judge_server import JudgeServer

N = 12  # comparisons in the template suite
SECRET = "sk-test-secret-never-print-me"
COMPARE = ["compare", "--suite", "s", "--a", "base", "--b", "r1@10", "--max-tokens", "8", "--retries", "0"]


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("provider", ["openai-compatible", "anthropic"])
def test_compare_with_an_unreachable_judge_fails_and_names_it(fresh_ws, monkeypatch, provider):
    port = closed_port()
    url = f"http://127.0.0.1:{port}"
    if provider == "anthropic":
        judge = "anthropic:claude-sonnet-5-5"
        monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
    else:
        judge, url = f"openai-compatible:judge@{url}/v1", url + "/v1"
        monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    r = CliRunner().invoke(app, COMPARE + ["--judge", judge])
    assert r.exit_code == 1, r.output
    assert f"{N}× judge {judge} at {url}: could not connect" in r.output
    assert f"error: no valid verdicts: {N} requests failed" in r.output
    assert SECRET not in r.output
    # A reason is stored for each request sent, at most --concurrency (4) of them; the rest were never asked.
    assert 1 <= len(judge_failures(fresh_ws.store, judge)) <= 4
    r = CliRunner().invoke(app, COMPARE + ["--judge", judge, "--json"])
    assert r.exit_code == 1
    out = json.loads(r.output)
    assert out["valid"] == 0 and out["failed"] == N and [e["count"] for e in out["errors"]] == [N]


def test_grade_with_an_unreachable_judge_fails_and_names_it(fresh_ws):
    judge = f"openai-compatible:j@http://127.0.0.1:{closed_port()}/v1"
    r = CliRunner().invoke(app, ["grade", "--suite", "s", "--models", "base", "--max-tokens", "8", "--retries", "0",
                                 "--judge", judge])
    assert r.exit_code == 1, r.output
    assert f"{N}× judge {judge} at {judge.split('@')[1]}: could not connect" in r.output
    assert f"error: no valid grades: {N} requests failed" in r.output


def test_compare_messages_read_right_for_one_and_many(fresh_ws):
    from tests.judge_fixtures import SUITE_LINES, write_suite

    r = CliRunner().invoke(app, ["suites", "import", str(write_suite(fresh_ws.root / "one.jsonl", SUITE_LINES[:1]))])
    assert r.exit_code == 0 and "Imported suite one: 1 prompt." in r.output
    with JudgeServer(lambda call: {"text": "[[A]]"}) as server:
        judge = f"openai-compatible:j@{server.url}/v1"
        r = CliRunner().invoke(app, COMPARE + ["--judge", judge])
        assert r.exit_code == 0, r.output
        assert (f"{N} comparisons; {N} judgments asked (0 already stored): {N} valid, 0 invalid answers, 0 failed"
                in " ".join(r.output.split()))
        r = CliRunner().invoke(app, COMPARE + ["--judge", judge])  # all stored: nothing asked, still fine
        assert r.exit_code == 0 and "0 judgments asked" in r.output
        r = CliRunner().invoke(app, ["compare", "--suite", "one"] + COMPARE[3:] + ["--judge", judge])
        assert r.exit_code == 0, r.output
        assert ("1 comparison; 1 judgment asked (0 already stored): 1 valid, 0 invalid answers, 0 failed"
                in " ".join(r.output.split()))
    r = CliRunner().invoke(app, ["results", "--suite", "one", "--judge", judge])
    assert r.exit_code == 0 and "2 judgments;" not in r.output and "1 judgment;" in r.output
    assert "(1 prompt)" in CliRunner().invoke(app, ["suites", "show", "one"]).output
    from brie.export.report import build_report

    assert "only n=1 comparison." in build_report(fresh_ws, "r1")


def test_plural():
    from brie.words import plural

    assert [plural(n, "prompt") for n in (0, 1, 2)] == ["0 prompts", "1 prompt", "2 prompts"]
    assert plural(1, "reply") == "1 reply" and plural(3, "reply") == "3 replies" and plural(2, "day") == "2 days"
    assert plural(2, "DPO pair") == "2 DPO pairs" and plural(2, "analysis", "analyses") == "2 analyses"


def test_compare_where_every_answer_is_garbage_exits_nonzero(fresh_ws):
    with JudgeServer(lambda call: {"text": "I cannot decide."}) as server:
        r = CliRunner().invoke(app, COMPARE + ["--judge", f"openai-compatible:j@{server.url}/v1",
                                               "--max-attempts", "1"])
    assert r.exit_code == 1 and f"no valid verdicts: {N} answers had no valid verdict" in r.output


def test_exports_refuse_to_overwrite_without_force(fresh_ws, tmp_path):
    from brie.judging.workflows import compare

    with JudgeServer(lambda call: {"text": "[[B]]"}) as server:
        judge = f"openai-compatible:j@{server.url}/v1"
        compare(fresh_ws, "s", "base", "r1@10", [judge], max_tokens=8, max_retries=0, timeout=5.0)
    runner = CliRunner()
    for kind, default in (("judged", "judged.jsonl"), ("csv", "results.csv"), ("dpo", "dpo.jsonl")):
        path = fresh_ws.exports_dir / default
        r = runner.invoke(app, ["export", kind, "--json"])
        assert r.exit_code == 0, r.output
        out = json.loads(r.output)
        assert out["path"] == str(path) and out["rows"] > 0 and out["counts"]
        path.write_text("mine\n")
        r = runner.invoke(app, ["export", kind])
        assert r.exit_code == 1 and f"error: {path} already exists; pass --force" in r.output
        assert len(r.output.strip().splitlines()) == 1 and path.read_text() == "mine\n"
        r = runner.invoke(app, ["export", kind, "--force"])
        assert r.exit_code == 0 and path.read_text() != "mine\n" and f"to {path}" in r.output
    assert not [p for p in fresh_ws.exports_dir.iterdir() if p.name.startswith(".")]  # no temp files left
    judged = json.loads(runner.invoke(app, ["export", "judged", "--force", "--json"]).output)
    assert judged["rows"] == N and sum(judged["counts"].values()) == N
    r = runner.invoke(app, ["export", "judged", "--out", str(tmp_path / "one.jsonl")])
    assert r.exit_code == 0 and f"Wrote {N} judgments to" in r.output


def test_exports_reject_unknown_suites_and_judges(fresh_ws, tmp_path):
    from brie.judging.workflows import compare

    with JudgeServer(lambda call: {"text": "[[B]]"}) as server:
        judge = f"openai-compatible:j@{server.url}/v1"
        compare(fresh_ws, "s", "base", "r1@10", [judge], max_tokens=8, max_retries=0, timeout=5.0)
    runner = CliRunner()
    for kind in ("judged", "csv", "dpo"):
        out = tmp_path / f"{kind}.out"
        r = runner.invoke(app, ["export", kind, "--suite", "typo", "--out", str(out)])
        assert r.exit_code == 1 and "error: --suite 'typo': no such suite (suites: s)" in r.output
        r = runner.invoke(app, ["export", kind, "--judge", "anthropic:nobody", "--out", str(out)])
        assert r.exit_code == 1 and f"judges with judgments: {judge})" in r.output
        assert not out.exists()
        r = runner.invoke(app, ["export", kind, "--suite", "s", "--judge", judge, "--out", str(out)])
        assert r.exit_code == 0 and out.stat().st_size > 0


def test_exports_with_nothing_to_export_write_nothing(fresh_ws):
    """An empty file would only block the next export behind --force; say why instead."""
    from brie.judging.workflows import compare

    runner = CliRunner()
    for kind in ("judged", "csv", "dpo"):
        r = runner.invoke(app, ["export", kind])
        assert r.exit_code == 1 and "nothing to export: no" in r.output and "brie compare" in r.output
    assert not list(fresh_ws.exports_dir.glob("*.*"))
    with JudgeServer(lambda call: {"text": "[[C]]"}) as server:  # ties only: no DPO pair
        compare(fresh_ws, "s", "base", "r1@10", [f"openai-compatible:j@{server.url}/v1"], max_tokens=8,
                max_retries=0, timeout=5.0)
    r = runner.invoke(app, ["export", "dpo"])
    assert r.exit_code == 1 and f"no decisive single-turn verdicts ({N} ties" in r.output
    assert runner.invoke(app, ["export", "judged"]).exit_code == 0


def test_results_rejects_unknown_filters_as_export_does(fresh_ws):
    runner = CliRunner()
    with JudgeServer(lambda call: {"text": "[[A]]"}) as server:
        judge = f"openai-compatible:j@{server.url}/v1"
        assert runner.invoke(app, COMPARE + ["--judge", judge]).exit_code == 0
    for args, want in ((["--suite", "nope"], "error: --suite 'nope': no such suite (suites: s)"),
                       (["--judge", "nope"], f"error: --judge 'nope': no judgments by that judge "
                                             f"(judges with judgments: {judge})")):
        for command in (["results"], ["export", "csv"]):
            r = runner.invoke(app, command + args)
            assert r.exit_code == 1, (command, r.output)
            assert want in " ".join(r.output.split()) and "No pairwise judgments" not in r.output
    r = runner.invoke(app, ["results", "--suite", "s", "--judge", judge])
    assert r.exit_code == 0 and "12 judgments;" in r.output
