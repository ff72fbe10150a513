"""Every field of `Fields` can be renamed from `brie data import`: the alpaca and sharegpt ones too."""

from __future__ import annotations

import dataclasses
import json

from typer.testing import CliRunner

from brie.cli import app
from brie.data.normalize import Fields

runner = CliRunner()


def test_every_field_has_an_option_with_help():
    out = runner.invoke(app, ["data", "import", "--help"], terminal_width=200).stdout
    for f in dataclasses.fields(Fields):
        assert f"--{f.name}-field" in out, f.name


def test_alpaca_fields_renamed_on_the_cli(workspace, tmp_path):
    src = tmp_path / "alpaca.jsonl"
    src.write_text("".join(json.dumps({"task": f"Translate {i}", "context": "to French" if i % 2 else "",
                                       "answer": f"traduction {i}"}) + "\n" for i in range(4)))
    args = ["data", "import", str(src), "--name", "al", "--valid-fraction", "0", "--test-fraction", "0"]
    unnamed = runner.invoke(app, args)
    assert unnamed.exit_code == 1 and "fits no format (fields: task, context, answer)" in unnamed.stderr
    ok = runner.invoke(app, args + ["--instruction-field", "task", "--input-field", "context",
                                    "--output-field", "answer", "--json"])
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["report"]["input_format"] == "alpaca"
    rows = [json.loads(l) for l in (workspace.data_dir / "al" / "train.jsonl").open(encoding="utf-8")]
    assert sorted(r["prompt"] for r in rows) == ["Translate 0", "Translate 1\n\nto French", "Translate 2",
                                                  "Translate 3\n\nto French"]
    assert {r["completion"] for r in rows} == {f"traduction {i}" for i in range(4)}


def test_sharegpt_conversations_field_renamed_on_the_cli(workspace, tmp_path):
    src = tmp_path / "sg.jsonl"
    src.write_text(json.dumps({"turns": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}) + "\n")
    ok = runner.invoke(app, ["data", "import", str(src), "--name", "sg", "--format", "sharegpt",
                             "--conversations-field", "turns", "--valid-fraction", "0", "--test-fraction", "0"])
    assert ok.exit_code == 0, ok.output
    row = json.loads((workspace.data_dir / "sg" / "train.jsonl").read_text(encoding="utf-8"))
    assert row == {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
