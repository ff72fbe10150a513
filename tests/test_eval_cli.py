"""`brie eval --sweep`, `brie experiments`, `brie report` through the real CLI on a temporary workspace."""

import csv
import io
import json

import pytest
from typer.testing import CliRunner

from brie.cli import app
from tests.evalkit import make_adapter, register_run


@pytest.fixture
def sweep_ws(workspace, tiny_model_dir, tmp_path):
    root = tmp_path / "ckpt"
    adapters = {10: make_adapter(tiny_model_dir, root / "10", seed=3), 20: make_adapter(tiny_model_dir, root / "20", seed=4)}
    with workspace.store.transaction() as db:
        ds = db["datasets"].insert({"name": "chat", "version": 1, "sha256": "x", "format": "chat",
                                    "path": "data/chat", "sample_ratio": 0.25, "seed": 0}).last_pk
    register_run(workspace, "demo-run", str(tiny_model_dir), adapters, best_step=20, dry_run=1, dataset_id=ds,
                 config={"learning_rate": 1e-4, "iters": 20, "lora_parameters": {"rank": 4}},
                 losses={10: (3.0, 3.3), 20: (2.0, 2.6)})
    mcq = tmp_path / "mcq.jsonl"
    mcq.write_text("\n".join(json.dumps({"question": f"{i}+1?", "choices": [str(i + 1), str(i + 2)], "answer": 0})
                             for i in range(4)))
    return workspace, mcq


def test_sweep_experiments_and_report(sweep_ws):
    ws, mcq = sweep_ws
    runner = CliRunner()
    res = runner.invoke(app, ["eval", "--sweep", "demo-run", "--benchmarks", f"mcq:{mcq}", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert [(r["label"], r["metrics"]["n"]) for r in out["results"]] == [("base", 4), ("demo-run@10", 4),
                                                                          ("demo-run@20", 4)]
    assert [d["label"] for d in out["deltas"]] == ["demo-run@10", "demo-run@20"]
    for label in ("demo-run@10", "demo-run@20"):  # one benchmark, so it is the worst and the mean is its change
        (d,) = [d for d in out["deltas"] if d["label"] == label]
        assert out["summary"][label]["worst"] == d["benchmark"]
        (mean,) = out["summary"][label]["mean_change"]  # one unit: accuracy
        assert mean["unit"] == d["unit"] == "accuracy" and mean["mean_improvement"] == pytest.approx(d["improvement"])
    assert sorted(p.rsplit("/", 1)[-1] for p in out["plots"]) == ["sweep_mcq_mcq.jsonl_acc.png",
                                                                  "sweep_mcq_mcq.jsonl_acc_norm.png"]
    assert all(p.startswith(str(ws.exports_dir / "demo-run")) for p in out["plots"])
    assert ws.store.db["eval_samples"].count == 12

    # the rich view of the same (already stored) results works and stores nothing new
    res = runner.invoke(app, ["eval", "--models", "base,demo-run@best", "--benchmarks", f"mcq:{mcq}"])
    assert res.exit_code == 0, res.output
    assert "Change vs base" in res.stdout and ws.store.db["eval_samples"].count == 12
    worse = out["summary"]["demo-run@20"]["worst_improvement"] < 0
    assert ("demo-run@20: " + ("worst: mcq" if worse else "no benchmark got worse")) in res.stdout
    assert "significant drops:" in res.stdout

    res = runner.invoke(app, ["experiments", "--csv"])
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    run_row = rows[0]
    assert run_row["id"] == "demo-run" and run_row["kind"] == "run (dry run)"
    assert run_row["dataset"] == "chat v1 (sample 0.25)"
    assert "learning_rate=0.0001" in run_row["config"] and "rank=4" in run_row["config"]
    assert "best_val_loss=2.6" in run_row["metrics"]
    assert [r["kind"] for r in rows[1:]] == ["eval"] * 3 and rows[1]["metrics"].startswith("acc=")
    assert json.loads(runner.invoke(app, ["experiments", "--json"]).stdout)[0]["id"] == "demo-run"
    assert runner.invoke(app, ["experiments", "--markdown"]).stdout.startswith("| id | kind |")

    res = runner.invoke(app, ["report", "demo-run"])
    assert res.exit_code == 0, res.output
    report = (ws.exports_dir / "demo-run" / "report.md").read_text()
    for text in ["## Loss curves", "![loss curves](loss.png)", "## Checkpoints", "| 20 | 2 | 2.6 |",
                 "No judgments yet.", "Checkpoint: **demo-run@20**", "## Caveats", "**dry run**",
                 "**0.25 sample**", "only n=4 items"]:
        assert text in report, text
    assert (ws.exports_dir / "demo-run" / "loss.png").stat().st_size > 1000


def test_cli_errors_are_one_line(workspace):
    runner = CliRunner()
    res = runner.invoke(app, ["eval", "--models", "nope@3", "--benchmarks", "gsm8k"])
    assert res.exit_code == 1 and "no run named 'nope'" in res.output and "Traceback" not in res.output
    res = runner.invoke(app, ["eval", "--benchmarks", "gsm8k"])
    assert res.exit_code == 1 and "--models or --sweep" in res.output
    res = runner.invoke(app, ["report", "nope"])
    assert res.exit_code == 1 and "'nope': no run" in res.output


def test_demo_step_evaluates_and_writes_the_report(sweep_ws, monkeypatch):
    from brie.demo import steps as demo

    ws, _ = sweep_ws
    monkeypatch.setattr(demo, "DEMO_EVAL_QUESTIONS", 2)
    monkeypatch.setattr(demo, "DEMO_EVAL_TOKENS", 4)
    said = []
    demo.step_eval_and_report(ws, said.append)
    assert said[-1] == f"Report written: {ws.exports_dir / 'demo-run' / 'report.md'}"
    labels = [r["label"] for r in ws.store.db["eval_results"].rows]
    assert labels == ["base", "demo-run@20"]  # best_step
    assert "| gsm8k |" in (ws.exports_dir / "demo-run" / "report.md").read_text()


def test_demo_step_without_a_run_says_so(workspace):
    from brie.demo import steps as demo

    said = []
    demo.step_eval_and_report(workspace, said.append)
    assert said == ["No training run in this workspace yet: no evaluation or report to write."]


def test_report_of_a_bare_run_shows_what_is_missing(workspace):
    from brie.export.report import write_report

    with workspace.store.transaction() as db:
        db["runs"].insert({"name": "fresh", "model": "m", "status": "running", "method": "lora", "step": 3,
                           "total_steps": 100, "created_at": "2026-11-22T03:00:00Z"})
    text = write_report(workspace, "fresh").read_text()
    for expected in ["No loss metrics recorded.", "No checkpoints.", "No judgments yet.",
                     "No evaluations of this run against its base yet", "status is **running**"]:
        assert expected in text, expected


def test_a_smaller_limit_later_keeps_the_stored_items_and_says_so(workspace, tiny_model_dir, tmp_path):
    mcq = tmp_path / "mcq.jsonl"
    mcq.write_text("\n".join(json.dumps({"question": f"{i}?", "choices": ["a", "b"], "answer": i % 2})
                             for i in range(6)))
    runner = CliRunner()
    common = ["eval", "--models", "base", "--base-model", str(tiny_model_dir), "--benchmarks", f"mcq:{mcq}"]
    first = json.loads(runner.invoke(app, common + ["--limit", "5", "--json"]).stdout)["results"][0]
    res = runner.invoke(app, common + ["--limit", "3"])
    assert res.exit_code == 0, res.output
    (row,) = [line for line in res.stdout.splitlines() if line.startswith("│ base")]
    cells = [c.strip() for c in row.strip("│").split("│")]
    assert cells[2] == "5" and cells[3].endswith("(n=5)")  # the n column and the metrics agree
    assert "5 items were already stored (more than --limit 3); n and the metrics cover all of them." \
        in " ".join(res.stdout.split())
    res = json.loads(runner.invoke(app, common + ["--limit", "3", "--json"]).stdout)["results"][0]
    assert res["metrics"] == first["metrics"] and res["n_done"] == 5
    (exp,) = json.loads(runner.invoke(app, ["experiments", "--json"]).stdout)
    assert exp["metrics"].endswith("(n=5)")
