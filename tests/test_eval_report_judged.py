"""The report's win-rate section reads the judging statistics once judgments exist."""

import pytest

pytest.importorskip("brie.judge", reason="the judging code (brie.judge) is not in this build")
fixtures = pytest.importorskip("tests.judge_fixtures", reason="tests/judge_fixtures.py not in this build")
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: E402,F401  (fixtures)
from tests.judge_server import JudgeServer  # noqa: E402


def test_report_shows_win_rate_position_bias_and_small_n(fresh_ws):
    from brie.judge import compare
    from brie.report import build_report

    with JudgeServer(lambda call: {"text": "B is better. [[B]]"}) as server:
        judge = f"openai-compatible:judge@{server.url}/v1"
        ids, summary = compare(fresh_ws, "s", "base", "r1@10", [judge], max_tokens=8, max_retries=1, timeout=5.0)
    n = len(ids)
    report = build_report(fresh_ws, "r1")
    section = report.split("## Win rates and judge agreement")[1].split("## Forgetting")[0]
    assert "No judgments yet." not in section
    # "[[B]]" always names the answer shown second: win rate and first-shown rate follow from the draws
    from brie.stats import results

    [row] = [r for r in results(fresh_ws)["results"] if r["category"] == "(all)"]
    assert row["first_shown_win_rate"] == 0.0
    assert f"| s | base | r1@10 | {judge} | {n} |" in section
    assert f"only n={n} comparisons" in report
