"""A workspace: one folder holding brie.db, data/, models/, runs/ and exports/ (docs/architecture.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from brie.errors import WorkspaceError
from brie.store import Store

DB_NAME = "brie.db"
FOLDERS = ("data", "models", "runs", "exports")


@dataclass
class Workspace:
    root: Path
    _store: Store | None = field(default=None, repr=False)

    @classmethod
    def locate(cls, path: str | Path | None = None) -> "Workspace":
        """The workspace at `path`, else $BRIE_HOME, else the current folder (not created)."""
        root = path or os.environ.get("BRIE_HOME") or Path.cwd()
        return cls(Path(root).expanduser().resolve())

    @classmethod
    def with_store(cls, root: Path, store: Store) -> "Workspace":
        """The workspace at `root` reading through an open store (a UI worker's own connection)."""
        return cls(root, _store=store)

    @classmethod
    def open(cls, path: str | Path | None = None, create: bool = False) -> "Workspace":
        ws = cls.locate(path)
        if create:
            ws.init()
        elif not ws.db_path.exists():
            raise WorkspaceError(
                f"no brie workspace at {ws.root} (no {DB_NAME}); run `brie init` there or set BRIE_HOME"
            )
        return ws

    def init(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for name in FOLDERS:
            (self.root / name).mkdir(exist_ok=True)
        _ = self.store  # creates brie.db and runs the migrations

    @property
    def exists(self) -> bool:
        return self.db_path.exists()

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    @property
    def exports_dir(self) -> Path:
        return self.root / "exports"

    def stored_path(self, path: str | Path) -> str:
        """How the store keeps a path: relative to the workspace when inside it, so a workspace that is
        moved, synced or copied to another machine still finds its data, models and runs."""
        path = Path(path).expanduser().resolve()
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)

    def path_of(self, stored: str) -> Path:
        """The path a stored path means here (an absolute one, from outside the workspace, as it is)."""
        return self.root / stored

    def find(self, given: str | Path) -> Path:
        """A path as given (from the current folder), else inside the workspace (as stored)."""
        path = Path(given).expanduser()
        return path if path.exists() or not (self.root / path).exists() else self.root / path

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.db_path)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
