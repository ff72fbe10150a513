import sqlite3

from brie.store import Store
from brie.store.migrate import all_migrations


def test_migrations_from_empty_file_then_reopen(tmp_path):
    path = tmp_path / "brie.db"
    store = Store(path)
    names = [r["name"] for r in store.db["_migrations"].rows]
    assert names == [name for _, name in all_migrations()]
    assert store.schema_version == all_migrations()[-1][0]
    assert {"models", "datasets", "suites", "prompts", "runs", "checkpoints", "metrics"} <= set(store.db.table_names())
    store.db["models"].insert({"name": "m", "source": "s", "path": None, "kind": "local", "added_at": "t"})
    store.db.conn.commit()
    store.close()

    again = Store(path)  # re-opening applies nothing twice and keeps the data
    assert [r["name"] for r in again.db["_migrations"].rows] == names
    assert again.db["models"].count == 1
    again.close()


def test_wal_and_busy_timeout(tmp_path):
    store = Store(tmp_path / "brie.db")
    assert store.db.execute("pragma journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("pragma busy_timeout").fetchone()[0] >= 5000
    store.close()


def test_a_failing_migration_leaves_no_record(tmp_path, monkeypatch):
    import brie.store.migrations.m001_models as m001

    def broken(db):
        db["models"].create({"name": str}, pk="name")
        raise RuntimeError("boom")

    monkeypatch.setattr(m001, "up", broken)
    try:
        Store(tmp_path / "brie.db")
    except RuntimeError:
        pass
    conn = sqlite3.connect(tmp_path / "brie.db")
    assert conn.execute("select count(*) from _migrations").fetchone()[0] == 0
    assert "models" not in {r[0] for r in conn.execute("select name from sqlite_master")}


def test_migration_numbers_are_unique_and_ordered():
    numbers = [n for n, _ in all_migrations()]
    assert numbers == sorted(set(numbers))
