"""Store access for prompt suites and their prompts."""

from __future__ import annotations

import json

from brie.store import Store, utcnow


def insert_suite(store: Store, name: str, source: str, sha256: str, prompts: list[dict]) -> dict:
    """One suite and all its prompts, in one transaction."""
    with store.transaction() as db:
        db["suites"].insert({"name": name, "source": source, "sha256": sha256,
                             "n_prompts": len(prompts), "created_at": utcnow()})
        suite_id = db.execute("select id from suites where name = ?", [name]).fetchone()[0]
        db["prompts"].insert_all(
            {"suite_id": suite_id, "prompt_id": p["prompt_id"], "idx": i, "category": p.get("category"),
             "turns_json": json.dumps(p["turns"]),
             "reference_json": json.dumps(p["reference"]) if p.get("reference") else None}
            for i, p in enumerate(prompts)
        )
    return get_suite(store, name)


def get_suite(store: Store, name: str) -> dict | None:
    rows = list(store.db["suites"].rows_where("name = ?", [name]))
    return rows[0] if rows else None


def get_suite_by_id(store: Store, suite_id: int) -> dict | None:
    rows = list(store.db["suites"].rows_where("id = ?", [suite_id]))
    return rows[0] if rows else None


def list_suites(store: Store) -> list[dict]:
    return list(store.db["suites"].rows_where(order_by="id"))


def list_prompts(store: Store, suite_id: int) -> list[dict]:
    """Prompts in file order, with turns and reference decoded."""
    out = []
    for r in store.db["prompts"].rows_where("suite_id = ?", [suite_id], order_by="idx"):
        r = dict(r)
        r["turns"] = json.loads(r.pop("turns_json"))
        ref = r.pop("reference_json")
        r["reference"] = json.loads(ref) if ref else None
        out.append(r)
    return out
