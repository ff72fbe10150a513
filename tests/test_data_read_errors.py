"""Bytes that are not UTF-8 in CSV and JSON sources: the real line, skip rejects only that row, nothing lost."""

from __future__ import annotations

import base64
import json

import pytest

from brie.data.datasets import DataError, ImportOptions, import_dataset

NO_SPLIT = dict(valid_fraction=0, test_fraction=0)

CSV_LINES = [
    b"\xef\xbb\xbfprompt,completion",  # 1 header, with a BOM
    b"p2,c2",  # 2
    b"p3,caf\xe9",  # 3 a Latin-1 byte: this row only is rejected
    b"p4,c4\r",  # 4 CRLF
    b'"p5 over',  # 5 a quoted cell over two lines ...
    b'two lines",na\xefve',  # 6 ... with its bad byte on the second
    b"p7,c7",  # 7 the rows after the bad ones still come, on their own lines
    b"",  # 8 blank
    b"p9,c9",  # 9
]


def write_csv(path) -> bytes:
    data = b"\n".join(CSV_LINES) + b"\n"
    path.write_bytes(data)
    return data


EXPECTED = [
    "bad.csv line 3: not UTF-8: byte 0xe9 at byte 7",
    "bad.csv line 5: not UTF-8: byte 0xef at byte 14 (line 6)",
]


def test_csv_not_utf8_fail_names_the_real_line_and_writes_nothing(workspace, tmp_path):
    src = tmp_path / "bad.csv"
    write_csv(src)
    with pytest.raises(DataError) as e:
        import_dataset(workspace, str(src), "bad", ImportOptions(**NO_SPLIT))
    lines = str(e.value).splitlines()
    assert lines[0].startswith(f"{src}: 2 of 6 rows rejected; nothing was written")
    assert lines[1:] == ["  " + m for m in EXPECTED]
    assert list(workspace.data_dir.iterdir()) == []
    assert workspace.store.db["datasets"].count == 0


def test_csv_not_utf8_skip_rejects_only_that_row_byte_for_byte(workspace, tmp_path):
    src = tmp_path / "bad.csv"
    write_csv(src)
    result = import_dataset(workspace, str(src), "bad", ImportOptions(on_error="skip", **NO_SPLIT))
    rep = result.report
    assert rep["rows"]["read"] == 6 and rep["rows"]["rejected"] == 2 and rep["rows"]["train"] == 4
    assert rep["rejected"]["first"] == EXPECTED
    assert rep["rejected"]["by_reason"] == {"not_utf8": 2}
    assert rep["normalizations"]["bom_removed"] == {"count": 1, "first": "bad.csv line 1"}
    assert rep["normalizations"]["blank_lines_skipped"] == {"count": 1, "first": "bad.csv line 8"}
    folder = workspace.data_dir / "bad"
    train = [json.loads(l) for l in (folder / "train.jsonl").open(encoding="utf-8")]
    assert train == [{"prompt": "p2", "completion": "c2"}, {"prompt": "p4", "completion": "c4"},
                     {"prompt": "p7", "completion": "c7"}, {"prompt": "p9", "completion": "c9"}]
    rejected = [json.loads(l) for l in (folder / "rejected.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(r["line"], r["where"]) for r in rejected] == [(3, "bad.csv line 3"), (5, "bad.csv line 5")]
    assert all("raw" not in r and "record" not in r for r in rejected)  # bytes that cannot be a JSON string
    assert base64.b64decode(rejected[0]["raw_base64"]) == CSV_LINES[2]
    assert base64.b64decode(rejected[1]["raw_base64"]) == CSV_LINES[4] + b"\n" + CSV_LINES[5]


def test_csv_rejects_keep_the_raw_row_and_its_cells(workspace, tmp_path):
    src = tmp_path / "qa.csv"
    src.write_bytes(b'q,a\r\n"one, quoted",\r\nq2,a2\r\n')
    import_dataset(workspace, str(src), "qa", ImportOptions(on_error="skip", fields=_fields(), **NO_SPLIT))
    (r,) = [json.loads(l) for l in (workspace.data_dir / "qa" / "rejected.jsonl").open(encoding="utf-8")]
    assert r["raw"] == '"one, quoted",\r'  # as in the file, quotes and CR kept (only the final \n goes)
    assert r["record"] == {"q": "one, quoted", "a": ""} and r["reason"] == "empty field 'a'"


def _fields():
    from brie.data.normalize import Fields

    return Fields(prompt="q", completion="a")


def test_csv_header_not_utf8_is_one_error_with_its_line(workspace, tmp_path):
    src = tmp_path / "head.csv"
    src.write_bytes(b"prompt,compl\xe9tion\np,c\n")
    with pytest.raises(DataError, match=r"^head.csv line 1: not UTF-8: byte 0xe9 at byte 13 in the header row"):
        import_dataset(workspace, str(src), "head", ImportOptions(on_error="skip"))


def test_csv_with_lone_cr_line_endings_still_reads(workspace, tmp_path):
    src = tmp_path / "mac.csv"
    src.write_bytes(b"prompt,completion\rp1,c1\rp2,c\xe92\rp3,c3\r")
    result = import_dataset(workspace, str(src), "mac", ImportOptions(on_error="skip", **NO_SPLIT))
    assert result.report["rows"]["train"] == 2
    assert result.report["rejected"]["first"] == ["mac.csv line 3: not UTF-8: byte 0xe9 at byte 5"]


def test_json_array_not_utf8_rejects_only_its_item_byte_for_byte(workspace, tmp_path):
    src = tmp_path / "bad.json"
    item = b'{"prompt": "p2", "completion": "caf\xe9"}'
    src.write_bytes(b'[\n  {"prompt": "p1", "completion": "c1"},\n  ' + item + b'\n]\n')
    with pytest.raises(DataError) as e:
        import_dataset(workspace, str(src), "bad", ImportOptions(**NO_SPLIT))
    assert str(e.value).splitlines()[1] == "  bad.json item 2 (line 3): not UTF-8: byte 0xe9 at byte 38"
    result = import_dataset(workspace, str(src), "bad", ImportOptions(on_error="skip", **NO_SPLIT))
    assert result.report["rows"]["train"] == 1
    (r,) = [json.loads(l) for l in (workspace.data_dir / "bad" / "rejected.jsonl").open(encoding="utf-8")]
    assert (r["line"], r["where"]) == (3, "bad.json item 2 (line 3)")
    assert base64.b64decode(r["raw_base64"]) == item


def test_json_array_bad_byte_outside_a_string_stops_with_line_and_byte(workspace, tmp_path):
    src = tmp_path / "bad.json"
    src.write_bytes(b'[\n  {"prompt": "p1", "completion": "c1"},\n  \xff{"prompt": "p2", "completion": "c"}\n]\n')
    with pytest.raises(DataError) as e:
        import_dataset(workspace, str(src), "bad", ImportOptions(on_error="skip"))
    assert str(e.value).startswith("bad.json line 3: not UTF-8: byte 0xff at byte 3 ")
