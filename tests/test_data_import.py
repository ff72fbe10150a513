"""Importing each format, splitting, sampling, leakage, versions, token counts, and training on the result."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest

from brie.data.datasets import DataError, ImportOptions, get_dataset, import_dataset, list_datasets


def jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def read(folder, split):
    path = folder / f"{split}.jsonl"
    return [json.loads(l) for l in path.open(encoding="utf-8")] if path.exists() else []


def all_rows(folder):
    return [r for s in ("train", "valid", "test") for r in read(folder, s)]


def chat(i):
    return {"messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]}


NO_SPLIT = ImportOptions(valid_fraction=0, test_fraction=0)


def test_chat_jsonl_splits_exactly_and_records_everything(workspace, tmp_path):
    src = jsonl(tmp_path / "chat.jsonl", [chat(i) for i in range(100)])
    result = import_dataset(workspace, str(src), "c", ImportOptions(valid_fraction=0.1, test_fraction=0.2, seed=3))
    assert result.created
    ds = get_dataset(workspace, "c")
    assert (ds["rows_train"], ds["rows_valid"], ds["rows_test"]) == (70, 10, 20)
    assert ds["format"] == "chat" and ds["version"] == 1 and ds["seed"] == 3 and ds["sample_ratio"] == 1.0
    folder = workspace.data_dir / "c"
    assert ds["path"] == str(folder)
    rows = all_rows(folder)
    assert sorted(r["messages"][0]["content"] for r in rows) == sorted(f"question {i}" for i in range(100))
    assert json.loads((folder / "report.json").read_text()) == ds["report"]
    assert ds["report"]["rows"]["train"] == 70 and not (folder / "rejected.jsonl").exists()
    # The seed decides the split: the same seed again gives the same files (and so a no-op).
    again = import_dataset(workspace, str(src), "c", ImportOptions(valid_fraction=0.1, test_fraction=0.2, seed=3))
    assert not again.created and "already holds identical content" in again.message


def test_sample_ratio_is_exact_stored_and_leaves_the_held_out_rows_alone(workspace, tmp_path):
    src = jsonl(tmp_path / "big.jsonl", [{"prompt": f"p{i}", "completion": f"c{i}"} for i in range(1000)])
    full = import_dataset(workspace, str(src), "full", ImportOptions(seed=11))
    part = import_dataset(workspace, str(src), "quarter", ImportOptions(seed=11, sample_ratio=0.25))
    assert full.dataset["rows_train"] == 800
    assert abs(part.dataset["rows_train"] - 0.25 * 800) <= 1
    stored = get_dataset(workspace, "quarter")
    assert stored["sample_ratio"] == 0.25 and stored["seed"] == 11 and stored["rows_train"] == 200
    assert stored["report"]["sample"] == {"ratio": 0.25, "seed": 11, "applies_to": "train",
                                          "train_rows_before": 800, "train_rows_after": 200}
    f, q = workspace.data_dir / "full", workspace.data_dir / "quarter"
    assert read(f, "valid") == read(q, "valid") and read(f, "test") == read(q, "test")
    full_train = {r["prompt"] for r in read(f, "train")}
    assert {r["prompt"] for r in read(q, "train")} < full_train
    listed = {r["name"]: r for r in list_datasets(workspace)}
    assert listed["quarter"]["sample_ratio"] == 0.25 and listed["full"]["sample_ratio"] == 1.0
    other_seed = import_dataset(workspace, str(src), "q2", ImportOptions(seed=12, sample_ratio=0.25))
    assert other_seed.dataset["rows_train"] == 200
    assert read(workspace.data_dir / "q2", "train") != read(q, "train")


def test_versions_are_content_addressed(workspace, tmp_path):
    a = jsonl(tmp_path / "a.jsonl", [chat(i) for i in range(20)])
    b = jsonl(tmp_path / "b.jsonl", [chat(i) for i in range(25)])
    v1 = import_dataset(workspace, str(a), "d").dataset
    with pytest.raises(DataError, match=r"dataset 'd' already exists as v1 and this import gives other rows "
                                        r"\(source .*a.jsonl → .*b.jsonl\); pass --replace to add it as v2"):
        import_dataset(workspace, str(b), "d")
    with pytest.raises(DataError, match=r"other rows \(sample ratio 1.0 → 0.5, seed 0 → 1\)"):
        import_dataset(workspace, str(a), "d", ImportOptions(sample_ratio=0.5, seed=1))
    v2 = import_dataset(workspace, str(b), "d", ImportOptions(replace=True)).dataset
    assert (v1["version"], v2["version"]) == (1, 2) and v1["sha256"] != v2["sha256"]
    assert v2["path"] == str(workspace.data_dir / "d" / "v2")
    assert len(all_rows(workspace.data_dir / "d")) == 20  # v1's files stay for its runs
    assert get_dataset(workspace, "d")["version"] == 2
    assert get_dataset(workspace, "d", 1)["sha256"] == v1["sha256"]
    same = import_dataset(workspace, str(a), "d", ImportOptions(replace=True))
    assert not same.created and same.dataset["version"] == 1
    assert len(list_datasets(workspace, all_versions=True)) == 2


def test_text_alpaca_json_array_and_sharegpt(workspace, tmp_path):
    text = jsonl(tmp_path / "t.jsonl", [{"text": f"line {i}", "id": i} for i in range(10)])
    rep = import_dataset(workspace, str(text), "t", NO_SPLIT).report
    assert rep["format"] == "text" and rep["extra_fields_dropped"] == {"id": 10}
    assert read(workspace.data_dir / "t", "train")[0] == {"text": "line 0"}

    alpaca = tmp_path / "alpaca.json"
    alpaca.write_text(json.dumps([{"instruction": "Add", "input": "2 and 2", "output": "4"},
                                  {"instruction": "Say hi", "input": "", "output": "hi"},
                                  {"instruction": "Say bye", "output": ""}]))
    with pytest.raises(DataError, match=r"alpaca.json item 3 \(line 1\): empty field 'output'"):
        import_dataset(workspace, str(alpaca), "al", NO_SPLIT)
    alpaca.write_text(json.dumps([{"instruction": "Add", "input": "2 and 2", "output": "4"},
                                  {"instruction": "Say hi", "input": "", "output": "hi"}]))
    rep = import_dataset(workspace, str(alpaca), "al", NO_SPLIT).report
    assert (rep["input_format"], rep["format"]) == ("alpaca", "completions")
    assert read(workspace.data_dir / "al", "train") == [{"prompt": "Add\n\n2 and 2", "completion": "4"},
                                                        {"prompt": "Say hi", "completion": "hi"}]

    share = jsonl(tmp_path / "share.jsonl", [
        {"conversations": [{"from": "system", "value": "be kind"}, {"from": "human", "value": "hi"},
                           {"from": "gpt", "value": "hello"}]},
        {"conversations": [{"from": "human", "value": "hi"}, {"from": "robot", "value": "beep"}]},
    ])
    with pytest.raises(DataError, match=r"share.jsonl line 2: unknown role 'robot' in turn 2"):
        import_dataset(workspace, str(share), "sg", NO_SPLIT)
    rep = import_dataset(workspace, str(share), "sg", ImportOptions(valid_fraction=0, test_fraction=0,
                                                                     on_error="skip")).report
    assert (rep["input_format"], rep["format"], rep["rows"]["train"]) == ("sharegpt", "chat", 1)
    assert read(workspace.data_dir / "sg", "train")[0]["messages"] == [
        {"role": "system", "content": "be kind"}, {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello"}]


def test_csv_with_field_mapping_and_parquet(workspace, tmp_path):
    from brie.data.normalize import Fields

    src = tmp_path / "qa.csv"
    with src.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["question", "answer", "note"])
        w.writerow(["What is 2+2?", "4", "easy"])
        w.writerow(["Two\nlines?", "yes", ""])  # a quoted cell over two lines: the next row is on line 5
        w.writerow(["Empty answer", "", ""])
        w.writerow(["too", "many", "cells", "here"])
    opts = ImportOptions(valid_fraction=0, test_fraction=0, fields=Fields(prompt="question", completion="answer"))
    with pytest.raises(DataError) as e:
        import_dataset(workspace, str(src), "qa", opts)
    assert str(e.value).splitlines()[1:] == [
        "  qa.csv line 5: empty field 'answer'",
        "  qa.csv line 6: more cells than the header's 3 columns",
    ]
    opts.on_error = "skip"
    result = import_dataset(workspace, str(src), "qa", opts)
    assert read(workspace.data_dir / "qa", "train") == [{"prompt": "What is 2+2?", "completion": "4"},
                                                        {"prompt": "Two\nlines?", "completion": "yes"}]
    rejected = [json.loads(l) for l in (workspace.data_dir / "qa" / "rejected.jsonl").open()]
    assert rejected[0]["record"] == {"question": "Empty answer", "answer": "", "note": ""}
    assert result.report["extra_fields_dropped"] == {"note": 2}  # counted on the rows kept

    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": [f"doc {i}" for i in range(5000)]}), tmp_path / "docs.parquet",
                   row_group_size=1000)
    ds = import_dataset(workspace, str(tmp_path / "docs.parquet"), "docs").dataset
    assert (ds["rows_train"], ds["rows_valid"], ds["rows_test"]) == (4000, 500, 500)


def test_presplit_folder_keeps_splits_and_removes_leakage(workspace, tmp_path):
    folder = tmp_path / "split"
    folder.mkdir()
    jsonl(folder / "train.jsonl", [chat(i) for i in range(20)])
    leak = chat(3)
    leak["messages"][0]["content"] = "  QUESTION   3 "  # the same row but for case and spaces
    jsonl(folder / "validation.jsonl", [chat(100), leak, chat(101)])
    jsonl(folder / "test.jsonl", [chat(200), chat(5)])  # an exact copy of a train row
    rep = import_dataset(workspace, str(folder), "pre").report
    assert rep["split"]["given_by_source"] is True
    assert rep["rows"]["train"] == 20 and rep["rows"]["valid"] == 2 and rep["rows"]["test"] == 1
    assert rep["leakage"]["count"] == 2 and rep["leakage"]["removed_from"] == {"valid": 1, "test": 1}
    assert rep["leakage"]["first"] == ["validation.jsonl line 2 (valid) matches train row train.jsonl line 4",
                                       "test.jsonl line 2 (test) matches train row train.jsonl line 6"]
    assert rep["rows"]["duplicates"] == 0


def test_hugging_face_path_through_datasets_load_dataset(workspace, tmp_path, monkeypatch):
    import datasets

    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    repo = tmp_path / "hf-repo"
    repo.mkdir()
    jsonl(repo / "train.jsonl", [{"prompt": f"p{i}", "completion": f"c{i}"} for i in range(12)])
    jsonl(repo / "test.jsonl", [{"prompt": "t1", "completion": "x"}])
    rep = import_dataset(workspace, f"hf:{repo}", "hf").report
    assert rep["source_kind"] == "hf" and rep["split"]["given_by_source"]
    assert (rep["rows"]["train"], rep["rows"]["valid"], rep["rows"]["test"]) == (12, 0, 1)
    assert not (workspace.data_dir / "hf" / "valid.jsonl").exists()  # mlx-lm fails on an empty file
    assert rep["rejected"]["count"] == 0 and rep["warnings"][0].startswith("valid.jsonl is empty")


def test_token_lengths_with_the_model_tokenizer(workspace, tmp_path, tiny_model_dir):
    # The tiny tokenizer is byte-level with no merges: one token per byte, one per special token.
    rows = [{"messages": [{"role": "user", "content": "ab"}, {"role": "assistant", "content": "c" * n}]}
            for n in (1, 2, 3, 10, 40)]
    src = jsonl(tmp_path / "len.jsonl", rows)
    rep = import_dataset(workspace, str(src), "len", ImportOptions(
        valid_fraction=0, test_fraction=0, model=str(tiny_model_dir), max_seq_length=30)).report
    # "<|im_start|>user\nab<|im_end|>\n<|im_start|>assistant\n" + c*n + "<|im_end|>\n" = 4 specials + 19 + n bytes
    assert rep["lengths_tokens"] == {"model": str(tiny_model_dir), "rows": 5, "min": 24, "median": 26,
                                     "p95": 63, "max": 63, "max_seq_length": 30,
                                     "over_max_seq_length": {"train": 2, "valid": 0, "test": 0}}
    assert rep["lengths_chars"]["max"] == len("ab") + 40  # the texts, without roles or template


def test_normalized_folder_trains_with_plain_mlx_lm_lora(workspace, tmp_path, tiny_model_dir):
    src = jsonl(tmp_path / "train-me.jsonl", [chat(i) for i in range(40)])
    ds = import_dataset(workspace, str(src), "trainable", ImportOptions(valid_fraction=0.2, test_fraction=0)).dataset
    adapters = tmp_path / "adapters"
    proc = subprocess.run(
        [sys.executable, "-m", "mlx_lm", "lora", "--model", str(tiny_model_dir), "--train", "--data", ds["path"],
         "--iters", "3", "--batch-size", "2", "--num-layers", "1", "--steps-per-report", "1",
         "--steps-per-eval", "3", "--val-batches", "1", "--adapter-path", str(adapters)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "Training" in proc.stdout
    assert json.loads((adapters / "adapter_config.json").read_text())["iters"] == 3
    assert (adapters / "adapters.safetensors").stat().st_size > 0


def test_stringified_messages_are_decoded_and_all_rejected_says_why(workspace, tmp_path):
    rows = [{"messages": json.dumps(chat(i)["messages"])} for i in range(10)]
    result = import_dataset(workspace, str(jsonl(tmp_path / "s.jsonl", rows)), "s")
    assert result.dataset["rows_train"] + result.dataset["rows_valid"] + result.dataset["rows_test"] == 10
    assert "json_string_messages_decoded" in json.dumps(result.report)
    bad = jsonl(tmp_path / "bad.jsonl", [{"messages": 5}] * 3)
    with pytest.raises(DataError, match=r"no usable rows \(3 read, 3 rejected.*First rejects:\n  .*line 1.*not a list"):
        import_dataset(workspace, str(bad), "bad", ImportOptions(on_error="skip"))
