"""The broken-file corpus: every defect is found with its file, line and reason; nothing is lost."""

from __future__ import annotations

import base64
import json

import pytest

from brie.data.datasets import DataError, ImportOptions, get_dataset, import_dataset


def write_lines(path, lines: list[bytes]) -> bytes:
    data = b"\n".join(lines) + b"\n"
    path.write_bytes(data)
    return data


def good(i: int) -> bytes:
    return json.dumps({"prompt": f"question {i}", "completion": f"answer {i}"}).encode()


BROKEN = [
    b'\xef\xbb\xbf{"prompt": "p1", "completion": "c1"}',  # 1 BOM: removed, row kept
    b'{"prompt": "p2", "completion": "c2"}\r',  # 2 CRLF: converted, row kept
    b'{"prompt": "p3", "completion": "c3"',  # 3 invalid JSON
    b'{"prompt": "p4", "completion": "caf\xe9"}',  # 4 Latin-1 byte: not UTF-8
    b'{"prompt": "p5"}',  # 5 missing field
    b'{"prompt": "p6", "completion": "   "}',  # 6 empty field
    b"",  # 7 blank: skipped, counted
    b"[1, 2]",  # 8 not an object
    b'{"prompt": "p9", "completion": "' + b"x" * 300 + b'"}',  # 9 over the line limit
    b'{"prompt": "p1", "completion": "c1"}',  # 10 duplicate of line 1
    b'{"prompt": "p11", "completion": null}\r',  # 11 null field (with CRLF, kept as is when rejected)
] + [good(i) for i in range(12, 30)]  # 12-29 good

EXPECTED = [
    "bad.jsonl line 3: invalid JSON: Expecting ',' delimiter at column 36",
    "bad.jsonl line 4: not UTF-8: byte 0xe9 at byte 36",
    "bad.jsonl line 5: missing field 'completion'",
    "bad.jsonl line 6: empty field 'completion'",
    "bad.jsonl line 8: not a JSON object (got list)",
    "bad.jsonl line 9: line is 334 bytes, over the 200-byte limit (--max-line-bytes)",
    "bad.jsonl line 11: field 'completion' is null",
]


def test_fail_lists_every_error_with_its_line_and_writes_nothing(workspace, tmp_path):
    src = tmp_path / "bad.jsonl"
    write_lines(src, BROKEN)
    with pytest.raises(DataError) as e:
        import_dataset(workspace, str(src), "bad", ImportOptions(max_line_bytes=200))
    msg = str(e.value)
    assert msg.startswith(f"{src}: 7 of 28 rows rejected; nothing was written")
    assert msg.splitlines()[1:] == ["  " + m for m in EXPECTED]
    assert list(workspace.data_dir.iterdir()) == []  # no folder, no staging left behind
    assert workspace.store.db["datasets"].count == 0


def test_fail_summary_shows_the_first_ten_and_counts_the_rest(workspace, tmp_path):
    src = tmp_path / "many.jsonl"
    write_lines(src, [good(0)] + [b"{oops"] * 14)
    with pytest.raises(DataError) as e:
        import_dataset(workspace, str(src), "many")
    lines = str(e.value).splitlines()
    assert lines[0].startswith(f"{src}: 14 of 15 rows rejected")
    assert lines[1] == "  many.jsonl line 2: invalid JSON: Expecting property name enclosed in double quotes at column 2"
    assert lines[10].startswith("  many.jsonl line 11: ")
    assert lines[11] == "  … and 4 more"


def test_skip_keeps_good_rows_and_every_rejected_line_byte_for_byte(workspace, tmp_path):
    src = tmp_path / "bad.jsonl"
    data = write_lines(src, BROKEN)
    result = import_dataset(workspace, str(src), "bad", ImportOptions(max_line_bytes=200, on_error="skip"))
    rep = result.report
    assert rep["rows"] == {"read": 28, "rejected": 7, "duplicates": 1, "leaked": 0, "unique": 20,
                           "train": 16, "valid": 2, "test": 2}
    assert rep["rejected"]["first"] == EXPECTED
    assert rep["rejected"]["by_reason"] == {"invalid_json": 1, "not_utf8": 1, "missing_field": 2,
                                            "empty_field": 1, "not_object": 1, "line_too_long": 1}
    assert rep["duplicates"] == {"count": 1, "first": ["bad.jsonl line 10 repeats bad.jsonl line 1"]}
    assert rep["normalizations"] == {
        "bom_removed": {"count": 1, "first": "bad.jsonl line 1"},
        "crlf_line_endings": {"count": 2, "first": "bad.jsonl line 2"},
        "blank_lines_skipped": {"count": 1, "first": "bad.jsonl line 7"},
    }
    folder = workspace.data_dir / "bad"
    rejected = [json.loads(l) for l in (folder / "rejected.jsonl").read_text(encoding="utf-8").splitlines()]
    original = data.split(b"\n")
    assert [r["line"] for r in rejected] == [3, 4, 5, 6, 8, 9, 11]
    for r in rejected:
        raw = base64.b64decode(r["raw_base64"]) if "raw_base64" in r else r["raw"].encode("utf-8")
        assert raw == original[r["line"] - 1]  # unchanged, \r and Latin-1 byte included
        assert f"{r['where']}: {r['reason']}" in EXPECTED
    assert "raw_base64" in rejected[1]  # the non-UTF-8 line cannot be a JSON string
    # Nothing lost: every non-blank line is imported, rejected, or a counted duplicate.
    kept = sum(1 for s in ("train", "valid", "test") for _ in (folder / f"{s}.jsonl").open())
    assert kept + len(rejected) + rep["rows"]["duplicates"] == len([l for l in BROKEN if l.strip()])
    rows = [json.loads(l) for s in ("train", "valid", "test") for l in (folder / f"{s}.jsonl").open()]
    assert {"prompt": "p2", "completion": "c2"} in rows and {"prompt": "p1", "completion": "c1"} in rows


CHAT_BROKEN = [
    {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]},
    {"messages": [{"role": "user", "content": "a"}, {"role": "bot", "content": "b"}]},
    {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"},
                  {"role": "assistant", "content": "c"}]},
    {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                  {"role": "user", "content": "c"}]},
    {"messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "s"},
                  {"role": "assistant", "content": "c"}]},
    {"messages": [{"role": "assistant", "content": "a"}, {"role": "user", "content": "b"}]},
    {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": ""}]},
    {"messages": [{"role": "user", "content": "a"}, {"role": "assistant"}]},
    {"messages": [{"content": "a"}]},
    {"messages": "user: hi"},
    {"messages": []},
    {"text": "a row of another format"},
    {"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "x"},
                  {"role": "assistant", "content": [{"type": "text", "text": "y"}, {"type": "text", "text": "z"}]}]},
]


def test_chat_roles_and_order_are_checked(workspace, tmp_path):
    src = tmp_path / "chat.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in CHAT_BROKEN))
    with pytest.raises(DataError) as e:
        import_dataset(workspace, str(src), "chat")
    assert str(e.value).splitlines()[1:] == [
        "  chat.jsonl line 2: unknown role 'bot' in message 2 (expected system, user or assistant)",
        "  chat.jsonl line 3: wrong role order: message 2 is 'user' after 'user' (expected 'assistant')",
        "  chat.jsonl line 4: wrong role order: the last message is 'user' (a training row ends with the assistant)",
        "  chat.jsonl line 5: wrong role order: message 2 is 'system' (only the first message may be)",
        "  chat.jsonl line 6: wrong role order: message 1 is 'assistant' first (expected 'user')",
        "  chat.jsonl line 7: empty message 2 content",
        "  chat.jsonl line 8: message 2 has no 'content'",
        "  chat.jsonl line 9: message 1 has no 'role'",
        "  chat.jsonl line 10: field 'messages' is not a list of messages",
        "  chat.jsonl line 11: no messages",
        "  … and 1 more",
    ]
    result = import_dataset(workspace, str(src), "chat", ImportOptions(on_error="skip", valid_fraction=0,
                                                                        test_fraction=0))
    assert result.report["rejected"]["count"] == 11
    assert result.report["rows"]["train"] == 2
    rows = [json.loads(l) for l in (workspace.data_dir / "chat" / "train.jsonl").open()]
    assert rows[1]["messages"][2] == {"role": "assistant", "content": "yz"}
    assert result.report["normalizations"]["content_parts_joined"] == {"count": 1, "first": "chat.jsonl line 13"}
    last = (workspace.data_dir / "chat" / "rejected.jsonl").read_text().splitlines()[-1]
    assert json.loads(last)["reason"] == "missing field 'messages'"


def test_mixed_plain_and_stringified_json_answers_are_normalized_and_counted(workspace, tmp_path):
    rows = [{"prompt": f"q{i}", "completion": f"plain answer {i}"} for i in range(40)]
    rows[5]["completion"] = json.dumps({"answer": "Paris"})
    rows[9]["completion"] = json.dumps({"answer": "Lyon", "confidence": 0.9})
    rows[11]["completion"] = {"answer": "Nice"}  # a real object, not a string
    rows[13]["completion"] = 42
    rows[15]["completion"] = "{not json, just braces}"
    src = tmp_path / "mixed.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = import_dataset(workspace, str(src), "mixed", ImportOptions(valid_fraction=0, test_fraction=0))
    rep = result.report
    assert rep["rows"]["train"] == 40 and rep["rows"]["rejected"] == 0  # none dropped
    assert rep["normalizations"] == {
        "json_string_answer_rendered": {"count": 2, "first": "mixed.jsonl line 6"},
        "json_object_answer_rendered": {"count": 1, "first": "mixed.jsonl line 12"},
        "number_to_text": {"count": 1, "first": "mixed.jsonl line 14"},
    }
    out = {r["prompt"]: r["completion"]
           for r in map(json.loads, (workspace.data_dir / "mixed" / "train.jsonl").open())}
    assert out["q5"] == "Paris"
    assert out["q9"] == "answer: Lyon\nconfidence: 0.9"
    assert out["q11"] == "Nice"
    assert out["q13"] == "42"
    assert out["q15"] == "{not json, just braces}"
    assert out["q0"] == "plain answer 0"


def test_unknown_format_and_bad_options_name_the_value(workspace, tmp_path):
    src = tmp_path / "odd.jsonl"
    src.write_text('{"question": "a", "answer": "b"}\n')
    with pytest.raises(DataError, match=r"odd.jsonl line 1: fits no format \(fields: question, answer\)"):
        import_dataset(workspace, str(src), "odd")
    with pytest.raises(DataError, match=r"--sample-ratio 1.5"):
        import_dataset(workspace, str(src), "odd", ImportOptions(sample_ratio=1.5))
    with pytest.raises(DataError, match=r"--max-seq-length needs --model"):
        import_dataset(workspace, str(src), "odd", ImportOptions(max_seq_length=10))
    with pytest.raises(DataError, match=r"nope.jsonl: no such file"):
        import_dataset(workspace, str(tmp_path / "nope.jsonl"), "odd")
    with pytest.raises(DataError, match=r"no dataset 'odd'"):
        get_dataset(workspace, "odd")


def test_explicit_format_and_jsonl_named_json(workspace, tmp_path):
    src = tmp_path / "rows.json"  # JSON Lines under a .json name, with a BOM
    src.write_bytes(b"\xef\xbb\xbf" + b'{"text": "one"}\n{"prompt": "p", "completion": "c"}\n')
    with pytest.raises(DataError) as e:
        import_dataset(workspace, str(src), "x", ImportOptions(format="text"))
    assert str(e.value).splitlines()[1:] == ["  rows.json line 2: missing field 'text'"]
    rep = import_dataset(workspace, str(src), "x", ImportOptions(format="text", on_error="skip",
                                                                  valid_fraction=0, test_fraction=0)).report
    assert rep["rows"]["train"] == 1 and rep["normalizations"]["bom_removed"]["first"] == "rows.json line 1"
