"""Generations, comparisons, judgments (pairwise), scores (single-answer grading), judge batches."""


def up(db):
    db["generations"].create(
        {
            "id": int,
            "prompt_row_id": int,  # prompts.id
            "model_key": str,  # adapter sha256 for a checkpoint, "base:<model>" for a base model
            "label": str,  # "base" or "<run>@<step>"
            "model": str,  # base model reference
            "run": str,
            "step": int,
            "adapter_sha256": str,
            "temperature": float,
            "max_tokens": int,
            "seed": int,
            "sample_idx": int,
            "answers_json": str,  # JSON list: one answer per user turn
            "created_at": str,
        },
        pk="id",
        not_null={"prompt_row_id", "model_key", "temperature", "max_tokens", "seed", "sample_idx"},
        foreign_keys=[("prompt_row_id", "prompts", "id")],
    )
    # What a rerun looks up to skip work already done.
    db["generations"].create_index(
        ["prompt_row_id", "model_key", "temperature", "max_tokens", "seed", "sample_idx"], unique=True)

    db["comparisons"].create(
        {
            "id": int,
            "suite_id": int,
            "prompt_row_id": int,
            "gen_a": int,
            "gen_b": int,
            "sample_idx": int,
            "shown_first": str,  # "a" | "b": drawn at random once per comparison, then kept
            "created_at": str,
        },
        pk="id",
        not_null={"suite_id", "prompt_row_id", "gen_a", "gen_b", "shown_first"},
        foreign_keys=[("suite_id", "suites", "id"), ("prompt_row_id", "prompts", "id"),
                      ("gen_a", "generations", "id"), ("gen_b", "generations", "id")],
    )
    db["comparisons"].create_index(["gen_a", "gen_b"], unique=True)

    db["judgments"].create(
        {
            "id": int,
            "comparison_id": int,
            "judge": str,  # anthropic:<model> | openai:<model> | openai-compatible:<model>@<url> | human:<name>
            "template": str,  # pairwise-v1 | pairwise-ref-v1 | human
            "pass": int,  # 0: shown in the comparison's order; 1: the swapped order (--swap)
            "shown_first": str,  # "a" | "b" for this judgment
            "attempt": int,  # 1, 2, …: invalid answers are kept and retried up to a limit
            "raw": str,  # the judge's whole answer, as received
            "verdict": str,  # a | b | tie | invalid (mapped back to the models, never a position)
            "input_tokens": int,
            "output_tokens": int,
            "cache_read_tokens": int,
            "cost_usd": float,
            "batch_id": str,
            "judged_at": str,
        },
        pk="id",
        not_null={"comparison_id", "judge", "pass", "shown_first", "attempt", "verdict"},
        foreign_keys=[("comparison_id", "comparisons", "id")],
    )
    db["judgments"].create_index(["comparison_id", "judge", "pass", "attempt"], unique=True)

    db["scores"].create(
        {
            "id": int,
            "generation_id": int,
            "judge": str,
            "template": str,  # single-v1 | single-ref-v1
            "attempt": int,
            "raw": str,
            "score": float,  # 1–10, null when the answer did not parse
            "valid": int,
            "input_tokens": int,
            "output_tokens": int,
            "cache_read_tokens": int,
            "cost_usd": float,
            "judged_at": str,
        },
        pk="id",
        not_null={"generation_id", "judge", "attempt", "valid"},
        foreign_keys=[("generation_id", "generations", "id")],
    )
    db["scores"].create_index(["generation_id", "judge", "attempt"], unique=True)

    # Anthropic Message Batches in flight: the id is stored so a restarted `brie compare --batch`
    # collects the batch it already paid for instead of sending it again.
    db["judge_batches"].create(
        {
            "id": str,  # the provider's batch id
            "judge": str,
            "requests_json": str,  # custom_id -> {comparison_id, pass, attempt, shown_first, template}
            "status": str,  # submitted | collected
            "created_at": str,
            "collected_at": str,
        },
        pk="id",
    )
