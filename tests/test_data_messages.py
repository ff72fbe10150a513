"""Counts in data import messages read right: "1 training row", not "1 training rows"."""

from __future__ import annotations

import json

import pytest

from brie.data.datasets import DataError, ImportOptions, import_dataset


def test_one_training_row_is_singular_in_the_warning(workspace, tmp_path):
    src = tmp_path / "one.jsonl"
    src.write_text(json.dumps({"prompt": "p", "completion": "c"}) + "\n")
    result = import_dataset(workspace, str(src), "one", ImportOptions(valid_fraction=0, test_fraction=0))
    assert "only 1 training row" in result.report["warnings"]
    two = tmp_path / "two.jsonl"
    two.write_text("".join(json.dumps({"prompt": f"p{i}", "completion": "c"}) + "\n" for i in range(2)))
    result = import_dataset(workspace, str(two), "two", ImportOptions(valid_fraction=0, test_fraction=0))
    assert "only 2 training rows" in result.report["warnings"]


def test_one_row_read_is_singular_in_the_rejected_summary(workspace, tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text("{not json\n")
    with pytest.raises(DataError, match=r"bad\.jsonl: 1 of 1 row rejected; nothing was written"):
        import_dataset(workspace, str(src), "bad")
