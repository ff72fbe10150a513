"""Judges are checked before generation: a human judge fails, a deprecated one warns, minutes earlier."""

import pytest

from brie.errors import BrieError
from brie.judge import compare, grade
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
