"""The report's win-rate section reads the judging statistics once judgments exist."""

from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.judge_server import JudgeServer


def test_report_shows_win_rate_position_bias_and_small_n(fresh_ws):
    from brie.judging.workflows import compare
    from brie.export.report import build_report

    with JudgeServer(lambda call: {"text": "B is better. [[B]]"}) as server:
        judge = f"openai-compatible:judge@{server.url}/v1"
        ids, summary = compare(fresh_ws, "s", "base", "r1@10", [judge], max_tokens=8, max_retries=1, timeout=5.0)
    n = len(ids)
    report = build_report(fresh_ws, "r1")
    section = report.split("## Win rates and judge agreement")[1].split("## Forgetting")[0]
    assert "No judgments yet." not in section
    # "[[B]]" always names the answer shown second: win rate and first-shown rate follow from the draws
    from brie.judging.stats import results

    [row] = [r for r in results(fresh_ws)["results"] if r["category"] == "(all)"]
    assert row["first_shown_win_rate"] == 0.0
    assert f"| s | base | r1@10 | {judge} | {n} |" in section
    assert f"only n={n} comparisons" in report


def _clone_generations(ws, src_run: str, new_run: str, step: int = 10) -> dict:
    """Copies of `src_run`'s stored answers under another run (as if it had been trained and generated):
    {label: {(prompt_row_id, sample_idx): generation id}}, the shape make_comparisons takes."""
    from brie.store import judging as rows

    out = {"base": {}, f"{new_run}@{step}": {}}
    for g in ws.store.db["generations"].rows:
        if g["run"] is None:
            out["base"][(g["prompt_row_id"], g["sample_idx"])] = g["id"]
        elif g["run"] == src_run:
            copy = {k: v for k, v in g.items() if k not in ("id", "created_at")}
            copy.update(label=f"{new_run}@{step}", run=new_run, model_key=f"sha-of-{new_run}")
            out[f"{new_run}@{step}"][(g["prompt_row_id"], g["sample_idx"])] = rows.insert_generation(ws.store, copy)
    return out


def test_report_counts_only_this_runs_comparisons(fresh_ws):
    """Another run's base-vs-checkpoint verdicts (and judge agreement on them) stay out of r1's report."""
    from brie.judging.workflows import compare, judge_comparisons, make_comparisons
    from brie.export.report import build_report
    from brie.judging.stats import results

    with fresh_ws.store.transaction() as db:  # no checkpoint files needed: its answers are copied below
        db["runs"].insert({"name": "other", "model": "tiny", "status": "completed", "method": "lora",
                           "created_at": "2026-11-22T03:00:00Z"})
    other_ids = make_comparisons(fresh_ws, "s", _clone_generations(fresh_ws, "r1", "other"), "base", "other@10")
    with JudgeServer(lambda call: {"text": "[[A]]"}) as server:
        mine = f"openai-compatible:mine@{server.url}/v1"
        only_other = f"openai-compatible:elsewhere@{server.url}/v1"
        ids, _ = compare(fresh_ws, "s", "base", "r1@10", [mine], max_tokens=8, max_retries=1, timeout=5.0)
        # both judges see `other`: agreement between them exists only on other's comparisons
        judge_comparisons(fresh_ws, other_ids, [mine, only_other], max_retries=1, timeout=5.0)
    from brie.store import evals as eval_rows

    # an unfinished evaluation of the other run: its caveat belongs in other's report only
    eval_rows.get_or_create_result(fresh_ws.store, label="other@10", model="tiny", run="other", step=10,
                                   adapter_sha256="sha-of-other", benchmark="gsm8k", settings={}, n_items=5,
                                   n_available=10)
    assert results(fresh_ws)["agreement"]  # the workspace-wide view has it
    report = build_report(fresh_ws, "r1")
    section = report.split("## Win rates and judge agreement")[1].split("## Forgetting")[0]
    assert "other@10" not in report and only_other not in report
    assert "Judge agreement" not in section
    assert f"| s | base | r1@10 | {mine} | {len(ids)} |" in section
    other = build_report(fresh_ws, "other")
    assert "| s | base | other@10 |" in other and "other@10 on gsm8k is running (0/5 items)" in other


def test_report_of_a_failed_run_says_how_far_it_got(fresh_ws):
    from brie.export.report import build_report

    with fresh_ws.store.transaction() as db:
        db["runs"].insert({"name": "broke", "model": "tiny", "status": "failed", "method": "lora",
                           "error": "out of memory", "created_at": "2026-11-22T03:00:00Z"})
    report = build_report(fresh_ws, "broke")
    assert "None" not in report
    assert "| **steps** | none recorded (the run is failed) |" in report
    assert "| **error** | out of memory |" in report


def test_report_shows_judge_agreement_with_n_and_the_parse_failure_rate(fresh_ws):
    """Two judges on r1's comparisons; the second's 1st and 3rd answers name no verdict (stored
    invalid, asked again). The agreement row and the caveat are checked against the stored rows."""
    import itertools

    from brie.judging.workflows import compare, judge_comparisons
    from brie.export.report import build_report
    from tests.judge_server import answers_in

    calls_two = itertools.count(1)

    def behaviour(call):
        if call["body"]["model"] == "one":
            return {"text": "[[A]]"}
        if next(calls_two) in (1, 3):
            return {"text": "Both answers have merit; I cannot decide."}
        first, second = answers_in(call["user"])
        return {"text": "[[A]]" if len(first) >= len(second) else "[[B]]"}

    with JudgeServer(behaviour) as server:
        one, two = (f"openai-compatible:{m}@{server.url}/v1" for m in ("one", "two"))
        ids, _ = compare(fresh_ws, "s", "base", "r1@10", [one], max_tokens=8, max_retries=1, timeout=5.0)
        judge_comparisons(fresh_ws, ids, [two], concurrency=1, max_retries=1, timeout=5.0)

    # by hand, from the stored judgments: each judge's valid verdict per comparison
    rows = list(fresh_ws.store.db["judgments"].rows)
    final = {j: {r["comparison_id"]: r["verdict"] for r in rows if r["judge"] == j and r["verdict"] != "invalid"}
             for j in (one, two)}
    n = len(ids)
    assert set(final[one]) == set(final[two]) == set(ids)
    pairs = [(final[one][c], final[two][c]) for c in ids]
    agreement = sum(x == y for x, y in pairs) / n
    cats = {"a", "b", "tie"}
    expected_by_chance = sum(sum(x == c for x, _ in pairs) * sum(y == c for _, y in pairs) for c in cats) / n ** 2
    kappa = (agreement - expected_by_chance) / (1 - expected_by_chance)
    assert 0 < agreement < 1  # the two judges disagree on some comparisons, agree on others
    invalid = [r for r in rows if r["judge"] == two and r["verdict"] == "invalid"]
    assert len(invalid) == 2 and sum(r["judge"] == two for r in rows) == n + 2

    report = build_report(fresh_ws, "r1")
    section = report.split("## Win rates and judge agreement")[1].split("## Forgetting")[0]
    assert "Judge agreement (Cohen's kappa" in section
    assert f"| {one} | {two} | {n} | {agreement:.4g} | {kappa:.4g} |" in section
    caveats = report.split("## Caveats")[1]
    rate = 2 / (n + 2)
    assert f"- {two} on s: {rate:.0%} of its answers did not parse" in caveats
    assert f"{one} on s: " not in caveats  # judge one's answers all parsed
    # the win-rate row of judge two shows the same rate
    assert f"| s | base | r1@10 | {two} | {n} |" in section and f"| {rate:.0%} |" in section
