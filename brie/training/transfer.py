"""Runs moved between machines: `brie runs pack` writes one archive of a run, `brie runs import`
registers a run made elsewhere as a completed run here.

What can be imported:
  a brie run folder     runs/<run>/ copied from another machine (config.yaml, metrics.jsonl,
                        checkpoints/<step>/); each checkpoint's adapter sha256 is checked against
                        the one recorded when it was written (trainer_state.json, or the manifest)
  a brie run archive    what `brie runs pack` writes (.tar.gz or .zip): the run folder plus
                        brie-run.json, the manifest with the run's store row, its checkpoints and
                        the sha256 of every file, all checked
  an mlx-lm folder      `mlx_lm.lora --adapter-path` output: adapter_config.json, adapters.safetensors
                        and NNNNNNN_adapters.safetensors (one checkpoint each)
  a peft folder         adapter_config.json + adapter_model.safetensors (peft's save_pretrained),
                        converted to mlx-lm's layout as the torch engine converts (lora_a = A^T,
                        lora_b = B^T); the base model is the one its config names (or --model)

A checkpoint keeps its identity, the sha256 of its adapters.safetensors. Each imported adapter is
checked before the run is registered: a brie checkpoint by its sha256; an mlx-lm or converted peft
adapter must fit the base model (every tensor a parameter of the adapted model, of its shape), and
a peft adapter's effect on a few prompts through MLX must equal peft's own (torch, CPU, both
float32) within PEFT_TOLERANCE. A peft adapter brie cannot convert exactly (DoRA, biases,
embeddings, per-module ranks…) is refused, not converted approximately.

Nothing is written under the run's name until all of it is unpacked, copied and checked in a
temporary folder next to the runs; then the name is claimed as `brie train` claims one (mkdir),
the files are moved in and the store row is written last.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from brie.errors import BrieError, read_text
from brie.models.specs import ADAPTER_FILE, sha256_file
from brie.store import runs as run_rows
from brie.store import utcnow
from brie.training.context import CONFIG_FILE, STATE_FILE
from brie.training.lifecycle import NAME_OK, method_of
from brie.words import plural
from brie.workspace import Workspace

MANIFEST = "brie-run.json"
FORMAT = "brie-run"
VERSION = 1
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".zip")
# peft on CPU (torch, float32) against MLX (float32 here) on the same weights: the difference of the
# adapter's effect on the logits, relative to the largest effect. Measured on the tiny test model:
# about 1e-6; the tolerance leaves room for bigger models and MLX's GPU kernels.
PEFT_TOLERANCE = 1e-3
CHECK_PROMPTS = ("What is the capital of France?", "Add 17 and 25.", "Write one line about cheese.")


# ---------------------------------------------------------------- reading outside input


def read_json(path: Path):
    """A JSON file from outside: anything malformed is one BrieError naming the file."""
    from brie.data.read import JsonProblem, parse_json

    if not path.is_file():
        raise BrieError(f"{path}: missing")
    try:
        return parse_json(read_text(path))
    except JsonProblem as e:
        where = f" line {e.line}" if e.line else ""
        raise BrieError(f"{path}{where}: {e}") from None


def read_mapping(path: Path) -> dict:
    value = read_json(path)
    if not isinstance(value, dict):
        raise BrieError(f"{path}: expected a JSON object")
    return value


def check_safetensors(path: Path) -> None:
    from brie.models.registry import check_safetensors_file

    if not path.is_file():
        raise BrieError(f"{path}: missing")
    check_safetensors_file(path)


# ---------------------------------------------------------------- what an import brings


@dataclass
class Checkpoint:
    step: int
    files: dict[str, Path]  # name in the checkpoint folder → source file (or "peft/…")
    epoch: float = 0.0
    train_loss: float | None = None
    val_loss: float | None = None
    expected_sha256: str | None = None  # recorded at the source; checked against the file
    adapter: dict | None = None  # converted weights to write as adapters.safetensors (peft)


@dataclass
class Incoming:
    kind: str  # brie-run, mlx-lm, peft
    source: Path
    name: str
    config: object  # TrainConfig
    checkpoints: list[Checkpoint]
    metrics: list[tuple[int, dict]] = field(default_factory=list)
    run: dict = field(default_factory=dict)  # store values from the source (a brie run)
    extra_files: dict[str, Path] = field(default_factory=dict)  # run-folder files kept (config.yaml…)
    peft_folder: Path | None = None
    notes: list[str] = field(default_factory=list)


def detect(path: Path) -> str:
    if path.is_file():
        if path.name.endswith(ARCHIVE_SUFFIXES):
            return "archive"
        raise BrieError(f"{path}: not a folder or a .tar.gz/.zip archive to import")
    if not path.is_dir():
        raise BrieError(f"{path}: no such file or folder")
    if (path / MANIFEST).exists() or (path / "config.yaml").exists():
        return "brie-run"
    config = path / CONFIG_FILE
    if config.exists():
        return "peft" if "peft_type" in read_mapping(config) else "mlx-lm"
    raise BrieError(f"{path}: not a run to import: no config.yaml (a brie run folder), {MANIFEST} "
                    f"(a brie run archive) or {CONFIG_FILE} (an mlx-lm or peft adapter folder)")


def _config_from(values: dict, where: str, model: str, data: str):
    """A TrainConfig from an mlx-lm / brie mapping, keeping only the keys brie knows (a newer mlx-lm
    writes more), with `where` named in any error."""
    from brie.training.config import ALIASES, FIELD_NAMES, IGNORED, ConfigValueError, TrainConfig, from_mapping

    known = FIELD_NAMES | set(ALIASES) | IGNORED | {"lora_parameters", "lora_scale"}
    kept = {k: v for k, v in values.items() if str(k).replace("-", "_") in known}
    try:
        fields, _ = from_mapping(kept, where)
        scale = fields.pop("_scale", None)
        fields["model"], fields["data"] = model, data
        cfg = TrainConfig(**fields)
        cfg.validate()
        if scale is not None and "alpha" not in fields:
            cfg.alpha = float(scale) * cfg.rank
            cfg.validate()
    except ConfigValueError as e:
        raise BrieError(f"{where}: {e}") from None
    except (TypeError, ValueError) as e:
        raise BrieError(f"{where}: {e}") from None
    return cfg


def _finite(value, where: str) -> float | None:
    import math

    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BrieError(f"{where}: expected a number, not {value!r}")
    return float(value)


def read_brie_run(folder: Path, name: str | None, model: str | None) -> Incoming:
    """A brie run folder (copied, or unpacked from an archive with its manifest)."""
    from brie.training.config import load_yaml

    manifest = read_mapping(folder / MANIFEST) if (folder / MANIFEST).exists() else None
    if manifest is not None:
        if manifest.get("format") != FORMAT or not isinstance(manifest.get("run"), dict) \
                or not isinstance(manifest.get("checkpoints"), list) or not isinstance(manifest.get("files"), dict):
            raise BrieError(f"{folder / MANIFEST}: not a brie run manifest (format, run, checkpoints, files)")
        if manifest.get("version") != VERSION:
            raise BrieError(f"{folder / MANIFEST}: version {manifest.get('version')!r}; this brie reads version {VERSION}")
        for rel, sha in manifest["files"].items():  # every file packed, as packed
            path = _inside(folder, rel, folder / MANIFEST)
            if not path.is_file():
                raise BrieError(f"{folder / MANIFEST}: lists {rel}, which is missing")
            actual = sha256_file(path)
            if actual != sha:
                raise BrieError(f"{path}: sha256 {actual[:12]}…, not the {str(sha)[:12]}… recorded in {MANIFEST} "
                                "(changed or damaged since it was packed)")
        for n in ("config.yaml", "metrics.jsonl"):  # nothing comes in unchecked
            if (folder / n).exists() and n not in manifest["files"]:
                raise BrieError(f"{folder / n}: not listed in {MANIFEST}")
    if not (folder / "config.yaml").exists():
        raise BrieError(f"{folder / 'config.yaml'}: missing (not a brie run folder)")
    values, _ = load_yaml(folder / "config.yaml")
    values.pop("_scale", None)  # lora_scale is written out for people; alpha and rank say it
    source_run = manifest["run"] if manifest else {}
    cfg = _config_from(values, str(folder / "config.yaml"), model or values.get("model") or "",
                       values.get("data") or str(folder))
    if manifest and not all(isinstance(c, dict) for c in manifest["checkpoints"]):
        raise BrieError(f"{folder / MANIFEST}: checkpoints: expected a list of objects")
    recorded = {c.get("step"): c for c in manifest["checkpoints"]} if manifest else {}
    ckdir = folder / "checkpoints"
    steps = sorted(int(p.name) for p in ckdir.iterdir() if p.is_dir() and p.name.isdigit()) if ckdir.is_dir() else []
    if manifest:
        missing = sorted(set(recorded) - set(steps))
        if missing:
            raise BrieError(f"{folder / MANIFEST}: lists checkpoint {missing[0]}, and {ckdir / str(missing[0])} is missing")
        steps = [s for s in steps if s in recorded]
    if not steps:
        raise BrieError(f"{ckdir}: no checkpoints (checkpoints/<step>/ with {ADAPTER_FILE})")
    checkpoints = []
    for step in steps:
        ck = ckdir / str(step)
        check_safetensors(ck / ADAPTER_FILE)
        read_mapping(ck / CONFIG_FILE)
        state = read_mapping(ck / STATE_FILE) if (ck / STATE_FILE).exists() else {}
        row = recorded.get(step, {})
        where = f"{folder / MANIFEST if row else ck / STATE_FILE}"
        files = {p.relative_to(ck).as_posix(): p for p in sorted(ck.rglob("*")) if p.is_file()}
        if manifest:  # nothing comes in unchecked
            extra = [rel for rel in files if f"checkpoints/{step}/{rel}" not in manifest["files"]]
            if extra:
                raise BrieError(f"{ck / extra[0]}: not listed in {MANIFEST}")
        expected = row.get("adapter_sha256") or state.get("adapter_sha256")
        if expected is not None and not (isinstance(expected, str) and re.fullmatch(r"[0-9a-f]{64}", expected)):
            raise BrieError(f"{where}: adapter_sha256 {expected!r} is not a sha256")
        checkpoints.append(Checkpoint(
            step=step, files=files, epoch=_finite(row.get("epoch", state.get("epoch", 0.0)), where) or 0.0,
            train_loss=_finite(row.get("train_loss", state.get("train_loss")), where),
            val_loss=_finite(row.get("val_loss", state.get("val_loss")), where),
            expected_sha256=expected))
    metrics = read_metrics(folder / "metrics.jsonl") if (folder / "metrics.jsonl").exists() else []
    extra = {n: folder / n for n in ("config.yaml", "metrics.jsonl") if (folder / n).exists()}
    packed_name = source_run.get("name") if isinstance(source_run.get("name"), str) else None
    incoming = Incoming("brie-run", folder, name or packed_name or folder.name, cfg, checkpoints,
                        metrics, source_run, extra)
    if not any(c.expected_sha256 for c in checkpoints):
        incoming.notes.append("no sha256 recorded with its checkpoints (written by an older brie): "
                              "their identity starts here")
    return incoming


def read_metrics(path: Path) -> list[tuple[int, dict]]:
    from brie.data.read import JsonProblem, parse_json

    out = []
    for i, line in enumerate(read_text(path).split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = parse_json(line)
        except JsonProblem as e:
            raise BrieError(f"{path} line {i}: {e}") from None
        if not isinstance(row, dict) or isinstance(row.get("step"), bool) or not isinstance(row.get("step"), int):
            raise BrieError(f"{path} line {i}: expected an object with an integer step")
        values = {str(k): _finite(v, f"{path} line {i}: {k}") for k, v in row.items() if k != "step"}
        out.append((row["step"], {k: v for k, v in values.items() if v is not None}))
    return out


ADAPTER_NAME = re.compile(r"^(\d+)_adapters\.safetensors$")


def read_mlx_lm(folder: Path, name: str | None, model: str | None) -> Incoming:
    """mlx_lm.lora's adapter folder: adapter_config.json (its arguments) and the adapters it saved."""
    config = read_mapping(folder / CONFIG_FILE)
    base = model or config.get("model")
    if not isinstance(base, str) or not base:
        raise BrieError(f"{folder / CONFIG_FILE}: no base model named (key \"model\"); give --model")
    cfg = _config_from(config, str(folder / CONFIG_FILE), base, str(config.get("data") or folder))
    numbered = {int(m.group(1)): p for p in folder.iterdir() if (m := ADAPTER_NAME.match(p.name))}
    checkpoints = {}
    for step, path in sorted(numbered.items()):
        check_safetensors(path)
        checkpoints[step] = Checkpoint(step, {ADAPTER_FILE: path, CONFIG_FILE: folder / CONFIG_FILE})
    final = folder / ADAPTER_FILE
    if final.exists():
        check_safetensors(final)
        sha = sha256_file(final)
        same = [s for s, p in numbered.items() if sha256_file(p) == sha]
        if not same:  # the adapter mlx-lm saves when it ends: at its last iteration
            last = max(checkpoints, default=0)
            step = cfg.iters if cfg.iters > last else last + 1  # after every numbered one
            checkpoints[step] = Checkpoint(step, {ADAPTER_FILE: final, CONFIG_FILE: folder / CONFIG_FILE})
    if not checkpoints:
        raise BrieError(f"{folder}: no {ADAPTER_FILE} or NNNNNNN_{ADAPTER_FILE} to import")
    return Incoming("mlx-lm", folder, name or folder.name, cfg, [checkpoints[s] for s in sorted(checkpoints)])


def read_peft(folder: Path, name: str | None, model: str | None) -> Incoming:
    """peft's save_pretrained folder (a LoRA on a causal LM), converted to mlx-lm's layout."""
    import numpy as np

    path = folder / CONFIG_FILE
    config = read_mapping(path)
    if config.get("peft_type") != "LORA":
        raise BrieError(f"{path}: peft_type {config.get('peft_type')!r}; brie imports LoRA adapters (peft_type LORA)")
    for key, ok, why in (("use_dora", (False, None), "DoRA"), ("bias", ("none", None), "trained biases"),
                         ("modules_to_save", (None, []), "fully trained modules (modules_to_save)"),
                         ("fan_in_fan_out", (False, None), "fan_in_fan_out (GPT-2 style Conv1D layers)"),
                         ("rank_pattern", ({}, None), "a rank per module (rank_pattern)"),
                         ("alpha_pattern", ({}, None), "an alpha per module (alpha_pattern)"),
                         ("lora_bias", (False, None), "a trained bias on lora_B (lora_bias)"),
                         ("layer_replication", (None, []), "replicated layers (layer_replication)"),
                         ("trainable_token_indices", (None, {}, []), "trained token embeddings"),
                         ("target_parameters", (None, []), "LoRA on parameters (target_parameters)"),
                         ("use_qalora", (False, None), "QA-LoRA"),
                         ("alora_invocation_tokens", (None,), "activated LoRA (alora_invocation_tokens)")):
        if config.get(key) not in ok:
            raise BrieError(f"{path}: {key}={config.get(key)!r}: brie cannot import {why} into an MLX LoRA")
    base = model or config.get("base_model_name_or_path")
    if not isinstance(base, str) or not base:
        raise BrieError(f"{path}: no base model named (base_model_name_or_path); give --model")
    rank, alpha = config.get("r"), config.get("lora_alpha")
    if not isinstance(rank, int) or isinstance(rank, bool) or rank <= 0 \
            or not isinstance(alpha, (int, float)) or isinstance(alpha, bool):
        raise BrieError(f"{path}: expected a positive integer r and a number lora_alpha")
    weights = folder / "adapter_model.safetensors"
    check_safetensors(weights)
    from safetensors.numpy import load_file

    from brie.training.torch_engine import peft_lora_to_mlx

    try:
        tensors = load_file(str(weights))
    except Exception as e:  # a dtype numpy cannot hold (bfloat16): torch can
        try:
            from safetensors.torch import load_file as load_torch

            tensors = {k: v.float().numpy() for k, v in load_torch(str(weights)).items()}
        except ImportError:
            raise BrieError(f"{weights}: cannot read ({e}); pip install torch to read it") from None
        except Exception as e2:
            raise BrieError(f"{weights}: cannot read ({str(e2).splitlines()[0] if str(e2) else type(e2).__name__})") from None
    # Only the A and B matrices of LoRA on linear layers convert: anything else (an embedding's
    # lora_embedding_A, a lora_B bias, a trained module) would be left out and the adapter changed.
    odd = next((k for k in tensors if not re.search(r"\.lora_[AB](\.[^.]+)?\.weight$", k)), None)
    if odd is not None:
        raise BrieError(f"{weights}: {odd}: brie imports the lora_A and lora_B weights of LoRA on linear layers only")
    adapter = peft_lora_to_mlx(tensors.items())
    layer = re.compile(r"^(?:model\.)?layers\.(\d+)\.(.+)\.lora_[ab]$")
    found = [layer.match(k) for k in adapter]
    if not adapter or not all(found):
        bad = next((k for k, m in zip(adapter, found) if not m), "no LoRA weights")
        raise BrieError(f"{weights}: {bad}: brie imports LoRA on the linear layers inside the transformer blocks")
    keys = sorted({m.group(2) for m in found})
    lowest = min(int(m.group(1)) for m in found)
    scale = alpha / (rank ** 0.5 if config.get("use_rslora") else rank)
    dropout = config.get("lora_dropout") or 0.0
    state = read_mapping(folder / "trainer_state.json") if (folder / "trainer_state.json").exists() else {}
    step = state.get("global_step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        m = re.match(r"^checkpoint-(\d+)$", folder.name)
        step = int(m.group(1)) if m else 1
    cfg = _config_from({"rank": rank, "lora_parameters": {"scale": scale, "dropout": dropout, "keys": keys}},
                       str(path), base, str(folder))
    cfg.alpha = scale * rank
    cfg.num_layers = -lowest - 1  # set once the base model's layer count is known (_fit_layers)
    adapter = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in adapter.items()}
    files = {f"peft/{p.name}": p for p in sorted(folder.iterdir()) if p.is_file()}
    incoming = Incoming("peft", folder, name or folder.name, cfg, [Checkpoint(step, files, adapter=adapter)],
                        peft_folder=folder)
    return incoming


def _fit_layers(ws: Workspace, incoming: Incoming) -> None:
    """A peft adapter's lowest adapted block → mlx-lm's num_layers (counted from the top)."""
    cfg = incoming.config
    if incoming.kind != "peft" or cfg.num_layers >= 0:
        return
    from brie.models.registry import resolve_model

    target = Path(resolve_model(ws, cfg.model))
    layers = read_mapping(target / "config.json").get("num_hidden_layers") if target.exists() else None
    lowest = -cfg.num_layers - 1
    if not isinstance(layers, int) or lowest >= layers:
        raise BrieError(f"{incoming.source}: its adapter reaches block {lowest}, and the base model {cfg.model} "
                        f"has {layers!r} blocks")
    cfg.num_layers = layers - lowest


# ---------------------------------------------------------------- archives


def _inside(root: Path, rel: str, where: Path) -> Path:
    """root/rel, refusing what would land outside root (absolute paths, .., drive letters)."""
    parts = Path(rel.replace("\\", "/")).parts
    if not rel or rel.startswith(("/", "\\")) or ".." in parts or ":" in rel.split("/")[0]:
        raise BrieError(f"{where}: refuses the path {rel!r} (outside the run)")
    return root.joinpath(*parts)


def unpack(archive: Path, into: Path) -> Path:
    """Extract a run archive into `into` (which must be empty), checking every member first: only
    plain files and folders under one top folder, no absolute paths, no .., no links. Returns the
    run folder."""
    import tarfile
    import zipfile

    members: list[tuple[str, bool]] = []  # (name, is_dir)
    try:
        if archive.name.endswith(".zip"):
            with zipfile.ZipFile(archive) as z:
                for info in z.infolist():
                    kind = (info.external_attr >> 16) & 0o170000
                    if kind not in (0, 0o100000, 0o040000):
                        raise BrieError(f"{archive}: {info.filename}: not a plain file (links are refused)")
                    members.append((info.filename.rstrip("/"), info.is_dir()))
                _check_names(archive, members)
                _check_room(archive, into, sum(info.file_size for info in z.infolist()))
                for info in z.infolist():
                    target = _inside(into, info.filename.rstrip("/"), archive)
                    if info.is_dir():
                        target.mkdir(parents=True, exist_ok=True)
                        continue
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with z.open(info) as src, open(target, "wb") as dst:
                        shutil.copyfileobj(src, dst)
        else:
            with tarfile.open(archive, "r:gz") as t:
                for m in t.getmembers():
                    if not (m.isfile() or m.isdir()):
                        raise BrieError(f"{archive}: {m.name}: not a plain file (links and devices are refused)")
                    members.append((m.name.rstrip("/"), m.isdir()))
                _check_names(archive, members)
                _check_room(archive, into, sum(m.size for m in t.getmembers()))
                t.extractall(into, filter="data")
    except BrieError:
        raise
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        why = str(getattr(e, "strerror", None) or e or type(e).__name__).splitlines()[0]
        raise BrieError(f"{archive}: cannot read the archive ({why})") from None
    tops = {n.split("/")[0] for n, _ in members}
    return into / tops.pop()


def _check_room(archive: Path, into: Path, size: int) -> None:
    """The sizes the archive declares (which extraction holds it to) must fit on the disk, with room
    to spare: a small archive that unpacks to terabytes (a zip bomb) is refused before it is unpacked."""
    free = shutil.disk_usage(into).free
    if size > free // 2:
        raise BrieError(f"{archive}: unpacks to {size:,} bytes, more than half of the {free:,} bytes free "
                        "on the workspace's disk")


def _check_names(archive: Path, members: list[tuple[str, bool]]) -> None:
    if not members:
        raise BrieError(f"{archive}: empty archive")
    seen: set[str] = set()
    for name, _ in members:
        _inside(Path("/x"), name, archive)
        # the second copy of a name would silently replace the first (two names differing only in
        # case do so on macOS's file system)
        key = "/".join(Path(name.replace("\\", "/")).parts).casefold()
        if key in seen:
            raise BrieError(f"{archive}: {name}: in the archive twice")
        seen.add(key)
    tops = {n.split("/")[0] for n, _ in members}
    if len(tops) != 1:
        raise BrieError(f"{archive}: expected one run folder at the top, found {', '.join(sorted(tops)[:3])}")
    top = tops.pop()
    if f"{top}/{MANIFEST}" not in {n for n, _ in members}:
        raise BrieError(f"{archive}: no {top}/{MANIFEST} (not made by `brie runs pack`)")


# ---------------------------------------------------------------- checks of the adapters


def check_adapters(ws: Workspace, incoming: Incoming, folders: list[Path], say) -> dict:
    """Load the base model once and each checkpoint's adapter through MLX: every tensor must be a
    LoRA parameter of the adapted model with its shape. For peft, compare the adapter's effect on
    the logits with peft's own. Returns what was measured."""
    import mlx.core as mx
    from mlx.utils import tree_flatten

    from brie.models.registry import load_model

    model, tokenizer = load_model(ws, incoming.config.model, adapter_path=folders[0])
    params = dict(tree_flatten(model.parameters()))
    for folder in folders:
        weights = mx.load(str(folder / ADAPTER_FILE))
        for key, value in weights.items():
            if key not in params:
                raise BrieError(f"{folder / ADAPTER_FILE}: {key} is not a parameter of {incoming.config.model} "
                                f"with this adapter_config.json (num_layers, keys)")
            if tuple(params[key].shape) != tuple(value.shape):
                raise BrieError(f"{folder / ADAPTER_FILE}: {key} has shape {tuple(value.shape)}, the model's "
                                f"is {tuple(params[key].shape)}")
    measured = {"checked": len(folders)}
    if incoming.kind == "peft":
        measured.update(compare_with_peft(ws, incoming, folders[0], model, tokenizer, say))
    return measured


def prompt_tokens(tokenizer) -> list[list[int]]:
    from brie.generation.chat import chat_prompt

    return [tokenizer.encode(chat_prompt(tokenizer, [{"role": "user", "content": p}]), add_special_tokens=False)
            for p in CHECK_PROMPTS]


def compare_with_peft(ws, incoming: Incoming, folder: Path, model, tokenizer, say) -> dict:
    """The adapter's effect (adapted minus base logits) on CHECK_PROMPTS through MLX and through
    peft on the CPU; the largest difference relative to the largest effect must be under PEFT_TOLERANCE."""
    import importlib.util

    if not all(importlib.util.find_spec(m) for m in ("torch", "peft", "transformers")):
        say("warning: torch, peft or transformers is not installed, so the converted adapter was not compared "
            "with peft's own outputs (pip install 'brie[cuda]' to check)")
        return {"peft_compared": False}
    import mlx.core as mx
    import numpy as np
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from brie.models.registry import resolve_model

    prompts = prompt_tokens(tokenizer)

    def mlx_logits(m):
        # in float32 as peft runs here: a bfloat16 model's rounding alone is far above the tolerance
        m.set_dtype(mx.float32)
        return [np.array(m(mx.array([p]))[0]) for p in prompts]

    adapted = mlx_logits(model)
    from brie.models.registry import load_model

    base_model, _ = load_model(ws, incoming.config.model)
    base = mlx_logits(base_model)
    del base_model
    torch_base = AutoModelForCausalLM.from_pretrained(resolve_model(ws, incoming.config.model), dtype=torch.float32)
    torch_base.eval()
    with torch.no_grad():
        t_base = [torch_base(torch.tensor([p])).logits[0].numpy() for p in prompts]
        peft_model = PeftModel.from_pretrained(torch_base, str(incoming.peft_folder))
        peft_model.eval()
        t_adapted = [peft_model(torch.tensor([p])).logits[0].numpy() for p in prompts]
    effect_mlx = np.concatenate([(a - b).ravel() for a, b in zip(adapted, base)])
    effect_peft = np.concatenate([(a - b).ravel() for a, b in zip(t_adapted, t_base)])
    largest = float(np.abs(effect_peft).max())
    gap = float(np.abs(effect_mlx - effect_peft).max()) / max(largest, 1e-12)
    if largest == 0:
        say("warning: the peft adapter changes no logit on the check prompts (its lora_B is zero: untrained?)")
    if gap > PEFT_TOLERANCE:
        raise BrieError(f"{incoming.source}: through MLX the adapter's effect on the logits differs from peft's by "
                        f"{gap:.2e} of its size (tolerance {PEFT_TOLERANCE:g}); not imported")
    return {"peft_compared": True, "peft_relative_gap": gap, "peft_largest_effect": largest}


# ---------------------------------------------------------------- import


def import_run(ws: Workspace, source: str | Path, name: str | None = None, model: str | None = None,
               check: bool = True, say=lambda text: None) -> dict:
    """Register a run made elsewhere (see the module docstring) as a completed run here. Returns
    {"run": row, "kind", "checkpoints": [...], "check": {...}}."""
    import tempfile

    source = Path(source).expanduser()
    kind = detect(source)
    ws.runs_dir.mkdir(parents=True, exist_ok=True)
    # Everything is unpacked, written and checked in here (on the runs' own disk, so the move into
    # place is a rename) before the run's name is claimed.
    tmp = Path(tempfile.mkdtemp(prefix=".import-", dir=ws.runs_dir))
    try:
        if kind == "archive":
            (tmp / "unpacked").mkdir()
            folder = unpack(source, tmp / "unpacked")
        else:
            folder = source
        if kind == "archive" or kind == "brie-run":
            incoming = read_brie_run(folder, name, model)
            if kind == "archive":
                incoming.source = source
        elif kind == "mlx-lm":
            incoming = read_mlx_lm(folder, name, model)
        else:
            incoming = read_peft(folder, name, model)
        return _register(ws, incoming, check, say, tmp / "run")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _taken(name: str) -> BrieError:
    return BrieError(f"run {name!r} already exists (runs are never overwritten); give another --name")


def _register(ws: Workspace, incoming: Incoming, check: bool, say, build: Path) -> dict:
    """The run made in `build` and checked there; then its name claimed as `brie train` claims one
    (mkdir), its files moved in, and its store row written last: a failure anywhere leaves no run."""
    from brie.models.registry import check_model
    from safetensors.numpy import save_file

    if not NAME_OK.match(incoming.name):
        raise BrieError(f"run name {incoming.name!r}: use letters, digits, '.', '_' and '-'; give --name")
    cfg = incoming.config
    if cfg.model != ws.stored_path(cfg.model) and Path(cfg.model).expanduser().exists():
        cfg.model = ws.stored_path(cfg.model)
    try:
        check_model(ws, cfg.model)
    except BrieError as e:
        raise BrieError(f"the base model of {incoming.source}: {e}; give --model (a registered name, folder or "
                        "Hugging Face id)") from None
    _fit_layers(ws, incoming)
    folder = ws.runs_dir / incoming.name
    if run_rows.get_run(ws.store, incoming.name) is not None or folder.exists():  # said before the work
        raise _taken(incoming.name)
    rows, folders = [], []
    (build / "checkpoints").mkdir(parents=True)
    for ck in incoming.checkpoints:
        dest = build / "checkpoints" / str(ck.step)
        dest.mkdir()
        for rel, src in ck.files.items():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest / rel)
        if ck.adapter is not None:
            save_file(ck.adapter, str(dest / ADAPTER_FILE))
        if incoming.kind != "brie-run":  # adapter_config.json as brie writes it (mlx_lm.load reads it)
            (dest / CONFIG_FILE).write_text(json.dumps(
                {"fine_tune_type": cfg.fine_tune_type, "num_layers": cfg.num_layers,
                 "lora_parameters": cfg.lora_parameters(), "model": cfg.model, "brie_run": incoming.name,
                 "rank": cfg.rank, "alpha": cfg.alpha, "lora_scale": cfg.lora_scale,
                 "imported_from": incoming.kind}, indent=2))
        sha = sha256_file(dest / ADAPTER_FILE)  # the copy's: what is registered is what was checked
        if ck.expected_sha256 and sha != ck.expected_sha256:
            raise BrieError(f"{ck.files[ADAPTER_FILE]}: sha256 {sha[:12]}…, not the {ck.expected_sha256[:12]}… "
                            "recorded when the checkpoint was written (changed or damaged since)")
        size = sum(p.stat().st_size for p in dest.rglob("*") if p.is_file())
        rows.append({"step": ck.step, "epoch": ck.epoch, "train_loss": ck.train_loss, "val_loss": ck.val_loss,
                     "path": ws.stored_path(folder / "checkpoints" / str(ck.step)), "adapter_sha256": sha,
                     "size_bytes": size})
        folders.append(dest)
    # a brie run's identity is its sha256, checked above; an adapter from elsewhere is loaded on the base
    measured = check_adapters(ws, incoming, folders, say) if check and incoming.kind != "brie-run" else {}
    for n, src in incoming.extra_files.items():
        shutil.copyfile(src, build / n)
    if "config.yaml" not in incoming.extra_files:
        (build / "config.yaml").write_text(cfg.to_yaml())
    if "metrics.jsonl" not in incoming.extra_files and incoming.metrics:
        (build / "metrics.jsonl").write_text("".join(json.dumps({"step": s, **v}) + "\n" for s, v in incoming.metrics))
    for n in (ADAPTER_FILE, CONFIG_FILE):
        shutil.copyfile(folders[-1] / n, build / n)
    run = _run_row(ws, incoming, rows, folder)
    try:
        folder.mkdir()  # claims the name, as `brie train` does (another process may be making that run now)
    except FileExistsError:
        raise _taken(incoming.name) from None
    try:
        for child in build.iterdir():
            os.rename(child, folder / child.name)
        row = run_rows.insert_imported_run(ws.store, run, rows, incoming.metrics)
        if row is None:
            raise _taken(incoming.name)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    for note in incoming.notes:
        say("note: " + note)
    return {"run": row, "kind": incoming.kind, "source": str(incoming.source),
            "checkpoints": [{k: r[k] for k in ("step", "adapter_sha256")} for r in rows], "check": measured}


def _run_row(ws: Workspace, incoming: Incoming, rows: list[dict], folder: Path) -> dict:
    # the manifest's values, each kept only when of its column's type (it is outside input)
    ints = ("step", "total_steps", "best_step", "recommended_step", "dry_run")
    src = {k: v for k, v in incoming.run.items()
           if (isinstance(v, int) and not isinstance(v, bool) if k in ints else isinstance(v, str))
           or (k == "dataset" and isinstance(v, dict))}
    steps = [r["step"] for r in rows]
    scored = [r for r in rows if r["val_loss"] is not None]
    best = min(scored, key=lambda r: (r["val_loss"], -r["step"]))["step"] if scored else steps[-1]
    best = src.get("best_step") if src.get("best_step") in steps else best
    kept_choice = src.get("recommended_step") in steps  # the source's recommended checkpoint came along
    recommended = src["recommended_step"] if kept_choice else best
    origin = f"imported from {incoming.source} ({incoming.kind})"
    cfg = incoming.config
    data = src.get("data") or cfg.data
    if src.get("dataset") and isinstance(src["dataset"].get("name"), str):
        data = f"{src['dataset']['name']} v{src['dataset'].get('version')}"
    warnings = src.get("warnings")
    evidence = src.get("recommended_evidence")  # JSON of an object (m034); the readers json.loads it
    if evidence is not None:
        try:
            ok = isinstance(json.loads(evidence), dict)
        except ValueError:
            ok = False
        if not ok:
            raise BrieError(f"{incoming.source}: {MANIFEST}: run.recommended_evidence is not a JSON object")
    return {
        "name": incoming.name, "model": cfg.model, "dataset_id": None, "data": data,
        "backend": src.get("backend") or ("torch" if incoming.kind == "peft" else "mlx"),
        "method": method_of(cfg), "status": "completed", "dry_run": int(bool(src.get("dry_run"))),
        "config_json": cfg.to_json(), "path": ws.stored_path(folder), "pid": None,
        "step": src.get("step", max(steps)), "total_steps": src.get("total_steps", max(steps)),
        "best_step": best, "recommended_step": recommended,
        # who chose the recommended checkpoint there (auto, user, judged) and on what evidence
        "recommended_by": src["recommended_by"] if kept_choice and src.get("recommended_by") else "auto",
        "recommended_evidence": evidence if kept_choice else None,
        "stop_reason": f"{src['stop_reason']}; {origin}" if src.get("stop_reason") else origin,
        "warnings": warnings, "host": src.get("host"),
        "created_at": src.get("created_at") or utcnow(), "started_at": src.get("started_at"),
        "ended_at": src.get("ended_at") or utcnow(),
    }


# ---------------------------------------------------------------- pack


def choose_checkpoints(run: dict, rows: list[dict], which: str) -> list[dict]:
    """best, last, recommended, all and/or step numbers, comma-separated."""
    by_step = {r["step"]: r for r in rows}
    chosen: set[int] = set()
    for token in (t.strip() for t in which.split(",")):
        if not token:
            continue
        if token == "all":
            chosen |= set(by_step)
        elif token == "last":
            chosen.add(max(by_step))
        elif token in ("best", "recommended"):
            if run[f"{token}_step"] in by_step:
                chosen.add(run[f"{token}_step"])
        elif token.isdigit() and int(token) in by_step:
            chosen.add(int(token))
        elif token.isdigit():
            raise BrieError(f"run {run['name']!r} has no checkpoint at step {token} (it has: "
                            f"{', '.join(map(str, sorted(by_step)))})")
        else:
            raise BrieError(f"--checkpoints {token!r}: give best, last, recommended, all or step numbers")
    return [by_step[s] for s in sorted(chosen)]


def pack_run(ws: Workspace, name: str, out: str | Path | None = None, which: str = "best,last,recommended") -> dict:
    """One archive (.tar.gz, or .zip by --out's name) of run `name`: config, metrics, the chosen
    checkpoints and brie-run.json (the run's row, its checkpoints and the sha256 of every file).
    Not the base model. Returns {"path", "checkpoints", "size_bytes"}."""
    import tarfile
    import zipfile

    from brie.store.datasets import get_dataset_by_id

    run = run_rows.get_run(ws.store, name)
    if run is None:
        raise BrieError(f"no run named {name!r} (see `brie runs list`)")
    if run["status"] in run_rows.ACTIVE:
        raise BrieError(f"run {name!r} is {run['status']}; pack it when it has stopped")
    rows = run_rows.list_checkpoints(ws.store, run["id"])
    if not rows:
        raise BrieError(f"run {name!r} has no checkpoints to pack")
    chosen = choose_checkpoints(run, rows, which)
    if not chosen:
        raise BrieError(f"--checkpoints {which}: none of run {name!r}'s checkpoints")
    folder = ws.path_of(run["path"])
    files: dict[str, Path] = {}
    for n in ("config.yaml", "metrics.jsonl"):
        if (folder / n).exists():
            files[n] = folder / n
    for row in chosen:
        ck = ws.path_of(row["path"])
        sha = sha256_file(ck / ADAPTER_FILE) if (ck / ADAPTER_FILE).exists() else None
        if sha != row["adapter_sha256"]:
            raise BrieError(f"{ck / ADAPTER_FILE}: " + ("missing" if sha is None else
                            f"sha256 {sha[:12]}…, not the registered {row['adapter_sha256'][:12]}…"))
        for p in sorted(ck.rglob("*")):
            if p.is_file():
                files[f"checkpoints/{row['step']}/{p.relative_to(ck).as_posix()}"] = p
    dataset = get_dataset_by_id(ws.store, run["dataset_id"]) if run["dataset_id"] else None
    keep = ("name", "model", "backend", "method", "status", "dry_run", "data", "step", "total_steps", "best_step",
            "recommended_step", "recommended_by", "recommended_evidence", "stop_reason", "warnings", "host",
            "created_at", "started_at", "ended_at")
    manifest = {
        "format": FORMAT, "version": VERSION, "packed_at": utcnow(),
        "run": {**{k: run[k] for k in keep},
                "dataset": {"name": dataset["name"], "version": dataset["version"]} if dataset else None},
        "checkpoints": [{k: r[k] for k in ("step", "epoch", "train_loss", "val_loss", "adapter_sha256", "size_bytes")}
                        for r in chosen],
        "files": {rel: sha256_file(p) for rel, p in files.items()},
    }
    out = Path(out).expanduser() if out else ws.root / "exports" / "runs" / f"{name}.tar.gz"
    if not out.name.endswith(ARCHIVE_SUFFIXES):
        raise BrieError(f"--out {out}: name it .tar.gz or .zip")
    if out.exists():
        raise BrieError(f"{out} already exists; give another --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    data = json.dumps(manifest, indent=1).encode()
    try:
        if out.name.endswith(".zip"):
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
                z.writestr(f"{name}/{MANIFEST}", data)
                for rel, p in files.items():
                    z.write(p, f"{name}/{rel}")
        else:
            import io

            with tarfile.open(tmp, "w:gz") as t:
                info = tarfile.TarInfo(f"{name}/{MANIFEST}")
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
                for rel, p in files.items():
                    t.add(p, f"{name}/{rel}", recursive=False)
        os.replace(tmp, out)
    except BaseException as e:  # Ctrl-C too: no half-written archive left behind
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise BrieError(f"{out}: cannot write ({e.strerror or e})") from None
        raise
    return {"path": str(out), "checkpoints": [r["step"] for r in chosen], "size_bytes": out.stat().st_size,
            "files": len(files) + 1, "summary": f"{plural(len(chosen), 'checkpoint')}"}
