"""Numbered migrations, recorded in the `_migrations` table (after simonw/llm's migrations.py).

Each migration is a module `brie/store/migrations/mNNN_<what>.py` with a function `up(db)`. They run
in number order, once each. Never edit one that has run on someone's machine: add a new one.
Reserved ranges keep parallel work apart: 001-009 foundation, 010-019 datasets and suites,
020-029 runs and training, 030-039 generation and judging, 040-049 evaluations, 050-059 the UI,
060-069 the workspace as a whole (after every table exists).
"""

from __future__ import annotations

import importlib
import pkgutil
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from brie.store import migrations as _package

if TYPE_CHECKING:
    import sqlite_utils


def all_migrations() -> list[tuple[int, str]]:
    """(number, module name) for every migration module, in order."""
    found = []
    for info in pkgutil.iter_modules(_package.__path__):
        if info.name.startswith("m") and info.name[1:4].isdigit():
            found.append((int(info.name[1:4]), info.name))
    numbers = [n for n, _ in found]
    if len(numbers) != len(set(numbers)):
        raise RuntimeError(f"two migrations share a number: {sorted(found)}")
    return sorted(found)


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply every migration not yet recorded; return the names applied.

    Several processes may open a fresh workspace at once. Each migration runs in its own write
    transaction that takes the lock first (`BEGIN IMMEDIATE`), then checks again whether another
    process applied it meanwhile, so each runs exactly once and the others wait, then skip it.
    """
    if not _pending(db):  # the usual case: read only, no lock taken
        return []
    with db.atomic():  # brie.store.database.Database: BEGIN IMMEDIATE, so the lock is taken first
        db.execute("create table if not exists _migrations "
                   "(name text primary key, number integer, applied_at text)")
    applied = []
    for number, name in all_migrations():
        with db.atomic():  # a migration and its record commit together, DDL included
            if db.execute("select 1 from _migrations where name = ?", [name]).fetchone():
                continue
            module = importlib.import_module(f"{_package.__name__}.{name}")
            module.up(db)
            db["_migrations"].insert(
                {"name": name, "number": number,
                 "applied_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
            )
        applied.append(name)
    return applied


def _pending(db: sqlite_utils.Database) -> list[str]:
    if "_migrations" not in db.table_names():
        return [name for _, name in all_migrations()]
    done = {row[0] for row in db.execute("select name from _migrations").fetchall()}
    return [name for _, name in all_migrations() if name not in done]


def schema_version(db: sqlite_utils.Database) -> int:
    row = db.execute("select max(number) from _migrations").fetchone()
    return row[0] or 0
