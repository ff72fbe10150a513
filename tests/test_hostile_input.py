"""Issue 14 item 3: random and adversarial input to every reader of outside input (dataset files,
prompt suites, judges.toml) and to the verdict parser. The property: nothing escapes but brie's own
error type (BrieError, one line the CLI prints without a traceback); the verdict parser never raises.

Inputs are random bytes and near-valid JSON/CSV/TOML built from strategies that mix in what real
exports contain: lone surrogates (an emoji cut in half), nesting far past any limit, integers past
Python's 4,300-digit conversion limit, bytes that are not UTF-8, BOMs, NULs and whitespace JSON and
TOML do not count as whitespace. Examples are capped so the file runs in seconds on two cores.
"""

from __future__ import annotations

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brie.data.datasets import ImportOptions, import_dataset
from brie.data.read import Notes, open_source
from brie.data.suites import import_suite, parse_suite_file
from brie.errors import BrieError
from brie.judging.judges import read_table
from brie.judging.verdicts import parse_rating, parse_verdict

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Whole imports touch SQLite and the disk: fewer examples, one workspace for all of them.
SLOW = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
names = itertools.count()

# --- strategies --------------------------------------------------------------------------------

SURROGATES = st.characters(categories=["Cs"])
ANY_CHAR = st.one_of(st.characters(), SURROGATES, st.sampled_from(["\x00", "\ufeff", "\u2028", "\x85", "\r"]))
TEXT = st.text(ANY_CHAR, max_size=12)
KEYS = st.one_of(st.sampled_from(["prompt", "completion", "text", "messages", "role", "content", "instruction",
                                  "output", "input", "conversations", "from", "value", "id", "turns",
                                  "reference", "category", "question_id", "chosen", "rejected", "system"]), TEXT)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT)
JSON_VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(KEYS, inner, max_size=4)),
                           max_leaves=12)
# Whitespace JSON allows, and some it does not (vertical tab, form feed, NBSP, U+2028, a BOM, NUL).
SPACE = st.sampled_from(["", " ", "\t", "\r", "\n", "\r\n", "\x0b", "\x0c", "\xa0", "\u2028", "\ufeff", "\x00"])


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # a raw surrogate becomes bytes that are not UTF-8


@st.composite
def json_texts(draw) -> str:
    """One JSON value as text: valid, or made hostile in one of the ways exports are."""
    kind = draw(st.sampled_from(["valid", "deep", "huge_int", "spaced", "cut", "surrogate_escape"]))
    if kind == "deep":
        depth = draw(st.integers(90, 3000))
        opener = draw(st.sampled_from(["[", '{"a":']))
        inner = "[" * depth + "]" * depth if opener == "[" else opener * depth + "1" + "}" * depth
        return '{"prompt": ' + inner + ', "completion": "c"}'
    if kind == "huge_int":
        digits = draw(st.integers(4200, 6000))
        return '{"prompt": "p", "completion": ' + draw(st.sampled_from(["", "-"])) + "9" * digits + "}"
    if kind == "surrogate_escape":
        code = draw(st.integers(0xD800, 0xDFFF))
        return '{"prompt": "x\\u%04x", "completion": "c"}' % code
    value = draw(st.one_of(JSON_VALUES, st.dictionaries(KEYS, JSON_VALUES, max_size=5)))
    text = json.dumps(value, ensure_ascii=draw(st.booleans()))
    if kind == "spaced":
        tokens = text.replace(",", " , ").replace(":", " : ").split(" ")
        return "".join(t + draw(SPACE) for t in tokens)
    if kind == "cut":
        return text[:draw(st.integers(0, len(text)))]
    return text


@st.composite
def jsonl_files(draw) -> bytes:
    lines = draw(st.lists(st.one_of(json_texts().map(_encode), st.binary(max_size=20)), max_size=6))
    data = b"\n".join(lines) + draw(st.sampled_from([b"", b"\n", b"\r\n"]))
    return draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + data


@st.composite
def json_array_files(draw) -> bytes:
    items = draw(st.lists(json_texts(), max_size=5))
    sep = draw(SPACE)
    text = "[" + sep + ("," + sep).join(items) + draw(st.sampled_from(["]", "", "]]", "] x", ",]"]))
    data = _encode(text)
    if draw(st.booleans()):  # a byte that is not UTF-8 somewhere
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xe9", b"\xc3", b"\xed\xa0\x80"])) + data[at:]
    return data


CELL = st.one_of(TEXT, st.sampled_from(['"', '""', '"quoted, with comma"', '"open', "a\nb", "a\rb", "\x00"]))


@st.composite
def csv_files(draw) -> bytes:
    header = draw(st.sampled_from([["prompt", "completion"], ["text"], ["prompt", "completion", "x"]]))
    rows = draw(st.lists(st.lists(CELL, max_size=4), max_size=6))
    delim = draw(st.sampled_from([",", "\t"]))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = end.join(delim.join(r) for r in [header, *rows]) + draw(st.sampled_from(["", end]))
    return draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + _encode(text)


TOML_VALUE = st.one_of(
    st.integers().map(str), st.floats().map(repr),
    st.sampled_from(["true", "false", '"text"', "'lit'", "[1, 2]", "{a = 1}", "1979-05-27", "inf", "-nan",
                     '"\\ud800"', '"\\U0010FFFF"', '"""multi\nline"""', "0x1F", "1_000", "[", "{", '"']),
    st.integers(1, 3000).map(lambda d: "[" * d + "]" * d),
    st.integers(1, 500).map(lambda d: "{a = " * d + "1" + "}" * d),
    st.integers(4200, 6000).map(lambda n: "7" * n),
    TEXT.map(json.dumps),
)
TOML_KEY = st.one_of(st.sampled_from(["default", "input", "output", "deprecated", "cache_read", "batch", "key_env",
                                      "models", "providers"]), TEXT.map(json.dumps))
TOML_HEADER = st.one_of(st.sampled_from(['[models."anthropic:claude-sonnet-5-5"]', "[providers.openai]", "[models]",
                                         "[[models]]", '[models."x".input]', "[providers]", "[", "[]"]),
                        TEXT.map(lambda t: f"[models.{json.dumps(t)}]"))


@st.composite
def toml_files(draw) -> bytes:
    lines = draw(st.lists(st.one_of(TOML_HEADER, st.tuples(TOML_KEY, SPACE, TOML_VALUE).map(
        lambda kv: f"{kv[0]}{kv[1]}= {kv[2]}"), TEXT), max_size=8))
    data = _encode("\n".join(lines))
    return draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + data


ANY_BYTES = st.binary(max_size=300)

# --- the dataset readers -----------------------------------------------------------------------


def _read_all(path) -> None:
    """Every record of a source; each is either a value or an error, and a value holds only text UTF-8 can."""
    _, parts = open_source(str(path), 1 << 20)
    for part in parts:
        for rec in part.records(Notes()):
            assert rec.where and rec.line >= 1
            # A value (a CSV row keeps its cells even when rejected) holds only text UTF-8 can hold.
            json.dumps(rec.value, ensure_ascii=False, default=str).encode("utf-8")
            assert rec.error is None or "\n" not in rec.error


def _brie_error_only(fn, *args) -> None:
    try:
        fn(*args)
    except BrieError as e:
        assert str(e).strip(), "an empty message"


@pytest.mark.parametrize("suffix, strategy", [
    (".jsonl", st.one_of(jsonl_files(), ANY_BYTES)),
    (".json", st.one_of(json_array_files(), ANY_BYTES.map(lambda b: b"[" + b))),
    (".csv", st.one_of(csv_files(), ANY_BYTES)),
])
def test_dataset_readers_raise_only_brie_errors(tmp_path, suffix, strategy):
    path = tmp_path / f"in{suffix}"

    @FAST
    @given(strategy)
    def check(data):
        path.write_bytes(data)
        _brie_error_only(_read_all, path)

    check()


@pytest.mark.parametrize("suffix, strategy", [
    (".jsonl", jsonl_files()), (".json", json_array_files()), (".csv", csv_files()),
])
@pytest.mark.parametrize("on_error", ["fail", "skip"])
def test_whole_import_raises_only_brie_errors(workspace, tmp_path, suffix, strategy, on_error):
    """Reading, normalizing, rejected.jsonl, the report and the store row: every step of a real import."""
    path = tmp_path / f"in{suffix}"

    @SLOW
    @given(strategy)
    def check(data):
        path.write_bytes(data)
        name = f"d{next(names)}"
        opts = ImportOptions(on_error=on_error, valid_fraction=0, test_fraction=0)
        try:
            import_dataset(workspace, str(path), name, opts)
        except BrieError:
            return
        rejected = workspace.data_dir / name / "rejected.jsonl"
        if rejected.exists():  # what was kept of each rejected line is strict JSON in UTF-8
            for line in rejected.read_bytes().decode("utf-8").split("\n")[:-1]:  # not splitlines: U+2028 is text
                json.loads(line)

    check()


# --- prompt suites -----------------------------------------------------------------------------


@st.composite
def suite_files(draw) -> bytes:
    rows = draw(st.lists(st.one_of(
        json_texts(),
        st.fixed_dictionaries({"prompt": st.one_of(TEXT, JSON_VALUES)},
                              optional={"id": JSON_VALUES, "category": JSON_VALUES, "reference": JSON_VALUES,
                                        "turns": JSON_VALUES}).map(lambda d: json.dumps(d, ensure_ascii=False)),
    ), max_size=6))
    return draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + b"\n".join(_encode(r) for r in rows)


def test_suite_parser_raises_only_brie_errors(tmp_path):
    path = tmp_path / "suite.jsonl"

    @FAST
    @given(st.one_of(suite_files(), ANY_BYTES))
    def check(data):
        path.write_bytes(data)
        try:
            prompts = parse_suite_file(path)
        except BrieError:
            return
        for p in prompts:  # what is stored is text SQLite and every later file can hold
            json.dumps(p, ensure_ascii=False).encode("utf-8")

    check()


def test_suite_import_raises_only_brie_errors(workspace, tmp_path):
    path = tmp_path / "suite.jsonl"

    @SLOW
    @given(suite_files())
    def check(data):
        path.write_bytes(data)
        _brie_error_only(import_suite, workspace, path, f"s{next(names)}")

    check()


# --- judges.toml -------------------------------------------------------------------------------


def test_judges_toml_reader_raises_only_brie_errors(tmp_path):
    path = tmp_path / "judges.toml"

    @FAST
    @given(st.one_of(toml_files(), ANY_BYTES))
    def check(data):
        path.write_bytes(data)
        try:
            table = read_table(path)
        except BrieError as e:
            assert str(e).startswith(str(path)) and "\n" not in str(e)
            return
        # What parse_judge reads is now of the right type.
        for entry in table.get("models", {}).values():
            float(entry.get("input", 0)), float(entry.get("output", 0))

    check()


@pytest.mark.parametrize("text, says", [
    ("models = 1", "line 1: models must be tables ([models.\"<name>\"]), not a integer"),
    ('x = 1\n[models."openai:gpt-5"]\ninput = "cheap"', 'line 3: models."openai:gpt-5".input must be a number ≥ 0, not "cheap"'),
    ("[providers.openai]\nbatch = nan", "line 2: providers.openai.batch must be a number ≥ 0, not NaN"),
    ('[models."a"]\noutput = true', 'line 2: models.a.output must be a number ≥ 0, not true'),
    ("default = 3", "line 1: default must be a judge name in quotes"),
    ("[models\nx = 1", "line 1: not valid TOML: Expected ']' at the end of a table declaration at column 8"),
    ("a = " + "[" * 5000 + "]" * 5000, "line 1: not valid TOML: nested too deeply to read"),
    ("a = 1\nb = " + "7" * 5000, "line 2: a number with 5,000 digits is too long to read (Python reads at most 4,300)"),
], ids=["models-not-a-table", "price-text", "nan", "bool", "default-number", "not-toml", "deep", "huge-int"])
def test_judges_toml_errors_name_file_line_and_what(tmp_path, text, says):
    path = tmp_path / "judges.toml"
    path.write_bytes(text.encode())
    with pytest.raises(BrieError) as e:
        read_table(path)
    assert str(e.value).startswith(f"{path} {says}")


def test_judges_toml_bytes_bom_and_nul(tmp_path):
    path = tmp_path / "judges.toml"
    path.write_bytes(b'\xef\xbb\xbfdefault = "anthropic:claude-sonnet-5-5"\n')  # a BOM an editor added
    assert read_table(path)["default"] == "anthropic:claude-sonnet-5-5"
    path.write_bytes(b'default = "x"\nname = "caf\xe9"\n')
    with pytest.raises(BrieError, match=r"judges.toml line 2: not UTF-8: byte 0xe9 at byte 12$"):
        read_table(path)
    path.write_bytes(b'default = "a\x00b"\n')
    with pytest.raises(BrieError, match=r"judges.toml line 1: not valid TOML: "):
        read_table(path)


def test_workspace_judges_toml_error_through_the_cli(workspace):
    from typer.testing import CliRunner

    from brie.cli import app

    (workspace.root / "judges.toml").write_text('[models."openai:gpt-5"]\ninput = "cheap"\n')
    r = CliRunner().invoke(app, ["compare", "--suite", "s", "--a", "base", "--b", "base",
                                 "--judge", "openai:gpt-5"])
    assert r.exit_code == 1 and (r.exception is None or isinstance(r.exception, SystemExit)), r.exception
    assert r.stderr == (f'error: {workspace.root / "judges.toml"} line 2: models."openai:gpt-5".input must be '
                        'a number ≥ 0, not "cheap"\n')


# --- the verdict parser ------------------------------------------------------------------------

TOKENS = st.sampled_from(["[[A]]", "[[B]]", "[[C]]", "[[D]]", "[[a]]", "[[ A]]", "[A]", "[[", "]]", "[[10]]",
                          "[[0]]", "[[7.5]]", "[[٣]]", "[[" + "9" * 5000 + "]]", "[[1e3]]", "\x00", "\ud800"])
ANSWERS = st.one_of(st.lists(st.one_of(TEXT, TOKENS), max_size=8).map("".join), st.text(ANY_CHAR))


@FAST
@given(ANSWERS)
def test_verdict_parser_never_raises_and_needs_exactly_one_token(text):
    verdict = parse_verdict(text)
    tokens = [t for t in ("[[A]]", "[[B]]", "[[C]]") for _ in range(text.count(t))]
    assert verdict == (tokens[0][2] if len(tokens) == 1 else None)
    rating = parse_rating(text)
    assert rating is None or 1 <= rating <= 10


@FAST
@given(st.one_of(st.none(), st.binary(max_size=20), st.integers(), st.lists(TEXT, max_size=2),
                 st.dictionaries(TEXT, TEXT, max_size=2)))
def test_verdict_parser_answers_none_for_what_is_not_text(value):
    assert parse_verdict(value) is None and parse_rating(value) is None


def test_verdict_parser_examples():
    assert parse_verdict("Thinking… [[B]]") == "B" and parse_verdict("[[A]] or [[B]]") is None
    assert parse_rating("Rating: [[7.5]]") == 7.5 and parse_rating("[[" + "9" * 5000 + "]]") is None
