"""brie's sqlite-utils Database, and the one place sqlite-utils is imported.

Imported when a store is first opened (brie.store.Store), not with brie.store, so commands that
never open one (`brie --help`) do not pay for sqlite-utils.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Iterator


class _WithoutOptionalArrays:
    """A meta-path finder that makes pandas and numpy look missing to sqlite_utils.db alone.

    sqlite-utils imports pandas and numpy at import time if they are installed (statsmodels and
    datasets install them), only to teach its column-type guesser their scalar types; that import
    costs ~0.3 s, most of `brie --help`. brie's tables are created by migrations with Python types,
    so the guesser never sees a numpy or pandas value. The finder refuses only an import whose
    caller is sqlite_utils.db's own module code (so another thread importing pandas meanwhile is
    not affected), and it is removed again right after, so any later `import pandas` works.
    """

    BLOCKED = ("pandas", "numpy")

    def find_spec(self, name, path=None, target=None):
        if name in self.BLOCKED:
            frame = sys._getframe(1)
            while frame is not None and frame.f_globals.get("__name__", "").startswith(
                    ("importlib", "_frozen_importlib")):
                frame = frame.f_back  # past the import machinery, to the code that asked
            if frame is not None and frame.f_globals.get("__name__") == "sqlite_utils.db":
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def _import_sqlite_utils():
    if "sqlite_utils" in sys.modules:
        return sys.modules["sqlite_utils"]
    finder = _WithoutOptionalArrays()
    sys.meta_path.insert(0, finder)
    try:
        import sqlite_utils
    finally:
        sys.meta_path.remove(finder)
    return sqlite_utils


sqlite_utils = _import_sqlite_utils()


class Database(sqlite_utils.Database):
    """sqlite-utils' Database whose transactions begin with `BEGIN IMMEDIATE`.

    Every sqlite-utils write (insert, upsert, update, delete, create, transform) runs inside
    `atomic()`, whose outermost level issues a plain (deferred) BEGIN: the transaction reads the
    schema first and asks for the write lock later, and under WAL a reader that turns writer after
    another process committed gets SQLITE_BUSY at once, without the busy timeout. Taking the lock at
    BEGIN makes SQLite wait for it (up to the busy timeout). Nested blocks stay savepoints.
    """

    @contextmanager
    def atomic(self) -> Iterator["Database"]:
        if self.conn.in_transaction:
            with super().atomic():  # a savepoint inside the open transaction
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                self.rollback()
                raise
