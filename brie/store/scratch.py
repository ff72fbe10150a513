"""A set kept on disk in a throwaway SQLite file, so dedupe memory stays flat however big a file is.

Used while importing a dataset: keys are short digests of rows; the value remembers where the
first copy was seen (its line), so a duplicate can say which line it repeats.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

COMMIT_EVERY = 20_000


class DiskSet:
    def __init__(self, path: Path | str):
        self.conn = sqlite3.connect(str(path))
        # A scratch file that is deleted afterwards: no journal, no fsync; a bounded page cache.
        self.conn.execute("PRAGMA journal_mode = OFF")
        self.conn.execute("PRAGMA synchronous = OFF")
        self.conn.execute("PRAGMA cache_size = -4000")
        self.conn.execute("CREATE TABLE IF NOT EXISTS k (key BLOB PRIMARY KEY, value TEXT) WITHOUT ROWID")
        self._pending = 0

    def add(self, key: bytes, value: str = "") -> str | None:
        """Add key; return None when it is new, else the value stored with its first copy."""
        cur = self.conn.execute("INSERT OR IGNORE INTO k (key, value) VALUES (?, ?)", (key, value))
        self._tick()
        if cur.rowcount == 1:
            return None
        return self.conn.execute("SELECT value FROM k WHERE key = ?", (key,)).fetchone()[0]

    def get(self, key: bytes) -> str | None:
        row = self.conn.execute("SELECT value FROM k WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _tick(self) -> None:
        self._pending += 1
        if self._pending >= COMMIT_EVERY:
            self.conn.commit()
            self._pending = 0

    def close(self) -> None:
        self.conn.commit()
        self.conn.close()
