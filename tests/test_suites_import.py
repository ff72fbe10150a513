"""`brie suites import`: every bad line in one message, and --replace that never orphans what was made."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from brie.cli import app
from brie.errors import BrieError
from brie.store import utcnow
from brie.data.suites import import_suite, parse_suite_file, show_suite


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_bad_line_is_listed_at_once_and_nothing_is_written(workspace, tmp_path):
    f = _write(tmp_path / "dom.jsonl", [
        json.dumps({"id": "a", "prompt": "ok"}),  # 1
        "{not json",  # 2
        json.dumps({"prompt": "fine"}),  # 3
        json.dumps({"text": "hi"}),  # 4
        "",  # 5
        json.dumps({"id": "a", "prompt": "dup"}),  # 6
    ])
    with pytest.raises(BrieError) as e:
        import_suite(workspace, f, "dom")
    assert str(e.value).splitlines() == [
        f"{f}: 3 bad lines; nothing was imported:",
        f"  {f}:2: invalid JSON (Expecting property name enclosed in double quotes at column 2)",
        f"  {f}:4: needs `prompt` (a string) or `turns` (a list of strings)",
        f"  {f}:6: id 'a' already used on line 1",
    ]
    assert workspace.store.db["suites"].count == 0 and workspace.store.db["prompts"].count == 0


def test_many_bad_lines_show_twenty_and_count_the_rest(tmp_path):
    f = _write(tmp_path / "many.jsonl", [json.dumps({"prompt": ""})] * 25)
    lines = str(pytest.raises(BrieError, parse_suite_file, f).value).splitlines()
    assert lines[0] == f"{f}: 25 bad lines; nothing was imported:"
    assert lines[1:21] == [f"  {f}:{n}: `prompt` must be a non-empty string" for n in range(1, 21)]
    assert lines[21:] == ["  … and 5 more"]


def _cli(*args):
    return CliRunner().invoke(app, ["suites", "import", *args])


def test_reimport_hints_replace_and_replace_swaps_the_prompts(workspace, tmp_path):
    old = _write(tmp_path / "old.jsonl", [json.dumps({"prompt": "Old one"}), json.dumps({"prompt": "Old two"})])
    new = _write(tmp_path / "new.jsonl", [json.dumps({"id": "n", "prompt": "New", "category": "c"})])
    assert _cli(str(old), "--name", "dom").exit_code == 0
    first = show_suite(workspace, "dom")

    r = _cli(str(new), "--name", "dom")
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert ("error: suite 'dom' already exists; pass --replace to replace its prompts, or give another --name "
            "(e.g. dom-2)") in r.output
    assert [p["turns"] for p in show_suite(workspace, "dom")["prompts"]] == [["Old one"], ["Old two"]]

    r = _cli(str(new), "--name", "dom", "--replace")
    assert r.exit_code == 0, r.output
    assert "Replaced suite dom: 1 prompt." in r.output
    now = show_suite(workspace, "dom")
    assert now["id"] == first["id"] and now["n_prompts"] == 1 and now["sha256"] != first["sha256"]
    assert [(p["prompt_id"], p["turns"], p["category"]) for p in now["prompts"]] == [("n", ["New"], "c")]
    assert workspace.store.db["prompts"].count == 1  # the old prompts are gone, not left behind

    r = _cli(str(new), "--name", "dom", "--replace", "--json")
    assert r.exit_code == 0 and json.loads(r.output)["status"] == "unchanged"


def _generation(db, prompt_row_id):
    return db["generations"].insert({
        "prompt_row_id": prompt_row_id, "model_key": "base:m", "label": "base", "model": "m", "temperature": 0.0,
        "max_tokens": 8, "seed": 0, "sample_idx": 0, "answers_json": "[\"a\"]", "created_at": utcnow()}).last_pk


@pytest.mark.parametrize("made, message", [
    ("generation", "1 generation was made from its prompts"),
    ("comparison", "2 generations and 1 comparison were made from its prompts"),
    ("eval", "1 eval result was made from its prompts"),
])
def test_replace_is_refused_once_anything_was_made_from_the_prompts(workspace, tmp_path, made, message):
    old = _write(tmp_path / "old.jsonl", [json.dumps({"prompt": "Old"})])
    new = _write(tmp_path / "new.jsonl", [json.dumps({"prompt": "New"})])
    suite = import_suite(workspace, old, "dom")
    db = workspace.store.db
    prompt_row = show_suite(workspace, "dom")["prompts"][0]["id"]
    if made in ("generation", "comparison"):
        gen_a = _generation(db, prompt_row)
    if made == "comparison":
        gen_b = db["generations"].insert({**db["generations"].get(gen_a), "id": None, "model_key": "x"}).last_pk
        db["comparisons"].insert({"suite_id": suite["id"], "prompt_row_id": prompt_row, "gen_a": gen_a,
                                  "gen_b": gen_b, "sample_idx": 0, "shown_first": "a", "created_at": utcnow()})
    if made == "eval":
        db["eval_results"].insert({"model_key": "m|base", "benchmark": "overlap:dom", "settings_json": "{}",
                                   "status": "completed"})
    with pytest.raises(BrieError) as e:
        import_suite(workspace, new, "dom", replace=True)
    assert str(e.value).startswith(f"suite 'dom' cannot be replaced: {message}, and replacing them would lose "
                                   "those or tie them to prompts they were not made from; nothing was changed. "
                                   "Import the new file under another --name (e.g. dom-2)")
    after = show_suite(workspace, "dom")
    assert after["sha256"] == suite["sha256"] and [p["id"] for p in after["prompts"]] == [prompt_row]
    assert after["prompts"][0]["turns"] == ["Old"]


# Issue 14: hostile input through `brie suites import`, every case one message naming file and line.
HOSTILE = {
    "lone_surrogate": (b'{"prompt": "smile \\ud83d"}', ":2: a lone surrogate \\ud83d at column 19: half of a character"),
    "too_deep": (b'{"prompt": "p", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                 ":2: JSON nested more than 100 levels deep at column 121"),
    "number_too_long": (b'{"prompt": "p", "id": ' + b"9" * 5000 + b"}", ":2: a number with 5,000 digits at column 23"),
    "not_utf8": (b'{"prompt": "caf\xe9"}', ":2: not UTF-8: byte 0xe9 at byte 16"),
    "nul": (b'{"prompt": "a\x00b"}', ":2: invalid JSON (Invalid control character at column 14)"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_line_is_named_without_traceback(workspace, tmp_path, case):
    bad, says = HOSTILE[case]
    f = tmp_path / "s.jsonl"
    f.write_bytes(b'{"prompt": "fine"}\n' + bad + b'\n{"prompt": "also fine"}\n')
    r = CliRunner().invoke(app, ["suites", "import", str(f)])
    assert r.exit_code == 1 and (r.exception is None or isinstance(r.exception, SystemExit)), r.exception
    assert r.stderr.startswith(f"error: {f}{says}") and "Traceback" not in r.output + r.stderr
    assert workspace.store.db["suites"].count == 0


def test_bom_crlf_and_unicode_line_separators_inside_strings_import(workspace, tmp_path):
    f = tmp_path / "s.jsonl"
    # U+2028 and U+0085 are legal inside a JSON string (str.splitlines splits at them); only "\n" ends a line.
    f.write_bytes(b'\xef\xbb\xbf{"prompt": "one\xe2\x80\xa8two"}\r\n{"prompt": "three\xc2\x85four \\u0000"}\r\n')
    r = CliRunner().invoke(app, ["suites", "import", str(f), "--json"])
    assert r.exit_code == 0, r.output
    prompts = show_suite(workspace, "s")["prompts"]
    assert [p["turns"] for p in prompts] == [["one\u2028two"], ["three\x85four \x00"]]


@pytest.mark.parametrize("body", [b"", b"\n \n", b"\xef\xbb\xbf"])
def test_empty_suite_file_is_one_line(workspace, tmp_path, body):
    f = tmp_path / "s.jsonl"
    f.write_bytes(body)
    r = CliRunner().invoke(app, ["suites", "import", str(f)])
    assert r.exit_code == 1 and r.stderr == f"error: {f}: no prompts in the file\n"
