"""Reading dataset sources row by row: JSONL, JSON, CSV, Parquet, folders of splits, Hugging Face ids.

Readers stream (one line or one batch at a time) so memory does not grow with the file; only a JSON
array is read whole (then parsed item by item), because JSON has no rows to stream. Each record says
where it came from (`file line N`) so every message can point at it, and keeps its raw bytes (JSONL
line, CSV row, JSON item) so a rejected row can be written back unchanged. All JSON goes through
`parse_json`, which makes every malformed or unusable value a JsonProblem instead of a crash.
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from brie.errors import BrieError
from brie.words import plural

BOM = b"\xef\xbb\xbf"
EXTENSIONS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json", ".csv": "csv", ".tsv": "csv",
              ".parquet": "parquet"}
SPLIT_NAMES = {"train": "train", "valid": "valid", "validation": "valid", "val": "valid", "dev": "valid",
               "test": "test"}
HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
LONE_CR = re.compile(rb"(?<=\r)(?!\n)")  # splits just after a "\r" that no "\n" follows
# Deeper JSON is refused: no training row or prompt nests like this, and Python's json stops with a
# RecursionError near 1,000 levels (sooner when called deep in a stack), so a fixed limit is the same
# answer everywhere.
MAX_DEPTH = 100
SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")  # the only way JSON text spells one
BAD_BYTE = re.compile("[\udc80-\udcff]")  # a byte that is not UTF-8, as errors="surrogateescape" decodes it
JSON_SPACE = re.compile(r"[ \t\n\r]*")


class DataError(BrieError):
    """A dataset that cannot be imported as asked; the message names file, line and value."""


@dataclass
class Record:
    where: str  # "train.jsonl line 3", "data.parquet row 7": every message starts with it
    file: str
    line: int  # line (JSONL/CSV, JSON array: the item's first line) or row (Parquet, HF) number, from 1
    value: Any = None  # the parsed row
    error: str | None = None  # why the line could not even be parsed
    kind: str | None = None  # a short name for the error, for counts by reason
    raw: bytes | None = None  # the line (JSONL), row's lines (CSV) or item (JSON) exactly as read, without the final "\n"
    cells: bool = False  # value is a CSV row's cells by column name: kept with raw, as it names the columns


@dataclass
class Part:
    """One file (or HF split) of a source; split is None when the source is not split already."""

    split: str | None
    name: str
    records: Callable[["Notes"], Iterator[Record]]


class Notes:
    """Counts of things found and fixed (BOMs, CRLF, rendered JSON answers …), each with its first place."""

    def __init__(self) -> None:
        self.items: dict[str, dict] = {}

    def add(self, name: str, where: str) -> None:
        item = self.items.get(name)
        if item is None:
            self.items[name] = {"count": 1, "first": where}
        else:
            item["count"] += 1

    def count(self, name: str) -> int:
        return self.items.get(name, {}).get("count", 0)


def open_source(source: str, max_line_bytes: int) -> tuple[str, list[Part]]:
    """(kind, parts) for a file, a folder of split files, or a Hugging Face dataset id."""
    if source.startswith("hf:"):
        return "hf", _hf_parts(source[3:])
    path = Path(source).expanduser()
    if path.is_dir():
        return "folder", _folder_parts(path, max_line_bytes)
    if path.is_file():
        kind = EXTENSIONS.get(path.suffix.lower())
        if kind is None:
            raise DataError(f"{source}: unknown file type {path.suffix!r} (expected .jsonl, .json, .csv, .tsv or .parquet)")
        return kind, [Part(None, path.name, _reader(path, kind, max_line_bytes))]
    if HF_ID.match(source):
        return "hf", _hf_parts(source)
    raise DataError(f"{source}: no such file or folder, and not a Hugging Face dataset id (owner/name)")


def _folder_parts(folder: Path, max_line_bytes: int) -> list[Part]:
    found: dict[str, Path] = {}
    for f in sorted(folder.iterdir()):
        split = SPLIT_NAMES.get(f.stem.lower())
        kind = EXTENSIONS.get(f.suffix.lower())
        if split is None or kind is None or not f.is_file():
            continue
        if split in found:
            raise DataError(f"{folder}: two files for the {split} split ({found[split].name}, {f.name}); keep one")
        found[split] = f
    if "train" not in found:
        raise DataError(f"{folder}: no train file (expected train.jsonl, train.json, train.csv or train.parquet)")
    # A folder with only a train file gets split here, like a single file.
    presplit = len(found) > 1
    return [Part(split if presplit else None, found[split].name,
                 _reader(found[split], EXTENSIONS[found[split].suffix.lower()], max_line_bytes))
            for split in ("train", "valid", "test") if split in found]


def _reader(path: Path, kind: str, max_line_bytes: int) -> Callable[[Notes], Iterator[Record]]:
    read = {"jsonl": lambda notes: read_jsonl(path, notes, max_line_bytes),
            "json": lambda notes: read_json(path, notes, max_line_bytes),
            "csv": lambda notes: read_csv(path, notes),
            "parquet": lambda notes: read_parquet(path, notes)}[kind]

    def records(notes: Notes) -> Iterator[Record]:
        try:
            yield from read(notes)
        except OSError as e:  # unreadable (permissions, a disk error): one line, not a traceback
            raise DataError(f"{path}: cannot read ({e.strerror or e})") from None
    return records


class JsonProblem(ValueError):
    """Why a piece of JSON text cannot be a row: `kind` for counts, `what` for people, and where (from 1)."""

    def __init__(self, kind: str, what: str, line: int | None = None, column: int | None = None, why: str = ""):
        super().__init__(what + (f" at column {column}" if column else "") + why)
        self.kind, self.what, self.line, self.column, self.why = kind, what, line, column, why


def parse_json(text: str):
    """json.loads for outside input: anything that is not a usable value is a JsonProblem, never a crash.

    Beyond invalid JSON (NaN and Infinity included: json.loads takes them, JSON has none), three things
    json.loads accepts or crashes on are refused here: nesting deeper
    than MAX_DEPTH (json's RecursionError), an integer longer than Python reads from a string (its
    ValueError), and a lone UTF-16 surrogate escape such as "\\ud800" (half an emoji, cut by an export):
    json.loads returns it, but no UTF-8 file or SQLite text can hold it, so it would crash later.
    `text` holds one JSON value; line and column are counted within it.
    """
    try:
        value = json.loads(text, parse_constant=_not_json)
    except JsonProblem:
        raise
    except json.JSONDecodeError as e:
        raise _bad_byte(text, e.pos) or JsonProblem("invalid_json", f"invalid JSON: {_msg(e)}", e.lineno,
                                                    e.colno) from None
    except (RecursionError, ValueError):  # nesting beyond the stack, or an integer past Python's digit limit
        raise _unreadable(text, JSON_SPACE.match(text).end()) from None
    _check_value(value, text, 0, len(text))
    return value


def _not_json(name: str):
    raise JsonProblem("invalid_json", f"invalid JSON: {name} is Python's, not a JSON value")


def _msg(e: json.JSONDecodeError) -> str:
    return e.msg.removesuffix(" at")  # "Invalid control character at", then brie's own " at column N"


def _check_value(value, text: str, start: int, end: int) -> None:
    """A JsonProblem for a lone surrogate or too deep nesting in `value`, parsed from text[start:end]."""
    if SURROGATE_ESCAPE.search(text, start, end) is None and \
            text.count("[", start, end) + text.count("{", start, end) <= MAX_DEPTH:
        return  # the common case: nothing to walk
    stack = [(value, 0)]
    while stack:  # a loop, not recursion: the value may be as deep as json allows
        v, depth = stack.pop()
        if isinstance(v, str):
            found = SURROGATE.search(v)
            if found:
                raise _surrogate(text, start, end, found.group())
        elif isinstance(v, (list, dict)):
            if depth >= MAX_DEPTH:
                raise _unreadable(text, start)
            items = v if isinstance(v, list) else [x for kv in v.items() for x in kv]
            stack.extend((x, depth + 1) for x in reversed(items))


def _where(text: str, pos: int) -> tuple[int, int]:
    """(line, column) of text[pos], both from 1."""
    return text.count("\n", 0, pos) + 1, pos - text.rfind("\n", 0, pos)


def _bad_byte(text: str, pos: int) -> JsonProblem | None:
    """A not-UTF-8 problem when text[pos] is a byte decoded with surrogateescape, else None."""
    if pos >= len(text) or not BAD_BYTE.match(text, pos):
        return None
    line, _ = _where(text, pos)
    line_start = text.rfind("\n", 0, pos) + 1
    byte = len(text[line_start:pos].encode("utf-8", "surrogateescape")) + 1
    return JsonProblem("not_utf8", f"not UTF-8: byte 0x{ord(text[pos]) - 0xdc00:02x} at byte {byte}", line)


def _surrogate(text: str, start: int, end: int, char: str) -> JsonProblem:
    code = f"{ord(char):04x}"
    # The escape as written, unpaired: a high half not followed by a low one, or a low half alone.
    pattern = (rf"\\u(?i:{code})(?!\\u[dD][c-fC-F])" if char < "\udc00"
               else rf"(?<!\\u[dD][89abAB][0-9a-fA-F]{{2}})\\u(?i:{code})")
    found = re.search(pattern, text[start:end])
    line, column = _where(text, start + found.start()) if found else (None, None)
    return JsonProblem("lone_surrogate", f"a lone surrogate \\u{code}", line, column,
                       ": half of a character (such as an emoji cut in two by an export), which UTF-8 cannot hold")


def _unreadable(text: str, start: int) -> JsonProblem:
    """The problem in a value json.loads could not read although it may be valid: too deep, or a huge integer."""
    end, deep_at = _scan_value(text, start)
    if deep_at is not None:
        line, column = _where(text, deep_at)
        return JsonProblem("too_deep", f"JSON nested more than {MAX_DEPTH} levels deep", line, column)
    limit = sys.get_int_max_str_digits()
    found = re.compile(r"\d{%d,}" % (limit + 1)).search(text, start, end) if limit else None
    if found:
        line, column = _where(text, found.start())
        return JsonProblem("number_too_long", f"a number with {len(found.group()):,} digits", line, column,
                           f" (Python reads at most {limit:,})")
    line, column = _where(text, start)
    return JsonProblem("invalid_json", "invalid JSON: a value Python's json module cannot read", line, column)


def _scan_value(text: str, i: int) -> tuple[int, int | None]:
    """(end of the JSON value starting at text[i], where it first nests deeper than MAX_DEPTH or None).

    Only brackets and strings are followed, not the full grammar: enough to step over a value that
    json.loads could not read (too deep, a huge integer) and go on with the next item of an array.
    """
    depth, deep_at, in_string, n = 0, None, False, len(text)
    while i < n:
        c = text[i]
        if in_string:
            if c == "\\":
                i += 1
            elif c == '"':
                in_string = False
                if depth == 0:
                    return i + 1, deep_at
        elif c == '"':
            in_string = True
        elif c in "[{":
            depth += 1
            if depth > MAX_DEPTH and deep_at is None:
                deep_at = i
        elif c in "]}":
            if depth == 0:
                return i, deep_at
            depth -= 1
            if depth == 0:
                return i + 1, deep_at
        elif depth == 0 and c in ", \t\r\n":
            return i, deep_at
        i += 1
    return n, deep_at


def read_jsonl(path: Path, notes: Notes, max_line_bytes: int) -> Iterator[Record]:
    name = path.name
    with path.open("rb") as f:
        for n, line in enumerate(f, 1):
            raw = line[:-1] if line.endswith(b"\n") else line
            where = f"{name} line {n}"
            body = raw
            if body.endswith(b"\r"):
                body = body[:-1]
                notes.add("crlf_line_endings", where)
            if body.startswith(BOM):
                body = body[3:]
                notes.add("bom_removed", where)
            if not body.strip():
                notes.add("blank_lines_skipped", where)
                continue
            rec = Record(where, name, n, raw=raw)
            if len(raw) > max_line_bytes:
                rec.error, rec.kind = (f"line is {len(raw):,} bytes, over the {max_line_bytes:,}-byte limit "
                                       "(--max-line-bytes)"), "line_too_long"
                yield rec
                continue
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as e:
                rec.error, rec.kind = f"not UTF-8: byte 0x{body[e.start]:02x} at byte {e.start + 1}", "not_utf8"
                yield rec
                continue
            try:
                rec.value = parse_json(text)
            except JsonProblem as e:
                rec.error, rec.kind = str(e), e.kind
            yield rec


def read_json(path: Path, notes: Notes, max_line_bytes: int) -> Iterator[Record]:
    """A JSON array of rows (read whole); a .json file that is really JSON Lines is read as such.

    The items are parsed one at a time, so each keeps its own bytes and first line, and an item that
    cannot be a row (a byte that is not UTF-8 inside a string, a lone surrogate, nesting too deep, a
    huge integer) rejects only itself. Text that is not JSON between or inside items stops the whole
    file: where the next item would begin is then unknown.
    """
    with path.open("rb") as f:
        head = f.read(4096).lstrip(BOM).lstrip()
    if not head.startswith(b"["):
        yield from read_jsonl(path, notes, max_line_bytes)
        return
    data = path.read_bytes()
    offset = 0
    if data.startswith(BOM):
        offset = 3
        notes.add("bom_removed", f"{path.name} line 1")
    # Bytes that are not UTF-8 become lone surrogates (surrogateescape), so they decode back exactly.
    text = data[offset:].decode("utf-8", errors="surrogateescape")
    has_bad = BAD_BYTE.search(text) is not None
    decoder = json.JSONDecoder()

    def stop(pos: int, what: str) -> DataError:
        line, column = _where(text, pos)
        problem = _bad_byte(text, pos)
        if problem is not None:
            return DataError(f"{path.name} line {problem.line}: {problem} (outside a string, so the array cannot "
                             "be read on from here)")
        return DataError(f"{path.name} line {line}: invalid JSON: {what} at column {column}")

    i = JSON_SPACE.match(text).end()
    if not text.startswith("[", i):  # e.g. a form feed before it, which JSON does not count as space
        raise stop(i, "Expecting value")
    i = JSON_SPACE.match(text, i + 1).end()
    n = 0
    if text.startswith("]", i):
        i = JSON_SPACE.match(text, i + 1).end()
    else:
        while True:
            n += 1
            start = i
            value, problem = None, None
            try:
                value, i = decoder.raw_decode(text, i)
            except json.JSONDecodeError as e:
                raise stop(e.pos, _msg(e)) from None
            except (RecursionError, ValueError):  # too deep, or a huge integer: step over it
                problem = _unreadable(text, start)
                i, _ = _scan_value(text, start)
            if problem is None:
                bad = BAD_BYTE.search(text, start, i) if has_bad else None
                try:
                    if bad is not None:
                        raise _bad_byte(text, bad.start())
                    _check_value(value, text, start, i)
                except JsonProblem as e:
                    problem = e
            line, _ = _where(text, start)
            rec = Record(f"{path.name} item {n} (line {line})", path.name, line,
                         raw=text[start:i].encode("utf-8", "surrogateescape"))
            if problem is None:
                rec.value = value
            else:
                # Where in the item: the line when it is not the item's first, and the column if known.
                other = problem.line is not None and problem.line != line
                if problem.kind == "not_utf8":
                    where = f" (line {problem.line})" if other else ""
                elif problem.column:
                    where = f" at line {problem.line} column {problem.column}" if other else f" at column {problem.column}"
                else:
                    where = ""
                rec.error, rec.kind = problem.what + where + problem.why, problem.kind
            yield rec
            i = JSON_SPACE.match(text, i).end()
            if text.startswith(",", i):
                i = JSON_SPACE.match(text, i + 1).end()
            elif text.startswith("]", i):
                i = JSON_SPACE.match(text, i + 1).end()
                break
            else:
                raise stop(i, "Expecting ',' delimiter" if i < len(text) else "the array is never closed")
    if i < len(text):
        raise stop(i, "Extra data after the array")


def read_csv(path: Path, notes: Notes) -> Iterator[Record]:
    """CSV (or TSV) with a header row; cells are strings, an empty cell counts as an empty field.

    The file is read as bytes, one physical line at a time, and handed to the csv module decoded, so
    each row knows its own lines: its number, its raw bytes for rejected.jsonl, and where a byte that
    is not UTF-8 sits. Such a byte rejects only its row; it is decoded with surrogateescape meanwhile
    so the row's quotes and delimiters still parse and the rows after it stay in step.

    A quoted cell that is never closed would, in the csv module's default (non-strict) mode, swallow
    every line to the end of the file into one row, silently. It is reported as an error at the line
    where the quote opened, and the lines after that one are read again as rows of their own, so
    `--on-error fail` lists their problems too and `--on-error skip` loses only the broken row.
    """
    name = path.name
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with path.open("rb") as f:
        lines = _CsvLines(f, name, notes)
        reader = csv.reader(lines, delimiter=delimiter)
        header: list[str] | None = None
        try:
            while True:
                try:
                    cells = next(reader)
                except StopIteration:
                    break
                except csv.Error:
                    opened = _open_quote_line(lines.pending, lines.number - len(lines.pending) + 1, delimiter)
                    if opened is None or header is None:
                        raise
                    # A quoted cell past the csv module's size limit: almost surely never closed. Only
                    # its row is lost; the lines after the quote are read as rows of their own.
                    start = lines.number - len(lines.pending) + 1
                    rec = Record(f"{name} line {start}", name, start, raw=lines.give_back(opened))
                    rec.error, rec.kind = (f"a quoted cell opened {'here' if opened == start else f'on line {opened}'} "
                                           f"runs past {csv.field_size_limit()} characters, so it is probably never "
                                           "closed; the lines after it are read as rows of their own"), "unclosed_quote"
                    reader = csv.reader(lines, delimiter=delimiter)
                    yield rec
                    continue
                if lines.ended:
                    # Every line the reader gets ends a record unless a quoted cell is open (see
                    # _CsvLines), so a row that comes only once the lines ran out has an open quote.
                    rec = _unclosed_quote(lines, delimiter, header is None)
                    reader = csv.reader(lines, delimiter=delimiter)  # a fresh one for the lines given back
                    yield rec
                    continue
                start, raw, bad = lines.take()
                if not cells:
                    notes.add("blank_lines_skipped", f"{name} line {start}")
                    continue
                if header is None:
                    if bad:
                        raise DataError(f"{name} line {bad[0]}: not UTF-8: byte 0x{bad[1]:02x} at byte {bad[2]} "
                                        "in the header row, so no column can be named")
                    header = cells
                    continue
                where = f"{name} line {start}"
                rec = Record(where, name, start, raw=raw, cells=True)
                if bad:
                    on = "" if bad[0] == start else f" (line {bad[0]})"
                    rec.error, rec.kind = f"not UTF-8: byte 0x{bad[1]:02x} at byte {bad[2]}{on}", "not_utf8"
                    yield rec
                    continue
                # The same dict csv.DictReader makes: extra cells under None, missing cells None.
                rec.value = dict(zip(header, cells))
                if len(cells) > len(header):
                    rec.value[None] = cells[len(header):]
                    rec.error, rec.kind = f"more cells than the header's {len(header)} columns", "wrong_cells"
                elif len(cells) < len(header):
                    rec.value.update((k, None) for k in header[len(cells):])
                    rec.error, rec.kind = f"fewer cells than the header's {len(header)} columns", "wrong_cells"
                yield rec
        except csv.Error as e:
            opened = _open_quote_line(lines.pending, lines.number - len(lines.pending) + 1, delimiter)
            hint = f" (in the quoted cell opened on line {opened}, which may never be closed)" if opened else ""
            raise DataError(f"{name} line {lines.number}: {e}{hint}") from None


def _unclosed_quote(lines: "_CsvLines", delimiter: str, in_header: bool) -> Record:
    """The rejected row for a quoted cell open at the end of the file; the lines after it are given back."""
    start = lines.number - len(lines.pending) + 1
    opened = _open_quote_line(lines.pending, start, delimiter) or start
    after = lines.number - opened
    here = "here" if opened == start else f"on line {opened}"
    if in_header:
        raise DataError(f"{lines.name} line {opened}: a quoted cell opened here in the header row is never "
                        "closed, so no column can be named")
    if after:
        msg = (f"a quoted cell opened {here} is never closed: it would swallow the {plural(after, 'line')} "
               "to the end of the file, so they are read as rows of their own")
    else:
        msg = f"a quoted cell opened {here} is never closed (it is the last line of the file)"
    raw = lines.give_back(opened)
    rec = Record(f"{lines.name} line {start}", lines.name, start, raw=raw)
    rec.error, rec.kind = msg, "unclosed_quote"
    return rec


def _open_quote_line(pieces: list[bytes], first: int, delimiter: str) -> int | None:
    """The line where a still-open quoted cell began in these lines of one row, or None if none is open.

    The csv module's rules for the default dialect, non-strict: a quote opens a cell only at its start;
    inside, a doubled quote is a quote and a single one closes the cell; anything after the closing
    quote up to the delimiter is kept as text.
    """
    state, opened = "start", None  # start of a cell | unquoted cell | quoted cell | just after a quote in one
    for n, piece in enumerate(pieces, first):
        for c in piece.decode("utf-8", errors="surrogateescape"):
            if state == "quoted":
                if c == '"':
                    state = "quote"
            elif state == "quote":
                state = "quoted" if c == '"' else "start" if c == delimiter else "start" if c in "\r\n" else "text"
            elif c == delimiter or c in "\r\n":
                state = "start"
            elif state == "start" and c == '"':
                state, opened = "quoted", n
            else:
                state = "text"
    return opened if state == "quoted" else None


class _CsvLines:
    """Physical lines of a CSV file, decoded for csv.reader, remembered until their row is taken.

    The csv module ends a record at the end of every line it is given unless a quoted cell is open,
    so when it still asks for a line after the last one (`ended`), a quote was left open.
    """

    def __init__(self, f, name: str, notes: Notes):
        self.f = f
        self.name = name
        self.notes = notes
        self.number = 0  # the last line handed out, from 1
        self.pending: list[bytes] = []  # lines read since the last row, with their line endings
        self.bad: tuple[int, int, int] | None = None  # (line, byte value, byte position) of the first non-UTF-8 byte
        self.queue: deque[bytes] = deque()  # the lines of one binary line split at lone "\r"s, or given back
        self.ended = False  # the reader asked for a line after the last one

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if not self.queue:
            piece = self.f.readline()
            if not piece:
                self.ended = True
                raise StopIteration
            # Binary lines end at "\n" only; a lone "\r" ends a line too (old Mac exports), as in text mode.
            self.queue.extend(p for p in LONE_CR.split(piece) if p)
        line = self.queue.popleft()
        self.number += 1
        if self.number == 1 and line.startswith(BOM):
            line = line[3:]
            self.notes.add("bom_removed", f"{self.name} line 1")
        self.pending.append(line)
        try:
            return line.decode("utf-8")
        except UnicodeDecodeError as e:
            if self.bad is None:
                self.bad = (self.number, line[e.start], e.start + 1)
            return line.decode("utf-8", errors="surrogateescape")

    def give_back(self, last: int) -> bytes:
        """Take the pending row's lines up to line `last` (its raw bytes); the lines after it are read again."""
        start = self.number - len(self.pending) + 1
        keep, again = self.pending[:last - start + 1], self.pending[last - start + 1:]
        self.queue.extendleft(reversed(again))
        self.number = last
        self.pending, self.bad, self.ended = [], None, False
        raw = b"".join(keep)
        return raw[:-1] if raw.endswith((b"\n", b"\r")) else raw

    def take(self) -> tuple[int, bytes, tuple[int, int, int] | None]:
        """(first line number, raw bytes without the final "\n" or lone "\r", first bad byte) of the row just parsed."""
        start = self.number - len(self.pending) + 1
        raw = b"".join(self.pending)
        if raw.endswith(b"\n"):
            raw = raw[:-1]
        elif raw.endswith(b"\r"):
            raw = raw[:-1]
        bad = self.bad
        self.pending, self.bad = [], None
        return start, raw, bad


def read_parquet(path: Path, notes: Notes) -> Iterator[Record]:
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except Exception as e:  # pyarrow raises several kinds for a file that is not Parquet
        raise DataError(f"{path.name}: cannot read as Parquet ({e})") from None
    import pyarrow as pa

    n = 0
    try:
        for batch in pf.iter_batches(batch_size=2048):
            for value in batch.to_pylist():
                n += 1
                yield Record(f"{path.name} row {n}", path.name, n, value=value)
    except (pa.ArrowException, OSError, ValueError) as e:  # a file damaged past its footer
        raise DataError(f"{path.name} row {n + 1}: cannot read as Parquet ({e})") from None


def _hf_parts(dataset_id: str) -> list[Part]:
    """Every split of a Hugging Face dataset (train/validation/test) through datasets.load_dataset."""
    from datasets import load_dataset

    try:
        dd = load_dataset(dataset_id)
    except Exception as e:  # the datasets library raises many kinds; the user needs the one line
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise DataError(f"{dataset_id}: cannot load the Hugging Face dataset ({first})") from None
    splits = {SPLIT_NAMES[k]: k for k in dd.keys() if k in SPLIT_NAMES}
    if "train" not in splits:
        raise DataError(f"{dataset_id}: no train split (it has {', '.join(dd.keys())})")
    presplit = len(splits) > 1

    def rows(hf_split: str):
        def gen(notes: Notes) -> Iterator[Record]:
            label = f"{dataset_id}[{hf_split}]"
            for n, value in enumerate(dd[hf_split], 1):
                yield Record(f"{label} row {n}", label, n, value=value)
        return gen

    return [Part(split if presplit else None, f"{dataset_id}[{splits[split]}]", rows(splits[split]))
            for split in ("train", "valid", "test") if split in splits]
