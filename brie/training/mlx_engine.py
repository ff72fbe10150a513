"""The MLX engine: mlx-lm's tuner (LoRA layers, loss, evaluation, schedules) in a resumable loop.

The loop is mlx-lm's `train()` (mlx_lm/tuner/trainer.py) step for step — same compiled step, same
per-step `mx.eval`, same batching — with what `train()` cannot do added around it: starting at a
saved step with the optimizer state and data position, checkpoint folders, validation at every
checkpoint for the best one, early stopping, the forgetting guard and callbacks.
"""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path

from brie.models.specs import ADAPTER_FILE
from brie.errors import BrieError
from brie.words import plural
from brie.training.batches import iterate_batches, load_guard, load_splits
from brie.training.context import CONFIG_FILE, RunContext, rng_seed
from brie.training.schedules import check_schedule, learning_rate_schedule

OPTIMIZER_FILE = "optimizer.safetensors"
GRAD_ACCUM_FILE = "grad_accum.safetensors"


def check_options(cfg) -> None:
    """What this engine cannot do, said before a run exists (the lifecycle's preflight calls it)."""
    check_schedule(cfg)


def build_optimizer(cfg, total_steps: int):
    import inspect

    import mlx.optimizers as optim

    lr = learning_rate_schedule(cfg, total_steps)
    cls = {"adam": optim.Adam, "adamw": optim.AdamW, "sgd": optim.SGD,
           "adafactor": optim.Adafactor, "muon": optim.Muon}[cfg.optimizer]
    kwargs = dict(cfg.optimizer_config.get(cfg.optimizer, {}))
    if "weight_decay" in inspect.signature(cls.__init__).parameters:
        kwargs.setdefault("weight_decay", cfg.weight_decay)
    return cls(learning_rate=lr, **kwargs)


def apply_adapters(model, cfg) -> int:
    """Freeze the model and add trainable LoRA/DoRA layers (or unfreeze blocks); returns num_layers."""
    from mlx_lm.tuner.utils import linear_to_lora_layers

    n = len(model.layers) if cfg.num_layers == -1 else cfg.num_layers
    if n > len(model.layers):
        raise BrieError(f"num_layers={cfg.num_layers}: the model has only {plural(len(model.layers), 'layer')}")
    model.freeze()
    if cfg.fine_tune_type == "full":
        for layer in model.layers[-n:]:
            layer.unfreeze()
    else:
        linear_to_lora_layers(model, n, cfg.lora_parameters(), use_dora=cfg.fine_tune_type == "dora")
    return n


def load_start(ctx: RunContext, model):
    """--from RUN@STEP: that checkpoint's adapter into the model's (same-shaped) LoRA layers; its ModelSpec,
    or None without --from. Its sha256 is checked against the one registered (resolve_spec)."""
    from brie.models.specs import resolve_spec

    if not ctx.cfg.init_from:
        return None
    spec = resolve_spec(ctx.ws, ctx.cfg.init_from)
    model.load_weights(str(Path(spec.adapter_path) / ADAPTER_FILE), strict=False)
    return spec


def restore(ctx: RunContext, model, optimizer) -> tuple[int, object, int]:
    """(start step, summed gradients or None, trained tokens) from the resume point, loaded into the
    model and optimizer; (0, None, 0) for a fresh run."""
    import mlx.core as mx
    from mlx.utils import tree_map_with_path

    point = ctx.resume_point()
    if point is None:
        return 0, None, 0
    folder, state = point
    grad_accum = None
    model.load_weights(str(folder / ADAPTER_FILE), strict=False)
    optimizer.init(model.trainable_parameters())
    saved = mx.load(str(folder / OPTIMIZER_FILE))
    optimizer.state = tree_map_with_path(lambda path, v: saved.get(path, v), optimizer.state)
    if (folder / GRAD_ACCUM_FILE).exists():  # shaped like the gradients: the trainable parameters
        summed = mx.load(str(folder / GRAD_ACCUM_FILE))
        grad_accum = tree_map_with_path(lambda path, v: summed[path], model.trainable_parameters())
    ctx.callback.on_message(f"Resuming {ctx.run['name']} from step {state['step']} ({folder.name}).")
    return state["step"], grad_accum, state.get("trained_tokens", 0)


def checkpoint_writer(ctx: RunContext, model, optimizer, num_layers: int, grad_accum):
    """write_files(folder) for ctx.save_checkpoint: adapter, its config, optimizer state and, in the
    middle of gradient accumulation, the summed gradients (`grad_accum()` gives them or None)."""
    import mlx.core as mx
    from mlx.utils import tree_flatten

    def write_files(folder: Path):
        mx.save_safetensors(str(folder / ADAPTER_FILE), dict(tree_flatten(model.trainable_parameters())))
        (folder / CONFIG_FILE).write_text(json.dumps(ctx.adapter_config(num_layers), indent=2))
        mx.save_safetensors(str(folder / OPTIMIZER_FILE), dict(tree_flatten(optimizer.state)))
        summed = grad_accum()
        if summed is not None:  # a checkpoint in the middle of gradient accumulation
            mx.save_safetensors(str(folder / GRAD_ACCUM_FILE), dict(tree_flatten(summed)))

    return write_files


def train(ctx: RunContext) -> None:
    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim
    from mlx.nn.utils import average_gradients
    from mlx.utils import tree_map
    from mlx_lm.tuner.trainer import default_loss, evaluate, grad_checkpoint

    from brie.models.registry import load_model

    cfg = ctx.cfg
    say = ctx.callback.on_message
    model, tokenizer = load_model(ctx.ws, cfg.model)
    train_set, valid_set = load_splits(ctx.data_path, tokenizer, cfg)
    guard_set = load_guard(ctx.guard_path, tokenizer) if ctx.guard_path else None
    total, per_epoch = ctx.plan_steps(len(train_set), valid_set is not None)

    mx.random.seed(cfg.seed)  # LoRA initialisation
    num_layers = apply_adapters(model, cfg)
    load_start(ctx, model)
    optimizer = build_optimizer(cfg, total)

    start, grad_accum, trained_tokens = restore(ctx, model, optimizer)
    mx.random.seed(rng_seed(cfg.seed, start))
    if start >= total:
        say(f"Run {ctx.run['name']} is already at step {start} of {total}.")
        return
    ctx.callback.on_start(ctx.run, start, total)

    # mlx-lm's grad_checkpoint patches the block's class, not the model: undone when the loop ends,
    # or every later run in this process (the UI, tests) would checkpoint too
    block_class = type(model.layers[0])
    block_call = block_class.__call__
    if cfg.grad_checkpoint:
        grad_checkpoint(model.layers[0])
    loss_value_and_grad = nn.value_and_grad(model, default_loss)
    accum_steps = cfg.grad_accumulation_steps
    state = [model.state, optimizer.state, mx.random.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def step_fn(batch, prev_grad, do_update):
        (lvalue, toks), grad = loss_value_and_grad(model, *batch)
        if prev_grad is not None:
            grad = tree_map(lambda x, y: x + y, grad, prev_grad)
        if do_update:
            grad = average_gradients(grad)
            if accum_steps > 1:
                grad = tree_map(lambda x: x / accum_steps, grad)
            if cfg.grad_clip:
                grad, _ = optim.clip_grad_norm(grad, cfg.grad_clip)
            optimizer.update(model, grad)
            grad = None
        return lvalue, toks, grad

    eval_batches = partial(iterate_batches, seed=0)  # the same validation batches every time

    def loss_on(dataset, batches):
        if dataset is None:
            return None
        bs = min(cfg.batch_size, len(dataset))
        value = evaluate(model=model, dataset=dataset, batch_size=bs, num_batches=batches,
                         max_seq_length=cfg.max_seq_length, iterate_batches=eval_batches)
        model.train()
        return value

    def run_eval(step):
        val = loss_on(valid_set, cfg.val_batches)
        guard = loss_on(guard_set, cfg.guard_batches)
        return val, ctx.evaluated(step, val, guard)

    write_files = checkpoint_writer(ctx, model, optimizer, num_layers, lambda: grad_accum)

    if start == 0 and (valid_set is not None or guard_set is not None):
        run_eval(0)  # the base model's losses: where validation starts and what the guard compares to

    try:
        model.train()
        losses, n_tokens, steps, train_time, last_train = 0, 0, 0, 0.0, None
        group = mx.distributed.init()
        world = group.size()
        batches = iterate_batches(train_set, cfg.batch_size, cfg.max_seq_length, loop=True, seed=cfg.seed,
                                  start=start, comm_group=group)
        for it, batch in zip(range(start + 1, total + 1), batches):
            tic = time.perf_counter()
            lvalue, toks, grad_accum = step_fn(batch, grad_accum, it % accum_steps == 0)
            losses += lvalue
            n_tokens += toks
            steps += 1
            mx.eval(state, losses, n_tokens, grad_accum)
            if cfg.clear_cache_threshold and mx.get_cache_memory() > cfg.clear_cache_threshold:
                mx.clear_cache()
            train_time += time.perf_counter() - tic
            ctx.callback.on_step(it)

            save = it % cfg.save_every == 0 or it == total
            if it % cfg.steps_per_report == 0 or save:
                # under mlx.launch, every rank's share of the batches, as mlx-lm reports it
                last_train = mx.distributed.all_sum(losses, stream=mx.cpu).item() / (steps * world)
                ntok = mx.distributed.all_sum(n_tokens, stream=mx.cpu).item()
                trained_tokens += ntok
                ctx.trained(it, last_train, optimizer.learning_rate.item(), ntok, steps, train_time, trained_tokens,
                            mx.get_peak_memory() / 1e9)
                losses, n_tokens, steps, train_time = 0, 0, 0, 0.0

            stop = val = None
            if (valid_set is not None or guard_set is not None) and (it % cfg.eval_every == 0 or save):
                val, stop = run_eval(it)
            if save or stop:
                ctx.save_checkpoint(it, it / per_epoch, last_train, val, write_files,
                                    {"trained_tokens": trained_tokens})
                mx.random.seed(rng_seed(cfg.seed, it))
            if stop:
                ctx.stop_reason = stop
                say(stop)
                break
    finally:
        block_class.__call__ = block_call
