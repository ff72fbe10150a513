"""--max-cost with --batch and with --concurrency: the spend stops about one request past the limit."""

import pytest

from brie.judging.workflows import compare
from brie.store import judging as rows
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.judge_server import JudgeServer

N = 12
CLAUDE = "anthropic:claude-sonnet-5-5"
FAST = {"max_tokens": 8, "max_retries": 0, "timeout": 5.0}
ONE = (100 * 3.0 + 20 * 15.0) / 1e6  # one answer at the server's default usage (100 in, 20 out)


@pytest.fixture
def server(monkeypatch):
    with JudgeServer(lambda call: {"text": "[[A]]", "delay": 0.05}) as s:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", s.url)
        yield s


def test_batch_with_max_cost_sends_only_what_the_budget_allows(fresh_ws, server):
    one = ONE * 0.5  # batched: half price
    _, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], batch=True, max_cost=2.5 * one,
                   poll_seconds=0.01, **FAST)
    # Not one batch of all 12: rounds sized to the budget, the last crossing it by one request.
    assert s.stopped_for_cost and s.valid == 3 and len(server.calls) == 3
    assert s.cost_usd == pytest.approx(3 * one) and s.cost_usd < 2.5 * one + one
    assert len(server.batches) >= 2
    assert all(j["batch_id"] for j in rows.all_judgments(fresh_ws.store))
    # A rerun without the limit judges the rest, and nothing twice.
    _, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], batch=True, poll_seconds=0.01, **FAST)
    assert s.valid == N - 3 and len(server.calls) == N and len(rows.all_judgments(fresh_ws.store)) == N


def test_batch_with_max_cost_uses_the_judges_stored_cost(fresh_ws, server):
    """Once the judge has answered before, the first round is already sized from what it cost."""
    compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], max_cost=0.5 * ONE, concurrency=1, **FAST)
    assert len(server.calls) == 1  # the non-batch path: one request, then the limit
    one = ONE * 0.5
    _, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], batch=True, max_cost=3.5 * one,
                   poll_seconds=0.01, **FAST)
    assert len(server.batches) == 1 and s.valid == 4 and s.stopped_for_cost
    assert len(server.calls) == 1 + 4


def test_concurrency_does_not_carry_the_spend_past_max_cost(fresh_ws, server):
    _, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], concurrency=8, max_cost=2.5 * ONE, **FAST)
    # Without counting requests in flight, all 8 would start at once with nothing spent yet.
    assert s.stopped_for_cost and len(server.calls) == 3 and s.cost_usd == pytest.approx(3 * ONE)
