"""A store connection for the thread that reads it.

SQLite connections belong to one thread, so every thread worker opens its own (WAL lets it read
while a training process writes) and closes it when done. Opening costs about a millisecond.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from brie.store import Store
from brie.workspace import DB_NAME


@contextmanager
def reading(root: Path) -> Iterator[Store]:
    store = Store(Path(root) / DB_NAME)
    try:
        yield store
    finally:
        store.close()
