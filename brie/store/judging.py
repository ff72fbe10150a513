"""Store access for generations, comparisons, judgments, scores and judge batches.

Every writer here commits one result in its own transaction, so a crash loses at most what was
in flight, and every reader that a rerun uses to skip work looks at what is committed.
"""

from __future__ import annotations

import json
import threading

from brie.store import Store, utcnow

# SQLite allows one writer; the judging threads share one connection, so their writes take turns.
_write_lock = threading.Lock()


def model_key(model: str, adapter_sha256: str | None) -> str:
    return adapter_sha256 or f"base:{model}"


# --- generations -------------------------------------------------------------------------------

def find_generations(store: Store, prompt_row_ids: list[int], key: str, temperature: float,
                     max_tokens: int, seed: int) -> dict[tuple[int, int], dict]:
    """{(prompt_row_id, sample_idx): row} for what is already generated with these parameters."""
    out = {}
    rows = store.db.execute(
        "select * from generations where model_key = ? and temperature = ? and max_tokens = ? and seed = ?",
        [key, temperature, max_tokens, seed]).fetchall()
    cols = [c[0] for c in store.db.execute("select * from generations limit 0").description]
    wanted = set(prompt_row_ids)
    for r in rows:
        d = dict(zip(cols, r))
        if d["prompt_row_id"] in wanted:
            d["answers"] = json.loads(d["answers_json"])
            out[(d["prompt_row_id"], d["sample_idx"])] = d
    return out


def insert_generation(store: Store, row: dict) -> int:
    row = {**row, "created_at": utcnow()}
    with _write_lock, store.transaction() as db:
        db["generations"].insert(row, ignore=True)  # a concurrent rerun may have stored it first
        return db.execute(
            "select id from generations where prompt_row_id = ? and model_key = ? and temperature = ? "
            "and max_tokens = ? and seed = ? and sample_idx = ?",
            [row["prompt_row_id"], row["model_key"], row["temperature"], row["max_tokens"],
             row["seed"], row["sample_idx"]]).fetchone()[0]


def get_generation(store: Store, gen_id: int) -> dict:
    d = store.db["generations"].get(gen_id)
    d["answers"] = json.loads(d["answers_json"])
    return d


# --- comparisons -------------------------------------------------------------------------------

def ensure_comparisons(store: Store, rows: list[dict]) -> list[int]:
    """Insert the comparisons not yet stored (one transaction) and return all their ids, in order.

    A stored comparison keeps the shown_first it was drawn with; the new row's draw is dropped.
    """
    with _write_lock, store.transaction() as db:
        ids = []
        for r in rows:
            found = db.execute("select id from comparisons where gen_a = ? and gen_b = ?",
                               [r["gen_a"], r["gen_b"]]).fetchone()
            if found is None:
                db["comparisons"].insert({**r, "created_at": utcnow()})
                found = db.execute("select id from comparisons where gen_a = ? and gen_b = ?",
                                   [r["gen_a"], r["gen_b"]]).fetchone()
            ids.append(found[0])
    return ids


def get_comparison(store: Store, comparison_id: int) -> dict | None:
    rows = list(store.db["comparisons"].rows_where("id = ?", [comparison_id]))
    return rows[0] if rows else None


def _comparison_filter(suite: str | None, run: str | None, ids: list[int] | None) -> tuple[str, list]:
    where, params = [], []
    if suite is not None:
        where.append("s.name = ?")
        params.append(suite)
    if run is not None:
        where.append("(ga.run = ? or gb.run = ?)")
        params += [run, run]
    if ids is not None:
        where.append(f"c.id in ({', '.join('?' for _ in ids)})" if ids else "0")
        params += list(ids)
    return " and ".join(where) or "1", params


COMPARISON_JOIN = """from comparisons c join suites s on s.id = c.suite_id join prompts p on p.id = c.prompt_row_id
      join generations ga on ga.id = c.gen_a join generations gb on gb.id = c.gen_b"""


def find_comparisons(store: Store, suite: str | None = None, run: str | None = None,
                     ids: list[int] | None = None) -> list[dict]:
    """Comparisons joined with their suite, prompt and both generations (for judging and exports),
    kept to suite `suite`, to comparisons in which one side is a checkpoint of run `run`, and to the
    comparison ids `ids` (an empty list: none); None keeps all."""
    if ids is not None and not ids:
        return []
    where, params = _comparison_filter(suite, run, ids)
    sql = f"""
      select c.id as comparison_id, c.shown_first, c.sample_idx, s.name as suite, p.prompt_id, p.category,
             p.turns_json, p.reference_json,
             ga.label as a_label, ga.model as a_model, ga.run as a_run, ga.step as a_step,
             ga.adapter_sha256 as a_sha, ga.answers_json as a_answers, ga.id as a_gen,
             gb.label as b_label, gb.model as b_model, gb.run as b_run, gb.step as b_step,
             gb.adapter_sha256 as b_sha, gb.answers_json as b_answers, gb.id as b_gen
      {COMPARISON_JOIN} where {where} order by c.id"""
    cur = store.db.execute(sql, params)
    cols = [c[0] for c in cur.description]
    out = []
    for r in cur.fetchall():
        d = dict(zip(cols, r))
        d["turns"] = json.loads(d.pop("turns_json"))
        ref = d.pop("reference_json")
        d["reference"] = json.loads(ref) if ref else None
        d["a_answers"] = json.loads(d["a_answers"])
        d["b_answers"] = json.loads(d["b_answers"])
        out.append(d)
    return out


def comparison_labels(store: Store, suite: str | None = None, run: str | None = None) -> list[dict]:
    """What results group comparisons by, without their prompts and answers (no JSON to read):
    comparison_id, shown_first, sample_idx, suite, prompt_id, category, a_label, b_label; filtered
    as `find_comparisons`."""
    where, params = _comparison_filter(suite, run, None)
    cur = store.db.execute(
        f"""select c.id as comparison_id, c.shown_first, c.sample_idx, s.name as suite, p.prompt_id, p.category,
                   ga.label as a_label, gb.label as b_label {COMPARISON_JOIN} where {where} order by c.id""", params)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


# --- judgments ---------------------------------------------------------------------------------

def judgment_attempts(store: Store, judge: str, comparison_ids: list[int]) -> dict[tuple[int, int], list[dict]]:
    """{(comparison_id, pass): [rows by attempt]} for one judge."""
    out: dict[tuple[int, int], list[dict]] = {}
    wanted = set(comparison_ids)
    for r in store.db["judgments"].rows_where("judge = ?", [judge], order_by="attempt"):
        if r["comparison_id"] in wanted:
            out.setdefault((r["comparison_id"], r["pass"]), []).append(r)
    return out


def insert_judgment(store: Store, row: dict) -> dict:
    row = {**row, "judged_at": row.get("judged_at") or utcnow()}
    with _write_lock, store.transaction() as db:
        db["judgments"].insert(row)
    return row


def delete_human_verdict(store: Store, comparison_id: int, judge: str) -> int:
    """Undo in the blind session: remove a human judge's verdict on one comparison (never an LLM's)."""
    if not judge.startswith("human:"):
        raise ValueError(f"only human verdicts can be undone, not {judge!r}'s")
    with store.transaction() as db:
        cursor = db.execute("delete from judgments where comparison_id = ? and judge = ?", [comparison_id, judge])
        return cursor.rowcount


def all_judgments(store: Store, judge: str | None = None) -> list[dict]:
    if judge:
        return list(store.db["judgments"].rows_where("judge = ?", [judge], order_by="id"))
    return list(store.db["judgments"].rows_where(order_by="id"))


# What results read of a judgment: not its raw answer, tokens or times.
VERDICT_COLUMNS = ("id", "comparison_id", "judge", "template", "template_sha256", "prompt_sha256", "pass",
                   "shown_first", "attempt", "verdict", "cost_usd", "probabilities")


def judgment_verdicts(store: Store, judge: str | None = None, humans_only: bool = False) -> list[dict]:
    """Every judgment (of `judge`; of human judges only with `humans_only`) by id, with the
    VERDICT_COLUMNS only: what `brie results` adds up, read in one query."""
    where, params = ("where judge = ?", [judge]) if judge else ("where judge glob 'human:*'", []) if humans_only else ("", [])
    columns = ", ".join(f'"{c}"' for c in VERDICT_COLUMNS)
    cur = store.db.execute(f"select {columns} from judgments {where} order by id", params)
    return [dict(zip(VERDICT_COLUMNS, r)) for r in cur.fetchall()]


RESULT_COLUMNS = VERDICT_COLUMNS[1:]  # the same without the id


def verdict_rows(store: Store, judge: str | None = None, with_humans: bool = False) -> list[tuple]:
    """Every judgment (of `judge`, and of every human judge too with `with_humans`) in id order, as
    plain tuples of RESULT_COLUMNS: `brie results` turns them into columns at once, so 50,000
    judgments build no dict each (and no id: their order is the ids')."""
    where, params = "", []
    if judge:
        where, params = ("where judge = ? or judge glob 'human:*'" if with_humans else "where judge = ?"), [judge]
    columns = ", ".join(f'"{c}"' for c in RESULT_COLUMNS)
    return store.db.execute(f"select {columns} from judgments {where} order by id", params).fetchall()


def judges_of(store: Store, comparison_ids: list[int]) -> dict[str, bool]:
    """{judge: whether it judged in both orders} for every judge with a stored judgment of one of
    these comparisons: one grouped query, not every judgment read back."""
    cur = store.db.execute("select judge, max(pass) from judgments where comparison_id in "
                           "(select value from json_each(?)) group by judge", [json.dumps(list(comparison_ids))])
    return {judge: top == 1 for judge, top in cur.fetchall()}


def judges_with_results(store: Store) -> list[str]:
    """Every judge with a stored judgment or single-answer score, sorted."""
    return sorted({r[0] for r in store.db.execute("select distinct judge from judgments")}
                  | {r[0] for r in store.db.execute("select distinct judge from scores")})


def mean_cost(store: Store, judge: str, batch_multiplier: float = 1.0) -> float | None:
    """The mean cost of one of this judge's stored answers at the full price (a batched answer's
    discount taken out again); None before its first answer."""
    n, usd = store.db.execute(
        "select count(*), sum(case when batch_id is null then cost_usd else cost_usd / ? end) "
        "from judgments where judge = ?", [batch_multiplier or 1.0, judge]).fetchone()
    return (usd or 0.0) / n if n else None


def total_cost(store: Store) -> float:
    a = store.db.execute("select coalesce(sum(cost_usd), 0) from judgments").fetchone()[0]
    b = store.db.execute("select coalesce(sum(cost_usd), 0) from scores").fetchone()[0]
    return float(a) + float(b)


# --- scores (single-answer grading) ------------------------------------------------------------

def score_attempts(store: Store, judge: str, gen_ids: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    wanted = set(gen_ids)
    for r in store.db["scores"].rows_where("judge = ?", [judge], order_by="attempt"):
        if r["generation_id"] in wanted:
            out.setdefault(r["generation_id"], []).append(r)
    return out


def insert_score(store: Store, row: dict) -> None:
    row = {**row, "judged_at": utcnow()}
    with _write_lock, store.transaction() as db:
        db["scores"].insert(row)


def all_scores(store: Store) -> list[dict]:
    sql = """select sc.*, g.label, g.model, g.run, g.prompt_row_id, p.category, s.name as suite
             from scores sc join generations g on g.id = sc.generation_id
             join prompts p on p.id = g.prompt_row_id join suites s on s.id = p.suite_id order by sc.id"""
    cur = store.db.execute(sql)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


# --- batches -----------------------------------------------------------------------------------

def insert_batch(store: Store, batch_id: str, judge: str, requests: dict) -> None:
    with _write_lock, store.transaction() as db:
        db["judge_batches"].insert({"id": batch_id, "judge": judge, "requests_json": json.dumps(requests),
                                    "status": "submitted", "created_at": utcnow()})


def open_batches(store: Store, judge: str) -> list[dict]:
    rows = store.db["judge_batches"].rows_where("judge = ? and status = 'submitted'", [judge], order_by="created_at")
    return [{**r, "requests": json.loads(r["requests_json"])} for r in rows]


def close_batch(store: Store, batch_id: str) -> None:
    with _write_lock, store.transaction() as db:
        db["judge_batches"].update(batch_id, {"status": "collected", "collected_at": utcnow()})


def set_batch_status(store: Store, batch_id: str, status: str) -> None:
    """Mark a stored batch `failed` (its endpoint cannot answer for it) or `canceled` (`brie batches
    cancel`): no run collects it again, and its judgments are asked again."""
    with _write_lock, store.transaction() as db:
        db["judge_batches"].update(batch_id, {"status": status, "collected_at": utcnow()})


def list_batches(store: Store, batch_id: str | None = None) -> list[dict]:
    """Stored batches, newest first (or the one `batch_id`), each with how many requests it holds."""
    where, params = ("id = ?", [batch_id]) if batch_id is not None else (None, None)
    out = []
    for r in store.db["judge_batches"].rows_where(where, params, order_by="created_at desc, rowid desc"):
        r = dict(r)
        r["n_requests"] = len(json.loads(r.pop("requests_json") or "{}"))
        out.append(r)
    return out


def insert_judge_failure(store: Store, row: dict) -> None:
    """A judge request that failed (nothing stored in `judgments`): its reason, for later (migration 050)."""
    row = {**row, "failed_at": row.get("failed_at") or utcnow()}
    with _write_lock, store.transaction() as db:
        db["judge_failures"].insert(row)


def judge_failures(store: Store, judge: str | None = None) -> list[dict]:
    """Failed judge requests, newest first."""
    where, params = ("where judge = ?", [judge]) if judge else ("", [])
    return [dict(r) for r in store.db.query(
        f"select * from judge_failures {where} order by failed_at desc, id desc", params)]
