"""Issue 14: input a real export contains, through `brie data import`: one line per bad row naming file,
line and what is wrong, no traceback; under --on-error skip the good rows are imported and the bad one
is kept byte for byte in rejected.jsonl."""

from __future__ import annotations

import base64
import json

import pytest
from typer.testing import CliRunner

from brie.cli import app

runner = CliRunner()
NO_SPLIT = ["--valid-fraction", "0", "--test-fraction", "0"]
GOOD = [json.dumps({"prompt": f"p{i}", "completion": f"c{i}"}).encode() for i in range(4)]

# One bad row each (its bytes exactly), and the start of what brie says about it.
BAD = {
    # an emoji (U+1F600, "\ud83d\ude00") cut in half by an export
    "lone_surrogate": (b'{"prompt": "smile \\ud83d", "completion": "c"}',
                       "a lone surrogate \\ud83d at column 19: half of a character"),
    "lone_low_surrogate": (b'{"prompt": "\\ude00 after", "completion": "c"}', "a lone surrogate \\ude00 at column 13"),
    "too_deep": (b'{"prompt": ' + b"[" * 100_000 + b"]" * 100_000 + b', "completion": "c"}',
                 "JSON nested more than 100 levels deep at column 111"),
    "number_too_long": (b'{"prompt": ' + b"7" * 5000 + b', "completion": "c"}',
                        "a number with 5,000 digits at column 12 (Python reads at most 4,300)"),
    "not_utf8": (b'{"prompt": "caf\xe9", "completion": "c"}', "not UTF-8: byte 0xe9 at byte 16"),
    "nul": (b'{"prompt": "a\x00b", "completion": "c"}', "invalid JSON: Invalid control character at column 14"),
}


def _cli(*args):
    r = runner.invoke(app, list(args))
    # An exception that escaped the CLI is in r.exception (a SystemExit is a normal exit).
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in r.output and "Traceback" not in r.stderr
    return r


def _rejected(workspace, name):
    return [json.loads(line) for line in (workspace.data_dir / name / "rejected.jsonl").open(encoding="utf-8")]


def _raw(rec) -> bytes:
    return rec["raw"].encode("utf-8") if "raw" in rec else base64.b64decode(rec["raw_base64"])


def _train(workspace, name):
    return [json.loads(line) for line in (workspace.data_dir / name / "train.jsonl").open(encoding="utf-8")]


@pytest.mark.parametrize("case", sorted(BAD))
def test_jsonl_bad_row_fail_and_skip(workspace, tmp_path, case):
    bad, says = BAD[case]
    src = tmp_path / "rows.jsonl"
    src.write_bytes(b"\n".join([GOOD[0], GOOD[1], bad, GOOD[2], GOOD[3]]) + b"\n")

    failed = _cli("data", "import", str(src), "--name", "rows", *NO_SPLIT)
    assert failed.exit_code == 1
    assert f"error: {src}: 1 of 5 rows rejected; nothing was written" in failed.stderr
    assert f"  rows.jsonl line 3: {says}" in failed.stderr
    assert not (workspace.data_dir / "rows").exists()

    ok = _cli("data", "import", str(src), "--name", "rows", "--on-error", "skip", *NO_SPLIT)
    assert ok.exit_code == 0, ok.output
    assert [r["prompt"] for r in _train(workspace, "rows")] == ["p0", "p1", "p2", "p3"]
    (rec,) = _rejected(workspace, "rows")
    assert (rec["where"], rec["line"]) == ("rows.jsonl line 3", 3) and rec["reason"].startswith(says)
    assert _raw(rec) == bad  # byte for byte, even when the bytes are not UTF-8


@pytest.mark.parametrize("case", sorted(set(BAD) - {"nul"}))  # a raw NUL is not JSON: it stops an array
def test_json_array_bad_item_fail_and_skip(workspace, tmp_path, case):
    bad, says = BAD[case]
    says = says.replace("column 111", "column 113").replace("column 12 ", "column 14 ")  # the item sits 2 spaces in
    says = {"lone_surrogate": says.replace("19", "21"), "lone_low_surrogate": says.replace("13", "15")}.get(case, says)
    says = says.replace("at byte 16", "at byte 18")
    src = tmp_path / "rows.json"
    src.write_bytes(b"[\n  " + b",\n  ".join([GOOD[0], GOOD[1], bad, GOOD[2], GOOD[3]]) + b"\n]\n")

    failed = _cli("data", "import", str(src), "--name", "rows", *NO_SPLIT)
    assert failed.exit_code == 1
    assert f"  rows.json item 3 (line 4): {says}" in failed.stderr, failed.stderr

    ok = _cli("data", "import", str(src), "--name", "rows", "--on-error", "skip", *NO_SPLIT)
    assert ok.exit_code == 0, ok.output
    assert [r["prompt"] for r in _train(workspace, "rows")] == ["p0", "p1", "p2", "p3"]
    (rec,) = _rejected(workspace, "rows")
    assert (rec["where"], rec["line"]) == ("rows.json item 3 (line 4)", 4)
    assert _raw(rec) == bad


def test_json_nested_100000_levels_at_the_top_is_one_rejected_item(workspace, tmp_path):
    src = tmp_path / "deep.json"
    src.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    r = _cli("data", "import", str(src), "--name", "deep", "--on-error", "skip")
    assert r.exit_code == 1
    assert "deep.json: no usable rows (1 read, 1 rejected" in r.stderr
    assert "deep.json item 1 (line 1): JSON nested more than 100 levels deep at column 102" in r.stderr


def test_json_array_raw_nul_and_broken_text_stop_with_line_and_column(workspace, tmp_path):
    src = tmp_path / "rows.json"
    src.write_bytes(b"[\n  " + GOOD[0] + b",\n  " + BAD["nul"][0] + b"\n]\n")
    r = _cli("data", "import", str(src), "--name", "rows", "--on-error", "skip")
    assert r.exit_code == 1
    assert "error: rows.json line 3: invalid JSON: Invalid control character at column 16" in r.stderr
    src.write_bytes(b"[\n  " + GOOD[0] + b"\n  " + GOOD[1] + b"\n]\n")  # a comma missing
    r = _cli("data", "import", str(src), "--name", "rows", "--on-error", "skip")
    assert r.exit_code == 1 and "error: rows.json line 3: invalid JSON: Expecting ',' delimiter at column 3" in r.stderr


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv"])
def test_bom_is_removed_and_counted(workspace, tmp_path, suffix):
    src = tmp_path / f"bom{suffix}"
    if suffix == ".csv":
        body = b"prompt,completion\np0,c0\np1,c1\n"
    elif suffix == ".json":
        body = b"[" + b",".join(GOOD[:2]) + b"]"
    else:
        body = b"\n".join(GOOD[:2]) + b"\n"
    src.write_bytes(b"\xef\xbb\xbf" + body)
    r = _cli("data", "import", str(src), "--name", "bom", "--json", *NO_SPLIT)
    assert r.exit_code == 0, r.output
    rep = json.loads(r.stdout)["report"]
    assert rep["rows"]["train"] == 2 and rep["normalizations"]["bom_removed"]["count"] == 1


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".csv"])
@pytest.mark.parametrize("body", [b"", b"\n\n", b"\xef\xbb\xbf"])
def test_empty_file_is_one_line(workspace, tmp_path, suffix, body):
    src = tmp_path / f"empty{suffix}"
    src.write_bytes(body)
    r = _cli("data", "import", str(src), "--name", "empty")
    assert r.exit_code == 1
    # progress ("Reading …") comes first on stderr; the error is the last line, alone
    assert r.stderr.splitlines()[-1].startswith(f"error: {src}: no usable rows (0 read")
    assert "Traceback" not in r.stderr


def test_csv_ragged_rows_and_nul(workspace, tmp_path):
    src = tmp_path / "ragged.csv"
    lines = [b"prompt,completion", b"p0,c0", b"p1,c1,extra", b"p2", b"p3,c\x003", b"p4,c4"]
    src.write_bytes(b"\r\n".join(lines) + b"\r\n")
    failed = _cli("data", "import", str(src), "--name", "ragged", *NO_SPLIT)
    assert failed.exit_code == 1
    assert failed.stderr.splitlines()[-2:] == [  # after the progress line and the error's first line
        "  ragged.csv line 3: more cells than the header's 2 columns",
        "  ragged.csv line 4: fewer cells than the header's 2 columns",
    ]
    ok = _cli("data", "import", str(src), "--name", "ragged", "--on-error", "skip", *NO_SPLIT)
    assert ok.exit_code == 0, ok.output
    assert [r["completion"] for r in _train(workspace, "ragged")] == ["c0", "c\x003", "c4"]  # a NUL is text in CSV
    assert [_raw(r) for r in _rejected(workspace, "ragged")] == [lines[2] + b"\r", lines[3] + b"\r"]


def test_unreadable_file_is_one_line(workspace, tmp_path):
    import os

    src = tmp_path / "locked.jsonl"
    src.write_bytes(GOOD[0] + b"\n")
    src.chmod(0)
    if os.access(src, os.R_OK):
        pytest.skip("running as a user who reads any file (root)")
    r = _cli("data", "import", str(src), "--name", "locked")
    assert r.exit_code == 1 and r.stderr.splitlines()[-1].startswith(f"error: {src}: cannot read (Permission denied)")
