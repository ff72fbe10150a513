"""Read-only views the UI shows: a few joins over runs, checkpoints, metrics and datasets.

Kept here so the UI never writes SQL; each function is one query, cheap enough to run every second
from a poller (the runs overview stays one query even with thousands of checkpoints).
"""

from __future__ import annotations

from brie.store import Store


def runs_overview(store: Store) -> list[dict]:
    """Every run with its dataset, checkpoint count and best validation loss, newest first."""
    sql = """
        select r.id, r.name, r.model, r.backend, r.method, r.status, r.dry_run, r.step, r.total_steps,
               r.best_step, r.recommended_step, r.created_at, r.started_at, r.ended_at, r.error, r.pid,
               d.name as dataset, d.version as dataset_version, d.sample_ratio,
               c.n_checkpoints, c.best_val_loss, c.last_step,
               -- when the newest training step was logged: with started_at, the pace of a running run
               (select m.at from metrics m where m.run_id = r.id and m.name = 'train_loss'
                order by m.step desc limit 1) as last_step_at
        from runs r
        left join datasets d on d.id = r.dataset_id
        left join (
            select run_id, count(*) as n_checkpoints, min(val_loss) as best_val_loss, max(step) as last_step
            from checkpoints group by run_id
        ) c on c.run_id = r.id
        order by r.id desc
    """
    return [dict(row) for row in _rows(store, sql)]


def metric_series(store: Store, run_id: int, names: tuple[str, ...] | None = None) -> dict[str, list[tuple[int, float]]]:
    """{metric name: [(step, value), …]} in step order, for the loss curves."""
    sql = "select name, step, value from metrics where run_id = ?"
    params: list = [run_id]
    if names:
        sql += f" and name in ({', '.join('?' for _ in names)})"
        params += list(names)
    sql += " order by name, step"
    series: dict[str, list[tuple[int, float]]] = {}
    for name, step, value in store.db.execute(sql, params).fetchall():
        if value is not None:
            series.setdefault(name, []).append((step, value))
    return series


def suites_overview(store: Store) -> list[dict]:
    sql = """
        select s.*, group_concat(distinct p.category) as categories
        from suites s left join prompts p on p.suite_id = s.id
        group by s.id order by s.name
    """
    return [dict(r) for r in _rows(store, sql)]


def _rows(store: Store, sql: str, params=()):
    cursor = store.db.execute(sql, params)
    names = [d[0] for d in cursor.description]
    return (dict(zip(names, row)) for row in cursor.fetchall())


def names_for_new_run(store: Store) -> dict[str, list[str]]:
    """What the new-run form offers and checks: registered models, dataset names, taken run names."""
    return {
        "models": [r[0] for r in store.db.execute("select name from models order by name").fetchall()],
        "datasets": [r[0] for r in store.db.execute("select distinct name from datasets order by name").fetchall()],
        "runs": [r[0] for r in store.db.execute("select name from runs").fetchall()],
    }


def suite_names(store: Store) -> list[str]:
    return [r[0] for r in store.db.execute("select name from suites order by name").fetchall()]


def judge_names(store: Store) -> list[str]:
    return [r[0] for r in store.db.execute("select distinct judge from judgments order by judge").fetchall()]


def last_human_judge(store: Store) -> str | None:
    """The judge ("human:<name>") of the most recent human verdict in the store, if any."""
    row = store.db.execute("select judge from judgments where judge like 'human:%' order by id desc limit 1").fetchone()
    return row[0] if row else None


def model_choices(store: Store) -> list[str]:
    """What compare offers as model A or B: base, then each run's best/last/recommended and each step."""
    out = ["base"]
    for run in store.db.execute("select id, name, best_step, recommended_step from runs order by id desc").fetchall():
        run_id, name, best, recommended = run
        steps = [r[0] for r in store.db.execute(
            "select step from checkpoints where run_id = ? order by step", [run_id]).fetchall()]
        if not steps:
            continue
        if best is not None:
            out.append(f"{name}@best")
        if recommended is not None:
            out.append(f"{name}@recommended")
        out.append(f"{name}@last")
        out += [f"{name}@{s}" for s in steps]
    return out


def eval_signature(store: Store) -> tuple:
    """Changes whenever an evaluation result is added or finished: the UI recomputes deltas then only."""
    return tuple(store.db.execute(
        "select count(*), max(id), sum(status = 'completed'), max(ended_at) from eval_results").fetchone())


def judgment_signature(store: Store) -> tuple:
    """Changes whenever a judgment or comparison is added: the UI fits rankings again then only."""
    return (store.db.execute("select count(*), max(id) from judgments").fetchone()
            + store.db.execute("select count(*), max(id) from comparisons").fetchone())


def evaluated_runs(store: Store) -> list[str]:
    return [r[0] for r in store.db.execute(
        "select distinct run from eval_results where run is not null and status = 'completed' order by run").fetchall()]
