"""Judging through the real anthropic and openai SDKs against a local server (tests/judge_server.py)."""

import json

import pytest

from brie.errors import BrieError
from brie.judging.base import JudgeError
from brie.judging.judges import parse_judge
from brie.judging.workflows import compare, judge_comparisons
from brie.judging.stats import results
from brie.store import judging as rows
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.judge_server import JudgeServer, answers_in

N = 12  # comparisons in the template suite
CLAUDE = "anthropic:claude-sonnet-5-5"
FAST = {"max_tokens": 8, "max_retries": 3, "timeout": 5.0}


def always(text):
    return lambda call: {"text": text}


def prefer_longer(call):
    """A judge that reads the answers: the longer wins, equal is a tie — so the mapped verdict
    depends on the models, never on the order they were shown in."""
    first, second = answers_in(call["user"])
    if len(first.strip()) == len(second.strip()):
        return {"text": "Same. [[C]]"}
    return {"text": "[[A]]" if len(first.strip()) > len(second.strip()) else "[[B]]"}


@pytest.fixture
def server_env(monkeypatch):
    def start(behaviour, **kw):
        server = JudgeServer(behaviour, **kw).__enter__()
        started.append(server)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-test-key")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
        return server

    started = []
    yield start
    for s in started:
        s.__exit__(None, None, None)


def test_always_A_judge_gives_first_shown_every_time(fresh_ws, server_env):
    from brie.export.judged import judged_lines

    server = server_env(always("Both fine. [[A]]"))
    ids, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], **FAST)
    assert len(ids) == N and s.valid == N and s.invalid == 0
    lines = judged_lines(fresh_ws)
    assert len(lines) == N and all(x["verdict"] == x["shown_first"] for x in lines)
    assert all(x["winner"] == x[x["shown_first"]]["label"] for x in lines)
    [overall] = [r for r in results(fresh_ws)["results"] if r["category"] == "(all)"]
    assert overall["first_shown_win_rate"] == 1.0 and overall["n"] == N
    assert overall["warning"]  # n < 30
    assert len(server.calls) == N
    # The fixed instructions go out marked for prompt caching.
    assert server.calls[0]["body"]["system"][0]["cache_control"] == {"type": "ephemeral"}


def test_always_A_judge_with_swap_is_all_ties(fresh_ws, server_env):
    server_env(always("[[A]]"))
    ids, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], swap=True, **FAST)
    assert s.valid == 2 * N
    [overall] = [r for r in results(fresh_ws)["results"] if r["category"] == "(all)"]
    assert overall["ties"] == N and overall["b_win_rate"] == 0.5
    assert overall["swap_consistency"] == 0.0 and overall["position_flips"] == N
    passes = {(j["comparison_id"], j["pass"]): j["shown_first"] for j in rows.all_judgments(fresh_ws.store)}
    assert all(passes[(c, 0)] != passes[(c, 1)] for c in ids)


def test_content_judge_maps_back_to_the_model(fresh_ws, server_env):
    server_env(prefer_longer)
    ids, _ = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], **FAST)
    comps = rows.find_comparisons(fresh_ws.store)
    expected = {c["comparison_id"]: ("tie" if len(c["a_answers"][-1].strip()) == len(c["b_answers"][-1].strip())
                                     else "a" if len(c["a_answers"][-1].strip()) > len(c["b_answers"][-1].strip())
                                     else "b") for c in comps}
    got = {j["comparison_id"]: j["verdict"] for j in rows.all_judgments(fresh_ws.store)}
    assert got == expected
    assert {c["shown_first"] for c in comps} <= {"a", "b"}


def test_invalid_answers_are_stored_raw_retried_and_never_guessed(fresh_ws, server_env):
    script = ["garbage", "[[A]] hmm, actually [[B]]", None]  # first comparison: three bad answers
    script += ["", "[[B]]"]  # second: an empty answer, then a valid one

    def behaviour(call):
        i = call["n"] - 1
        if i < len(script):
            return {"text": script[i]} if i != 2 else {"text": "[[A]] I can't help with that.", "refusal": True}
        return {"text": "[[C]]"}

    server = server_env(behaviour)
    ids, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], concurrency=1, max_attempts=3, **FAST)
    first = [j for j in rows.all_judgments(fresh_ws.store) if j["comparison_id"] == ids[0]]
    assert [j["verdict"] for j in first] == ["invalid"] * 3
    assert [j["raw"] for j in first] == ["garbage", "[[A]] hmm, actually [[B]]", "[[A]] I can't help with that."]
    second = [j for j in rows.all_judgments(fresh_ws.store) if j["comparison_id"] == ids[1]]
    assert [j["verdict"] for j in second][0] == "invalid" and second[0]["raw"] == ""
    assert second[1]["verdict"] in ("a", "b") and second[1]["attempt"] == 2
    assert s.invalid == 4 and s.valid == N - 1
    r = results(fresh_ws)
    assert r["parse_failure_rate"] == pytest.approx(4 / (N + 3))
    calls = len(server.calls)
    _, s2 = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], **FAST)
    assert len(server.calls) == calls and s2.tasks == 0  # exhausted and valid ones are both done


# Messages (Anthropic) and chat completions (OpenAI and OpenAI-compatible) survive the same failures.
BOTH = pytest.mark.parametrize("judge", [CLAUDE, "openai:gpt-5"])


@BOTH
def test_429_and_500_sequences_and_bad_bodies_are_retried(fresh_ws, server_env, judge):
    def behaviour(call):
        return {1: {"status": 429}, 2: {"status": 500}, 3: {"status": 529},
                4: {"raw": b'{"id": "msg_1", "content": [{"type": "text", "text": "\\q'},  # broken JSON
                5: {"raw": b""}}.get(call["n"], {"text": "[[B]]"})

    server = server_env(behaviour)
    ids, s = compare(fresh_ws, "s", "base", "r1@10", [judge], concurrency=1, **FAST)
    assert s.valid == N and s.failed == 0
    stored = rows.all_judgments(fresh_ws.store)
    assert len(stored) == N and {j["raw"] for j in stored} == {"[[B]]"}
    assert len(server.calls) == N + 5  # each failure was asked again, once


@BOTH
def test_slow_answers_time_out_and_are_retried(fresh_ws, server_env, judge):
    server_env(lambda call: {"text": "[[A]]", "delay": 3 if call["n"] == 1 else 0})
    ids, s = compare(fresh_ws, "s", "base", "r1@10", [judge], concurrency=2, max_tokens=8,
                     max_retries=2, timeout=1.0)
    assert s.valid == N and s.failed == 0


@BOTH
def test_a_dead_server_stores_nothing_and_a_rerun_finishes(fresh_ws, server_env, judge):
    server_env(lambda call: {"status": 500})
    _, s = compare(fresh_ws, "s", "base", "r1@10", [judge], concurrency=4, max_attempts=1,
                   max_tokens=8, max_retries=0, timeout=5)
    assert s.failed == N and rows.all_judgments(fresh_ws.store) == []
    server_env(always("[[C]]"))
    _, s = compare(fresh_ws, "s", "base", "r1@10", [judge], **FAST)
    assert s.valid == N


def test_concurrency_is_bounded(fresh_ws, server_env):
    server = server_env(lambda call: {"text": "[[A]]", "delay": 0.15})
    compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], concurrency=3, **FAST)
    assert 2 <= server.max_in_flight <= 3


def test_costs_with_cache_and_max_cost_stop(fresh_ws, server_env):
    server_env(lambda call: {"text": "[[A]]", "usage": (100, 20, 1000)})
    spec = parse_judge(CLAUDE)
    one = (100 * 3.0 + 20 * 15.0 + 1000 * 3.0 * 0.1) / 1e6
    assert spec.cost(100, 20, 1000) == pytest.approx(one)
    _, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], concurrency=1, max_cost=2.5 * one, **FAST)
    assert s.stopped_for_cost and s.valid == 3
    stored = rows.all_judgments(fresh_ws.store)
    assert len(stored) == 3 and all(j["cost_usd"] == pytest.approx(one) for j in stored)
    assert stored[0]["input_tokens"] == 100 and stored[0]["output_tokens"] == 20
    assert stored[0]["cache_read_tokens"] == 1000
    _, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], concurrency=1, **FAST)
    assert s.tasks == N - 3 and len(rows.all_judgments(fresh_ws.store)) == N


def test_openai_and_openai_compatible_judges_and_agreement(fresh_ws, server_env):
    server = server_env(lambda call: prefer_longer(call) if call["kind"] == "openai" else {"text": "[[A]]"})
    local = f"openai-compatible:local-model@{server.url}/v1"
    _, s = compare(fresh_ws, "s", "base", "r1@10", ["openai:gpt-5", local, CLAUDE],
                   **FAST)
    assert s.valid == 3 * N
    by_judge = {}
    for j in rows.all_judgments(fresh_ws.store):
        by_judge.setdefault(j["judge"], {})[j["comparison_id"]] = j
    assert by_judge["openai:gpt-5"].keys() == by_judge[local].keys()
    assert all(by_judge["openai:gpt-5"][c]["verdict"] == by_judge[local][c]["verdict"] for c in by_judge[local])
    assert all(j["cost_usd"] == 0 for j in by_judge[local].values())  # a local server is free
    assert next(iter(by_judge["openai:gpt-5"].values()))["cost_usd"] == pytest.approx((100 * 1.25 + 20 * 10) / 1e6)
    agreement = {(g["judge_1"], g["judge_2"]): g for g in results(fresh_ws)["agreement"]}
    same = agreement[tuple(sorted(["openai:gpt-5", local]))]
    assert same["n"] == N and same["agreement"] == 1.0
    assert same["kappa"] in (1.0, None)  # None only when every verdict fell in one category


def test_refusals_through_openai_are_invalid(fresh_ws, server_env):
    server_env(lambda call: {"text": "[[A]] no.", "refusal": True} if call["n"] == 1 else {"text": "[[B]]"})
    compare(fresh_ws, "s", "base", "r1@10", ["openai:gpt-5"], concurrency=1, **FAST)
    first = rows.all_judgments(fresh_ws.store)[0]
    assert first["verdict"] == "invalid" and first["raw"] == "[[A]] no."


def test_reference_and_multi_turn_prompts(fresh_ws, server_env):
    server = server_env(always("[[A]]"))
    compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], **FAST)
    users = [c["user"] for c in server.calls]
    assert sum("[The Start of Reference Answer]\n1, 2, 3" in u for u in users) == 1
    assert sum("Conversation with User" in u and "Now a vegetable." in u for u in users) == 1
    templates = {j["template"] for j in rows.all_judgments(fresh_ws.store)}
    assert templates == {"pairwise-v1", "pairwise-ref-v1"}


def test_batch_mode_is_half_price(fresh_ws, server_env):
    server = server_env(always("[[B]]"), batch_polls_in_progress=2)
    _, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], batch=True, poll_seconds=0.01, **FAST)
    assert s.valid == N and len(server.batches) == 1
    stored = rows.all_judgments(fresh_ws.store)
    assert all(j["batch_id"] == next(iter(server.batches)) for j in stored)
    assert stored[0]["cost_usd"] == pytest.approx((100 * 3 + 20 * 15) / 1e6 * 0.5)
    assert all(b["status"] == "collected" for b in fresh_ws.store.db["judge_batches"].rows)


def test_bad_judge_names(workspace):
    warnings = []
    parse_judge("anthropic:claude-sonnet-4-5", warn=warnings.append)
    assert "2026-11-30" in warnings[0]
    with pytest.raises(JudgeError, match="unknown model.*claude-sonnet-5-5"):
        parse_judge("anthropic:claude-nope")
    with pytest.raises(JudgeError, match="openai-compatible:<model>@<base-url>"):
        parse_judge("openai-compatible:model-without-url")
    with pytest.raises(JudgeError, match="write anthropic:<model>"):
        parse_judge("claude")
    (workspace.root / "judges.toml").write_text('[models."anthropic:claude-nope"]\ninput = 1\noutput = 2\n')
    assert parse_judge("anthropic:claude-nope", workspace).output_price == 2


def test_missing_key_is_a_clear_error(fresh_ws, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("ANTHROPIC_AUTH_TOKEN", raising=False)
    with pytest.raises(BrieError, match="ANTHROPIC_API_KEY is not set"):
        judge_comparisons(fresh_ws, [1], [CLAUDE])


def test_exports_and_grading(fresh_ws, server_env, tmp_path):
    from brie.export.judged import export_csv, export_dpo, export_judged
    from brie.judging.workflows import grade

    server_env(lambda call: {"text": "Rating: [[7]]"} if "rate the response" in call["body"]["system"][0]["text"]
               else prefer_longer(call))
    compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], **FAST)
    path, n = export_judged(fresh_ws)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert n == N and path.parent == fresh_ws.exports_dir
    keys = ["comparison_id", "suite", "prompt_id", "prompt", "category", "a", "b", "judge", "template",
            "shown_first", "raw", "verdict", "winner", "input_tokens", "output_tokens", "cost_usd", "judged_at"]
    single = [x for x in lines if "turns" not in x]
    assert all(list(x) == keys for x in single)
    assert list(single[0]["a"]) == ["label", "model", "run", "step", "adapter_sha256", "text"]
    b = single[0]["b"]
    assert b["label"] == "r1@10" and b["run"] == "r1" and b["step"] == 10 and len(b["adapter_sha256"]) == 64
    assert single[0]["a"]["run"] is None and single[0]["a"]["adapter_sha256"] is None
    dpo_path, n_dpo = export_dpo(fresh_ws, tmp_path / "dpo.jsonl")
    pairs = [json.loads(x) for x in dpo_path.read_text().splitlines()]
    decisive = [x for x in lines if x["verdict"] in ("a", "b") and "turns" not in x]
    assert n_dpo == len(decisive) and all({"prompt", "chosen", "rejected"} <= set(p) for p in pairs)
    assert all(len(p["chosen"].strip()) > len(p["rejected"].strip()) for p in pairs)
    csv_path, _ = export_csv(fresh_ws)
    assert csv_path.read_text().startswith("suite,category,a,b,judge,template,n,b_wins")
    counts = grade(fresh_ws, "s", "base,r1@10", [CLAUDE], max_tokens=8, max_retries=1, timeout=5)
    assert counts["valid"] == 2 * N
    [base] = [g for g in results(fresh_ws)["scores"] if g["model"] == "base"]
    assert base["mean_score"] == 7.0 and base["n"] == N
    templates = {r["template"] for r in fresh_ws.store.db["scores"].rows}
    assert templates == {"single-v1", "single-ref-v1"}


def test_batch_survives_a_restart_and_is_collected_not_resent(fresh_ws, server_env):
    server = server_env(always("[[A]]"))
    server.batch_get_status = 500  # the first session dies while waiting: the batch id is already stored
    with pytest.raises(Exception):
        compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], batch=True, poll_seconds=0.01,
                max_tokens=8, max_retries=0, timeout=5)
    assert [b["status"] for b in fresh_ws.store.db["judge_batches"].rows] == ["submitted"]
    assert rows.all_judgments(fresh_ws.store) == []
    server.batch_get_status = 200
    _, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], batch=True, poll_seconds=0.01, **FAST)
    assert s.valid == N and len(server.batches) == 1 and len(server.calls) == N
    assert [b["status"] for b in fresh_ws.store.db["judge_batches"].rows] == ["collected"]


def test_cli_compare_results_and_exports(fresh_ws, server_env):
    from typer.testing import CliRunner

    from brie.cli import app

    server_env(prefer_longer)
    runner = CliRunner()
    r = runner.invoke(app, ["compare", "--suite", "s", "--a", "base", "--b", "r1@10", "--judge", CLAUDE,
                            "--max-tokens", "8", "--retries", "1", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["valid"] == N
    r = runner.invoke(app, ["results"])
    assert r.exit_code == 0 and "Pairwise results" in r.output and "fewer than 30" in r.output
    data = json.loads(runner.invoke(app, ["results", "--json", "--suite", "s"]).output)
    assert data["results"][0]["n"] == N and data["judgments"] == N
    for kind in ("judged", "csv", "dpo"):
        r = runner.invoke(app, ["export", kind])
        assert r.exit_code == 0 and "Wrote" in r.output
    r = runner.invoke(app, ["compare", "--suite", "s", "--a", "base", "--b", "r1@10", "--judge", "claude"])
    assert r.exit_code == 1 and "write anthropic:<model>" in r.output


def test_samples_pair_up_and_show_their_spread(fresh_ws, server_env):
    server_env(prefer_longer)
    ids, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], samples=2, temperature=0.9, **FAST)
    assert len(ids) == 2 * N and s.valid == 2 * N
    comps = rows.find_comparisons(fresh_ws.store, ids=ids)
    assert {c["sample_idx"] for c in comps} == {0, 1}
    assert all(c["a_gen"] != c["b_gen"] for c in comps)
    [overall] = [r for r in results(fresh_ws)["results"] if r["category"] == "(all)"]
    assert overall["samples"] == 2 and overall["sample_win_rate_sd"] is not None and overall["n"] == 2 * N


def test_a_run_with_a_failed_judge_request_can_be_deleted(fresh_ws, server_env):
    """A failed request's reason is kept (judge_failures) and points at the comparison: deleting the
    run deletes it with the comparisons, and counts it among what refers to the run."""
    from typer.testing import CliRunner

    from brie.cli import app
    from brie.store import runs as run_rows

    server_env(lambda call: {"status": 400})
    _, s = compare(fresh_ws, "s", "base", "r1@10", [CLAUDE], max_attempts=1, max_tokens=8, max_retries=0, timeout=5)
    assert s.failed > 0 and rows.judge_failures(fresh_ws.store)
    # The template's run folder is shared by every test: point this copy's run at a folder of its own.
    run_rows.update_run(fresh_ws.store, run_rows.get_run(fresh_ws.store, "r1")["id"], path="runs/r1")
    runner = CliRunner()
    r = runner.invoke(app, ["runs", "delete", "r1", "--yes"])
    assert r.exit_code == 1 and f"{s.failed} judge failures" in " ".join(r.output.split()), r.output
    r = runner.invoke(app, ["runs", "delete", "r1", "--yes", "--force"])
    assert r.exit_code == 0 and r.exception is None and "Deleted run r1." in r.output, r.output
    assert rows.judge_failures(fresh_ws.store) == [] and run_rows.get_run(fresh_ws.store, "r1") is None
