"""The learning-rate schedule, one for both engines: mlx.optimizers' schedules, as mlx-lm builds them.

The MLX engine hands the schedule to its optimizer; the torch engine sets each update's learning
rate from the same schedule, so a config (`lr_schedule: {name, arguments, warmup, warmup_init}` or
brie's learning_rate / lr_decay / warmup_steps / min_lr) means the same on either backend.
"""

from __future__ import annotations

import math

from brie.errors import BrieError

EXAMPLE = "{name: cosine_decay, arguments: [1e-4, 1000, 1e-6], warmup: 100}"


def check_schedule(cfg) -> None:
    """An lr_schedule mlx-lm cannot build is refused before a run exists."""
    if cfg.lr_schedule:
        import mlx.core as mx
        from mlx_lm.tuner.utils import build_schedule

        try:
            schedule = build_schedule(cfg.lr_schedule)
            # MLX's schedules check their arguments only when called (a warmup_init given as text
            # fails at the first step): call it at the first update and after the warmup.
            for step in (0, int(cfg.lr_schedule.get("warmup", 0) or 0) + 1):
                float(schedule(mx.array(step)))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            raise BrieError(f"lr_schedule={cfg.lr_schedule!r}: mlx-lm cannot build it ({e}); e.g. {EXAMPLE}") from None


def learning_rate_schedule(cfg, total_steps: int):
    """What mlx.optimizers takes as learning_rate: a schedule of the update count, or a constant."""
    import mlx.core as mx
    import mlx.optimizers as optim
    from mlx_lm.tuner.utils import build_schedule

    if cfg.lr_schedule:
        return build_schedule(cfg.lr_schedule)
    updates = max(math.ceil(total_steps / cfg.grad_accumulation_steps), 1)
    main = (optim.cosine_decay(cfg.learning_rate, max(updates - cfg.warmup_steps, 1), cfg.min_lr)
            if cfg.lr_decay == "cosine" else (lambda _: mx.array(cfg.learning_rate)))
    if cfg.warmup_steps:
        return optim.join_schedules([optim.linear_schedule(0.0, cfg.learning_rate, cfg.warmup_steps), main],
                                    [cfg.warmup_steps])
    return main if cfg.lr_decay == "cosine" else cfg.learning_rate


def learning_rate_at(cfg, total_steps: int):
    """The schedule as a plain function: update count → learning rate (a float)."""
    import mlx.core as mx

    schedule = learning_rate_schedule(cfg, total_steps)
    if not callable(schedule):
        return lambda step: float(schedule)
    return lambda step: float(schedule(mx.array(step)))
