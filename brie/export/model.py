"""`brie export model <run>@<step>`: a standalone model folder, fused through mlx-lm.

mlx-lm's fuse has lost fine-tunes before (ml-explore/mlx-lm #654, #1172, #1564), so the test suite
checks that the fused model's greedy answers equal the adapter model's.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from brie.models.specs import resolve_spec
from brie.errors import BrieError
from brie.workspace import Workspace


def fuse_model(model_path: str, adapter_path: str, out: Path, dequantize: bool = False, gguf: bool = False) -> None:
    """What `mlx_lm.fuse` does, as a function."""
    from mlx.utils import tree_flatten, tree_unflatten
    from mlx_lm.utils import dequantize_model, load, save

    model, tokenizer, config = load(model_path, adapter_path=adapter_path, return_config=True)
    fused = [(n, m.fuse(dequantize=dequantize)) for n, m in model.named_modules() if hasattr(m, "fuse")]
    if fused:
        model.update_modules(tree_unflatten(fused))
    if dequantize:
        model = dequantize_model(model)
        config.pop("quantization", None)
        config.pop("quantization_config", None)
    save(out, model_path, model, tokenizer, config, donate_model=False)
    if gguf:
        from mlx_lm.gguf import convert_to_gguf

        if config["model_type"] not in ("llama", "mixtral", "mistral"):
            raise BrieError(f"--gguf: mlx-lm converts llama, mistral and mixtral models, not {config['model_type']}")
        convert_to_gguf(out, dict(tree_flatten(model.parameters())), config, str(out / "ggml-model-f16.gguf"))


def export_model(ws: Workspace, spec: str, out: str | Path | None = None, fuse: bool = True,
                 dequantize: bool = False, gguf: bool = False, upload: str | None = None) -> Path:
    from brie.models.registry import resolve_model

    ms = resolve_spec(ws, spec)
    if ms.is_base:
        raise BrieError(f"{spec!r}: name a checkpoint (<run>@<step>), not the base model")
    out = Path(out) if out else ws.exports_dir / "models" / f"{ms.run}-{ms.step}"
    if out.exists():
        raise BrieError(f"{out} already exists; exports are never overwritten (give --out)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".tmp-{out.name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    if fuse:
        fuse_model(resolve_model(ws, ms.model), ms.adapter_path, tmp, dequantize=dequantize, gguf=gguf)
    else:
        shutil.copytree(ms.adapter_path, tmp)
    (tmp / "brie_export.json").write_text(json.dumps({
        "spec": ms.label, "run": ms.run, "step": ms.step, "adapter_sha256": ms.adapter_sha256,
        "base_model": ms.model, "fused": fuse, "dequantized": dequantize}, indent=2))
    tmp.rename(out)
    if upload:
        from mlx_lm.utils import upload_to_hub

        upload_to_hub(str(out), upload)
    return out
