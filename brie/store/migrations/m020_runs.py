"""Training runs, their checkpoints and metrics."""


def up(db):
    db["runs"].create(
        {
            "id": int,
            "name": str,
            "model": str,  # base model reference as resolved (registered name, folder or hub id)
            "dataset_id": int,
            "backend": str,  # mlx | torch
            "method": str,  # lora | dora | full
            "status": str,  # pending | running | completed | failed | cancelled
            "dry_run": int,
            "config_json": str,  # the resolved config, as in runs/<run>/config.yaml
            "path": str,  # runs/<run>/
            "pid": int,
            "step": int,
            "total_steps": int,
            "best_step": int,
            "recommended_step": int,
            "error": str,
            "created_at": str,
            "started_at": str,
            "ended_at": str,
        },
        pk="id",
        not_null={"name", "status"},
        foreign_keys=[("dataset_id", "datasets", "id")],
    )
    db["runs"].create_index(["name"], unique=True)
    db["checkpoints"].create(
        {
            "id": int,
            "run_id": int,
            "step": int,
            "epoch": float,
            "train_loss": float,
            "val_loss": float,
            "path": str,  # runs/<run>/checkpoints/<step>/
            "adapter_sha256": str,  # sha256 of the adapter weights file: the checkpoint's identity
            "size_bytes": int,
            "created_at": str,
        },
        pk="id",
        not_null={"run_id", "step", "adapter_sha256"},
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["checkpoints"].create_index(["run_id", "step"], unique=True)
    db["metrics"].create(
        {"id": int, "run_id": int, "step": int, "name": str, "value": float, "at": str},
        pk="id",
        foreign_keys=[("run_id", "runs", "id")],
    )
    db["metrics"].create_index(["run_id", "name", "step"])
