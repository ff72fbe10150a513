"""Checkpoints that go or change under what refers to them.

`brie runs prune` keeps a checkpoint that a generation or an evaluation was made from (and names it
and what refers to it), unless --force, which deletes it and says what it unlinks; and a resume
says which checkpoint it skipped when one's adapter no longer matches the sha256 registered for it.
Real runs of the tiny model, real generations and evaluations, a real SQLite store.
"""

from __future__ import annotations

import json

from typer.testing import CliRunner

from brie.store import runs as run_rows
from brie.training.housekeeping import prune_plan
from brie.training.lifecycle import train
from tests.train_helpers import StopAt, tiny_config, write_chat_data


def cli(*args):
    from brie.cli import app

    return CliRunner().invoke(app, list(args))


def test_prune_keeps_referenced_checkpoints_and_force_says_what_it_unlinks(workspace, tiny_model_dir, tmp_path):
    data = write_chat_data(tmp_path / "chat")
    run = train(workspace, tiny_config(tiny_model_dir, data, iters=8, save_every=2, eval_every=2), "p")
    assert [c["step"] for c in run_rows.list_checkpoints(workspace.store, run["id"])] == [2, 4, 6, 8]

    # Made from p@2: answers to a suite. Made from p@4: an evaluation. Nothing from p@6.
    suite = tmp_path / "s.jsonl"
    suite.write_text('{"prompt": "add 1 2"}\n{"prompt": "add 3 4"}\n')
    assert cli("suites", "import", str(suite), "--name", "s").exit_code == 0
    r = cli("generate", "--suite", "s", "--models", "p@2", "--max-tokens", "3", "--json")
    assert r.exit_code == 0, r.output
    r = cli("eval", "--models", "p@4", "--benchmarks", f"perplexity:{data}", "--limit", "3", "--json")
    assert r.exit_code == 0, r.output

    # The UI's plan (and the CLI's without --force) leaves the referenced ones out.
    assert [c["step"] for c in prune_plan(workspace, run_rows.get_run(workspace.store, "p"), "last")] == [6]

    r = cli("runs", "prune", "p", "--keep", "last", "--yes")
    assert r.exit_code == 0, r.output
    said = " ".join(r.stderr.split())
    assert ("Keeping 2 checkpoints that other records were made from: 2 (2 generations), "
            "4 (1 eval result, 3 eval samples). `brie runs prune p --force` deletes them too") in said
    assert "Will delete 1 checkpoint of p: 6 (" in said
    assert r.stdout.startswith("Deleted 1 checkpoint (")
    left = [c["step"] for c in run_rows.list_checkpoints(workspace.store, run["id"])]
    assert left == [2, 4, 8]
    assert (workspace.root / run["path"] / "checkpoints" / "2").exists()
    assert not (workspace.root / run["path"] / "checkpoints" / "6").exists()

    # Again: nothing left to delete but the referenced ones, and --json says so.
    r = cli("runs", "prune", "p", "--keep", "last", "--yes", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == {
        "run": "p", "deleted": [], "size_bytes": 0, "unlinked": [],
        "kept_referenced": [{"step": 2, "references": {"generations": 2}},
                            {"step": 4, "references": {"eval results": 1, "eval samples": 3}}]}

    # --force deletes them and says what it unlinks; those rows stay.
    r = cli("runs", "prune", "p", "--keep", "last", "--yes", "--force")
    assert r.exit_code == 0, r.output
    said = " ".join(r.output.split())
    assert ("Unlinks what was made from them (it stays, naming a checkpoint that is gone): "
            "2 (2 generations), 4 (1 eval result, 3 eval samples).") in said
    assert "Deleted 2 checkpoints (" in said
    assert "Unlinked what was made from them: 2 (2 generations), 4 (1 eval result, 3 eval samples)." in said
    assert [c["step"] for c in run_rows.list_checkpoints(workspace.store, run["id"])] == [8]
    assert not (workspace.root / run["path"] / "checkpoints" / "2").exists()
    db = workspace.store.db
    assert db.execute("select count(*) from generations where run = 'p' and step = 2").fetchone()[0] == 2
    assert db.execute("select count(*) from eval_results where run = 'p' and step = 4").fetchone()[0] == 1


def test_prune_force_json_lists_what_it_unlinked(workspace, tiny_model_dir, tmp_path):
    data = write_chat_data(tmp_path / "chat")
    run = train(workspace, tiny_config(tiny_model_dir, data, iters=4, save_every=2, eval_every=2), "q")
    r = cli("eval", "--models", "q@2", "--benchmarks", f"perplexity:{data}", "--limit", "2", "--json")
    assert r.exit_code == 0, r.output
    r = cli("runs", "prune", "q", "--keep", "4", "--yes", "--force", "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["deleted"] == [2] and out["kept_referenced"] == []
    assert out["unlinked"] == [{"step": 2, "references": {"eval results": 1, "eval samples": 2}}]
    assert [c["step"] for c in run_rows.list_checkpoints(workspace.store, run["id"])] == [4]


def test_resume_says_which_checkpoint_it_skipped_and_why(workspace, tiny_model_dir, tmp_path):
    data = write_chat_data(tmp_path / "chat")
    run = train(workspace, tiny_config(tiny_model_dir, data, iters=8, save_every=2, eval_every=2), "r",
                callback=StopAt(5))
    assert run_rows.get_run(workspace.store, "r")["status"] == "cancelled"
    ckpts = run_rows.list_checkpoints(workspace.store, run["id"])
    assert [c["step"] for c in ckpts] == [2, 4]
    adapter = workspace.root / ckpts[1]["path"] / "adapters.safetensors"
    with adapter.open("ab") as f:  # changed on disk after it was registered
        f.write(b"\0")

    r = cli("train", "--resume", "r", "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["status"] == "completed"  # stdout: the JSON document alone
    said = " ".join(r.stderr.split())
    registered = ckpts[1]["adapter_sha256"][:12]
    assert ("warning: resume skipped checkpoint 4: its adapters.safetensors has sha256 "
            in said) and f"not the {registered}… registered when it was written" in said
    assert "Resuming r from step 2" in said
    row = run_rows.get_run(workspace.store, "r")
    assert any(w.startswith("resume skipped checkpoint 4:") for w in json.loads(row["warnings"]))
    assert row["step"] == 8
