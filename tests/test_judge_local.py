"""The offline judge path: a real `mlx_lm.server` (tiny model) through the openai SDK; the demo step."""

from brie.store import judging as rows
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)


def test_mlx_lm_server_judge_stores_raw_answers(fresh_ws, tiny_model_dir):
    from brie.judging.workflows import judge_comparisons
    from brie.judging.local_server import mlx_server

    from brie.models.specs import resolve_specs
    from brie.generation.runner import generate_suite
    from brie.judging.workflows import make_comparisons

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
    from brie.demo.steps import step_compare_demo

    said = []
    step_compare_demo(workspace, said.append)
    assert said and "Skipping the A/B comparison" in said[-1]


def test_demo_judge_keeps_its_name_when_the_port_changes(fresh_ws, monkeypatch):
    """The demo's local judge gets a new port on each run; its verdicts must still be found and reused."""
    from contextlib import contextmanager

    from brie.demo import steps as demo
    from brie.judging import local_server as local_judge
    from tests.judge_server import JudgeServer

    servers = []

    @contextmanager
    def fake_mlx_server(model_path, log_path=None, **kw):
        # A real HTTP server on a fresh port each time, as mlx_lm.server would get when 18231 is taken.
        with JudgeServer(lambda call: {"text": "[[A]]"}) as server:
            servers.append(server)
            yield server.url + "/v1"

    monkeypatch.setattr(local_judge, "mlx_server", fake_mlx_server)
    monkeypatch.setattr(demo, "DEMO_GEN_TOKENS", 4)
    monkeypatch.setattr(demo, "DEMO_JUDGED_PER_SUITE", 1)
    monkeypatch.setattr(demo, "DEMO_RUN", "r1")
    first, second = [], []
    demo.step_compare_demo(fresh_ws, first.append)
    demo.step_compare_demo(fresh_ws, second.append)
    assert servers[0].url != servers[1].url
    assert len(servers[0].calls) == 2 and servers[1].calls == []  # nothing judged twice
    judges = {j["judge"] for j in rows.all_judgments(fresh_ws.store)}
    assert judges == {demo.DEMO_JUDGE} and "127.0.0.1" not in demo.DEMO_JUDGE
    assert "Judged: 2 verdicts, 0 answers without a valid verdict" in "\n".join(first)
    assert "Nothing new to judge: reusing 2 stored judgments" in "\n".join(second)
    assert any("win rate" in line for line in second)
