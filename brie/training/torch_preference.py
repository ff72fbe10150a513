"""Preference training on torch (`brie train --method dpo --backend torch`): TRL's DPO in brie's run loop.

TRL's `DPOTrainer` gives the collaborators: its dataset preparation (the chat template, prompt and
answers tokenized apart), its `DataCollatorForPreference` and its `compute_loss` (the DPO loss, the
reference log-probabilities — the base model, through peft's adapter switched off — and its
metrics: `rewards/chosen`, `rewards/rejected`, `rewards/margins`, `rewards/accuracies`). Its own
`train()` is not used: the loop is brie's torch engine's (the same LoRA, optimizer, schedule,
checkpoints in mlx-lm's layout plus peft's folder, resume, early stopping), with batches in brie's
resumable order (`preference.preference_order`). One process; dpo only (its sigmoid, hinge and ipo
losses); the reference is the base model.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from brie.errors import BrieError
from brie.models.specs import ADAPTER_FILE
from brie.training.context import CONFIG_FILE, RunContext, rng_seed
from brie.training.distributed import launch_rank
from brie.training.preference import preference_order, read_pairs
from brie.training.torch_engine import OPTIMIZER_FILE, adapt, check_options as torch_options, peft_lora_to_mlx, \
    rss_bytes, start_training

TRL_LOSSES = ("sigmoid", "hinge", "ipo")


def check_options(cfg) -> None:
    torch_options(cfg)
    try:
        import trl  # noqa: F401
    except ImportError:
        raise BrieError(f"--method {cfg.method} --backend torch needs trl, which cannot be imported; "
                        "pip install 'brie[cuda]'") from None
    if cfg.method != "dpo":
        raise BrieError(f"--method {cfg.method}: the torch backend trains dpo (and sft); use --backend mlx")
    if cfg.dpo_loss_type not in TRL_LOSSES:
        raise BrieError(f"dpo_loss_type={cfg.dpo_loss_type!r}: the torch backend (TRL) has {', '.join(TRL_LOSSES)}; "
                        "use --backend mlx")
    if cfg.guard_data:
        raise BrieError("--guard-data: the torch backend's preference runs have no forgetting guard yet; "
                        "use --backend mlx")
    if cfg.fine_tune_type != "lora":
        raise BrieError(f"fine_tune_type={cfg.fine_tune_type}: torch preference runs train lora; use --backend mlx")
    if launch_rank()[1] > 1:
        raise BrieError(f"--method {cfg.method} trains in one process (not under accelerate launch)")


def conversational(row: dict) -> dict:
    """A prompt/chosen/rejected row as TRL's conversational format, so its chat template is applied
    as mlx-lm-lora's DPODataset applies it (a plain-text prompt would be tokenized without it)."""
    prompt = ([{"role": "system", "content": row["system"]}] if "system" in row else []) + \
        [{"role": "user", "content": row["prompt"]}]
    return {"prompt": prompt, "chosen": [{"role": "assistant", "content": row["chosen"]}],
            "rejected": [{"role": "assistant", "content": row["rejected"]}]}


def train(ctx: RunContext) -> None:
    import torch
    from datasets import Dataset
    from safetensors.numpy import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    from brie.models.registry import resolve_model

    cfg = ctx.cfg
    say = ctx.callback.on_message
    rows = {s: read_pairs(ctx.data_path / f"{s}.jsonl") for s in ("train", "valid")}
    if rows["train"] is None:
        raise BrieError(f"{ctx.data_path / 'train.jsonl'}: no preference pairs")
    if rows["valid"] is None:
        ctx.no_validation()
    cuda = torch.cuda.is_available()
    path = resolve_model(ctx.ws, cfg.model)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.bfloat16 if cuda else torch.float32)
    torch.manual_seed(cfg.seed)  # LoRA initialisation
    model, n = adapt(model, cfg)
    scratch = tempfile.TemporaryDirectory(prefix="brie-trl-")
    args = DPOConfig(output_dir=scratch.name, beta=cfg.beta, loss_type=[cfg.dpo_loss_type],
                     max_length=cfg.max_seq_length, per_device_train_batch_size=cfg.batch_size,
                     report_to=[], use_cpu=not cuda, seed=cfg.seed, bf16=cuda,
                     gradient_checkpointing=cfg.grad_checkpoint, disable_tqdm=True)
    trainer = DPOTrainer(model=model, args=args, processing_class=tokenizer,
                         train_dataset=Dataset.from_list([conversational(r) for r in rows["train"]]),
                         eval_dataset=Dataset.from_list([conversational(r) for r in rows["valid"]])
                         if rows["valid"] else None)
    model, device, collate = trainer.model, trainer.accelerator.device, trainer.data_collator
    model.to(device)
    train_set, valid_set = trainer.train_dataset, trainer.eval_dataset
    total = cfg.total_steps(len(train_set))
    ctx.set_total(total)
    per_epoch = max(len(train_set) // cfg.batch_size, 1)

    params, optimizer, scheduler, start, trained_tokens = start_training(ctx, model, total, device)
    if start >= total:
        return
    ctx.callback.on_start(ctx.run, start, total)

    def batch_of(dataset, ids):
        return {k: v.to(device) for k, v in collate([dataset[i] for i in ids]).items()}

    def step_metrics(prefix=""):
        """TRL's metrics of the batches since the last call, under brie's names. They are read from
        the trainer's private `_metrics`, where its compute_loss records them: TRL hands them on only
        through log() in its own training loop, which brie's loop (checkpoints, resume) replaces. So
        the cuda extra pins trl below 2."""
        logged = trainer._metrics["eval" if prefix else "train"]
        mean = lambda key: sum(logged[key]) / len(logged[key])  # noqa: E731
        out = {f"{prefix}reward_chosen": mean("rewards/chosen"), f"{prefix}reward_rejected": mean("rewards/rejected"),
               f"{prefix}reward_margin": mean("rewards/margins"),
               f"{prefix}preference_accuracy": mean("rewards/accuracies")}
        logged.clear()
        return out

    def run_eval(step):
        if valid_set is None:
            return None, None
        model.eval()
        bs = min(cfg.batch_size, len(valid_set))
        groups = [list(range(i, i + bs)) for i in range(0, len(valid_set) - bs + 1, bs)]
        if cfg.val_batches != -1:
            groups = groups[:cfg.val_batches]
        with torch.no_grad():
            losses = [trainer.compute_loss(model, batch_of(valid_set, g)).item() for g in groups]
        model.train()
        val = sum(losses) / len(losses)
        return val, ctx.evaluated(step, val, None, step_metrics("val_"))

    def write_files(folder: Path):
        # TRL keeps the starting adapter as the reference under the name "ref": only the trained one
        save_file(peft_lora_to_mlx((k, v.detach().float().cpu().numpy()) for k, v in model.state_dict().items()
                                   if ".ref." not in k), str(folder / ADAPTER_FILE))
        (folder / CONFIG_FILE).write_text(json.dumps({**ctx.adapter_config(n), "backend": "torch"}, indent=2))
        model.save_pretrained(str(folder / "peft"))
        torch.save({"trainable": {k: v for k, v in model.state_dict().items() if "lora_" in k},
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "grads": [None if p.grad is None else p.grad.detach().cpu() for p in params]},
                   folder / OPTIMIZER_FILE)

    try:
        if start == 0 and valid_set is not None:
            run_eval(0)
        model.train()
        trainer._metrics["train"].clear()
        losses, n_tokens, steps, train_time, last_train = 0.0, 0, 0, 0.0, None
        order = preference_order([len(r) for r in train_set["chosen_ids"]], cfg.batch_size, seed=cfg.seed, start=start)
        for it, ids in zip(range(start + 1, total + 1), order):
            tic = time.perf_counter()
            batch = batch_of(train_set, ids)
            loss = trainer.compute_loss(model, batch)
            (loss / cfg.grad_accumulation_steps).backward()
            if it % cfg.grad_accumulation_steps == 0:
                if cfg.grad_clip:
                    torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            losses += loss.item()
            n_tokens += int(batch["completion_mask"].sum().item())  # answer tokens, as mlx-lm-lora counts them
            steps += 1
            train_time += time.perf_counter() - tic
            ctx.callback.on_step(it)

            save = it % cfg.save_every == 0 or it == total
            if it % cfg.steps_per_report == 0 or save:
                last_train = losses / steps
                trained_tokens += n_tokens
                peak = (torch.cuda.max_memory_allocated() if cuda else rss_bytes()) / 1e9
                ctx.trained(it, last_train, scheduler.get_last_lr()[0], n_tokens, steps, train_time, trained_tokens,
                            peak, step_metrics())
                losses, n_tokens, steps, train_time = 0.0, 0, 0, 0.0

            stop = val = None
            if valid_set is not None and (it % cfg.eval_every == 0 or save):
                val, stop = run_eval(it)
            if save or stop:
                ctx.save_checkpoint(it, it / per_epoch, last_train, val, write_files, {"trained_tokens": trained_tokens})
                torch.manual_seed(rng_seed(cfg.seed, it))
            if stop:
                ctx.stop_reason = stop
                say(stop)
                break
    finally:
        scratch.cleanup()
