"""The one training config: a dataclass with help text on each field.

Precedence: CLI options override the YAML file, which overrides these defaults. The YAML file may
use mlx-lm's lora keys (`lora_parameters: {rank, scale, dropout, keys}`, `steps_per_eval`,
`lr_schedule`, …), so an existing `mlx_lm.lora -c config.yaml` file works as it is. The resolved
config is written to runs/<run>/config.yaml and runs.config_json.
"""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from brie.errors import BrieError


def _f(default, help: str, **kw):
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **kw})
    return field(default=default, metadata={"help": help, **kw})


@dataclass
class TrainConfig:
    model: str = _f("smollm2-135m-instruct", "Base model: registered name, model folder or Hugging Face id.")
    data: str = _f("", "Dataset name (brie data list) or a folder with train.jsonl/valid.jsonl in mlx-lm formats.")
    backend: str = _f("auto", "Training engine: mlx (mlx-lm tuner), torch (transformers + peft), or auto (mlx on Apple Silicon, torch with CUDA, else mlx).",
                      choices=("mlx", "torch", "auto"))
    fine_tune_type: str = _f("lora", "What to train: lora, dora (weight-decomposed LoRA) or full (all weights of the last num_layers).",
                             choices=("lora", "dora", "full"))
    num_layers: int = _f(16, "Number of transformer blocks to adapt, counted from the top; -1 for all.")
    rank: int = _f(8, "LoRA rank r: the width of the low-rank update.")
    alpha: float = _f(16.0, "LoRA alpha. The update is scaled by alpha/rank (shown as the LoRA scale); mlx-lm calls that product `scale`.")
    dropout: float = _f(0.0, "Dropout on the LoRA input during training.")
    keys: list | None = _f(None, "Target modules within each block, e.g. [self_attn.q_proj, self_attn.v_proj]; default: every linear layer.")
    optimizer: str = _f("adam", "Optimizer: adam, adamw, sgd, adafactor or muon (mlx.optimizers).",
                        choices=("adam", "adamw", "sgd", "adafactor", "muon"))
    optimizer_config: dict = _f({}, "Extra keyword arguments per optimizer, as in mlx-lm: {adamw: {betas: [0.9, 0.98]}}.")
    learning_rate: float = _f(1e-4, "Peak learning rate (after warmup).")
    warmup_steps: int = _f(0, "Linear warmup from 0 to learning_rate over this many optimizer steps.")
    lr_decay: str = _f("constant", "After warmup: constant, or cosine decay to min_lr by the last step.",
                       choices=("constant", "cosine"))
    min_lr: float = _f(0.0, "Final learning rate of the cosine decay.")
    lr_schedule: dict | None = _f(None, "An mlx-lm lr_schedule ({name, arguments, warmup}); overrides warmup_steps/lr_decay.")
    weight_decay: float = _f(0.0, "Weight decay (adamw, sgd, adafactor).")
    grad_clip: float | None = _f(None, "Clip the global gradient norm to this value; none to not clip.")
    batch_size: int = _f(4, "Examples per micro-batch.")
    grad_accumulation_steps: int = _f(1, "Micro-batches whose gradients are summed before each optimizer update.")
    max_seq_length: int = _f(2048, "Longer examples are truncated to this many tokens.")
    mask_prompt: bool = _f(False, "Train on the answers only: the prompt tokens do not count in the loss.")
    iters: int = _f(1000, "Micro-batches to train for (mlx-lm's iters). Ignored when epochs is set.")
    epochs: float | None = _f(None, "Train for this many passes over the training set instead of iters.")
    max_steps: int | None = _f(None, "Stop after this many micro-batches; the run is flagged as a dry run.")
    dry_run: bool = _f(False, "A quick check run (10 steps unless max_steps says otherwise), flagged as a dry run.")
    save_every: int = _f(100, "Write a checkpoint every N steps (and at the last step).")
    eval_every: int = _f(200, "Compute the validation loss (and the forgetting guard) every N steps, and at every checkpoint.")
    val_batches: int = _f(25, "Validation batches per evaluation; -1 for the whole validation set.")
    steps_per_report: int = _f(10, "Record train loss, tokens/s and memory every N steps.")
    seed: int = _f(0, "Seed for LoRA initialisation, data order and dropout.")
    grad_checkpoint: bool = _f(False, "Recompute activations in the backward pass: less memory, slower.")
    clear_cache_threshold: int = _f(0, "Clear MLX's allocator cache between steps when it is larger than this many bytes (0: never).")
    early_stopping_patience: int | None = _f(None, "Stop when the validation loss has not improved for this many evaluations.")
    early_stopping_min_delta: float = _f(0.0, "A validation loss must beat the best by more than this to count as better.")
    guard_data: str | None = _f(None, "Forgetting guard: a general held-out dataset (name or folder, not trained on) whose loss is watched.")
    guard_threshold: float = _f(0.10, "Forgetting guard: act when the guard loss rises more than this fraction above the base model's.")
    guard_action: str = _f("stop", "Forgetting guard: stop the run or only warn.", choices=("stop", "warn"))
    guard_batches: int = _f(10, "Forgetting guard: batches of the guard set per check; -1 for all.")
    report_to: str | None = _f(None, "Also send metrics to: wandb, tensorboard (comma-separated; optional extras).")
    project_name: str | None = _f(None, "Project name for wandb.")

    @property
    def lora_scale(self) -> float:
        return self.alpha / self.rank

    def lora_parameters(self) -> dict:
        """The form mlx-lm's linear_to_lora_layers and adapter_config.json use."""
        params = {"rank": self.rank, "scale": self.lora_scale, "dropout": self.dropout}
        if self.keys:
            params["keys"] = list(self.keys)
        return params

    def total_steps(self, train_examples: int) -> int:
        if self.epochs is not None:
            per_epoch = max(train_examples // self.batch_size, 1)
            steps = max(int(round(self.epochs * per_epoch)), 1)
        else:
            steps = self.iters
        if self.max_steps is not None:
            steps = min(steps, self.max_steps)
        elif self.dry_run:
            steps = min(steps, 10)
        return steps

    @property
    def is_dry_run(self) -> bool:
        return self.dry_run or self.max_steps is not None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["lora_scale"] = self.lora_scale  # written out so nobody has to work it out
        return d

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        d = json.loads(text)
        d.pop("lora_scale", None)
        return cls(**d)

    def validate(self) -> None:
        for f in fields(self):
            choices = f.metadata.get("choices")
            value = getattr(self, f.name)
            if choices and value not in choices:
                raise BrieError(f"{f.name}={value!r}: choose one of {', '.join(choices)}")
        for name in ("rank", "batch_size", "grad_accumulation_steps", "iters", "save_every",
                     "eval_every", "steps_per_report", "max_seq_length"):
            if getattr(self, name) < 1:
                raise BrieError(f"{name}={getattr(self, name)}: must be at least 1")
        if self.alpha <= 0:
            raise BrieError(f"alpha={self.alpha}: must be positive")
        if not 0 <= self.dropout < 1:
            raise BrieError(f"dropout={self.dropout}: must be in [0, 1)")
        if self.max_steps is not None and self.max_steps < 1:
            raise BrieError(f"max_steps={self.max_steps}: must be at least 1")
        if not self.data:
            raise BrieError("no training data: give --data (a dataset name or folder)")


FIELD_NAMES = {f.name for f in fields(TrainConfig)}

# mlx-lm lora keys that mean the same thing under another name here.
ALIASES = {"steps_per_eval": "eval_every", "steps_per_save": "save_every"}
# mlx-lm lora keys that brie decides itself (the run folder, what to do): accepted and ignored.
IGNORED = {"train", "test", "test_batches", "adapter_path", "config", "trust_remote_code",
           "resume_adapter_file", "adapter_file", "wandb"}


def from_mapping(values: dict, source: str = "config") -> dict:
    """Turn an mlx-lm or brie config mapping into TrainConfig field values (unknown keys are errors)."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        key = key.replace("-", "_")
        if key in IGNORED:
            continue
        if key == "lora_parameters":
            value = dict(value or {})
            for k in ("rank", "dropout", "keys", "alpha"):
                if k in value:
                    out[k] = value.pop(k)
            scale = value.pop("scale", None)
            if value:
                raise BrieError(f"{source}: lora_parameters has unknown keys: {', '.join(value)}")
            if scale is not None:
                out["_scale"] = float(scale)
            continue
        if key == "lora_scale":
            out["_scale"] = float(value)
            continue
        key = ALIASES.get(key, key)
        if key not in FIELD_NAMES:
            raise BrieError(f"{source}: unknown key {key!r} (see `brie train --help`)")
        out[key] = value
    return out


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise BrieError(f"{path}: no such config file")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise BrieError(f"{path}{where}: invalid YAML ({getattr(e, 'problem', e)})") from None
    if not isinstance(values, dict):
        raise BrieError(f"{path}: expected a mapping of config keys")
    return from_mapping(values, str(path))


def resolve_config(yaml_path: str | Path | None = None, overrides: dict | None = None) -> TrainConfig:
    """Defaults, then the YAML file, then the CLI overrides (None means not given)."""
    values: dict[str, Any] = {}
    if yaml_path:
        values.update(load_yaml(yaml_path))
    cli = {k: v for k, v in (overrides or {}).items() if v is not None}
    values.update(from_mapping(cli, "command line"))
    scale = values.pop("_scale", None)
    cfg = TrainConfig(**values)
    # mlx-lm files give `scale` (= alpha/rank); brie stores alpha, so convert unless alpha was given.
    if scale is not None and "alpha" not in values:
        cfg.alpha = scale * cfg.rank
    for f in fields(cfg):
        if f.type in ("float", "float | None") and isinstance(getattr(cfg, f.name), (int, str)) \
                and getattr(cfg, f.name) is not None:
            try:
                setattr(cfg, f.name, float(getattr(cfg, f.name)))
            except ValueError:
                raise BrieError(f"{f.name}={getattr(cfg, f.name)!r}: not a number") from None
    cfg.validate()
    return cfg


def help_text(name: str) -> str:
    """The field's help, with its default (CLI options default to None so the YAML file can win)."""
    for f in fields(TrainConfig):
        if f.name == name:
            default = f.default if f.default is not MISSING else f.default_factory()
            return f.metadata["help"] + ("" if default in (None, "", {}) else f" [default: {default}]")
    raise KeyError(name)


def defaults() -> dict:
    return {f.name: (f.default if f.default is not MISSING else f.default_factory()) for f in fields(TrainConfig)}
