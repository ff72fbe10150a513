"""Preference training on MLX (`brie train --method dpo|orpo`): mlx-lm-lora's losses in brie's run loop.

mlx-lm-lora (mlx_lm_lora/trainer/dpo_trainer.py, orpo_trainer.py) gives the collaborators: the
datasets (`DPODataset`, `ORPODataset`: prompt/chosen/rejected through the chat template, the
prompt masked), the batch builders (`iterate_dpo_batches`, `iterate_orpo_batches`), the losses
(`dpo_loss` over `get_token_scores`/`compute_score`, `orpo_loss_from_model`) and the evaluations
(`evaluate_dpo`, `evaluate_orpo`). Its `train_dpo`/`train_orpo` loops cannot start at a saved step
or data position, so the loop is brie's, step for step theirs (same compiled step, same
reference-model handling, same per-step `mx.eval`), with what the SFT engine adds around it:
resume (adapter, optimizer, step, data position), checkpoint folders with sha256, validation at
every checkpoint, early stopping on the validation preference loss, the forgetting guard.

The reference model of DPO is the starting point, frozen: the base model, or the base with the
`--from RUN@STEP` adapter. ORPO needs none. The metrics recorded beside the SFT engine's are
mlx-lm-lora's, under brie's names: `reward_chosen`, `reward_rejected`, `reward_margin` and
`preference_accuracy` (and the same with `val_` at each evaluation); `train_loss`/`val_loss` are
the preference loss.
"""

from __future__ import annotations

import json
import time
from functools import partial
from pathlib import Path

from brie.errors import BrieError
from brie.training.context import RunContext, rng_seed
from brie.training.distributed import launch_rank
from brie.training.mlx_engine import apply_adapters, build_optimizer, checkpoint_writer, load_start, restore
from brie.training.schedules import check_schedule


def check_options(cfg) -> None:
    """What preference training cannot do, said before a run exists (the lifecycle's preflight calls it)."""
    check_schedule(cfg)
    try:
        import mlx_lm_lora.trainer.dpo_trainer  # noqa: F401
    except ImportError:
        raise BrieError(f"--method {cfg.method} needs mlx-lm-lora, which cannot be imported; "
                        "pip install mlx-lm-lora") from None
    if launch_rank()[1] > 1:
        raise BrieError(f"--method {cfg.method} trains in one process (not under mlx.launch)")
    if cfg.method != "dpo" and cfg.dpo_loss_type != "sigmoid":
        raise BrieError(f"dpo_loss_type={cfg.dpo_loss_type!r} is a DPO setting; --method {cfg.method} has none")


def read_pairs(path: Path) -> list[dict] | None:
    """The preference rows of one split file (None when absent or empty), as the trainers read them.
    A null `system` is no system message, as the importer has it (mlx-lm-lora's datasets would
    render it as one holding None)."""
    if not path.exists():
        return None
    rows = []
    for n, line in enumerate(path.read_bytes().split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as e:  # RecursionError: nesting deeper than json can read
            raise BrieError(f"{path} line {n}: not JSON ({e})") from None
        if not isinstance(row, dict) or not all(isinstance(row.get(k), str) for k in ("prompt", "chosen", "rejected")):
            raise BrieError(f"{path} line {n}: a preference row needs prompt, chosen and rejected as text")
        if row.get("system", "") is None:
            del row["system"]
        if not isinstance(row.get("system", ""), str):
            raise BrieError(f"{path} line {n}: system, when given, is text")
        rows.append(row)
    return rows or None


class _Rows:
    """Some rows of a dataset, so mlx-lm-lora's batch builder makes exactly the batch brie chose."""

    def __init__(self, dataset, ids):
        self.dataset, self.ids = dataset, ids

    def __getitem__(self, i):
        return self.dataset[self.ids[i]]

    def __len__(self):
        return len(self.ids)


def preference_order(lengths: list[int], batch_size: int, seed: int = 0, start: int = 0):
    """The examples of each batch, without end, in an order fixed by `seed` and able to start at batch
    `start` (the saved data position): mlx-lm-lora draws its order from numpy's global generator, which a
    resumed run cannot replay. As there, examples are grouped by length (`lengths`, of the chosen
    answer) into batches; their train_dpo/train_orpo then draw one of those batches at random for every
    step (with replacement), while here each batch comes once an epoch, in an order shuffled per epoch."""
    import numpy as np

    if len(lengths) < batch_size:
        raise BrieError(f"the preference set has {len(lengths)} pairs, fewer than batch_size={batch_size}")
    idx = sorted(range(len(lengths)), key=lambda i: lengths[i])
    groups = [idx[i:i + batch_size] for i in range(0, len(idx) - batch_size + 1, batch_size)]
    rng = np.random.RandomState(seed)
    position = 0
    while True:
        for i in rng.permutation(len(groups)):
            position += 1
            if position > start:
                yield groups[i]


def preference_batches(dataset, batch_size: int, max_seq_length: int, build, seed: int = 0, start: int = 0):
    """The batches of `preference_order`, padded and masked by `build` (mlx-lm-lora's iterate_dpo_batches
    or iterate_orpo_batches)."""
    lengths = [len(dataset[i]["chosen"]) for i in range(len(dataset))]
    for ids in preference_order(lengths, batch_size, seed, start):
        yield next(build(_Rows(dataset, ids), batch_size, max_seq_length))


def train(ctx: RunContext) -> None:
    import mlx.core as mx
    import mlx.nn as nn
    import mlx.optimizers as optim
    from mlx.utils import tree_map
    from mlx_lm.tuner.trainer import default_loss, evaluate, grad_checkpoint
    from mlx_lm_lora.trainer import dpo_trainer as dpo
    from mlx_lm_lora.trainer import orpo_trainer as orpo
    from mlx_lm_lora.trainer.datasets import DPODataset, ORPODataset

    from brie.models.registry import load_model
    from brie.training.batches import iterate_batches, load_guard

    cfg = ctx.cfg
    say = ctx.callback.on_message
    model, tokenizer = load_model(ctx.ws, cfg.model)
    rows = {s: read_pairs(ctx.data_path / f"{s}.jsonl") for s in ("train", "valid")}
    if rows["train"] is None:
        raise BrieError(f"{ctx.data_path / 'train.jsonl'}: no preference pairs")
    make = (partial(DPODataset, tokenizer=tokenizer) if cfg.method == "dpo"
            else partial(ORPODataset, tokenizer=tokenizer, system_key="system"))
    try:
        train_set = make(rows["train"])
        valid_set = make(rows["valid"]) if rows["valid"] else None
    except (ValueError, KeyError, TypeError) as e:
        raise BrieError(f"{ctx.data_path}: cannot tokenize the preference pairs ({e})") from None
    guard_set = load_guard(ctx.guard_path, tokenizer) if ctx.guard_path else None
    total, per_epoch = ctx.plan_steps(len(train_set), valid_set is not None)

    mx.random.seed(cfg.seed)  # LoRA initialisation
    num_layers = apply_adapters(model, cfg)
    start_spec = load_start(ctx, model)
    reference = None
    if cfg.method == "dpo":  # the starting point, frozen (mlx-lm-lora's load_reference_model)
        reference, _ = load_model(ctx.ws, cfg.model, adapter_path=start_spec.adapter_path if start_spec else None)
        reference.freeze()
    optimizer = build_optimizer(cfg, total)
    start, grad_accum, trained_tokens = restore(ctx, model, optimizer)
    mx.random.seed(rng_seed(cfg.seed, start))
    if start >= total:
        say(f"Run {ctx.run['name']} is already at step {start} of {total}.")
        return
    ctx.callback.on_start(ctx.run, start, total)

    if cfg.method == "dpo":
        def scores(m, tokens, masks):
            return dpo.compute_score(dpo.get_token_scores(m, tokens, masks), masks, cfg.dpo_loss_type)

        def loss_fn(chosen, rejected, chosen_masks, rejected_masks):  # train_dpo's loss_wrapper
            policy_chosen, policy_rejected = scores(model, chosen, chosen_masks), scores(model, rejected, rejected_masks)
            ref_chosen = mx.stop_gradient(scores(reference, chosen, chosen_masks))
            ref_rejected = mx.stop_gradient(scores(reference, rejected, rejected_masks))
            return dpo.dpo_loss(policy_chosen_score=policy_chosen, policy_rejected_score=policy_rejected,
                                reference_chosen_score=ref_chosen, reference_rejected_score=ref_rejected,
                                chosen_masks=chosen_masks, rejected_masks=rejected_masks, beta=cfg.beta,
                                delta=cfg.delta, loss_type=cfg.dpo_loss_type)

        build = partial(dpo.iterate_dpo_batches, train=False)

        def evaluate_set(dataset, batches):
            loss, rewards, _, metrics = dpo.evaluate_dpo(
                model=model, ref_model=reference, dataset=dataset, batch_size=min(cfg.batch_size, len(dataset)),
                num_batches=batches, beta=cfg.beta, delta=cfg.delta, max_seq_length=cfg.max_seq_length,
                loss_type=cfg.dpo_loss_type)
            return loss, rewards, metrics
    else:
        def loss_fn(chosen, rejected, chosen_masks, rejected_masks, preference_scores):
            return orpo.orpo_loss_from_model(model, chosen, rejected, chosen_masks, rejected_masks,
                                             preference_scores, beta=cfg.beta)

        build = partial(orpo.iterate_orpo_batches, train=False)

        def evaluate_set(dataset, batches):
            loss, rewards, _, metrics = orpo.evaluate_orpo(
                model=model, dataset=dataset, batch_size=min(cfg.batch_size, len(dataset)), num_batches=batches,
                beta=cfg.beta, max_seq_length=cfg.max_seq_length)
            return loss, rewards, metrics

    block_class = type(model.layers[0])
    block_call = block_class.__call__
    if cfg.grad_checkpoint:
        grad_checkpoint(model.layers[0])
    loss_value_and_grad = nn.value_and_grad(model, loss_fn)
    accum_steps = cfg.grad_accumulation_steps
    state = [model.state, optimizer.state, mx.random.state]

    @partial(mx.compile, inputs=state, outputs=state)
    def step_fn(batch, prev_grad, do_update):
        (lvalue, reward, toks, metrics), grad = loss_value_and_grad(*batch)
        if prev_grad is not None:
            grad = tree_map(lambda x, y: x + y, grad, prev_grad)
        if do_update:
            if accum_steps > 1:
                grad = tree_map(lambda x: x / accum_steps, grad)
            if cfg.grad_clip:
                grad, _ = optim.clip_grad_norm(grad, cfg.grad_clip)
            optimizer.update(model, grad)
            grad = None
        return lvalue, reward, toks, metrics["accuracies"], metrics["margins"], grad

    def named(rewards, accuracy, margin, prefix=""):
        return {f"{prefix}reward_chosen": rewards[0], f"{prefix}reward_rejected": rewards[1],
                f"{prefix}reward_margin": margin, f"{prefix}preference_accuracy": accuracy}

    def run_eval(step):
        val = extra = guard = None
        if valid_set is not None:
            val, rewards, metrics = evaluate_set(valid_set, cfg.val_batches)
            extra = named(rewards, metrics["accuracies"], metrics["margins"], "val_")
        if guard_set is not None:  # the forgetting guard is a plain language-modelling loss, as in SFT
            guard = evaluate(model=model, dataset=guard_set, batch_size=min(cfg.batch_size, len(guard_set)),
                             num_batches=cfg.guard_batches, max_seq_length=cfg.max_seq_length,
                             loss=default_loss, iterate_batches=partial(iterate_batches, seed=0))
        model.train()
        return val, ctx.evaluated(step, val, guard, extra)

    write_files = checkpoint_writer(ctx, model, optimizer, num_layers, lambda: grad_accum)
    if start == 0 and (valid_set is not None or guard_set is not None):
        run_eval(0)  # the starting point: zero margin against the reference, and the guard's base loss

    try:
        model.train()
        losses, rewards, accuracy, margin, n_tokens, steps, train_time, last_train = 0, 0, 0, 0, 0, 0, 0.0, None
        batches = preference_batches(train_set, cfg.batch_size, cfg.max_seq_length, build, seed=cfg.seed, start=start)
        for it, batch in zip(range(start + 1, total + 1), batches):
            tic = time.perf_counter()
            lvalue, reward, toks, acc, marg, grad_accum = step_fn(batch, grad_accum, it % accum_steps == 0)
            losses, rewards, accuracy, margin, n_tokens = (losses + lvalue, rewards + reward, accuracy + acc,
                                                           margin + marg, n_tokens + toks)
            steps += 1
            mx.eval(state, losses, rewards, accuracy, margin, n_tokens, grad_accum)
            if cfg.clear_cache_threshold and mx.get_cache_memory() > cfg.clear_cache_threshold:
                mx.clear_cache()
            train_time += time.perf_counter() - tic
            ctx.callback.on_step(it)

            save = it % cfg.save_every == 0 or it == total
            if it % cfg.steps_per_report == 0 or save:
                last_train = losses.item() / steps
                ntok = n_tokens.item()
                trained_tokens += ntok
                ctx.trained(it, last_train, optimizer.learning_rate.item(), ntok, steps, train_time, trained_tokens,
                            mx.get_peak_memory() / 1e9,
                            named([r / steps for r in rewards.tolist()], accuracy.item() / steps, margin.item() / steps))
                losses, rewards, accuracy, margin, n_tokens, steps, train_time = 0, 0, 0, 0, 0, 0, 0.0

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
