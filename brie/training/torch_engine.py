"""The torch engine: transformers + peft, on CUDA when present, else CPU (`brie train --backend torch`).

Same batches (brie.training.batches, as numpy), same loss (mlx-lm's default_loss: summed token
cross-entropy over the unmasked tokens), same schedule (brie.training.schedules), checkpoints, resume,
early stopping and forgetting guard (brie.training.context). A checkpoint folder holds:

    adapters.safetensors + adapter_config.json   the LoRA converted to mlx-lm's layout, so brie's
                                                 generation, judging and `mlx_lm.load` use it as is
    peft/                                        the same adapter in peft's own format
    optimizer.pt, trainer_state.json             optimizer + scheduler state; step, data position

Several GPUs: `accelerate launch -m brie train --backend torch …` (or torchrun). Every process
trains its share of each batch (the batch is split across processes, as mlx-lm does), gradients
are averaged by the Accelerator's DistributedDataParallel, and only the main process writes the
store, metrics and checkpoints (RunContext.main).
"""

from __future__ import annotations

import time
from pathlib import Path

from brie.models.specs import ADAPTER_FILE
from brie.errors import BrieError
from brie.training.batches import iterate_batches, load_guard, load_splits
from brie.training.context import CONFIG_FILE, RunContext, rng_seed
from brie.training.schedules import check_schedule, learning_rate_at

OPTIMIZER_FILE = "optimizer.pt"


OPTIMIZERS = ("adam", "adamw", "sgd")


def check_options(cfg) -> None:
    """What this engine cannot do, said before a run exists (the lifecycle's preflight calls it)."""
    if cfg.init_from:
        raise BrieError(f"--from {cfg.init_from}: the torch backend starts from the base model; use --backend mlx")
    if cfg.fine_tune_type == "dora":
        raise BrieError("fine_tune_type=dora: the torch backend trains lora or full; use --backend mlx for dora")
    if cfg.optimizer not in OPTIMIZERS:
        raise BrieError(f"optimizer={cfg.optimizer!r}: the torch backend has {', '.join(OPTIMIZERS)}; "
                        f"use --backend mlx for {cfg.optimizer}")
    check_schedule(cfg)


def optimizer_for(cfg, params):
    import torch

    extra = dict(cfg.optimizer_config.get(cfg.optimizer, {}))
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay, **extra)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay, **extra)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.learning_rate, weight_decay=cfg.weight_decay, **extra)
    raise BrieError(f"optimizer={cfg.optimizer!r}: the torch backend has {', '.join(OPTIMIZERS)}")


def _mlx_adapter(peft_model, cfg) -> dict:
    """peft LoRA weights in mlx-lm's LoRALinear layout: lora_a = A^T, lora_b = B^T (same alpha/rank scale)."""
    if cfg.fine_tune_type == "full":  # the trained blocks only, as the MLX engine saves them
        return {name: p.detach().float().cpu().numpy() for name, p in peft_model.named_parameters() if p.requires_grad}
    return peft_lora_to_mlx((name, t.detach().float().cpu().numpy()) for name, t in peft_model.state_dict().items())


def peft_lora_to_mlx(tensors) -> dict:
    """(name, array) pairs of a peft LoRA (a live model's state_dict, or adapter_model.safetensors)
    in mlx-lm's LoRALinear layout: lora_a = A^T, lora_b = B^T; other tensors are left out.
    `brie runs import` converts peft folders with it (brie.training.transfer)."""
    import numpy as np

    out = {}
    for name, array in tensors:
        if ".lora_A." not in name and ".lora_B." not in name:
            continue
        base = name.replace("base_model.model.", "", 1)
        module, kind = base.split(".lora_")[0], base.split(".lora_")[1][0]
        out[f"{module}.lora_{kind.lower()}"] = np.ascontiguousarray(np.asarray(array, dtype=np.float32).T)
    return out


def adapt(model, cfg):
    """(model, n): LoRA (peft) on the top n blocks, or those blocks unfrozen for a full fine-tune,
    as the MLX engine adapts them."""
    import torch

    layers = model.model.layers
    n = len(layers) if cfg.num_layers == -1 else cfg.num_layers
    if n > len(layers):
        raise BrieError(f"num_layers={cfg.num_layers}: the model has only {len(layers)} layers")
    if cfg.fine_tune_type == "full":
        for p in model.parameters():
            p.requires_grad_(False)
        for layer in layers[len(layers) - n:]:
            for p in layer.parameters():
                p.requires_grad_(True)
        return model, n
    from peft import LoraConfig, get_peft_model

    # mlx-lm's default: every linear layer inside the blocks (named here, since peft's
    # "all-linear" shortcut cannot be combined with layers_to_transform)
    names = cfg.keys or [k for k, m in layers[0].named_modules() if isinstance(m, torch.nn.Linear)]
    targets = sorted({k.split(".")[-1] for k in names})
    return get_peft_model(model, LoraConfig(
        r=cfg.rank, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=targets,
        layers_to_transform=list(range(len(layers) - n, len(layers))), task_type="CAUSAL_LM")), n


def start_training(ctx: RunContext, model, total: int, device):
    """(params, optimizer, scheduler, step, trained tokens) for a run of `total` steps: the optimizer
    and its learning-rate schedule over the trainable parameters and, for a resumed run, its
    checkpoint's trainable weights, optimizer, scheduler and the gradients accumulated so far put
    back (the main process's checkpoint, on every process); step 0 for a new run. The random seed is
    set for the step it starts from."""
    import torch

    cfg = ctx.cfg
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = optimizer_for(cfg, params)
    lr_at = learning_rate_at(cfg, total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: lr_at(step) / cfg.learning_rate)
    start, trained_tokens = _resume(ctx, model, optimizer, scheduler, params, device)
    torch.manual_seed(rng_seed(cfg.seed, start))
    return params, optimizer, scheduler, start, trained_tokens


def _resume(ctx: RunContext, model, optimizer, scheduler, params, device) -> tuple[int, int]:
    import torch

    point = ctx.resume_point()
    if point is None:
        return 0, 0
    folder, state = point
    saved = torch.load(folder / OPTIMIZER_FILE, map_location=device, weights_only=False)
    model.load_state_dict(saved["trainable"], strict=False)
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    for p, g in zip(params, saved["grads"]):
        p.grad = None if g is None else g.to(device)
    ctx.callback.on_message(f"Resuming {ctx.run['name']} from step {state['step']} ({folder.name}).")
    return state["step"], state.get("trained_tokens", 0)


class _Shard:
    """This process's place in a launch, shaped like the mx.distributed group iterate_batches takes."""

    def __init__(self, rank: int, size: int):
        self._rank, self._size = rank, size

    def rank(self) -> int:
        return self._rank

    def size(self) -> int:
        return self._size


def train(ctx: RunContext) -> None:
    import torch
    from accelerate import Accelerator
    from safetensors.numpy import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from brie.models.registry import resolve_model

    cfg = ctx.cfg
    check_options(cfg)
    say = ctx.callback.on_message
    # One process, or one of several under `accelerate launch`; brie does its own gradient
    # accumulation (as mlx-lm counts it), so the Accelerator's is left at 1.
    # Without CUDA, cpu=True: the processes of a launch then talk over gloo.
    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    device = accelerator.device
    world = accelerator.num_processes
    path = resolve_model(ctx.ws, cfg.model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16 if device.type == "cuda" else torch.float32)
    model.to(device)
    train_set, valid_set = load_splits(ctx.data_path, tokenizer, cfg)
    guard_set = load_guard(ctx.guard_path, tokenizer) if ctx.guard_path else None
    total, per_epoch = ctx.plan_steps(len(train_set), valid_set is not None)

    torch.manual_seed(cfg.seed)  # LoRA initialisation
    model, n = adapt(model, cfg)
    params, optimizer, scheduler, start, trained_tokens = start_training(ctx, model, total, device)
    if start >= total:
        return
    ctx.callback.on_start(ctx.run, start, total)
    if cfg.grad_checkpoint:
        # non-reentrant: works with peft's frozen inputs and with DistributedDataParallel
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    # The scheduler stays outside prepare(): accelerate's wrapper would step it once per process.
    # Gradients are averaged across processes at every backward (no no_sync), so the gradients a
    # checkpoint saves in the middle of accumulation are the same on every process.
    model, optimizer = accelerator.prepare(model, optimizer)
    bare = accelerator.unwrap_model(model)

    def loss_fn(batch, bounds):
        batch = torch.from_numpy(batch).long().to(device)
        bounds = torch.from_numpy(bounds).long().to(device)
        logits = model(input_ids=batch[:, :-1]).logits.float()
        targets = batch[:, 1:]
        steps = torch.arange(1, targets.shape[1] + 1, device=device)
        mask = (steps >= bounds[:, 0:1]) & (steps <= bounds[:, 1:])
        ce = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets, reduction="none") * mask
        ntoks = mask.sum()
        return ce.sum() / ntoks, ntoks

    def loss_on(dataset, batches):
        """Every process scores the whole set; the mean over processes makes the numbers (and so
        early-stopping decisions) identical everywhere."""
        if dataset is None:
            return None
        model.eval()
        total_loss, total_toks = 0.0, 0
        with torch.no_grad():
            for i, (b, bounds) in enumerate(iterate_batches(dataset, min(cfg.batch_size, len(dataset)),
                                                            cfg.max_seq_length, seed=0, as_numpy=True)):
                if batches != -1 and i >= batches:
                    break
                loss, toks = loss_fn(b, bounds)
                total_loss += loss.item() * toks.item()
                total_toks += toks.item()
        model.train()
        value = total_loss / max(total_toks, 1)
        return accelerator.reduce(torch.tensor([value], device=device), "mean").item() if world > 1 else value

    def run_eval(step):
        val, guard = loss_on(valid_set, cfg.val_batches), loss_on(guard_set, cfg.guard_batches)
        return val, ctx.evaluated(step, val, guard)

    def write_files(folder: Path):  # main process only (ctx.save_checkpoint)
        import json

        save_file(_mlx_adapter(bare, cfg), str(folder / ADAPTER_FILE))
        (folder / CONFIG_FILE).write_text(json.dumps({**ctx.adapter_config(n), "backend": "torch"}, indent=2))
        if cfg.fine_tune_type != "full":
            bare.save_pretrained(str(folder / "peft"))
        if cfg.fine_tune_type == "full":
            trainable = {k: v.detach() for k, v in bare.named_parameters() if v.requires_grad}
        else:
            trainable = {k: v for k, v in bare.state_dict().items() if "lora_" in k}
        torch.save({"trainable": trainable, "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "grads": [None if p.grad is None else p.grad.detach().cpu() for p in params]},
                   folder / OPTIMIZER_FILE)

    if start == 0 and (valid_set is not None or guard_set is not None):
        run_eval(0)

    model.train()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    losses, n_tokens, steps, train_time, last_train = 0.0, 0, 0, 0.0, None
    batches = iterate_batches(train_set, cfg.batch_size, cfg.max_seq_length, loop=True, seed=cfg.seed,
                              start=start, comm_group=_Shard(accelerator.process_index, world) if world > 1 else None, as_numpy=True)
    for it, (batch, bounds) in zip(range(start + 1, total + 1), batches):
        tic = time.perf_counter()
        loss, toks = loss_fn(batch, bounds)
        accelerator.backward(loss / cfg.grad_accumulation_steps)
        if it % cfg.grad_accumulation_steps == 0:
            if cfg.grad_clip:
                accelerator.clip_grad_norm_(params, cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
        losses += loss.item()
        n_tokens += int(toks.item())
        steps += 1
        train_time += time.perf_counter() - tic
        ctx.callback.on_step(it)

        save = it % cfg.save_every == 0 or it == total
        if it % cfg.steps_per_report == 0 or save:
            if world > 1:  # every process's share of the batches, as mlx-lm reports it
                summed = accelerator.reduce(torch.tensor([losses, float(n_tokens)], device=device), "sum")
                losses, n_tokens = summed[0].item() / world, int(summed[1].item())
            last_train = losses / steps
            trained_tokens += n_tokens
            peak = (torch.cuda.max_memory_allocated() if device.type == "cuda" else rss_bytes()) / 1e9
            ctx.trained(it, last_train, scheduler.get_last_lr()[0], n_tokens, steps, train_time, trained_tokens, peak)
            losses, n_tokens, steps, train_time = 0.0, 0, 0, 0.0

        stop = val = None
        if (valid_set is not None or guard_set is not None) and (it % cfg.eval_every == 0 or save):
            val, stop = run_eval(it)
        if save or stop:
            ctx.save_checkpoint(it, it / per_epoch, last_train, val, write_files, {"trained_tokens": trained_tokens})
            accelerator.wait_for_everyone()  # nobody runs ahead of the checkpoint being written
            torch.manual_seed(rng_seed(cfg.seed, it))
        if stop:
            ctx.stop_reason = stop
            say(stop)
            break


def rss_bytes() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
