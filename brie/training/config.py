"""The one training config: a dataclass with help text on each field.

Precedence: CLI options override the YAML file, which overrides these defaults. The YAML file may
use mlx-lm's lora keys (`lora_parameters: {rank, scale, dropout, keys}`, `steps_per_eval`,
`lr_schedule`, …), so an existing `mlx_lm.lora -c config.yaml` file works as it is: it is read
with mlx-lm's own YAML loader (`YamlLoader`), so its values have the types mlx-lm gives them. The resolved
config is written to runs/<run>/config.yaml and runs.config_json.
"""

from __future__ import annotations

import json
import re
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from brie.errors import BrieError, read_text


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
    method: str = _f("sft", "Training objective: sft (supervised: learn the answers), or dpo / orpo (learn which answer "
                            "was preferred, from a preference dataset of prompt/chosen/rejected, e.g. `brie data import "
                            "--from-judgments`), with mlx-lm-lora's losses.", choices=("sft", "dpo", "orpo"))
    beta: float = _f(0.1, "dpo/orpo: strength of the preference term. DPO: the temperature beta (higher keeps the model "
                          "closer to the reference); ORPO: the weight of the odds-ratio term beside the answer loss.")
    dpo_loss_type: str = _f("sigmoid", "dpo: the loss over the reward difference: sigmoid (the DPO paper), hinge, ipo or "
                                       "dpop (DPO-Positive), as mlx-lm-lora defines them.",
                            choices=("sigmoid", "hinge", "ipo", "dpop"))
    delta: float = _f(50.0, "dpo with dpo_loss_type dpop: weight of the penalty when the chosen answer becomes less "
                            "likely than under the reference.")
    init_from: str | None = _f(None, "Start from another run's checkpoint (RUN@STEP, RUN@best): its adapter is trained further, "
                                     "the model and LoRA shape are that run's, and for dpo it is the frozen reference model "
                                     "(without it the reference is the base model).")
    fine_tune_type: str = _f("lora", "What to train: lora, dora (weight-decomposed LoRA) or full (all weights of the last num_layers).",
                             choices=("lora", "dora", "full"))
    num_layers: int = _f(16, "Number of transformer blocks to adapt, counted from the top; -1 for all.")
    rank: int = _f(8, "LoRA rank r: the width of the low-rank update.")
    alpha: float = _f(16.0, "LoRA alpha. The update is scaled by alpha/rank (shown as the LoRA scale); mlx-lm calls that product `scale`.")
    dropout: float = _f(0.0, "Dropout on the LoRA input during training, from 0 up to (not including) 1.")
    keys: list | None = _f(None, "Target modules within each block, e.g. [self_attn.q_proj, self_attn.v_proj]; default: every linear layer.")
    optimizer: str = _f("adam", "Optimizer: adam, adamw, sgd, adafactor or muon (mlx.optimizers).",
                        choices=("adam", "adamw", "sgd", "adafactor", "muon"))
    optimizer_config: dict = _f({}, "Extra keyword arguments per optimizer, as in mlx-lm: {adamw: {betas: [0.9, 0.98]}}.")
    learning_rate: float = _f(1e-4, "Peak learning rate (after warmup).")
    warmup_steps: int = _f(0, "Linear warmup from 0 to learning_rate over this many optimizer steps.")
    lr_decay: str = _f("constant", "After warmup: constant, or cosine decay to min_lr by the last step.",
                       choices=("constant", "cosine"))
    min_lr: float = _f(0.0, "Final learning rate of the cosine decay (--lr-decay cosine).")
    lr_schedule: dict | None = _f(None, "An mlx-lm lr_schedule ({name, arguments, warmup}); overrides warmup_steps/lr_decay.")
    weight_decay: float = _f(0.0, "Weight decay (adamw, sgd, adafactor).")
    grad_clip: float | None = _f(None, "Clip the global gradient norm to this value; none or 0 to not clip.")
    batch_size: int = _f(4, "Examples per micro-batch.")
    grad_accumulation_steps: int = _f(1, "Micro-batches whose gradients are summed before each optimizer update.")
    max_seq_length: int = _f(2048, "Longer examples are truncated to this many tokens.")
    mask_prompt: bool = _f(False, "Train on the answers only: the prompt tokens do not count in the loss.")
    iters: int = _f(1000, "Steps to train for (one step = one micro-batch; mlx-lm's iters). Ignored when --epochs is set.")
    epochs: float | None = _f(None, "Train for this many passes over the training set instead of --iters (fractions allowed).")
    max_steps: int | None = _f(None, "Stop after this many steps; the run is flagged as a dry run.")
    dry_run: bool = _f(False, "A quick check run (10 steps unless --max-steps says otherwise), flagged as a dry run.")
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
    report_to: str | None = _f(None, "Also send metrics to: wandb, tensorboard (comma-separated; each needs its package installed).")
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
        """Check every value (type, range, choices) and normalise its type, in place.

        The one place values are checked: the command line, config files, the UI's form (through
        `value_problem`) and `brie.training.lifecycle.create_run` all come here. Raises ConfigValueError naming
        the field; `resolve_config` adds where the value came from (file and line, or option).
        """
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("lr_schedule", "optimizer_config"):
                value = _retyped(value)
            if f.name == "grad_clip" and isinstance(value, str) and value.strip().lower() in NO_CLIP:
                value = None
            try:
                value = _coerce(f.type, value)
            except _Expected as e:
                raise ConfigValueError(f.name, value, f"expected {e}") from None
            if f.name == "grad_clip" and value == 0:
                value = None  # 0 disables clipping, like none
            setattr(self, f.name, value)
            choices = f.metadata.get("choices")
            if choices and value not in choices:
                raise ConfigValueError(f.name, value, f"choose one of {', '.join(choices)}")
            problem = value_problem(f.name, value)
            if problem:
                raise ConfigValueError(f.name, value, problem)
        if self.lr_decay == "cosine" and self.min_lr > self.learning_rate:
            raise ConfigValueError("min_lr", self.min_lr, f"must not exceed learning_rate ({self.learning_rate:g})")
        if not self.data:
            raise BrieError("no training data: give --data (a dataset name or folder)")


class ConfigValueError(BrieError):
    """A config value of the wrong type or out of range; `key` is the TrainConfig field."""

    def __init__(self, key: str, value: Any, problem: str):
        self.key, self.value, self.problem = key, value, problem
        super().__init__(f"{key}={value!r}: {problem}")


class _Expected(ValueError):
    """The value is not of the field's type; the message says what was expected."""


def _coerce(type_: str, value: Any) -> Any:
    """`value` as the field's type (YAML gives "1e-4" as a string, the CLI gives --grad-clip as text)."""
    optional = type_.endswith("| None")
    base = type_.split("|")[0].strip()
    if value is None:
        if optional:
            return None
        if base == "dict":
            return {}
        raise _Expected(_EXPECTED[base])
    if base == "bool":
        if isinstance(value, bool):
            return value
        raise _Expected(_EXPECTED[base])
    if base == "int":
        if isinstance(value, bool):
            raise _Expected(_EXPECTED[base])
        if isinstance(value, int):
            return value
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _Expected(_EXPECTED[base]) from None
        if not number.is_integer():
            raise _Expected(_EXPECTED[base])
        return int(number)
    if base == "float":
        if isinstance(value, bool) or isinstance(value, (list, dict)):
            raise _Expected(_EXPECTED[base])
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise _Expected(_EXPECTED[base]) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise _Expected(_EXPECTED[base])
        return number
    if base == "str":
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # e.g. a dataset named 2024 in YAML
        raise _Expected(_EXPECTED[base])
    if base == "list":
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return list(value) or None
        raise _Expected(_EXPECTED[base])
    if base == "dict":
        if isinstance(value, dict):
            return value
        raise _Expected(_EXPECTED[base])
    return value


_EXPECTED = {"int": "a whole number", "float": "a number", "bool": "true or false", "str": "text",
             "list": "a list of module names (or one comma-separated string)", "dict": "a mapping"}

# Range rules, by field. -1 means "all" where the help says so.
_AT_LEAST_1 = {"rank", "batch_size", "grad_accumulation_steps", "iters", "save_every", "eval_every",
               "steps_per_report", "max_seq_length", "max_steps", "early_stopping_patience"}
_AT_LEAST_1_OR_ALL = {"num_layers", "val_batches", "guard_batches"}
_POSITIVE = {"learning_rate", "alpha", "epochs", "guard_threshold", "beta"}
_NOT_NEGATIVE = {"delta", "warmup_steps", "min_lr", "weight_decay", "early_stopping_min_delta", "seed", "clear_cache_threshold"}
REPORT_TARGETS = ("wandb", "tensorboard")
NO_CLIP = ("none", "null", "off", "no", "")


def value_problem(name: str, value: Any) -> str | None:
    """What is wrong with `value` (already of the field's type) for field `name`, or None.

    Also used by the UI's new-run form, so it never accepts what `brie train` refuses.
    """
    if value is None:
        return None
    if name in _AT_LEAST_1 and value < 1:
        return "must be at least 1"
    if name in _AT_LEAST_1_OR_ALL and value < 1 and value != -1:
        return "must be at least 1, or -1 for all"
    if name in _POSITIVE and value <= 0:
        return "must be positive"
    if name in _NOT_NEGATIVE and value < 0:
        return "must be 0 or more"
    if name == "dropout" and not 0 <= value < 1:
        return "must be at least 0 and below 1"
    if name == "grad_clip" and value <= 0:
        return "must be positive (or none to not clip)"
    if name == "report_to":
        bad = [t for t in (t.strip().lower() for t in value.split(",")) if t and t not in REPORT_TARGETS]
        if bad:
            return f"{bad[0]!r} is not one of {', '.join(REPORT_TARGETS)}"
    return None


FIELD_NAMES = {f.name for f in fields(TrainConfig)}

# mlx-lm lora keys that mean the same thing under another name here.
ALIASES = {"steps_per_eval": "eval_every", "steps_per_save": "save_every",
           # mlx-lm-lora's names for the same settings
           "train_mode": "method", "dpo_cpo_loss_type": "dpo_loss_type"}
# mlx-lm lora keys that brie decides itself (the run folder, what to do): accepted and ignored.
IGNORED = {"train", "test", "test_batches", "adapter_path", "config", "trust_remote_code",
           "adapter_file", "wandb"}
# mlx-lm lora keys brie does not do, with what to do instead; accepted only at a value that asks
# for nothing (null, or the default), so a file never means something here it did not mean there.
UNSUPPORTED = {
    "training_mode": ("normal", "brie trains supervised (and preference) fine-tunes only (training_mode: normal); "
                                "for DPO or ORPO give method: dpo or orpo"),
    "hf_dataset": (None, "brie trains on an imported dataset: `brie data import` the Hugging Face "
                         "dataset's rows, then give --data"),
    "resume_adapter_file": (None, "brie starts from a base model; continue a run with "
                                  "`brie train --resume <run>`"),
}


def from_mapping(values: dict, source: str = "config", lines: dict | None = None) -> tuple[dict, dict]:
    """Turn an mlx-lm or brie config mapping into TrainConfig field values (unknown keys are errors).

    Returns (values, origin): origin maps each field to (where, key as written) for error messages;
    `lines` maps the keys as written (lora_parameters' as "lora_parameters.rank") to line numbers.
    """
    lines = lines or {}

    def where(key: str) -> str:
        return f"{source} line {lines[key]}" if key in lines else source

    out: dict[str, Any] = {}
    origin: dict[str, tuple[str, str]] = {}
    for written, value in values.items():
        key = str(written).replace("-", "_")
        if key in UNSUPPORTED and value != UNSUPPORTED[key][0]:
            raise BrieError(f"{where(written)}: {written}={value!r} is not supported: {UNSUPPORTED[key][1]}")
        if key in IGNORED or key in UNSUPPORTED:
            continue
        if key == "lora_parameters":
            if value is not None and not isinstance(value, dict):
                raise BrieError(f"{where(written)}: lora_parameters={value!r}: expected a mapping "
                                "(rank, scale or alpha, dropout, keys)")
            value = dict(value or {})
            for k in ("rank", "dropout", "keys", "alpha", "scale"):
                if k in value:
                    name = "_scale" if k == "scale" else k
                    out[name] = value.pop(k)
                    origin[name] = (where(f"{written}.{k}"), f"{written}.{k}")
            if value:
                raise BrieError(f"{where(written)}: lora_parameters has unknown keys: {', '.join(map(str, value))} "
                                "(known: rank, scale, alpha, dropout, keys)")
            continue
        if key == "lora_scale":
            out["_scale"] = value
            origin["_scale"] = (where(written), written)
            continue
        key = ALIASES.get(key, key)
        if key not in FIELD_NAMES:
            import difflib

            close = difflib.get_close_matches(key, sorted(FIELD_NAMES | set(ALIASES)), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise BrieError(f"{where(written)}: unknown key {written!r} ({hint}see `brie train --help`)")
        out[key] = value
        origin[key] = (where(written), written)
    return out, origin


class YamlLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader plus the float resolver mlx-lm's lora.py adds to it (`yaml_loader` in
    mlx_lm/lora.py, mlx-lm 0.32, MIT licence; copied, not imported, because importing mlx_lm.lora
    loads MLX and changes yaml.SafeLoader for every caller). PyYAML follows YAML 1.1, where a float
    needs a dot: `1e-7` would load as the string "1e-7" and crash MLX's schedules; with this
    resolver a config means here what it means to `mlx_lm lora -c`. A subclass, so
    yaml.SafeLoader itself is left as it is (tests/test_train_preflight.py checks it types like
    mlx-lm's loader)."""


YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        """^(?:
     [-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*
    |[-+]?\\.(?:inf|Inf|INF)
    |\\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)


def yaml_value(text: str) -> Any:
    """A YAML document as `mlx_lm lora -c` reads it (YamlLoader)."""
    return yaml.load(text, YamlLoader)


def _retyped(value: Any) -> Any:
    """Numbers written as text inside a mapping or list (an older run's lr_schedule stored with
    warmup_init "1e-7") as the number YamlLoader reads them as."""
    if isinstance(value, dict):
        return {k: _retyped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_retyped(v) for v in value]
    if isinstance(value, str) and value[:1] in "-+0123456789.":
        try:
            number = yaml_value(value)
        except yaml.YAMLError:
            return value
        return number if isinstance(number, (int, float)) and not isinstance(number, bool) else value
    return value


def _key_lines(text: str) -> dict[str, int]:
    """Line numbers of the top-level keys (and lora_parameters' keys), from PyYAML's node tree."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return {}
    lines: dict[str, int] = {}
    if isinstance(root, yaml.MappingNode):
        for k, v in root.value:
            lines[str(k.value)] = k.start_mark.line + 1
            if isinstance(v, yaml.MappingNode):
                for k2, _ in v.value:
                    lines[f"{k.value}.{k2.value}"] = k2.start_mark.line + 1
    return lines


def load_yaml(path: str | Path) -> tuple[dict, dict]:
    """(field values, origin) from a brie or mlx-lm YAML config file."""
    path = Path(path)
    if not path.exists():
        raise BrieError(f"{path}: no such config file")
    text = read_text(path)
    try:
        values = yaml_value(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = " ".join(str(getattr(e, "problem", None) or e).split())
        raise BrieError(f"{path}{where}: invalid YAML ({problem})") from None
    except RecursionError:
        raise BrieError(f"{path}: invalid YAML (nested too deeply)") from None
    values = {} if values is None else values
    if not isinstance(values, dict):
        raise BrieError(f"{path}: expected a mapping of config keys")
    return from_mapping(values, str(path), _key_lines(text))


def resolve_config(yaml_path: str | Path | None = None, overrides: dict | None = None) -> TrainConfig:
    """Defaults, then the YAML file, then the CLI overrides (None means not given)."""
    values: dict[str, Any] = {}
    origin: dict[str, tuple[str, str]] = {}
    if yaml_path:
        values, origin = load_yaml(yaml_path)
    cli = {k: v for k, v in (overrides or {}).items() if v is not None}
    cli_values, _ = from_mapping(cli, "command line")
    values.update(cli_values)
    origin.update({k: ("command line", "--" + k.replace("_", "-")) for k in cli_values})
    scale = values.pop("_scale", None)
    cfg = TrainConfig(**values)
    try:
        if scale is not None:
            try:
                scale = _coerce("float", scale)
            except _Expected as e:
                raise ConfigValueError("_scale", scale, f"expected {e}") from None
            if scale <= 0:
                raise ConfigValueError("_scale", scale, "must be positive")
        cfg.validate()
        # mlx-lm files give `scale` (= alpha/rank); brie stores alpha, so convert unless alpha was given.
        if scale is not None and "alpha" not in values:
            cfg.alpha = scale * cfg.rank
            origin["alpha"] = origin["_scale"]
            cfg.validate()
    except ConfigValueError as e:
        if e.key not in origin:
            raise
        where, written = origin[e.key]
        if where == "command line":
            shown = f"{e.value:g}" if isinstance(e.value, float) else e.value
            raise BrieError(f"{written} {shown}: {e.problem}") from None
        raise BrieError(f"{where}: {written}={e.value!r}: {e.problem}") from None
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
