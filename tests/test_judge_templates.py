"""Template identity: every stored answer records its template set and the hash of the exact prompt
sent; a changed prompt asks again, and results keep old and new answers apart (issue 13, item 4).
Real anthropic SDK against tests/judge_server.py, real SQLite, generations from the tiny model."""

import pytest

from brie.judging import prompts
from brie.judging.prompts import prompt_sha256, template_label, template_sha256
from brie.judging.stats import results
from brie.judging.workflows import compare, grade
from brie.store import judging as rows
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.judge_server import JudgeServer

N = 12
CLAUDE = "anthropic:claude-sonnet-5-5"
FAST = {"max_tokens": 8, "max_retries": 1, "timeout": 5.0}
MARK = "You are judging with the second template."


def by_template(call):
    """[[A]] (the first shown) under the shipped template, [[B]] under the changed one."""
    system = "".join(part["text"] for part in call["body"]["system"])
    if "Rating" in system:
        return {"text": "Rating: [[9]]" if MARK in system else "Rating: [[2]]"}
    return {"text": "[[B]]" if MARK in system else "[[A]]"}


@pytest.fixture
def server(monkeypatch):
    with JudgeServer(by_template) as s:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", s.url)
        yield s


def change_templates(monkeypatch, names):
    for name in names:
        monkeypatch.setitem(prompts.TEMPLATES, name, prompts.TEMPLATES[name] + "\n\n" + MARK)


def overall(ws):
    return [r for r in results(ws)["results"] if r["category"] == "(all)"]


def test_every_judgment_records_its_template_and_exact_prompt(fresh_ws, server):
    compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], **FAST)
    stored = rows.all_judgments(fresh_ws.store)
    assert len(stored) == N
    sent = {(c["body"]["system"][0]["text"], c["user"]) for c in server.calls}
    assert {j["prompt_sha256"] for j in stored} == {prompt_sha256(s, u) for s, u in sent}
    assert {j["template_sha256"] for j in stored} == {template_sha256("pairwise")}
    assert {j["template"] for j in stored} == {"pairwise-v1", "pairwise-ref-v1"}  # p3 has a reference
    [row] = overall(fresh_ws)
    assert row["template"] == template_label("pairwise-v1", template_sha256("pairwise"))
    assert row["n"] == N  # both variants of one template set count together


def test_a_changed_template_asks_again_and_is_not_mixed(fresh_ws, server, monkeypatch):
    compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], **FAST)
    compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], **FAST)
    assert len(server.calls) == N  # same prompts: nothing asked again
    old_label = overall(fresh_ws)[0]["template"]

    change_templates(monkeypatch, ["pairwise-v1", "pairwise-ref-v1"])
    _, summary = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], **FAST)
    assert summary.tasks == N and summary.already_done == 0 and len(server.calls) == 2 * N
    assert all(MARK in c["body"]["system"][0]["text"] for c in server.calls[N:])
    assert len(rows.all_judgments(fresh_ws.store)) == 2 * N

    table = {r["template"]: r for r in overall(fresh_ws)}
    new_label = template_label("pairwise-v1", template_sha256("pairwise"))
    assert set(table) == {old_label, new_label} and old_label != new_label
    old, new = table[old_label], table[new_label]
    # each set's own numbers: the old judge picked the first shown every time, the new one the second
    assert (old["n"], old["first_shown_win_rate"]) == (N, 1.0)
    assert (new["n"], new["first_shown_win_rate"]) == (N, 0.0)
    assert new["judge"] == f"{CLAUDE} [{new_label}]" and old["judge"] == f"{CLAUDE} [{old_label}]"
    # the two template sets of one judge can be compared like two judges: they never agree
    [agree] = results(fresh_ws)["agreement"]
    assert agree["n"] == N and agree["agreement"] == 0.0

    compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], **FAST)  # and the new prompts are reused in turn
    assert len(server.calls) == 2 * N


def test_answers_stored_before_hashes_are_not_reused(fresh_ws, server):
    compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], **FAST)
    fresh_ws.store.db.execute("update judgments set prompt_sha256 = null, template_sha256 = null")
    fresh_ws.store.db.conn.commit()
    assert {r["template"] for r in overall(fresh_ws)} == {"pairwise-v1@unknown"}
    compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], **FAST)
    assert len(server.calls) == 2 * N  # the prompt they answered is unknown: asked again
    assert {r["template"] for r in overall(fresh_ws)} == {"pairwise-v1@unknown",
                                                            template_label("pairwise-v1", template_sha256("pairwise"))}


def test_grades_ask_again_after_a_template_change(fresh_ws, server, monkeypatch):
    grade(fresh_ws, "s", "base", [CLAUDE], max_tokens=8, max_retries=1, timeout=5)
    calls = len(server.calls)
    grade(fresh_ws, "s", "base", [CLAUDE], max_tokens=8, max_retries=1, timeout=5)
    assert len(server.calls) == calls == N
    change_templates(monkeypatch, ["single-v1", "single-ref-v1"])
    grade(fresh_ws, "s", "base", [CLAUDE], max_tokens=8, max_retries=1, timeout=5)
    assert len(server.calls) == 2 * N
    scores = {r["template"]: r for r in results(fresh_ws)["scores"]}
    assert len(scores) == 2
    assert sorted(r["mean_score"] for r in scores.values()) == [2.0, 9.0]
    assert all(r["n"] == N for r in scores.values())
