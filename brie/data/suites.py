"""Prompt suites: JSONL files of prompts that generation and judging run over.

One JSON object per line: `prompt` (a string) or MT-Bench's `turns` (a list of user turns, each
answered before the next is asked); optional `id` (MT-Bench: `question_id`), `category`, and
`reference` (a string, or MT-Bench's list with one reference answer per turn).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from brie.data.read import BOM, JsonProblem, parse_json
from brie.errors import BrieError
from brie.store import suites as suite_rows
from brie.workspace import Workspace
from brie.words import plural


MAX_SHOWN = 20  # bad lines listed in one message; the rest are counted


class _LineError(Exception):
    """What is wrong with one line; parse_suite_file collects these and reports them together."""


def parse_suite_file(path: Path) -> list[dict]:
    """[{prompt_id, category, turns, reference}] or one BrieError listing every bad line (file:line)."""
    if not path.is_file():
        raise BrieError(f"{path}: no such file")
    prompts: list[dict] = []
    seen: dict[str, int] = {}
    errors: list[str] = []
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BrieError(f"{path}: cannot read ({e.strerror or e})") from None
    if data.startswith(BOM):
        data = data[len(BOM):]
    # Lines end at "\n" only: str.splitlines would also split at characters a JSON string may hold
    # as they are (U+2028, form feeds …) and cut a valid line in two.
    for n, line in enumerate(data.split(b"\n"), start=1):
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip():
            continue
        try:
            prompt = _parse_line(line, n, seen)
        except _LineError as e:
            # Keep going: the user fixes every bad line in one pass, not one per import attempt.
            errors.append(f"{path}:{n}: {e}")
            continue
        seen[prompt["prompt_id"]] = n
        prompts.append(prompt)
    if errors:
        shown = errors[:MAX_SHOWN]
        more = len(errors) - len(shown)
        head = "" if len(errors) == 1 else f"{path}: {len(errors)} bad lines; nothing was imported:\n  "
        raise BrieError(head + "\n  ".join(shown) + (f"\n  … and {more} more" if more else ""))
    if not prompts:
        raise BrieError(f"{path}: no prompts in the file")
    return prompts


def _parse_line(line: bytes, n: int, seen: dict[str, int]) -> dict:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _LineError(f"not UTF-8: byte 0x{line[e.start]:02x} at byte {e.start + 1}") from None
    try:
        obj = parse_json(text)
    except JsonProblem as e:
        what = e.what.removeprefix("invalid JSON: ")
        raise _LineError(f"invalid JSON ({what}{f' at column {e.column}' if e.column else ''}{e.why})"
                         if e.kind == "invalid_json" else str(e)) from None
    if not isinstance(obj, dict):
        raise _LineError(f"expected a JSON object, got {type(obj).__name__}")
    if "turns" in obj:
        turns = obj["turns"]
        if not isinstance(turns, list) or not turns or not all(isinstance(t, str) and t.strip() for t in turns):
            raise _LineError("`turns` must be a non-empty list of non-empty strings")
    elif "prompt" in obj:
        if not isinstance(obj["prompt"], str) or not obj["prompt"].strip():
            raise _LineError("`prompt` must be a non-empty string")
        turns = [obj["prompt"]]
    else:
        raise _LineError("needs `prompt` (a string) or `turns` (a list of strings)")
    ref = obj.get("reference")
    if ref is not None:
        if isinstance(ref, str):
            ref = [ref]
        if not isinstance(ref, list) or not all(isinstance(r, str) for r in ref):
            raise _LineError("`reference` must be a string or a list of strings")
        if len(ref) > len(turns):
            raise _LineError(f"{plural(len(ref), 'reference')} for {plural(len(turns), 'turn')}")
        ref = ref or None
    raw_id = obj.get("id", obj.get("question_id"))
    prompt_id = str(raw_id) if raw_id is not None else str(n)
    if prompt_id in seen:
        raise _LineError(f"id {prompt_id!r} already used on line {seen[prompt_id]}")
    category = obj.get("category")
    if category is not None and not isinstance(category, str):
        raise _LineError("`category` must be a string")
    return {"prompt_id": prompt_id, "category": category, "turns": turns, "reference": ref}


def import_suite(ws: Workspace, path: str | Path, name: str | None = None, replace: bool = False) -> dict:
    """Store the file as suite `name`; the row comes back with "status": created, replaced or unchanged.

    `replace` swaps the prompts of an existing suite only while nothing was made from them: a suite
    with generations, comparisons or overlap eval results is refused, because replacing it would
    either delete those or leave them pointing at prompts they were not made from.
    """
    path = Path(path).expanduser()
    name = name or path.stem
    existing = suite_rows.get_suite(ws.store, name)
    if existing is not None and not replace:
        raise BrieError(f"suite {name!r} already exists; pass --replace to replace its prompts, "
                        f"or give another --name (e.g. {_free_name(ws, name)})")
    prompts = parse_suite_file(path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    if existing is None:
        return {**suite_rows.insert_suite(ws.store, name, str(path.resolve()), sha, prompts), "status": "created"}
    if existing["sha256"] == sha:
        return {**existing, "status": "unchanged"}
    row, refs = suite_rows.replace_suite(ws.store, name, str(path.resolve()), sha, prompts)
    if row is None:
        counts = [plural(v, k[:-1], k) for k, v in refs.items() if v]
        made = counts[0] if len(counts) == 1 else ", ".join(counts[:-1]) + " and " + counts[-1]
        verb = "was" if len(counts) == 1 and sum(refs.values()) == 1 else "were"
        raise BrieError(f"suite {name!r} cannot be replaced: {made} {verb} made from its prompts, and replacing "
                        f"them would lose those or tie them to prompts they were not made from; nothing was "
                        f"changed. Import the new file under another --name (e.g. {_free_name(ws, name)})")
    return {**row, "status": "replaced"}


def _free_name(ws: Workspace, name: str) -> str:
    """The first of name-2, name-3, … that no suite has."""
    n = 2
    while suite_rows.get_suite(ws.store, f"{name}-{n}") is not None:
        n += 1
    return f"{name}-{n}"


def get_suite(ws: Workspace, name: str) -> dict:
    row = suite_rows.get_suite(ws.store, name)
    if row is None:
        known = ", ".join(s["name"] for s in suite_rows.list_suites(ws.store)) or "none yet"
        raise BrieError(f"no suite named {name!r} (known: {known}; import one with `brie suites import`)")
    return row


def list_suites(ws: Workspace) -> list[dict]:
    return suite_rows.list_suites(ws.store)


def show_suite(ws: Workspace, name: str) -> dict:
    suite = get_suite(ws, name)
    return {**suite, "prompts": suite_rows.list_prompts(ws.store, suite["id"])}
