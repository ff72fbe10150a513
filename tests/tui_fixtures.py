"""A fixed demo workspace for the UI tests and snapshots: two datasets, a suite, three runs.

Rows go in through sqlite-utils (the store's own library), with fixed timestamps and hashes, so
snapshots are the same on every machine.
"""

from __future__ import annotations

import json
import math

from brie.workspace import Workspace

T0 = "2026-11-22T10:00:00Z"


def fill_demo(ws: Workspace) -> None:
    db = ws.store.db
    with ws.store.transaction():
        db["datasets"].insert_all([
            {"id": 1, "name": "pirate-style", "version": 1, "sha256": "ab" * 32, "format": "chat",
             "source": "demo/pirate.jsonl", "path": "data/pirate-style", "sample_ratio": 1.0, "seed": 0,
             "rows_train": 288, "rows_valid": 32, "rows_test": 0, "created_at": T0,
             "report_json": json.dumps({
                 "input_format": "sharegpt", "format": "chat",
                 "rows": {"read": 330, "rejected": 2, "duplicates": 4, "leaked": 4, "train": 288, "valid": 32},
                 "sample": {"ratio": 1.0, "seed": 0, "train_rows_before": 288, "train_rows_after": 288},
                 "normalizations": {"stringified_json_answer": {"count": 12, "first": 7},
                                    "crlf": {"count": 3, "first": 2}},
                 "rejected": {"count": 2, "by_reason": {"empty assistant message": 2}, "file": "rejected.jsonl"},
                 "lengths_tokens": {"min": 21, "median": 88, "p95": 190, "max": 311, "max_seq_length": 256,
                                    "over_max_seq_length": {"train": 3, "valid": 0, "test": 0}},
                 "warnings": []})},
            {"id": 2, "name": "support-logs", "version": 2, "sha256": "cd" * 32, "format": "completions",
             "source": "logs.csv", "path": "data/support-logs/v2", "sample_ratio": 0.25, "seed": 7,
             "rows_train": 1011, "rows_valid": 112, "rows_test": 56, "created_at": T0, "report_json": "{}"},
        ])
        db["suites"].insert({"id": 1, "name": "pirate-prompts", "source": "demo/prompts.jsonl",
                             "sha256": "ef" * 32, "n_prompts": 3, "created_at": T0})
        db["prompts"].insert_all([
            {"suite_id": 1, "prompt_id": str(i), "idx": i, "category": cat,
             "turns_json": json.dumps([text]), "reference_json": None}
            for i, (cat, text) in enumerate([("style", "Describe the sea."), ("style", "Say hello."),
                                             ("facts", "What is the capital of France?")])
        ])
        runs = [
            ("pirate-lora", "completed", 300, 300, 1, 200, 200),
            ("pirate-r16", "running", 140, 300, 1, 100, None),
            ("support-dry", "failed", 20, 50, 2, None, None),
        ]
        for i, (name, status, step, total, dataset_id, best, rec) in enumerate(runs, start=1):
            config = {"model": "smollm2-135m-instruct", "data": f"dataset {dataset_id}", "fine_tune_type": "lora",
                      "learning_rate": 1e-4, "batch_size": 4, "iters": total, "save_every": 50,
                      "lora_parameters": {"rank": 8 if i != 2 else 16, "alpha": 16, "dropout": 0.0}}
            db["runs"].insert({
                "id": i, "name": name, "model": "smollm2-135m-instruct", "dataset_id": dataset_id,
                "backend": "mlx", "method": "lora", "status": status, "dry_run": int(name.endswith("dry")),
                "config_json": json.dumps(config), "path": f"runs/{name}", "pid": None, "step": step,
                "total_steps": total, "best_step": best, "recommended_step": rec,
                "error": "out of memory" if status == "failed" else None,
                "created_at": T0, "started_at": T0, "ended_at": None,
            })
            for s in range(50, step + 1, 50):
                add_checkpoint(ws, i, s, total)
            db["metrics"].insert_all(
                [{"run_id": i, "step": s, "name": "train_loss", "value": curve(s), "at": T0}
                 for s in range(10, step + 1, 10)]
                + [{"run_id": i, "step": s, "name": "val_loss", "value": val_curve(s), "at": T0}
                   for s in range(50, step + 1, 50)]
            )


def curve(step: int) -> float:
    return round(2.5 * math.exp(-step / 120) + 0.9, 4)


def val_curve(step: int) -> float:
    """Validation loss that turns up after step 200, so the best checkpoint is not the last."""
    return round(curve(step) + 0.15 + (0.2 * (step - 200) / 50 if step > 200 else 0), 4)


def add_checkpoint(ws: Workspace, run_id: int, step: int, total: int = 300) -> None:
    ws.store.db["checkpoints"].insert({
        "run_id": run_id, "step": step, "epoch": round(step / 72, 2), "train_loss": curve(step),
        "val_loss": val_curve(step),
        "path": f"runs/r{run_id}/checkpoints/{step}", "adapter_sha256": f"{run_id:02d}{step:06d}" + "0" * 56,
        "size_bytes": 1_900_000 + step, "created_at": T0,
    })


# --- comparisons for the blind session ------------------------------------------------------------

SECRET_MODEL = "secret-base-model-xyz"
SECRET_RUN = "hidden-run-qq"
SECRET_STEP = 4242


def add_comparisons(ws: Workspace, shown_first: list[str], llm_judge: str | None = None) -> list[dict]:
    """One prompt per entry of `shown_first`, base vs a checkpoint, each shown in the given order.

    Answers name their model inside the text ("ALPHA" for side a, "BETA" for side b) so a test can
    tell which side a verdict went to; the labels, run and step are distinctive strings that must
    never appear on screen before the reveal. With `llm_judge`, that judge says "a" on every one.
    """
    db = ws.store.db
    out = []
    with ws.store.transaction():
        suite_id = db["suites"].insert({"name": "blind-suite", "source": "test", "sha256": "00" * 32,
                                        "n_prompts": len(shown_first), "created_at": T0}).last_pk
        for i, first in enumerate(shown_first):
            prompt_row = db["prompts"].insert({"suite_id": suite_id, "prompt_id": f"q{i}", "idx": i,
                                               "category": "style",
                                               "turns_json": json.dumps([f"Question number {i}?"]),
                                               "reference_json": None}).last_pk
            gens = {}
            for side, label, run, step in (("a", "base", None, None),
                                           ("b", f"{SECRET_RUN}@{SECRET_STEP}", SECRET_RUN, SECRET_STEP)):
                gens[side] = db["generations"].insert({
                    "prompt_row_id": prompt_row, "model_key": f"{side}-{i}", "label": label, "model": SECRET_MODEL,
                    "run": run, "step": step, "adapter_sha256": None if run is None else "5e" * 32,
                    "temperature": 0.0, "max_tokens": 64, "seed": 0, "sample_idx": 0,
                    "answers_json": json.dumps([f"{'ALPHA' if side == 'a' else 'BETA'} answer to question {i}"]),
                    "created_at": T0}).last_pk
            cid = db["comparisons"].insert({"suite_id": suite_id, "prompt_row_id": prompt_row, "gen_a": gens["a"],
                                            "gen_b": gens["b"], "sample_idx": 0, "shown_first": first,
                                            "created_at": T0}).last_pk
            if llm_judge:
                db["judgments"].insert({"comparison_id": cid, "judge": llm_judge, "template": "pairwise-v1",
                                        "pass": 0, "shown_first": first, "attempt": 1, "raw": "[[A]]",
                                        "verdict": first, "input_tokens": 10, "output_tokens": 5,
                                        "cache_read_tokens": 0, "cost_usd": 0.001, "judged_at": T0})
            out.append({"comparison_id": cid, "shown_first": first})
    return out


async def wait_for(pilot, condition, tries: int = 100):
    """Let the app run until `condition()` holds (polls are asynchronous); fail if it never does."""
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("condition never held")


# --- a judged ranking of pirate-lora's checkpoints (fill_demo's run 1) ---------------------------

RANK_WINS = {100: 3, 200: 11, 300: 8}  # of RANK_PROMPTS, the prompts on which the checkpoint beat the base


RANK_PROMPTS = 12


def add_ranking(ws: Workspace, judge: str = "anthropic:claude-haiku-5-5", steps=(100, 200, 300)) -> None:
    """Suite rank-suite: base against pirate-lora@step on 12 prompts, judged by `judge` (the checkpoint
    wins the first RANK_WINS[step] prompts), so the stored judgments rank base and the checkpoints."""
    db = ws.store.db
    with ws.store.transaction():
        suite_id = db["suites"].insert({"name": "rank-suite", "source": "test", "sha256": "11" * 32,
                                        "n_prompts": RANK_PROMPTS, "created_at": T0}).last_pk
        for i in range(RANK_PROMPTS):
            prompt_row = db["prompts"].insert({"suite_id": suite_id, "prompt_id": f"r{i}", "idx": i,
                                               "category": "style", "turns_json": json.dumps([f"Rank question {i}?"]),
                                               "reference_json": None}).last_pk

            def generation(label, run, step):
                return db["generations"].insert({
                    "prompt_row_id": prompt_row, "model_key": f"{label}-{i}", "label": label,
                    "model": "smollm2-135m-instruct", "run": run, "step": step,
                    "adapter_sha256": None if run is None else f"{1:02d}{step:06d}" + "0" * 56,
                    "temperature": 0.0, "max_tokens": 64, "seed": 0, "sample_idx": 0,
                    "answers_json": json.dumps([f"{label} says {i}"]), "created_at": T0}).last_pk

            base = generation("base", None, None)
            for step in steps:
                gen = generation(f"pirate-lora@{step}", "pirate-lora", step)
                cid = db["comparisons"].insert({"suite_id": suite_id, "prompt_row_id": prompt_row, "gen_a": base,
                                                "gen_b": gen, "sample_idx": 0, "shown_first": "a",
                                                "created_at": T0}).last_pk
                verdict = "b" if i < RANK_WINS[step] else "a"
                db["judgments"].insert({"comparison_id": cid, "judge": judge, "template": "pairwise-v1",
                                        "pass": 0, "shown_first": "a", "attempt": 1, "raw": f"[[{verdict.upper()}]]",
                                        "verdict": verdict, "input_tokens": 10, "output_tokens": 5,
                                        "cache_read_tokens": 0, "cost_usd": 0.001, "judged_at": T0})
    # The prompt each judgment answered, as brie would have sent it: a stored verdict counts only for
    # the prompt a comparison shows now (brie.judging.tasks.stored_attempts).
    from brie.judging.judges import parse_judge
    from brie.judging.prompts import prompt_sha256
    from brie.judging.tasks import Task
    from brie.store import judging as rows

    spec = parse_judge(judge, ws)
    with ws.store.transaction():
        for c in rows.find_comparisons(ws.store, suite="rank-suite"):
            task = Task(spec, c, 0, c["shown_first"], 1)
            _, system, user = task.prompt()
            db.execute("update judgments set prompt_sha256 = ? where comparison_id = ?",
                       [prompt_sha256(system, user, task.prefill), c["comparison_id"]])
