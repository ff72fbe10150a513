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
        _insert_prompts(db, suite_id, prompts)
    return get_suite(store, name)


def _insert_prompts(db, suite_id: int, prompts: list[dict]) -> None:
    db["prompts"].insert_all(
        {"suite_id": suite_id, "prompt_id": p["prompt_id"], "idx": i, "category": p.get("category"),
         "turns_json": json.dumps(p["turns"]),
         "reference_json": json.dumps(p["reference"]) if p.get("reference") else None}
        for i, p in enumerate(prompts)
    )


def suite_references(store: Store, suite_id: int, name: str) -> dict[str, int]:
    """What was made from a suite's prompts: generations, comparisons, and overlap:<name> eval results."""
    db = store.db
    return {
        "generations": db.execute("select count(*) from generations g join prompts p on p.id = g.prompt_row_id "
                                  "where p.suite_id = ?", [suite_id]).fetchone()[0],
        "comparisons": db.execute("select count(*) from comparisons where suite_id = ?", [suite_id]).fetchone()[0],
        # overlap:<suite> reads the prompts by name; its stored items would no longer match the new ones.
        "eval results": db.execute("select count(*) from eval_results where benchmark = ?",
                                   [f"overlap:{name}"]).fetchone()[0],
    }


def replace_suite(store: Store, name: str, source: str, sha256: str,
                  prompts: list[dict]) -> tuple[dict | None, dict[str, int]]:
    """(new row, {}) with the suite's record and prompts replaced in one transaction, keeping its id;
    or (None, references) with nothing changed when anything was made from its prompts.

    The references are counted inside the same transaction as the delete, so a generation stored
    meanwhile by another process cannot be orphaned (SQLite refuses the stale write instead).
    """
    with store.transaction() as db:
        suite_id = db.execute("select id from suites where name = ?", [name]).fetchone()[0]
        refs = suite_references(store, suite_id, name)
        if any(refs.values()):
            return None, refs
        db.execute("delete from prompts where suite_id = ?", [suite_id])
        db["suites"].update(suite_id, {"source": source, "sha256": sha256, "n_prompts": len(prompts),
                                       "created_at": utcnow()})
        _insert_prompts(db, suite_id, prompts)
    return get_suite(store, name), {}


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
