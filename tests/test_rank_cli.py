"""`brie rank` end to end: six models whose answers carry a marker, a real local judge server (the real
anthropic SDK) that answers by a fixed Bradley–Terry law over those markers, the real store.

No model is loaded: the runs' adapter files are stand-ins (resolve_specs only checks their sha256) and
the answers are stored as generations with the parameters `brie rank` asks for, so generation finds
them all and judging is the whole test. `runs recommend --by judged` then reads the same judgments.
"""

import hashlib
import json
import math
import random
import re

from typer.testing import CliRunner

from brie.cli import app
from brie.store import judging as rows
from tests.judge_server import JudgeServer, answers_in

CLAUDE = "anthropic:claude-sonnet-5-5"
# True log-strengths (the base is 0); their order is what the ranking must recover.
STRENGTH = {"base": 0.0, "r@10": 0.8, "r@20": 1.6, "r@30": 2.4, "r@40": -0.8, "r@50": 1.2}
PROMPTS = 70
# What `brie runs show` prints of a run's config.
CONFIG = {"fine_tune_type": "lora", "rank": 8, "alpha": 16, "lora_scale": 2, "dropout": 0.0, "num_layers": 2,
          "optimizer": "adam", "learning_rate": 1e-5, "lr_decay": "none", "warmup_steps": 0, "batch_size": 1,
          "grad_accumulation_steps": 1}


def make_workspace(root, prompts: int = PROMPTS):
    """Run `r` with checkpoints 10…50 (stand-in adapter files), a `prompts`-prompt suite `s`, and every
    model's answer to every prompt stored: "<label> says: …", lengths unrelated to strength."""
    from brie.data.suites import import_suite
    from brie.models.specs import sha256_file
    from brie.store import utcnow
    from brie.workspace import Workspace

    ws = Workspace.open(root, create=True)
    with ws.store.transaction() as db:
        db["runs"].insert({"name": "r", "model": "tiny", "backend": "mlx", "method": "lora", "status": "completed",
                           "path": "runs/r", "best_step": 10, "recommended_by": "auto", "recommended_step": 10,
                           "config_json": json.dumps(CONFIG), "created_at": utcnow()})
        run_id = db.execute("select id from runs where name = 'r'").fetchone()[0]
        for step in (10, 20, 30, 40, 50):
            folder = root / "runs" / "r" / "checkpoints" / str(step)
            folder.mkdir(parents=True)
            (folder / "adapters.safetensors").write_bytes(f"stand-in adapter {step}".encode())
            db["checkpoints"].insert({"run_id": run_id, "step": step, "path": f"runs/r/checkpoints/{step}",
                                      "adapter_sha256": sha256_file(folder / "adapters.safetensors"),
                                      "val_loss": 1.0 / step, "train_loss": 1.0 / step, "epoch": step / 50,
                                      "size_bytes": 20, "created_at": utcnow()})
    (root / "s.jsonl").write_text("".join(json.dumps({"id": f"p{i}", "prompt": f"Question {i}?"}) + "\n"
                                          for i in range(prompts)))
    import_suite(ws, str(root / "s.jsonl"), "s")
    from brie.models.specs import resolve_specs
    from brie.store.suites import list_prompts

    prompts = list_prompts(ws.store, ws.store.db["suites"].get(1)["id"])
    rng = random.Random(7)
    for spec in resolve_specs(ws, ",".join(STRENGTH)):
        for p in prompts:
            rows.insert_generation(ws.store, {
                "prompt_row_id": p["id"], "model_key": rows.model_key(spec.model, spec.adapter_sha256),
                "label": spec.label, "model": spec.model, "run": spec.run, "step": spec.step,
                "adapter_sha256": spec.adapter_sha256, "temperature": 0.0, "max_tokens": 256, "seed": 0,
                "sample_idx": 0, "engine": "mlx",
                "answers_json": json.dumps([f"<{spec.label}> says: " + "x" * rng.randint(5, 60)])})
    return ws


def bt_judge(call):
    """P(shown second wins) = σ(β_second − β_first), drawn from a generator seeded by the prompt text:
    the same question always gets the same answer, so a rerun could not tell it from the first run."""
    first, second = (re.match(r"<([^>]+)>", a).group(1) for a in answers_in(call["user"]))
    p_second = 1 / (1 + math.exp(-(STRENGTH[second] - STRENGTH[first])))
    u = random.Random(hashlib.sha256(call["user"].encode()).digest()).random()
    return {"text": "[[B]]" if u < p_second else "[[A]]"}


def test_rank_recovers_the_order_stores_the_judgments_and_recommends(tmp_path, monkeypatch):
    root = tmp_path / "ws"
    ws = make_workspace(root)
    monkeypatch.setenv("BRIE_HOME", str(root))
    with JudgeServer(bt_judge) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        # --until-clear first: it judges every model against the base in rounds and stops the clear ones.
        r = CliRunner().invoke(app, ["rank", "--suite", "s", "--models", "base,r@*", "--judge", CLAUDE,
                                     "--until-clear", "--no-neighbours", "--no-plot", "--round", "5",
                                     "--concurrency", "8", "--json"])
        assert r.exit_code == 0, r.output
        clear = json.loads(r.stdout)
        assert clear["judgments"]["scheduled"] == 5 * PROMPTS
        assert clear["judgments"]["handed_to_judge"] < clear["judgments"]["scheduled"]
        assert clear["judgments"]["saved"] == clear["judgments"]["scheduled"] - clear["judgments"]["handed_to_judge"]
        # the strongest (β 2.4, 92% against the base) clears long before the suite is done
        strongest = next(p for p in clear["pairs"] if p["b"] == "r@30")
        assert strongest["clear"] and strongest["prompts_judged"] < PROMPTS // 2
        assert len(server.calls) == clear["judgments"]["asked"]
        calls = len(server.calls)

        # Then everything: resumes (the judgments above are not asked again) and adds uncertain neighbours.
        r = CliRunner().invoke(app, ["rank", "--suite", "s", "--models", "base,r@*", "--judge", CLAUDE,
                                     "--concurrency", "8", "--json"])
        assert r.exit_code == 0, r.output
        full = json.loads(r.stdout)
        assert full["plot"] == str(root / "exports" / "rank_s_anthropic_claude-sonnet-5-5.png")
        assert (root / "exports" / "rank_s_anthropic_claude-sonnet-5-5.png").stat().st_size > 1000
        # what the first run judged is reused, not asked again
        assert full["judgments"]["already_stored"] >= clear["judgments"]["handed_to_judge"]
        assert len(server.calls) == calls + full["judgments"]["asked"]
    order = [m["label"] for m in full["models"]]
    assert order == sorted(STRENGTH, key=lambda m: -STRENGTH[m])
    assert all(m["ci_low"] <= m["score"] <= m["ci_high"] for m in full["models"])
    # Stored judgments: one per comparison judged, each from the server, each verdict mapped back to
    # the model the judge preferred (the marker), never left as a position.
    stored = rows.all_judgments(ws.store, CLAUDE)
    assert len(stored) == len(server.calls) > calls
    assert len(stored) == full["judgments"]["handed_to_judge"] == full["judgments"]["scheduled"]
    comparisons = {c["comparison_id"]: c for c in rows.find_comparisons(ws.store, suite="s")}
    for j in stored:
        preferred = "b" if (j["raw"] == "[[B]]") == (j["shown_first"] == "a") else "a"
        assert j["verdict"] == preferred
    vs_base = {m["label"]: m for m in full["models"]}
    n_base = {p["b"]: p["comparisons"] for p in full["pairs"] if p["a"] == "base"}
    assert all(n == PROMPTS for n in n_base.values()) and set(n_base) == set(STRENGTH) - {"base"}
    for label, m in vs_base.items():
        if label != "base":
            wins = [1.0 if j["verdict"] == "b" else 0.0 for j in stored
                    if comparisons[j["comparison_id"]]["a_label"] == "base"
                    and comparisons[j["comparison_id"]]["b_label"] == label]
            assert m["win_rate_vs_anchor"] == sum(wins) / len(wins) and m["n_vs_anchor"] == PROMPTS

    # The checkpoint choice by quality reads the same judgments and records its evidence.
    r = CliRunner().invoke(app, ["runs", "recommend", "r", "--by", "judged", "--suite", "s", "--json"])
    assert r.exit_code == 0, r.output
    run = json.loads(r.stdout)
    assert run["recommended_step"] == 30 and run["recommended_by"] == "judged"
    evidence = json.loads(run["recommended_evidence"])
    assert evidence["suite"] == "s" and evidence["judge"] == CLAUDE and evidence["ci_low"] > 1000
    r = CliRunner().invoke(app, ["runs", "recommend", "r", "--by", "judged", "--suite", "s"])
    assert r.exit_code == 0 and r.stdout.startswith(f"Marked r@30 recommended: judged rank 1 of 6 on suite s by {CLAUDE}")
    r = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["runs", "show", "r"])
    assert r.exit_code == 0, r.output
    assert f"judged rank 1 of 6 on suite s by {CLAUDE}: Bradley–Terry" in r.stdout
    from brie.export.report import build_report

    assert f"Recommended: step 30 — judged rank 1 of 6 on suite s by {CLAUDE}" in build_report(ws, "r")


def test_until_clear_counts_a_last_short_round_as_what_it_judged(tmp_path, monkeypatch):
    """7 prompts in rounds of 5: the second round hands the judge the 2 left, not 5. A judge that
    always says tie never clears, so every comparison is judged and none is saved."""
    root = tmp_path / "ws"
    ws = make_workspace(root, prompts=7)
    monkeypatch.setenv("BRIE_HOME", str(root))
    with JudgeServer(lambda call: {"text": "[[C]]"}) as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        r = CliRunner().invoke(app, ["rank", "--suite", "s", "--models", "base,r@30", "--judge", CLAUDE,
                                     "--until-clear", "--no-neighbours", "--no-plot", "--round", "5", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert len(server.calls) == len(rows.all_judgments(ws.store, CLAUDE)) == 7
    assert out["judgments"]["scheduled"] == out["judgments"]["handed_to_judge"] == 7
    assert out["judgments"]["saved"] == 0 and out["saved_usd"] in (None, 0)
    assert out["pairs"][0]["prompts_judged"] == 7 and not out["pairs"][0]["clear"]
