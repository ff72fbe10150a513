"""The loop closed: judged comparisons → `brie data import --from-judgments` → `brie train --method dpo`
from the judged SFT checkpoint → the DPO checkpoint compared with that checkpoint like any other model."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from brie.cli import app
from brie.judging.workflows import compare
from brie.store import judging as rows
from brie.store import runs as run_rows
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)
from tests.judge_server import JudgeServer

FAST = {"max_tokens": 8, "max_retries": 0, "timeout": 5.0}


def test_verdicts_to_dataset_to_dpo_run_to_comparison(fresh_ws):
    with JudgeServer(lambda call: {"text": "[[C]]" if "fact number 7." in call["user"] else "[[A]]"}) as server:
        judge = f"openai-compatible:j1@{server.url}/v1"
        compare(fresh_ws, "s", "base", "r1@10", [judge], **FAST)
    comps = {c["turns"][0]: c for c in rows.find_comparisons(fresh_ws.store)}

    r = CliRunner().invoke(app, ["data", "import", "--from-judgments", "--suite", "s", "--name", "prefs",
                                 "--valid-fraction", "0.2", "--test-fraction", "0", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    verdicts = out["report"]["verdicts"]
    # 12 comparisons: one multi-turn, one tie (fact 7); the judge always picks the answer shown first.
    assert verdicts["pairs"] == 10 and verdicts["skipped_ties"] == 1 and verdicts["skipped_multi_turn"] == 1
    assert out["dataset"]["format"] == "preference" and out["dataset"]["source"] == "judgments suite=s"
    again = CliRunner().invoke(app, ["data", "import", "--from-judgments", "--suite", "s", "--judge", "nobody",
                                     "--name", "p2"])
    assert again.exit_code == 1 and "--judge 'nobody': no judgments by that judge" in again.output
    assert out["dataset"]["rows_train"] + out["dataset"]["rows_valid"] == 10
    folder = Path(out["dataset"]["path"])
    pairs = [json.loads(x) for s in ("train", "valid") for x in (folder / f"{s}.jsonl").read_text().splitlines()]
    r1 = run_rows.list_checkpoints(fresh_ws.store, run_rows.get_run(fresh_ws.store, "r1")["id"])[0]
    for p in pairs:
        c = comps[p["prompt"]]
        first = c["shown_first"]
        assert p["chosen"] == c[f"{first}_answers"][0] and p["judges"] == [judge]
        who = {x["label"]: x for x in p["chosen_from"] + p["rejected_from"]}
        assert set(who) == {"base", "r1@10"} and who["r1@10"]["adapter_sha256"] == r1["adapter_sha256"]
        assert who["r1@10"]["step"] == 10 and who["base"]["run"] is None

    r = CliRunner().invoke(app, ["train", "--data", "prefs", "--method", "dpo", "--from", "r1@best", "--name", "dpo",
                                 "--iters", "4", "--save-every", "4", "--batch-size", "2", "--json"])
    assert r.exit_code == 0, r.output
    run = json.loads(r.stdout)
    assert run["status"] == "completed" and run["config"]["init_from"] == "r1@10"
    assert run["config"]["rank"] == 4 and run["config"]["num_layers"] == 2  # r1's LoRA shape, trained further
    # Policy and frozen reference both start at r1@10 (so the step-0 val loss is ln 2), and the recorded val loss
    # at step 4 is mlx-lm-lora's evaluate_dpo of dpo@4 against base + r1@10's adapter (not against the base).
    from mlx_lm_lora.trainer.datasets import DPODataset
    from mlx_lm_lora.trainer.dpo_trainer import evaluate_dpo

    from brie.models.registry import load_model
    from brie.models.specs import resolve_spec

    val = {m["step"]: m["value"] for m in run_rows.get_metrics(fresh_ws.store, run["id"], "val_loss")}
    assert sorted(val) == [0, 4] and abs(val[0] - 0.6931472) < 1e-5
    start, trained = resolve_spec(fresh_ws, "r1@10"), resolve_spec(fresh_ws, "dpo@4")
    policy, tok = load_model(fresh_ws, trained.model, adapter_path=trained.adapter_path)
    reference, _ = load_model(fresh_ws, start.model, adapter_path=start.adapter_path)
    valid = [json.loads(x) for x in (folder / "valid.jsonl").read_text().splitlines()]
    loss, _, _, _ = evaluate_dpo(policy, reference, DPODataset(valid, tok), min(2, len(valid)), -1, beta=0.1,
                                 delta=50.0, max_seq_length=run["config"]["max_seq_length"], loss_type="sigmoid")
    assert abs(loss - val[4]) < 1e-4

    r = CliRunner().invoke(app, ["report", "dpo"])
    assert r.exit_code == 0, r.output
    report = (fresh_ws.exports_dir / "dpo" / "report.md").read_text()
    assert "## Learned from verdicts" in report and f"| r1@10 | {r1['adapter_sha256'][:12]} |" in report
    assert "beta=0.1 from=r1@10" in report

    with JudgeServer(lambda call: {"text": "[[A]]"}) as server:
        ids, summary = compare(fresh_ws, "s", "r1@10", "dpo@best", [f"openai-compatible:j1@{server.url}/v1"], **FAST)
    assert len(ids) == 12
    labels = {(c["a_label"], c["b_label"]) for c in rows.find_comparisons(fresh_ws.store) if c["comparison_id"] in ids}
    assert labels == {("r1@10", "dpo@4")}
