"""Message Batches items that error or expire are not stored, and are asked again in the next round."""

from brie.judging.workflows import compare
from brie.store import judging as rows
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.test_judge_compare import CLAUDE, FAST, N, server_env  # noqa: F401  (fixture)


def test_errored_and_expired_items_are_sent_again_in_a_new_batch(fresh_ws, server_env):
    server = server_env(lambda call: {1: {"batch_result": "errored"}, 2: {"batch_result": "errored"},
                                      3: {"batch_result": "expired"}}.get(call["n"], {"text": "[[B]]"}))
    _, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], batch=True, poll_seconds=0.01, **FAST)
    assert s.valid == N and s.failed == 3
    assert [len(b["requests"]) for b in server.batches.values()] == [N, 3]
    stored = rows.all_judgments(fresh_ws.store)
    assert len(stored) == N and {j["raw"] for j in stored} == {"[[B]]"}
    assert all(b["status"] == "collected" for b in fresh_ws.store.db["judge_batches"].rows)


def test_a_batch_where_every_item_errors_stops_and_a_rerun_finishes(fresh_ws, server_env):
    server = server_env(lambda call: {"batch_result": "errored"})
    _, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], batch=True, poll_seconds=0.01, **FAST)
    assert s.valid == 0 and s.failed == N and len(server.batches) == 1  # no loop resending the same items
    assert rows.all_judgments(fresh_ws.store) == []
    server = server_env(lambda call: {"text": "[[A]]"})
    _, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], batch=True, poll_seconds=0.01, **FAST)
    assert s.valid == N and len(rows.all_judgments(fresh_ws.store)) == N
