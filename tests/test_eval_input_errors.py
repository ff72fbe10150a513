"""Eval input files that used to crash: each is now one line naming the file, the line and what is
wrong, never a traceback; and random or hostile bytes make the eval readers raise BrieError alone."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from brie.cli import app
from brie.errors import BrieError

GOOD = {"question": "Janet has 9 eggs and sells them for $2 each. How much does she make?", "answer": "9 * 2 = 18\n#### 18"}


def _eval(bench: str):
    """`brie eval` on a benchmark file; the model is never loaded, the data fails first."""
    return CliRunner().invoke(app, ["eval", "--models", "base", "--base-model", "x", "--benchmarks", bench])


def _one_line_error(r, starts: str, says: str) -> None:
    assert r.exit_code == 1, r.output
    assert isinstance(r.exception, SystemExit), repr(r.exception)  # brie's handler exited, nothing escaped
    assert "Traceback" not in r.output
    (line,) = r.output.strip().splitlines()
    assert line.startswith(f"error: {starts}"), line
    assert says in line, line


@pytest.mark.parametrize("gold", ["inf", "1e400", "nan", "-inf", "Infinity"])
def test_a_gsm8k_gold_that_is_no_number_names_file_and_line(workspace, tmp_path, gold):
    data = tmp_path / "gsm8k.jsonl"
    data.write_text(json.dumps(GOOD) + "\n\n" + json.dumps({**GOOD, "answer": f"so\n#### {gold}"}) + "\n")
    _one_line_error(_eval(f"gsm8k:{data}"), f"{data}:3: the answer after '#### ' is {gold!r}", "not a number")


@pytest.mark.parametrize("bench, row", [
    ("gsm8k", GOOD),
    ("overlap", {"prompt": "What is brie?", "reference": "A soft cheese."}),
    ("perplexity", {"text": "Brie is a soft cheese."}),
])
def test_a_non_utf8_eval_jsonl_names_file_and_line(workspace, tmp_path, bench, row):
    data = tmp_path / "data.jsonl"
    good = json.dumps(row).encode()
    data.write_bytes(good + b"\n" + good + b"\n" + good.replace(b"e", b"\xe9", 1) + b"\n")  # latin-1 'é'
    _one_line_error(_eval(f"{bench}:{data}"), f"{data}:3: not UTF-8 (byte 0xe9)", "save the file as UTF-8")


def test_a_broken_json_eval_file_names_file_and_line(workspace, tmp_path):
    data = tmp_path / "gsm8k.json"
    data.write_text("[\n" + json.dumps(GOOD) + ",\n" + '{"question": "q", "answer": }\n]')
    _one_line_error(_eval(f"gsm8k:{data}"), f"{data}:3: invalid JSON", "Expecting value")
    data.write_text(json.dumps({"rows": [GOOD]}))
    _one_line_error(_eval(f"gsm8k:{data}"), f"{data}: expected a JSON list of objects", "got dict")


@pytest.mark.parametrize("text, says", [
    ('{"question": "q", "answer": "#### 1\\ud800"}', "half of a character"),
    ("[" * 100_000 + "]" * 100_000, "nested more than 100 levels deep"),
    ('{"question": "q", "answer": ' + "9" * 5000 + "}", "digits"),
    ('{"question": "q", "answer": NaN}', "NaN is Python's, not a JSON value"),
    ('{"question": "q", "answer": 18}', "'answer' must be a string"),
    ('["question", "answer"]', "expected a JSON object per line"),
])
def test_hostile_gsm8k_rows_are_one_line_errors(workspace, tmp_path, text, says):
    data = tmp_path / "gsm8k.jsonl"
    data.write_text(json.dumps(GOOD) + "\n" + text + "\n")
    _one_line_error(_eval(f"gsm8k:{data}"), f"{data}:2: ", says)


def test_a_perplexity_row_of_the_wrong_shape_names_its_line(workspace, tmp_path):
    data = tmp_path / "held.jsonl"
    data.write_text(json.dumps({"text": "fine"}) + "\n" + json.dumps({"text": ["not", "a", "string"]}) + "\n")
    _one_line_error(_eval(f"perplexity:{data}"), f"{data}:2: 'text' must be a string", "first row")


def _readers(path: Path):
    """Every eval reader of a data file, as `brie eval` calls it (no workspace, no model)."""
    from brie.evals.data import load_records, read_jsonl
    from brie.evals.gsm8k import GSM8K
    from brie.evals.overlap import Overlap
    from brie.evals.perplexity import Perplexity

    yield lambda: load_records(str(path))
    if path.suffix == ".jsonl":
        yield lambda: read_jsonl(path)
    yield lambda: GSM8K("gsm8k:x", source=str(path)).items(None)
    yield lambda: GSM8K("gsm8k:x", source=str(path), shots=1).items(None)
    yield lambda: Overlap("overlap:x", source=str(path)).items(None)
    yield lambda: Perplexity("perplexity:x", source=str(path)).items(None)


JSONISH = st.sampled_from([
    "{", "}", "[", "]", ",", ":", '"', "\\", "\\u", "\\ud800", "\\udc00", "\\ud83e\\udd80", "\n", "\r\n", " ",
    '"question"', '"answer"', '"prompt"', '"reference"', '"text"', '"messages"', '"completion"', '"turns"',
    '"role"', '"content"', "#### ", "18", "-0", "1e400", "NaN", "Infinity", "null", "true", "9" * 4400,
    "\ufeff", "é", "🧀", "\x00",
])


def _check(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        path.write_bytes(data)
        for read in _readers(path):
            try:
                read()
            except BrieError as e:
                assert "\n" not in str(e), str(e)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".jsonl", ".json"]))
def test_random_bytes_give_brie_errors_only(data, suffix):
    _check(data, suffix)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(JSONISH, max_size=40), suffix=st.sampled_from([".jsonl", ".json"]),
       encoding=st.sampled_from(["utf-8", "utf-16", "latin-1"]))
def test_json_like_fragments_give_brie_errors_only(pieces, suffix, encoding):
    text = "".join(pieces)
    _check(text.encode(encoding, errors="surrogatepass" if encoding != "latin-1" else "replace"), suffix)


rows = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
                    max_leaves=10)
fields = st.fixed_dictionaries({}, optional={k: rows for k in (
    "question", "answer", "prompt", "reference", "turns", "text", "messages", "completion", "id")})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(objects=st.lists(fields | rows, min_size=0, max_size=4), suffix=st.sampled_from([".jsonl", ".json"]))
def test_well_formed_json_of_any_shape_gives_brie_errors_only(objects, suffix):
    if suffix == ".json":
        text = json.dumps(objects)
    else:
        text = "\n".join(json.dumps(o) for o in objects)
    _check(text.encode(), suffix)
