"""Store access for the models table."""

from __future__ import annotations

from brie.store import Store, utcnow


def upsert_model(store: Store, name: str, source: str, path: str | None, kind: str) -> dict:
    row = {"name": name, "source": source, "path": path, "kind": kind, "added_at": utcnow()}
    with store.transaction() as db:
        db["models"].upsert(row, pk="name")
    return row


def get_model(store: Store, name: str) -> dict | None:
    rows = list(store.db["models"].rows_where("name = ?", [name]))
    return rows[0] if rows else None


def list_models(store: Store) -> list[dict]:
    return list(store.db["models"].rows_where(order_by="added_at"))


def record_doctor_report(store: Store, report_json: str) -> None:
    with store.transaction() as db:
        db["doctor_reports"].insert({"at": utcnow(), "report_json": report_json})
