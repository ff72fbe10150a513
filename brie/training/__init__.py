"""Training runs: LoRA, DoRA or full fine-tunes as resumable runs with checkpoints.

Modules:
  config        TrainConfig: one dataclass with help on each field; YAML and CLI overrides
  lifecycle     the run lifecycle: preflight, create, run through an engine, resume, reap dead runs,
                start `brie train` as its own process (for the UI)
  context       the contract an engine works in: RunContext (records, warnings, checkpoints,
                resume point, early stopping), TrainCallback, the run folder's files
  data          where a run's data is (a dataset version or a folder) and the guard's file
  batches       batches for both engines: mlx-lm's datasets and order, resumable at a position
  schedules     the one learning-rate schedule both engines follow
  monitor       early stopping and the forgetting guard
  distributed   several processes on one run: rank, and sharing the main process's decisions
  mlx_engine    train(ctx) through mlx-lm's tuner
  torch_engine  train(ctx) through transformers + peft (the CUDA path)
  preference    train(ctx) for --method dpo|orpo on MLX: mlx-lm-lora's datasets, losses and
                evaluations in a resumable loop
  torch_preference  train(ctx) for --method dpo on torch: TRL's DPO loss, collator and metrics in
                the torch engine's loop
  housekeeping  pruning checkpoints, deleting and cancelling runs
  transfer      runs between machines: `runs pack` (one archive) and `runs import` (a brie run,
                an mlx-lm or a peft adapter folder, each checkpoint checked)
"""
