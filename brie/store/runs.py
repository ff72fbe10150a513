"""Store access for runs, checkpoints and metrics."""

from __future__ import annotations

import json
import sqlite3

from brie.store import Store, utcnow

ACTIVE = ("pending", "running")


def get_run(store: Store, name: str) -> dict | None:
    rows = list(store.db["runs"].rows_where("name = ?", [name]))
    return rows[0] if rows else None


def get_run_by_id(store: Store, run_id: int) -> dict | None:
    rows = list(store.db["runs"].rows_where("id = ?", [run_id]))
    return rows[0] if rows else None


def list_runs(store: Store) -> list[dict]:
    return list(store.db["runs"].rows_where(order_by="id"))


def list_checkpoints(store: Store, run_id: int) -> list[dict]:
    return list(store.db["checkpoints"].rows_where("run_id = ?", [run_id], order_by="step"))


def get_checkpoint(store: Store, run_id: int, step: int) -> dict | None:
    rows = list(store.db["checkpoints"].rows_where("run_id = ? and step = ?", [run_id, step]))
    return rows[0] if rows else None


def active_runs(store: Store) -> list[dict]:
    return list(store.db["runs"].rows_where("status in ('pending', 'running')", order_by="id"))


def insert_run(store: Store, row: dict) -> dict | None:
    """The new run's row, or None when a run of that name exists (names are unique)."""
    row = {"status": "pending", "created_at": utcnow(), **row}
    try:
        with store.transaction() as db:
            db["runs"].insert(row)
    except sqlite3.IntegrityError:
        if get_run(store, row["name"]) is not None:
            return None
        raise
    return get_run(store, row["name"])


def update_run(store: Store, run_id: int, **values) -> None:
    with store.transaction() as db:
        db["runs"].update(run_id, values)


def add_warning(store: Store, run_id: int, message: str) -> None:
    with store.transaction() as db:
        current = db["runs"].get(run_id)["warnings"]
        warnings = json.loads(current) if current else []
        warnings.append(message)
        db["runs"].update(run_id, {"warnings": json.dumps(warnings)})


def insert_checkpoint(store: Store, row: dict, best_step: int | None, follow_best: bool) -> dict:
    """Register a checkpoint and move the run's best (and auto recommended) step, in one transaction."""
    row = {"created_at": utcnow(), **row}
    with store.transaction() as db:
        db["checkpoints"].insert(row, replace=True)
        values = {"best_step": best_step}
        if follow_best:
            values["recommended_step"] = best_step
        db["runs"].update(row["run_id"], values)
    return get_checkpoint(store, row["run_id"], row["step"])


def delete_checkpoint(store: Store, run_id: int, step: int) -> None:
    with store.transaction() as db:
        db.execute("delete from checkpoints where run_id = ? and step = ?", [run_id, step])


def set_recommended(store: Store, run_id: int, step: int, by: str = "user", evidence: str | None = None) -> None:
    """Mark a checkpoint recommended by `by` (user, judged), with the evidence as JSON (m034)."""
    with store.transaction() as db:
        db["runs"].update(run_id, {"recommended_step": step, "recommended_by": by, "recommended_evidence": evidence})


def insert_metrics(store: Store, run_id: int, step: int, values: dict) -> None:
    at = utcnow()
    with store.transaction() as db:
        db["metrics"].insert_all(
            [{"run_id": run_id, "step": step, "name": k, "value": float(v), "at": at} for k, v in values.items()]
        )
        db["runs"].update(run_id, {"step": step})


def delete_metrics_after(store: Store, run_id: int, step: int) -> None:
    """A resumed run re-records the steps after its checkpoint; drop the ones the dead process wrote."""
    with store.transaction() as db:
        db.execute("delete from metrics where run_id = ? and step > ?", [run_id, step])


def get_metrics(store: Store, run_id: int, name: str | None = None) -> list[dict]:
    if name is None:
        return list(store.db["metrics"].rows_where("run_id = ?", [run_id], order_by="step, id"))
    return list(store.db["metrics"].rows_where("run_id = ? and name = ?", [run_id, name], order_by="step, id"))


def loss_metrics(store: Store, run_id: int) -> list[dict]:
    """The run's metric rows whose name contains "loss" (train_loss, val_loss, …), in step order."""
    return list(store.db["metrics"].rows_where("run_id = ? and name like '%loss%'", [run_id], order_by="step"))


def clear_recommended(store: Store, run_id: int) -> None:
    """No recommended checkpoint (its checkpoint is being deleted); `recommended_by` stays as it was."""
    with store.transaction() as db:
        db["runs"].update(run_id, {"recommended_step": None})


_GENS = "(select id from generations where run = ?1)"
_COMPS = f"(select id from comparisons where gen_a in {_GENS} or gen_b in {_GENS})"


def run_references(store: Store, name: str, step: int | None = None) -> dict[str, int]:
    """What other areas stored about run `name`'s checkpoints (they record the run by name):
    generations and the comparisons, judgments, judge failures and scores on them; eval results and
    their samples.
    With `step`, only what was made from that one checkpoint (`<name>@<step>`)."""
    where = "run = ?1 and (?2 is null or step = ?2)"
    gens = f"(select id from generations where {where})"
    comps = f"(select id from comparisons where gen_a in {gens} or gen_b in {gens})"

    def count(sql: str) -> int:
        return store.db.execute(sql, [name, step]).fetchone()[0]

    counts = {
        "generations": count(f"select count(*) from generations where {where}"),
        "comparisons": count(f"select count(*) from comparisons where id in {comps}"),
        "judgments": count(f"select count(*) from judgments where comparison_id in {comps}"),
        "judge failures": count(f"select count(*) from judge_failures where comparison_id in {comps}"),
        "scores": count(f"select count(*) from scores where generation_id in {gens}"),
        "eval results": count(f"select count(*) from eval_results where {where}"),
        "eval samples": count("select count(*) from eval_samples where result_id in "
                              f"(select id from eval_results where {where})"),
    }
    return {k: v for k, v in counts.items() if v}


def delete_run(store: Store, run_id: int, name: str) -> None:
    """Forget run `name` in one transaction: what references its checkpoints (see run_references),
    then its metrics, checkpoints and the run row."""
    with store.transaction() as db:
        # judgments and judge failures before comparisons before generations: each row goes before
        # what it points at
        db.execute(f"delete from judgments where comparison_id in {_COMPS}", [name])
        db.execute(f"delete from judge_failures where comparison_id in {_COMPS}", [name])
        db.execute(f"delete from comparisons where id in {_COMPS}", [name])
        db.execute(f"delete from scores where generation_id in {_GENS}", [name])
        db.execute("delete from generations where run = ?1", [name])
        db.execute("delete from eval_samples where result_id in (select id from eval_results where run = ?1)", [name])
        db.execute("delete from eval_results where run = ?1", [name])
        db.execute("delete from metrics where run_id = ?", [run_id])
        db.execute("delete from checkpoints where run_id = ?", [run_id])
        db.execute("delete from runs where id = ?", [run_id])


def insert_imported_run(store: Store, run: dict, checkpoints: list[dict], metrics: list[tuple[int, dict]]) -> dict | None:
    """A run brought from elsewhere (`brie runs import`): its row, checkpoints and metrics in one
    transaction; None when a run of that name exists."""
    at = utcnow()
    try:
        with store.transaction() as db:
            db["runs"].insert(run)
            run_id = db.execute("select id from runs where name = ?", [run["name"]]).fetchone()[0]
            db["checkpoints"].insert_all([{"created_at": at, **c, "run_id": run_id} for c in checkpoints])
            db["metrics"].insert_all([{"run_id": run_id, "step": step, "name": k, "value": float(v), "at": at}
                                      for step, values in metrics for k, v in values.items()])
    except sqlite3.IntegrityError:
        if get_run(store, run["name"]) is not None:
            return None
        raise
    return get_run(store, run["name"])
