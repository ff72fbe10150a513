"""Evaluation results (one row per model identity × benchmark × settings) and their per-item samples."""


def up(db):
    db["eval_results"].create(
        {
            "id": int,
            # what was evaluated: the checkpoint identity (base model + adapter sha256, or "base")
            "model_key": str,  # "<model>|<adapter_sha256 or base>": one string so the unique index works
            "label": str,  # "base" or "brie-v2@290", as resolved when the evaluation started
            "model": str,
            "run": str,
            "step": int,
            "adapter_sha256": str,
            "benchmark": str,  # "gsm8k", "mcq:arc.jsonl", "perplexity:chat", …
            # shots, max_tokens, judge… (canonical JSON, part of the identity). Not --limit: items
            # are a fixed order, so a larger --limit extends the same result instead of starting over.
            "settings_json": str,
            "n_items": int,  # items the latest evaluation covered (after --limit)
            "n_available": int,  # items the benchmark has (n_items < n_available: a --limit subset)
            "n_done": int,
            "metrics_json": str,  # aggregate metrics over the stored samples
            "status": str,  # running | completed | failed
            "error": str,
            "started_at": str,
            "ended_at": str,
        },
        pk="id",
        not_null={"model_key", "benchmark", "settings_json", "status"},
    )
    db["eval_results"].create_index(["model_key", "benchmark", "settings_json"], unique=True)
    db["eval_results"].create_index(["run", "step"])
    db["eval_samples"].create(
        {
            "id": int,
            "result_id": int,
            "item_idx": int,  # position in the benchmark's item list: what paired deltas join on
            "item_id": str,
            "input": str,
            "output": str,
            "target": str,
            "scores_json": str,  # per-item metrics, e.g. {"strict": 1, "flexible": 1}
            "created_at": str,
        },
        pk="id",
        foreign_keys=[("result_id", "eval_results", "id")],
    )
    db["eval_samples"].create_index(["result_id", "item_idx"], unique=True)
