"""`brie data import|list|show` through the real CLI, and the demo material and demo step."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from brie.cli import app

runner = CliRunner()


def rows(n, start=0):
    return "".join(json.dumps({"prompt": f"p{i}", "completion": f"c{i}"}) + "\n" for i in range(start, start + n))


def test_import_list_show(workspace, tmp_path):
    src = tmp_path / "qa.jsonl"
    src.write_text(rows(40) + "{broken\n")
    bad = runner.invoke(app, ["data", "import", str(src), "--name", "qa"])
    assert bad.exit_code == 1
    assert f"error: {src}: 1 of 41 rows rejected; nothing was written" in bad.stderr
    assert "qa.jsonl line 41: invalid JSON" in bad.stderr and "Traceback" not in bad.output + bad.stderr

    ok = runner.invoke(app, ["data", "import", str(src), "--name", "qa", "--on-error", "skip",
                             "--sample-ratio", "0.5", "--seed", "4"])
    assert ok.exit_code == 0, ok.output
    assert "Imported dataset qa v1: 16 train / 4 valid / 4 test (sample 0.5 of training rows, seed 4)." in ok.stdout
    assert "qa.jsonl line 41: invalid JSON" in ok.stdout and "rejected.jsonl" in ok.stdout

    again = runner.invoke(app, ["data", "import", str(src), "--name", "qa", "--on-error", "skip",
                                "--sample-ratio", "0.5", "--seed", "4", "--json"])
    out = json.loads(again.stdout)
    assert out["created"] is False and "already holds identical content" in out["message"]

    listed = json.loads(runner.invoke(app, ["data", "list", "--json"]).stdout)
    assert [(d["name"], d["rows_train"], d["sample_ratio"], d["seed"]) for d in listed] == [("qa", 16, 0.5, 4)]
    table = runner.invoke(app, ["data", "list"]).stdout
    assert "qa" in table and "0.5" in table

    shown = json.loads(runner.invoke(app, ["data", "show", "qa", "--json"]).stdout)
    assert shown["report"]["rows"]["rejected"] == 1 and shown["path"].endswith("data/qa")
    text = runner.invoke(app, ["data", "show", "qa"]).stdout
    assert "16 train / 4 valid / 4 test (sample 0.5 of training rows, seed 4)" in text
    assert "ratio 0.5, seed 4: 16 of 32 training rows" in text

    missing = runner.invoke(app, ["data", "show", "nope"])
    assert missing.exit_code == 1 and "no dataset 'nope'" in missing.stderr


def test_demo_material_is_consistent():
    from brie.demo.data import demo_dataset_path, demo_suite_paths

    train = [json.loads(l) for l in demo_dataset_path().open(encoding="utf-8")]
    assert 200 <= len(train) <= 400
    for r in train:
        user, answer = r["messages"]
        assert user["role"] == "user" and answer["role"] == "assistant"
        assert answer["content"].startswith("Squeak! ") and answer["content"].endswith(". 🧀")
        assert len(answer["content"]) < 160  # short answers keep LoRA steps fast
    asked = {r["messages"][0]["content"].lower() for r in train}
    for name, path in demo_suite_paths().items():
        suite = [json.loads(l) for l in path.open(encoding="utf-8")]
        assert len(suite) == 12, name
        assert len({p["id"] for p in suite}) == 12
        assert all(p["prompt"] and p["category"] for p in suite)
        assert not asked & {p["prompt"].lower() for p in suite}  # no training question reused


def test_demo_step_imports_once(workspace):
    from brie.demo.steps import step_import_demo_data

    said = []
    step_import_demo_data(workspace, said.append)
    step_import_demo_data(workspace, said.append)
    assert said[0].startswith("Imported the demo dataset 'demo' into ") and " train / " in said[0]
    assert "already holds identical content" in said[1]
    from brie.data.datasets import get_dataset

    ds = get_dataset(workspace, "demo")
    assert ds["format"] == "chat" and ds["rows_valid"] > 0 and ds["report"]["rows"]["rejected"] == 0
    assert ds["rows_train"] + ds["rows_valid"] + ds["rows_test"] == ds["report"]["rows"]["unique"]
