import json

import pytest
from typer.testing import CliRunner

from brie.cli import app
from brie.errors import BrieError
from brie.data.suites import import_suite, parse_suite_file, show_suite


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_plain_and_mtbench_lines_import(workspace, tmp_path):
    f = _write(tmp_path / "mixed.jsonl", [
        json.dumps({"prompt": "Hi"}),
        json.dumps({"id": "x", "prompt": "Yo", "category": "chat", "reference": "Hello"}),
        json.dumps({"question_id": 81, "category": "writing", "turns": ["Write.", "Shorter."],
                    "reference": ["r1", "r2"]}),
        "",
    ])
    row = import_suite(workspace, f)
    assert row["name"] == "mixed" and row["n_prompts"] == 3
    prompts = show_suite(workspace, "mixed")["prompts"]
    assert [p["prompt_id"] for p in prompts] == ["1", "x", "81"]
    assert prompts[1]["reference"] == ["Hello"]
    assert prompts[2]["turns"] == ["Write.", "Shorter."] and prompts[2]["category"] == "writing"
    with pytest.raises(BrieError, match="already exists"):
        import_suite(workspace, f)


@pytest.mark.parametrize("line, message", [
    ("{not json", r"bad\.jsonl:2: invalid JSON"),
    ('["a list"]', r"bad\.jsonl:2: expected a JSON object"),
    ('{"text": "hi"}', r"bad\.jsonl:2: needs `prompt`"),
    ('{"prompt": ""}', r"bad\.jsonl:2: `prompt` must be a non-empty string"),
    ('{"turns": []}', r"bad\.jsonl:2: `turns` must be"),
    ('{"turns": ["a"], "reference": ["r1", "r2"]}', r"bad\.jsonl:2: 2 references for 1 turn"),
    ('{"id": "a", "prompt": "dup"}', r"bad\.jsonl:2: id 'a' already used on line 1"),
])
def test_bad_lines_name_file_and_line(tmp_path, line, message):
    f = _write(tmp_path / "bad.jsonl", [json.dumps({"id": "a", "prompt": "ok"}), line])
    with pytest.raises(BrieError, match=message):
        parse_suite_file(f)


def test_empty_and_missing_files(tmp_path):
    with pytest.raises(BrieError, match="no prompts"):
        parse_suite_file(_write(tmp_path / "empty.jsonl", [""]))
    with pytest.raises(BrieError, match="no such file"):
        parse_suite_file(tmp_path / "nope.jsonl")


def test_cli_import_list_show(workspace, tmp_path):
    f = _write(tmp_path / "s.jsonl", [json.dumps({"prompt": "Hi", "category": "c"})])
    runner = CliRunner()
    r = runner.invoke(app, ["suites", "import", str(f), "--name", "mine"])
    assert r.exit_code == 0, r.output
    listed = json.loads(runner.invoke(app, ["suites", "list", "--json"]).output)
    assert [s["name"] for s in listed] == ["mine"]
    shown = json.loads(runner.invoke(app, ["suites", "show", "mine", "--json"]).output)
    assert shown["prompts"][0]["turns"] == ["Hi"]
    r = runner.invoke(app, ["suites", "show", "nope"])
    assert r.exit_code == 1 and "no suite named 'nope'" in r.output and "Traceback" not in r.output
