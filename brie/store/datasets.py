"""Store access for the datasets table (immutable, content-addressed, versioned)."""

from __future__ import annotations

from brie.store import Store, utcnow


def insert_dataset(store: Store, row: dict) -> dict:
    """Register one dataset version; the row is committed on its own."""
    row = {**row, "created_at": row.get("created_at") or utcnow()}
    with store.transaction() as db:
        row["id"] = db["datasets"].insert(row).last_pk
    return row


def next_version(store: Store, name: str) -> int:
    row = store.db.execute("select max(version) from datasets where name = ?", [name]).fetchone()
    return (row[0] or 0) + 1


def get_dataset(store: Store, name: str, version: int | None = None) -> dict | None:
    """One version of a dataset; the latest when version is None."""
    if version is None:
        rows = list(store.db["datasets"].rows_where("name = ?", [name], order_by="version desc", limit=1))
    else:
        rows = list(store.db["datasets"].rows_where("name = ? and version = ?", [name, version]))
    return rows[0] if rows else None


def get_dataset_by_id(store: Store, dataset_id: int) -> dict | None:
    rows = list(store.db["datasets"].rows_where("id = ?", [dataset_id]))
    return rows[0] if rows else None


def find_by_sha(store: Store, name: str, sha256: str) -> dict | None:
    """A version of `name` with exactly this content, if one was imported before."""
    rows = list(store.db["datasets"].rows_where("name = ? and sha256 = ?", [name, sha256],
                                                order_by="version desc", limit=1))
    return rows[0] if rows else None


def list_datasets(store: Store, all_versions: bool = False) -> list[dict]:
    """Every dataset's latest version (or every version), by name then version."""
    if all_versions:
        return list(store.db["datasets"].rows_where(order_by="name, version"))
    return list(store.db.query(
        "select d.* from datasets d join (select name, max(version) as v from datasets group by name) m"
        " on d.name = m.name and d.version = m.v order by d.name"
    ))
