"""The offline judge path: a real `mlx_lm.server` (tiny model) through the openai SDK; the demo step."""

from brie.store import judging as rows
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)


def test_mlx_lm_server_judge_stores_raw_answers(fresh_ws, tiny_model_dir):
    from brie.judge import judge_comparisons
    from brie.local_judge import mlx_server

    from brie.checkpoints import resolve_specs
    from brie.generate import generate_suite
    from brie.judge import make_comparisons

    gens = generate_suite(fresh_ws, "s", resolve_specs(fresh_ws, "base,r1@10"), max_tokens=8)  # stored: no model load
    ids = make_comparisons(fresh_ws, "s", gens, "base", "r1@10")[:2]
    with mlx_server(tiny_model_dir, port=0) as url:
        judge = f"openai-compatible:default_model@{url}"
        s = judge_comparisons(fresh_ws, ids, [judge], concurrency=2, max_attempts=1, max_retries=0,
                              timeout=60, judge_max_tokens=8)
    assert s.failed == 0 and s.valid + s.invalid == 2
    stored = rows.all_judgments(fresh_ws.store, judge)
    assert len(stored) == 2 and all(isinstance(j["raw"], str) for j in stored)
    assert all(j["verdict"] in ("a", "b", "tie", "invalid") and j["cost_usd"] == 0 for j in stored)


def test_demo_step_skips_without_a_trained_run(workspace):
    from brie.demo import step_compare_demo

    said = []
    step_compare_demo(workspace, said.append)
    assert said and "Skipping the A/B comparison" in said[-1]
