"""The SQLite store (brie.db): the only place that writes SQL.

Several brie processes on one workspace at once is the normal case (a training, a comparison, the
UI), so the store is opened in WAL mode (readers never wait for a writer) with a 30 s busy timeout,
and every write transaction takes the write lock up front (`BEGIN IMMEDIATE`): a writer that finds
the lock held waits for it, instead of failing at once with "database is locked" as a deferred
transaction does when it upgrades from reading to writing after another process committed.
Schema changes are numbered migrations in brie/store/migrations/. docs/architecture.md
("Concurrency and crashes") says what this guarantees and how it is tested. sqlite-utils itself is
imported when a store is first opened (brie/store/database.py), so importing this package is cheap.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

if TYPE_CHECKING:
    import sqlite_utils

from brie.store.migrate import migrate, schema_version

BUSY_TIMEOUT_MS = 30_000


def utcnow() -> str:
    """Timestamps are stored as ISO 8601 UTC strings, e.g. 2026-11-22T10:00:00Z."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        # isolation_level=None: the sqlite3 module opens no transaction of its own (its implicit
        # BEGIN is deferred); transactions are the explicit BEGIN IMMEDIATE of Database.atomic, and a
        # single write statement outside one commits by itself.
        conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False,
                               isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        from brie.store.database import Database  # sqlite-utils: only once a store is opened

        # No sqlite-utils plugins: brie uses none, and finding them reads every installed package's
        # entry points (~25 ms each time a process opens a store).
        self.db = Database(conn, execute_plugins=False)
        if self.db.journal_mode != "wal":  # changing it needs a lock: only the first opener does
            self.db.enable_wal()
        migrate(self.db)

    @property
    def schema_version(self) -> int:
        return schema_version(self.db)

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """One unit of work: it takes the write lock at the start (waiting for it up to the busy
        timeout) and is committed whole or not at all. Nested blocks become savepoints."""
        with self.db.atomic():
            yield self.db

    def close(self) -> None:
        self.db.conn.close()


def open_store(path: Path | str) -> Store:
    return Store(path)
