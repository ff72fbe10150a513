"""`brie results` on a narrow terminal: every column readable at 80 columns, nothing lost."""

import pytest
from typer.testing import CliRunner

from brie.cli import app
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.judge_server import JudgeServer, answers_in


def prefer_longer(call):
    first, second = answers_in(call["user"])
    if len(first.strip()) == len(second.strip()):
        return {"text": "[[C]]"}
    return {"text": "[[A]]" if len(first.strip()) > len(second.strip()) else "[[B]]"}


@pytest.fixture
def judged_twice(fresh_ws):
    from brie.judging.workflows import compare

    with JudgeServer(prefer_longer) as server:
        judges = [f"openai-compatible:default_model@{server.url}/v1", f"openai-compatible:other@{server.url}/v1"]
        compare(fresh_ws, "s", "base", "r1@10", judges, swap=True, max_tokens=8, max_retries=0, timeout=5.0)
    return fresh_ws, judges


def show(width: int) -> str:
    from brie.cli import common

    old = common.console._width
    common.console._width = width
    try:
        r = CliRunner().invoke(app, ["results"])
    finally:
        common.console._width = old
    assert r.exit_code == 0, r.output
    return r.output


def test_results_fit_80_columns_without_breaking_values(judged_twice):
    ws, judges = judged_twice
    from brie.judging.stats import results

    data = results(ws)
    out = show(80)
    assert max(len(line) for line in out.splitlines()) <= 80
    lines = out.splitlines()
    # every win rate with its interval is on one line, whole
    for row in data["results"]:
        ci = f"{100 * row['b_win_rate']:.0f}% ({100 * row['ci_low']:.0f}%–{100 * row['ci_high']:.0f}%)"
        assert any(ci in line for line in lines), ci
    # model labels are never cut: each appears whole on some line
    for label in ("base", "r1@10"):
        assert any(label in line for line in lines), label
    # the long judge names fold but nothing is dropped: joined back they are all there
    joined = "".join(line.strip("│ ").strip() for line in lines)
    for j in judges:
        assert j.replace(" ", "") in joined.replace(" ", "").replace("│", ""), j
    for header in ("n", "B win % (95% CI)"):
        assert header in out, header


def test_results_wide_keeps_every_column(judged_twice):
    out = show(200)
    for header in ("suite", "category", "1st-shown wins", "swap consistent", "parse fail", "cost $"):
        assert header in out, header


def test_results_show_the_spread_across_samples_only_when_there_are_several(judged_twice):
    from brie.judging.workflows import compare
    from brie.judging.stats import results

    assert "sample sd" not in show(200) and "spread" not in show(80)  # one sample each
    ws, _ = judged_twice
    with JudgeServer(prefer_longer) as server:
        compare(ws, "s", "base", "r1@10", [f"openai-compatible:sampled@{server.url}/v1"], samples=2,
                temperature=0.9, max_tokens=8, max_retries=0, timeout=5.0)
    rows = [r for r in results(ws)["results"] if r["samples"] > 1]
    assert rows and all(r["sample_win_rate_sd"] is not None for r in rows)
    wide, narrow = show(200), show(80)
    assert "sample sd (samples)" in wide and "spread" in narrow
    assert max(len(line) for line in narrow.splitlines()) <= 80
    for row in rows:
        cell = f"±{100 * row['sample_win_rate_sd']:.0f}% ({row['samples']})"
        assert cell in wide and cell in narrow, cell
