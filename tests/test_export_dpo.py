"""DPO export: one pair per prompt and pair of answers, from the judges' consensus."""

import json

import pytest
from typer.testing import CliRunner

from brie.cli import app
from brie.errors import BrieError
from brie.export.judged import export_dpo
from brie.judging.human import record_human_verdict
from brie.judging.workflows import compare
from brie.store import judging as rows
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.judge_server import JudgeServer

FAST = {"max_tokens": 8, "max_retries": 0, "timeout": 5.0}


def two_judges(call):
    """Judge j1 picks the answer shown first, except a tie on fact 7; j2 agrees with it, except
    the other answer on facts 0 and 1 and a tie on facts 2 and 7. Both see the same order (the
    comparison's shown_first), so "[[A]]" from both is agreement."""
    user, model = call["user"], call["body"]["model"]
    if model == "j2" and ("fact number 0." in user or "fact number 1." in user):
        return {"text": "[[B]]"}
    if "fact number 7." in user or (model == "j2" and "fact number 2." in user):
        return {"text": "[[C]]"}
    return {"text": "[[A]]"}


def _by_prompt(ws):
    return {c["turns"][0]: c for c in rows.find_comparisons(ws.store)}


def test_agreeing_judges_give_one_pair_and_disagreeing_judges_none(fresh_ws, tmp_path):
    with JudgeServer(two_judges) as server:
        compare(fresh_ws, "s", "base", "r1@10", [f"openai-compatible:{m}@{server.url}/v1" for m in ("j1", "j2")],
                **FAST)
    comps = _by_prompt(fresh_ws)
    assert all(c["a_answers"] != c["b_answers"] for c in comps.values())  # else a pair would be a tie
    path, n = export_dpo(fresh_ws, tmp_path / "dpo.jsonl")
    pairs = [json.loads(x) for x in path.read_text().splitlines()]
    # 12 comparisons: fact 7 tied by both, facts 0-2 disagreed on, one multi-turn prompt; 7 pairs left.
    assert n == len(pairs) == 7
    assert len({p["prompt"] for p in pairs}) == 7  # no prompt twice, so never both orders
    for p in pairs:
        c = comps[p["prompt"]]
        shown, other = ("a", "b") if c["shown_first"] == "a" else ("b", "a")
        assert p["chosen"] == c[f"{shown}_answers"][0] and p["rejected"] == c[f"{other}_answers"][0]
        assert len(p["judges"]) == 2 and p["comparison_ids"] == [str(c["comparison_id"])]
    assert not {f"Tell me fact number {i}." for i in (0, 1, 2, 7)} & {p["prompt"] for p in pairs}

    r = CliRunner().invoke(app, ["export", "dpo", "--force"])
    assert r.exit_code == 0, r.output
    assert "Wrote 7 DPO pairs" in r.output
    assert "skipped: 1 tie, 3 pairs the judges disagree on, 1 multi-turn prompt" in r.output


def test_a_human_who_disagrees_removes_the_pair(fresh_ws, tmp_path):
    with JudgeServer(lambda call: {"text": "[[A]]"}) as server:
        compare(fresh_ws, "s", "base", "r1@10", [f"openai-compatible:j1@{server.url}/v1"], **FAST)
    hello = _by_prompt(fresh_ws)["Say hello."]
    record_human_verdict(fresh_ws, hello["comparison_id"], "x", "second")  # against j1's "first"
    _, n = export_dpo(fresh_ws, tmp_path / "dpo.jsonl")
    prompts = [json.loads(x)["prompt"] for x in (tmp_path / "dpo.jsonl").read_text().splitlines()]
    assert n == 10 and "Say hello." not in prompts  # 11 single-turn comparisons, one now disputed


def test_the_same_answers_compared_with_sides_swapped_are_one_pair(fresh_ws, tmp_path):
    with JudgeServer(lambda call: {"text": "[[A]]"}) as server:
        compare(fresh_ws, "s", "base", "r1@10", [f"openai-compatible:j1@{server.url}/v1"], **FAST)
    c = _by_prompt(fresh_ws)["Say hello."]
    suite_id = fresh_ws.store.db.execute("select id from suites where name = 's'").fetchone()[0]
    prompt_row = fresh_ws.store.db.execute("select prompt_row_id from comparisons where id = ?",
                                           [c["comparison_id"]]).fetchone()[0]
    # The same two answers again, B's answer now on side a, shown so that "first" is the same text.
    [again] = rows.ensure_comparisons(fresh_ws.store, [{
        "suite_id": suite_id, "prompt_row_id": prompt_row, "gen_a": c["b_gen"], "gen_b": c["a_gen"],
        "sample_idx": 0, "shown_first": "b" if c["shown_first"] == "a" else "a"}])
    for cid in (c["comparison_id"], again):
        record_human_verdict(fresh_ws, cid, "x", "first")
    _, n = export_dpo(fresh_ws, tmp_path / "dpo.jsonl", judge="human:x")
    [pair] = [json.loads(x) for x in (tmp_path / "dpo.jsonl").read_text().splitlines()]
    assert n == 1 and pair["judges"] == ["human:x"]
    assert pair["comparison_ids"] == [str(c["comparison_id"]), str(again)]
    shown = c["shown_first"]
    assert pair["chosen"] == c[f"{shown}_answers"][0]
    # Picking the other text in the swapped comparison is a disagreement: no pair.
    record_human_verdict(fresh_ws, c["comparison_id"], "y", "first")
    record_human_verdict(fresh_ws, again, "y", "second")
    with pytest.raises(BrieError, match="1 where judges disagree"):
        export_dpo(fresh_ws, tmp_path / "dpo-y.jsonl", judge="human:y")


def test_judgments_without_a_valid_verdict_are_not_called_no_judgments(fresh_ws, tmp_path):
    with JudgeServer(lambda call: {"text": "I cannot decide."}) as server:
        compare(fresh_ws, "s", "base", "r1@10", [f"openai-compatible:j@{server.url}/v1"], max_attempts=1, **FAST)
    n = fresh_ws.store.db["judgments"].count
    assert n == 12
    want = (f"nothing to export: no decisive single-turn verdicts ({n} judgments, all without a valid verdict; "
            "see `brie results` or `brie export judged`)")
    # the function the TUI's export key calls, and the CLI
    with pytest.raises(BrieError) as err:
        export_dpo(fresh_ws, tmp_path / "dpo.jsonl")
    assert str(err.value) == want and not (tmp_path / "dpo.jsonl").exists()
    r = CliRunner().invoke(app, ["export", "dpo"])
    assert r.exit_code == 1 and want in " ".join(r.output.split()) and "no judgments yet" not in r.output


def test_comparisons_without_a_valid_verdict_are_counted_among_the_skipped(fresh_ws, tmp_path):
    # every comparison tied, except one whose judge never gives a verdict
    with JudgeServer(lambda call: {"text": "no idea" if "fact number 3." in call["user"] else "[[C]]"}) as server:
        compare(fresh_ws, "s", "base", "r1@10", [f"openai-compatible:j@{server.url}/v1"], max_attempts=1, **FAST)
    with pytest.raises(BrieError, match=r"\(11 ties, 0 where judges disagree, 0 multi-turn, 1 without a valid verdict\)"):
        export_dpo(fresh_ws, tmp_path / "dpo.jsonl")
