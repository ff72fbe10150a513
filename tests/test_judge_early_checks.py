"""Judges are checked before generation: a human judge fails, a deprecated one warns, minutes earlier."""

import pytest

from brie.errors import BrieError
from brie.judging.workflows import compare, grade
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.judge_server import JudgeServer

# max_tokens 9: the template's answers were made with 8, so each call below has to generate first.
NEW_ANSWERS = {"max_tokens": 9, "max_retries": 0, "timeout": 5.0}


def _generations(ws) -> int:
    return ws.store.db["generations"].count


def test_a_human_judge_fails_before_any_generation(fresh_ws):
    before = _generations(fresh_ws)
    events = []
    with pytest.raises(BrieError, match="human:x: human verdicts are given in the UI"):
        compare(fresh_ws, "s", "base", "r1@10", ["human:x"], progress=events.append, **NEW_ANSWERS)
    with pytest.raises(BrieError, match="human:x: human verdicts are given in the UI"):
        grade(fresh_ws, "s", "base,r1@10", ["human:x"], max_tokens=9, max_retries=0, timeout=5.0)
    assert events == [] and _generations(fresh_ws) == before


def test_a_deprecated_judge_warns_once_before_generation(fresh_ws, monkeypatch):
    events = []
    with JudgeServer(lambda call: {"text": "[[A]]"}) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        _, s = compare(fresh_ws, "s", "base", "r1@10", ["anthropic:claude-sonnet-4-5"],
                       warn=lambda msg: events.append(("warn", msg)),
                       progress=lambda e: events.append((e[0],)), **NEW_ANSWERS)
    assert s.valid > 0
    warnings = [e for e in events if e[0] == "warn"]
    assert len(warnings) == 1 and "2026-11-30" in warnings[0][1]
    assert events[0][0] == "warn" and ("generate",) in events


def test_a_missing_api_key_fails_before_any_generation(fresh_ws, monkeypatch):
    for var in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    before = _generations(fresh_ws)
    events = []
    for judge, var in (("anthropic:claude-sonnet-5-5", "ANTHROPIC_API_KEY"), ("openai:gpt-5", "OPENAI_API_KEY")):
        with pytest.raises(BrieError, match=f"^judge {judge}: {var} is not set$"):
            compare(fresh_ws, "s", "base", "r1@10", [judge], progress=events.append, **NEW_ANSWERS)
        with pytest.raises(BrieError, match=f"^judge {judge}: {var} is not set$"):
            grade(fresh_ws, "s", "base,r1@10", [judge], **NEW_ANSWERS)
    assert events == [] and _generations(fresh_ws) == before


def test_the_default_judge_without_its_key_says_it_was_the_default(fresh_ws, monkeypatch):
    from typer.testing import CliRunner

    from brie.cli import app

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    before = _generations(fresh_ws)
    for command in (["compare", "--suite", "s", "--a", "base", "--b", "r1@10"], ["grade", "--suite", "s", "--models", "base"]):
        r = CliRunner().invoke(app, command + ["--max-tokens", "9"])
        assert r.exit_code == 1, r.output
        assert ("error: judge anthropic:claude-sonnet-5-5: ANTHROPIC_API_KEY is not set; no --judge given, so the "
                "default anthropic:claude-sonnet-5-5 (brie/judging/judges.toml) was used; set ANTHROPIC_API_KEY or pass "
                "--judge openai-compatible:<model>@<url> for a local server") in " ".join(r.output.split())
    # named explicitly, the same judge gets the plain message
    r = CliRunner().invoke(app, ["compare", "--suite", "s", "--a", "base", "--b", "r1@10", "--max-tokens", "9",
                                 "--judge", "anthropic:claude-sonnet-5-5"])
    assert r.exit_code == 1 and "no --judge given" not in r.output and "ANTHROPIC_API_KEY is not set" in r.output
    assert _generations(fresh_ws) == before


def test_a_local_judge_needs_no_key(fresh_ws, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with JudgeServer(lambda call: {"text": "[[C]]"}) as server:
        _, s = compare(fresh_ws, "s", "base", "r1@10", [f"openai-compatible:j@{server.url}/v1"], **NEW_ANSWERS)
    assert s.valid > 0 and s.failed == 0
