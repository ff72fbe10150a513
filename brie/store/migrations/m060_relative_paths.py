"""Paths inside the workspace are stored relative to it, so a moved or copied workspace still works.

Rows written before kept absolute paths: those under the workspace's folder (the folder of this
database file) become relative; paths outside it (a model folder elsewhere, the Hugging Face cache)
stay as they are.
"""

from pathlib import Path

COLUMNS = (("models", "path"), ("datasets", "path"), ("runs", "path"), ("runs", "data"), ("checkpoints", "path"))


def up(db):
    file = next((row[2] for row in db.execute("pragma database_list") if row[1] == "main"), "")
    if not file:  # an in-memory database has no folder
        return
    root = Path(file).resolve().parent
    for table, column in COLUMNS:
        for rowid, value in db.execute(f"select rowid, {column} from {table} where {column} like '/%'").fetchall():
            try:
                relative = Path(value).relative_to(root).as_posix()
            except ValueError:
                continue
            db.execute(f"update {table} set {column} = ? where rowid = ?", [relative, rowid])
