"""Datasets (immutable, content-addressed, versioned) and prompt suites."""


def up(db):
    db["datasets"].create(
        {
            "id": int,
            "name": str,
            "version": int,  # 1, 2, … — `--replace` adds a version; old ones stay for their runs
            "sha256": str,  # of the normalized split files, in a fixed order
            "format": str,  # chat | completions | text
            "source": str,
            "path": str,  # data/<name>/ (or data/<name>/v<version>/); loads in mlx_lm.lora --data
            "sample_ratio": float,
            "seed": int,
            "rows_train": int,
            "rows_valid": int,
            "rows_test": int,
            "report_json": str,
            "created_at": str,
        },
        pk="id",
        not_null={"name", "version", "sha256"},
    )
    db["datasets"].create_index(["name", "version"], unique=True)
    db["suites"].create(
        {"id": int, "name": str, "source": str, "sha256": str, "n_prompts": int, "created_at": str},
        pk="id",
        not_null={"name"},
    )
    db["suites"].create_index(["name"], unique=True)
    db["prompts"].create(
        {
            "id": int,
            "suite_id": int,
            "prompt_id": str,  # the file's id, or the line number when it has none
            "idx": int,
            "category": str,
            "turns_json": str,  # JSON list of user turns (one for a plain prompt)
            "reference_json": str,  # JSON list of reference answers per turn, or null
        },
        pk="id",
        foreign_keys=[("suite_id", "suites", "id")],
    )
    db["prompts"].create_index(["suite_id", "prompt_id"], unique=True)
