"""Which engine made each generation: mlx (mlx-lm) or torch (transformers + peft)."""


def up(db):
    db["generations"].add_column("engine", str)
