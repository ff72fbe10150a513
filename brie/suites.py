"""Prompt suites: JSONL files of prompts that generation and judging run over.

One JSON object per line: `prompt` (a string) or MT-Bench's `turns` (a list of user turns, each
answered before the next is asked); optional `id` (MT-Bench: `question_id`), `category`, and
`reference` (a string, or MT-Bench's list with one reference answer per turn).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from brie.errors import BrieError
from brie.store import suites as suite_rows
from brie.workspace import Workspace
from brie.words import plural


def parse_suite_file(path: Path) -> list[dict]:
    """[{prompt_id, category, turns, reference}] or a BrieError naming the file and line."""
    if not path.is_file():
        raise BrieError(f"{path}: no such file")
    prompts: list[dict] = []
    seen: dict[str, int] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise BrieError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise BrieError(f"{where}: invalid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict):
            raise BrieError(f"{where}: expected a JSON object, got {type(obj).__name__}")
        if "turns" in obj:
            turns = obj["turns"]
            if not isinstance(turns, list) or not turns or not all(isinstance(t, str) and t.strip() for t in turns):
                raise BrieError(f"{where}: `turns` must be a non-empty list of non-empty strings")
        elif "prompt" in obj:
            if not isinstance(obj["prompt"], str) or not obj["prompt"].strip():
                raise BrieError(f"{where}: `prompt` must be a non-empty string")
            turns = [obj["prompt"]]
        else:
            raise BrieError(f"{where}: needs `prompt` (a string) or `turns` (a list of strings)")
        ref = obj.get("reference")
        if ref is not None:
            if isinstance(ref, str):
                ref = [ref]
            if not isinstance(ref, list) or not all(isinstance(r, str) for r in ref):
                raise BrieError(f"{where}: `reference` must be a string or a list of strings")
            if len(ref) > len(turns):
                raise BrieError(f"{where}: {plural(len(ref), 'reference')} for {plural(len(turns), 'turn')}")
            ref = ref or None
        raw_id = obj.get("id", obj.get("question_id"))
        prompt_id = str(raw_id) if raw_id is not None else str(n)
        if prompt_id in seen:
            raise BrieError(f"{where}: id {prompt_id!r} already used on line {seen[prompt_id]}")
        seen[prompt_id] = n
        category = obj.get("category")
        if category is not None and not isinstance(category, str):
            raise BrieError(f"{where}: `category` must be a string")
        prompts.append({"prompt_id": prompt_id, "category": category, "turns": turns, "reference": ref})
    if not prompts:
        raise BrieError(f"{path}: no prompts in the file")
    return prompts


def import_suite(ws: Workspace, path: str | Path, name: str | None = None) -> dict:
    path = Path(path).expanduser()
    name = name or path.stem
    if suite_rows.get_suite(ws.store, name) is not None:
        raise BrieError(f"suite {name!r} already exists; give another --name")
    prompts = parse_suite_file(path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    return suite_rows.insert_suite(ws.store, name, str(path.resolve()), sha, prompts)


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
