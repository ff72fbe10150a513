"""The chat-completions path (OpenAI and OpenAI-compatible judges) survives the same failures as Anthropic's."""

from brie.judge import compare
from brie.store import judging as rows
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.test_judge_compare import FAST, N, server_env  # noqa: F401  (fixture)

GPT = "openai:gpt-5"


def test_429_and_500_sequences_and_bad_bodies_are_retried(fresh_ws, server_env):
    def behaviour(call):
        return {1: {"status": 429}, 2: {"status": 500}, 3: {"status": 503},
                4: {"raw": b'{"id": "chatcmpl-1", "choices": [{"message": {"content": "\\q'},  # broken JSON
                5: {"raw": b""}}.get(call["n"], {"text": "[[B]]"})

    server = server_env(behaviour)
    _, s = compare(fresh_ws, "s", "base", "r1@10", [GPT], concurrency=1, **FAST)
    assert s.valid == N and s.failed == 0
    stored = rows.all_judgments(fresh_ws.store)
    assert len(stored) == N and {j["raw"] for j in stored} == {"[[B]]"}
    assert len(server.calls) == N + 5  # each failure was asked again, once


def test_slow_answers_time_out_and_are_retried(fresh_ws, server_env):
    server_env(lambda call: {"text": "[[A]]", "delay": 3 if call["n"] == 1 else 0})
    _, s = compare(fresh_ws, "s", "base", "r1@10", [GPT], concurrency=2, max_tokens=8, max_retries=2, timeout=1.0)
    assert s.valid == N and s.failed == 0


def test_a_dead_server_stores_nothing_and_a_rerun_finishes(fresh_ws, server_env):
    server_env(lambda call: {"status": 500})
    _, s = compare(fresh_ws, "s", "base", "r1@10", [GPT], concurrency=4, max_attempts=1,
                   max_tokens=8, max_retries=0, timeout=5)
    assert s.failed == N and rows.all_judgments(fresh_ws.store) == []
    server_env(lambda call: {"text": "[[C]]"})
    _, s = compare(fresh_ws, "s", "base", "r1@10", [GPT], **FAST)
    assert s.valid == N
