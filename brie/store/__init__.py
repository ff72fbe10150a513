"""The SQLite store (brie.db): the only place that writes SQL.

Opened through sqlite-utils in WAL mode with a busy timeout, so a training process can write while
the UI and the CLI read. Schema changes are numbered migrations in brie/store/migrations/.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import sqlite_utils

from brie.store.migrate import migrate, schema_version

BUSY_TIMEOUT_MS = 30_000


def utcnow() -> str:
    """Timestamps are stored as ISO 8601 UTC strings, e.g. 2026-11-22T10:00:00Z."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    def __init__(self, path: Path | str):
        self.path = Path(path)
        conn = sqlite3.connect(str(self.path), timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        self.db = sqlite_utils.Database(conn)
        self.db.enable_wal()
        migrate(self.db)

    @property
    def schema_version(self) -> int:
        return schema_version(self.db)

    @contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """One unit of work: committed whole or not at all (nested blocks become savepoints)."""
        with self.db.atomic():
            yield self.db

    def close(self) -> None:
        self.db.conn.close()


def open_store(path: Path | str) -> Store:
    return Store(path)
