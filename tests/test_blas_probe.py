import os
import signal
import sys
import time
from pathlib import Path

import pytest

from brie import blas

linux_with_openblas = pytest.mark.skipif(not sys.platform.startswith("linux") or blas.find_openblas() is None,
                                         reason="no system OpenBLAS on this machine")


@linux_with_openblas
def test_pytest_runs_with_fast_blas_on_linux():
    assert blas.loaded_blas().split("/")[-1].startswith("libopenblas")


def _mapped(pid: int) -> list[str]:
    """The file names a process has mapped: /proc/<pid>/maps, which loaded_blas reads for itself."""
    return [Path(line.split()[-1]).name for line in Path(f"/proc/{pid}/maps").read_text().splitlines()
            if len(line.split()) >= 6]


def _training_child_libraries(ws, model_dir, data_dir, name, env=None) -> list[str]:
    """Start `brie train` the way the UI does (brie.training.lifecycle.launch), wait until the run is training
    (MLX loaded, BLAS resolved), read what the child has mapped, then cancel it."""
    from brie.store import runs as run_rows
    from brie.training.lifecycle import launch

    log = ws.root / f"{name}.log"
    p = launch(ws, ["--model", str(model_dir), "--data", str(data_dir), "--name", name, "--iters", "100000",
                    "--save-every", "100000", "--eval-every", "100000", "--num-layers", "-1"], log=log, env=env)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and p.poll() is None:  # waiting, not a timed assertion
            run = run_rows.get_run(ws.store, name)
            if run and run["status"] == "running" and run["pid"] == p.pid:
                break
            time.sleep(0.2)
        assert p.poll() is None, log.read_text()
        return _mapped(p.pid)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=120)


@linux_with_openblas
def test_training_subprocess_gets_the_fast_blas_unless_turned_off(workspace, tiny_model_dir, tmp_path, monkeypatch):
    """Issue 2 item 4: a `brie train` child started by brie has OpenBLAS mapped; under
    BRIE_NO_FAST_BLAS=1 (a brie that never preloaded it) the child has only MLX's bundled BLAS."""
    from tests.train_helpers import write_chat_data

    data = write_chat_data(tmp_path / "chat")
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    # this process (pytest, re-executed by conftest as brie's entry point re-executes) has OpenBLAS:
    # the child inherits its environment, as the UI's children do
    libs = _training_child_libraries(workspace, tiny_model_dir, data, "fast")
    assert any(n.startswith("libmlx") for n in libs)  # read after MLX was loaded: a real check
    assert any(n.startswith("libopenblas") for n in libs)

    # a brie started with BRIE_NO_FAST_BLAS=1 never set LD_PRELOAD; its child must not pick it up either
    env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", blas.DONE_VAR)}
    env[blas.OFF_VAR] = "1"
    libs = _training_child_libraries(workspace, tiny_model_dir, data, "slow", env=env)
    assert any(n.startswith("libmlx") for n in libs)
    assert not any(n.startswith("libopenblas") for n in libs)
