"""Store access for runs, checkpoints and metrics. (The training code adds its writers here.)"""

from __future__ import annotations

from brie.store import Store


def get_run(store: Store, name: str) -> dict | None:
    rows = list(store.db["runs"].rows_where("name = ?", [name]))
    return rows[0] if rows else None


def list_runs(store: Store) -> list[dict]:
    return list(store.db["runs"].rows_where(order_by="id"))


def list_checkpoints(store: Store, run_id: int) -> list[dict]:
    return list(store.db["checkpoints"].rows_where("run_id = ?", [run_id], order_by="step"))


def get_checkpoint(store: Store, run_id: int, step: int) -> dict | None:
    rows = list(store.db["checkpoints"].rows_where("run_id = ? and step = ?", [run_id, step]))
    return rows[0] if rows else None
