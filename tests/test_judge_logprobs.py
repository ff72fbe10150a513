"""API judges asked for log-probabilities (issue 15): an openai-compatible judge with `logprobs = true`
in judges.toml asks the real openai SDK for top_logprobs, and the verdict token's probabilities are
stored; a server that ignores the option falls back to the text verdict and says so once."""

from __future__ import annotations

import json
import math

import pytest

from brie.judging.base import JudgeError
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.judge_server import JudgeServer

FAST = {"max_tokens": 8, "max_retries": 0, "timeout": 5.0}


def with_logprobs(ws, model: str = "lp") -> None:
    """A workspace judges.toml entry asking `openai-compatible:<model>` (any URL) for logprobs."""
    (ws.root / "judges.toml").write_text(f'[models."openai-compatible:{model}"]\ninput = 0\noutput = 0\nlogprobs = true\n')


def normalised(logprobs: dict[str, float]) -> dict[str, float]:
    p = {k: math.exp(logprobs[k]) if k in logprobs else 0.0 for k in "ABC"}
    return {k: v / sum(p.values()) for k, v in p.items()}


def ask(ws, server, behaviour_model: str = "lp"):
    from brie.judging.judges import connect, parse_judge

    client = connect(parse_judge(f"openai-compatible:{behaviour_model}@{server.url}/v1", ws), max_retries=0, timeout=5.0)
    return client, client.ask("system", "user")


def test_the_verdict_tokens_probabilities_come_back_normalised_over_the_three(fresh_ws):
    with_logprobs(fresh_ws)
    lp = {"A": -1.6, "B": -0.4, "C": -2.3, "Bad": -0.9, "b": -3.0}  # "Bad" and "b" are not verdict letters
    with JudgeServer(lambda call: {"text": "A is terse, B is right. [[B]]", "verdict_logprobs": lp}) as server:
        _, reply = ask(fresh_ws, server)
        body = server.calls[0]["body"]
    assert body["logprobs"] is True and body["top_logprobs"] == 20
    assert reply.text.endswith("[[B]]")
    assert reply.probabilities == pytest.approx(normalised(lp))
    assert sum(reply.probabilities.values()) == pytest.approx(1.0)


def test_a_letter_inside_a_token_and_letters_missing_from_the_top_list(fresh_ws):
    with_logprobs(fresh_ws)
    # The tokenizer merged the brackets with the letter: alternatives "[[A", "[[C"; B is not in the top list.
    behaviour = {"text": "Verdict: [[A]]", "tokens": ["Verdict", ": ", "[[A", "]]"],
                 "verdict_logprobs": {"[[A": -0.2, "[[C": -1.9, "[[": -2.5}}
    with JudgeServer(lambda call: behaviour) as server:
        _, reply = ask(fresh_ws, server)
    expected = {"A": math.exp(-0.2), "B": 0.0, "C": math.exp(-1.9)}
    assert reply.probabilities == pytest.approx({k: v / sum(expected.values()) for k, v in expected.items()})
    assert reply.probabilities["B"] == 0.0


def test_an_answer_without_one_verdict_has_no_probabilities(fresh_ws):
    with_logprobs(fresh_ws)
    with JudgeServer(lambda call: {"text": "[[A]] or [[B]]", "verdict_logprobs": {"A": -0.1}}) as server:
        client, reply = ask(fresh_ws, server)
    assert reply.probabilities is None
    assert client.notices == []  # the server sent logprobs: nothing to say about the option


def test_a_judge_without_the_option_does_not_ask(fresh_ws):
    with JudgeServer(lambda call: {"text": "[[A]]"}) as server:
        _, reply = ask(fresh_ws, server, "plain")
        assert "logprobs" not in server.calls[0]["body"] and "top_logprobs" not in server.calls[0]["body"]
    assert reply.probabilities is None


def test_probabilities_are_stored_with_each_judgment(fresh_ws):
    from brie.judging.workflows import compare

    with_logprobs(fresh_ws)

    def behaviour(call):
        lp = {"A": -0.3 - 0.1 * (call["n"] % 5), "B": -1.2, "C": -2.0}
        return {"text": "[[A]]", "verdict_logprobs": lp}

    with JudgeServer(behaviour) as server:
        judge = f"openai-compatible:lp@{server.url}/v1"
        ids, summary = compare(fresh_ws, "s", "base", "r1@10", [judge], swap=True, **FAST)
        asked = {json.dumps(c["body"]["messages"]): c["n"] for c in server.calls}
    assert summary.valid == 2 * len(ids) and summary.notices == []
    stored = list(fresh_ws.store.db["judgments"].rows_where("judge = ?", [judge]))
    assert len(stored) == 2 * len(ids)
    for row in stored:
        assert row["verdict"] == row["shown_first"]  # [[A]]: the first-shown side, mapped back
        p = json.loads(row["probabilities"])
        assert set(p) == {"A", "B", "C"} and sum(p.values()) == pytest.approx(1.0)
    # each stored row's probabilities are its own call's
    ns = sorted(asked.values())
    assert sorted(json.loads(r["probabilities"])["A"] for r in stored) == pytest.approx(
        sorted(normalised({"A": -0.3 - 0.1 * (n % 5), "B": -1.2, "C": -2.0})["A"] for n in ns))


def test_a_server_that_ignores_the_option_falls_back_to_the_text_verdict_and_says_so_once(fresh_ws):
    from brie.judging.workflows import compare

    with_logprobs(fresh_ws)
    said: list[str] = []
    with JudgeServer(lambda call: {"text": "[[B]]"}, logprobs=False) as server:
        judge = f"openai-compatible:lp@{server.url}/v1"
        ids, summary = compare(fresh_ws, "s", "base", "r1@10", [judge], swap=True, concurrency=4,
                               warn=said.append, **FAST)
        assert all(c["body"]["logprobs"] is True for c in server.calls)  # asked every time
    assert summary.valid == 2 * len(ids)
    assert len(said) == 1 and said == summary.notices
    assert judge in said[0] and "ignored logprobs" in said[0]
    stored = list(fresh_ws.store.db["judgments"].rows_where("judge = ?", [judge]))
    assert all(r["probabilities"] is None and r["verdict"] != "invalid" for r in stored)


def test_the_cli_summary_carries_the_notice(fresh_ws):
    from typer.testing import CliRunner

    from brie.cli import app

    with_logprobs(fresh_ws)
    with JudgeServer(lambda call: {"text": "[[C]]"}, logprobs=False) as server:
        r = CliRunner().invoke(app, ["compare", "--suite", "s", "--a", "base", "--b", "r1@10", "--max-tokens", "8",
                                     "--judge", f"openai-compatible:lp@{server.url}/v1", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert len(out["notices"]) == 1 and "ignored logprobs" in out["notices"][0]
    assert r.stderr.count("ignored logprobs") == 1


@pytest.mark.parametrize("entry, message", [
    ('[models."openai-compatible:lp"]\nlogprobs = "yes"\n', 'line 2: models."openai-compatible:lp".logprobs must be true or false'),
    ('[models."anthropic:claude-x"]\ninput = 1\noutput = 1\nlogprobs = true\n', "logprobs is only for openai"),
])
def test_a_bad_logprobs_option_is_one_line(fresh_ws, entry, message):
    from brie.judging.judges import parse_judge

    (fresh_ws.root / "judges.toml").write_text(entry)
    name = "anthropic:claude-x" if "anthropic" in entry else "openai-compatible:lp@http://127.0.0.1:9/v1"
    with pytest.raises(JudgeError, match=message.replace(".", r"\.").replace("(", r"\(")):
        parse_judge(name, fresh_ws)


def test_a_logprobs_judge_grading_keeps_its_rating_when_the_answer_quotes_a_verdict(fresh_ws):
    """A rating answer that happens to hold one [[A]] comes back with A/B/C probabilities: `grade`
    must read the written rating, not take those for a rating's distribution (it crashed on int("A"))."""
    from brie.judging.workflows import grade
    from brie.store import judging as rows

    with_logprobs(fresh_ws)
    answer = {"text": "Better than [[A]] would be. Rating: [[7]]", "verdict_logprobs": {"A": -0.1, "B": -2.0}}
    with JudgeServer(lambda call: answer) as server:
        counts = grade(fresh_ws, "s", "base", [f"openai-compatible:lp@{server.url}/v1"], max_tokens=8,
                       max_attempts=1, max_retries=0, timeout=5.0)
        assert server.calls and server.calls[0]["body"]["logprobs"] is True  # asked, and answered with A/B/C
    scores = rows.all_scores(fresh_ws.store)
    assert counts["valid"] == len(scores) > 0 and counts["failed"] == 0
    assert {(s["score"], s["probabilities"]) for s in scores} == {(7, None)}
