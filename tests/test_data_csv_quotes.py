"""A quoted CSV/TSV cell that is never closed: an error at the line where it opened, never rows silently eaten."""

from __future__ import annotations

import csv
import json

import pytest

from brie.data.datasets import DataError, ImportOptions, import_dataset

NO_SPLIT = dict(valid_fraction=0, test_fraction=0)

ROWS = [
    ("prompt", "completion"),  # 1
    ("What is ricotta?", "An Italian whey cheese."),  # 2
    ("What is burrata?", '"unterminated quote'),  # 3: the quote opens here and never closes
    ("What is quark?", "A fresh German cheese."),  # 4
    ("What is cotija?", "A Mexican cheese."),  # 5
    ("What is edam?", "A Dutch cheese."),  # 6
]
MESSAGE = ("line 3: a quoted cell opened here is never closed: it would swallow the 3 lines to the end "
           "of the file, so they are read as rows of their own")


def write(path, rows, delimiter=",", end="\n") -> None:
    path.write_bytes((end.join(delimiter.join(r) for r in rows) + end).encode("utf-8"))


@pytest.mark.parametrize("suffix, delimiter", [(".csv", ","), (".tsv", "\t")])
def test_unclosed_quote_fails_at_its_line_and_writes_nothing(workspace, tmp_path, suffix, delimiter):
    src = tmp_path / f"q2{suffix}"
    write(src, ROWS, delimiter)
    with pytest.raises(DataError) as e:
        import_dataset(workspace, str(src), "q2", ImportOptions(**NO_SPLIT))
    lines = str(e.value).splitlines()
    # 5 rows: the broken one and the three after it read again on their own, not 2 with one swallowing the rest.
    assert lines[0].startswith(f"{src}: 1 of 5 rows rejected; nothing was written")
    assert lines[1:] == [f"  q2{suffix} {MESSAGE}"]
    assert list(workspace.data_dir.iterdir()) == []
    assert workspace.store.db["datasets"].count == 0


def test_fail_also_lists_errors_in_the_lines_after_the_open_quote(workspace, tmp_path):
    src = tmp_path / "q2.csv"
    write(src, ROWS[:4] + [("What is cotija?", "A Mexican cheese.", "extra")] + ROWS[5:])
    with pytest.raises(DataError) as e:
        import_dataset(workspace, str(src), "q2", ImportOptions(**NO_SPLIT))
    assert str(e.value).splitlines()[1:] == [f"  q2.csv {MESSAGE}",
                                             "  q2.csv line 5: more cells than the header's 2 columns"]


def test_skip_rejects_only_the_broken_row_byte_for_byte_and_reads_the_rest(workspace, tmp_path):
    src = tmp_path / "q2.csv"
    write(src, ROWS, end="\r\n")
    result = import_dataset(workspace, str(src), "q2", ImportOptions(on_error="skip", **NO_SPLIT))
    rep = result.report
    assert rep["rows"]["read"] == 5 and rep["rows"]["rejected"] == 1 and rep["rows"]["train"] == 4
    assert rep["rejected"]["by_reason"] == {"unclosed_quote": 1}
    folder = workspace.data_dir / "q2"
    rejected = [json.loads(x) for x in (folder / "rejected.jsonl").read_text().splitlines()]
    assert rejected == [{"where": "q2.csv line 3", "file": "q2.csv", "line": 3, "reason": MESSAGE[len("line 3: "):],
                         "raw": 'What is burrata?,"unterminated quote\r'}]
    train = [json.loads(x)["prompt"] for x in (folder / "train.jsonl").read_text().splitlines()]
    assert train == ["What is ricotta?", "What is quark?", "What is cotija?", "What is edam?"]


def test_quote_opened_on_a_later_line_of_a_multiline_row(workspace, tmp_path):
    src = tmp_path / "m.csv"
    src.write_bytes(b'prompt,completion\n"p2 over\ntwo lines","never closed\np4,c4\n')
    result = import_dataset(workspace, str(src), "m", ImportOptions(on_error="skip", **NO_SPLIT))
    assert result.report["rejected"]["first"] == [
        "m.csv line 2: a quoted cell opened on line 3 is never closed: it would swallow the 1 line to the end "
        "of the file, so they are read as rows of their own"]
    rejected = json.loads((workspace.data_dir / "m" / "rejected.jsonl").read_text())
    assert rejected["raw"] == '"p2 over\ntwo lines","never closed'
    assert [json.loads(x) for x in (workspace.data_dir / "m" / "train.jsonl").read_text().splitlines()] == [
        {"prompt": "p4", "completion": "c4"}]


def test_quote_open_on_the_last_line_and_in_the_header(workspace, tmp_path):
    src = tmp_path / "last.csv"
    src.write_bytes(b'prompt,completion\np2,c2\np3,"open')  # no final newline either
    with pytest.raises(DataError, match=r"last\.csv line 3: a quoted cell opened here is never closed "
                                        r"\(it is the last line of the file\)"):
        import_dataset(workspace, str(src), "last", ImportOptions(**NO_SPLIT))
    head = tmp_path / "head.csv"
    head.write_bytes(b'prompt,"completion\np2,c2\n')
    with pytest.raises(DataError, match=r"^head\.csv line 1: a quoted cell opened here in the header row is "
                                        r"never closed, so no column can be named$"):
        import_dataset(workspace, str(head), "head", ImportOptions(**NO_SPLIT))
    assert list(workspace.data_dir.iterdir()) == []


@pytest.mark.parametrize("tail", [b'p3,"a cell over\ntwo lines"\n', b'p3,"a cell over\ntwo lines"', b"p3,c3"])
def test_closed_multiline_cells_and_a_missing_final_newline_are_not_errors(workspace, tmp_path, tail):
    src = tmp_path / "ok.csv"
    src.write_bytes(b'prompt,completion\np2,"say ""hi""\nthen go"\n' + tail)
    result = import_dataset(workspace, str(src), "ok", ImportOptions(**NO_SPLIT))
    assert result.report["rows"]["rejected"] == 0 and result.report["rows"]["train"] == 2
    first = json.loads((workspace.data_dir / "ok" / "train.jsonl").read_text().splitlines()[0])
    assert first["completion"] == 'say "hi"\nthen go'


def test_field_limit_hit_inside_an_open_quote_rejects_only_that_row(workspace, tmp_path):
    src = tmp_path / "big.csv"
    src.write_bytes(b'prompt,completion\np2,c2\np3,"never closed\n'
                    + b"".join(b"filler %d,line\n" % i for i in range(20)))
    old = csv.field_size_limit(100)  # the real limit is 131072 characters: a large file
    try:
        with pytest.raises(DataError) as e:
            import_dataset(workspace, str(src), "big", ImportOptions(**NO_SPLIT))
        assert str(e.value).splitlines()[1] == ("  big.csv line 3: a quoted cell opened here runs past 100 "
                                                "characters, so it is probably never closed; the lines after "
                                                "it are read as rows of their own")
        result = import_dataset(workspace, str(src), "big", ImportOptions(**NO_SPLIT, on_error="skip"))
    finally:
        csv.field_size_limit(old)
    rows = result.report["rows"]
    assert rows["read"] == 22 and rows["rejected"] == 1 and rows["train"] == 21  # p2 and the 20 filler rows
