"""Store access for eval_results and eval_samples (the per-item rows that paired deltas need)."""

from __future__ import annotations

import json

from brie.store import Store, utcnow


def model_key(model: str, adapter_sha256: str | None) -> str:
    return f"{model}|{adapter_sha256 or 'base'}"


def get_or_create_result(store: Store, *, label: str, model: str, run: str | None, step: int | None,
                         adapter_sha256: str | None, benchmark: str, settings: dict, n_items: int,
                         n_available: int | None = None) -> dict:
    """The result row for this identity, benchmark and settings; created (status running) if new."""
    key = model_key(model, adapter_sha256)
    settings_json = json.dumps(settings, sort_keys=True)
    with store.transaction() as db:
        rows = list(db["eval_results"].rows_where(
            "model_key = ? and benchmark = ? and settings_json = ?", [key, benchmark, settings_json]))
        if rows:
            row = rows[0]
            # a rerun under a new label (e.g. best → 290) keeps the identity; refresh what is shown
            # n_items never drops below what is stored: items an earlier, larger --limit stored stay
            # part of the result (see brie/evals/runner.py)
            stored = db.execute("select count(*) from eval_samples where result_id = ?", [row["id"]]).fetchone()[0]
            db["eval_results"].update(row["id"], {"label": label, "run": run, "step": step,
                                                  "n_items": max(n_items, stored), "n_available": n_available,
                                                  "status": "running"})
            return db["eval_results"].get(row["id"])
        pk = db["eval_results"].insert({
            "model_key": key, "label": label, "model": model, "run": run, "step": step,
            "adapter_sha256": adapter_sha256, "benchmark": benchmark, "settings_json": settings_json,
            "n_items": n_items, "n_available": n_available, "n_done": 0, "metrics_json": None, "status": "running",
            "started_at": utcnow(),
        }).last_pk
        return db["eval_results"].get(pk)


def done_items(store: Store, result_id: int) -> set[int]:
    rows = store.db.execute("select item_idx from eval_samples where result_id = ?", [result_id])
    return {r[0] for r in rows}


def add_sample(store: Store, result_id: int, item_idx: int, item_id: str, input: str, output: str | None,
               target: str | None, scores: dict) -> None:
    """One item, one transaction; a second write of the same item is ignored (resume safety)."""
    with store.transaction() as db:
        db.execute(
            "insert or ignore into eval_samples (result_id, item_idx, item_id, input, output, target,"
            " scores_json, created_at) values (?, ?, ?, ?, ?, ?, ?, ?)",
            [result_id, item_idx, item_id, input, output, target, json.dumps(scores), utcnow()],
        )
        db.execute("update eval_results set n_done = (select count(*) from eval_samples where result_id = ?)"
                   " where id = ?", [result_id, result_id])


def samples(store: Store, result_id: int, below: int | None = None) -> list[dict]:
    """The stored items of a result in item order; only those with item_idx < below when given."""
    where, args = "result_id = ?", [result_id]
    if below is not None:
        where += " and item_idx < ?"
        args.append(below)
    rows = list(store.db["eval_samples"].rows_where(where, args, order_by="item_idx"))
    for r in rows:
        r["scores"] = json.loads(r["scores_json"])
    return rows


def finish_result(store: Store, result_id: int, metrics: dict, status: str = "completed",
                  error: str | None = None, n_items: int | None = None) -> None:
    """Store the aggregate; `n_items`, when given, is how many items it covers."""
    fields = {"metrics_json": json.dumps(metrics), "status": status, "error": error, "ended_at": utcnow()}
    if n_items is not None:
        fields["n_items"] = n_items
    with store.transaction() as db:
        db["eval_results"].update(result_id, fields)


def fail_result(store: Store, result_id: int, error: str) -> None:
    with store.transaction() as db:
        db["eval_results"].update(result_id, {"status": "failed", "error": error, "ended_at": utcnow()})


def _decode(row: dict) -> dict:
    row["metrics"] = json.loads(row["metrics_json"]) if row.get("metrics_json") else {}
    row["settings"] = json.loads(row["settings_json"]) if row.get("settings_json") else {}
    return row


def get_result(store: Store, result_id: int) -> dict | None:
    rows = list(store.db["eval_results"].rows_where("id = ?", [result_id]))
    return _decode(rows[0]) if rows else None


def list_results(store: Store, run: str | None = None, benchmark: str | None = None) -> list[dict]:
    where, args = [], []
    if run is not None:
        where.append("run = ?")
        args.append(run)
    if benchmark is not None:
        where.append("benchmark = ?")
        args.append(benchmark)
    rows = store.db["eval_results"].rows_where(" and ".join(where) or None, args, order_by="id")
    return [_decode(r) for r in rows]


def find_result(store: Store, model: str, adapter_sha256: str | None, benchmark: str,
                settings: dict | None = None) -> dict | None:
    """The latest completed result of this identity on this benchmark (any settings unless given)."""
    key = model_key(model, adapter_sha256)
    where, args = "model_key = ? and benchmark = ? and status = 'completed'", [key, benchmark]
    if settings is not None:
        where += " and settings_json = ?"
        args.append(json.dumps(settings, sort_keys=True))
    rows = list(store.db["eval_results"].rows_where(where, args, order_by="id desc", limit=1))
    return _decode(rows[0]) if rows else None
