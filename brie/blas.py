"""Fast BLAS for MLX on Linux.

The `mlx[cpu]` wheel bundles the reference BLAS (about 3 GFLOP/s on a 1024² matmul here). Loading
OpenBLAS first (LD_PRELOAD) makes MLX resolve its BLAS symbols there instead (about 180 GFLOP/s).
LD_PRELOAD only takes effect at process start, so the entry point re-executes itself once with it
set; subprocesses inherit the environment. Set BRIE_NO_FAST_BLAS=1 to turn this off.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

OFF_VAR = "BRIE_NO_FAST_BLAS"
# Marks that we already re-executed, so a missing library can never cause an exec loop.
DONE_VAR = "BRIE_FAST_BLAS_TRIED"

_CANDIDATES = [
    "/usr/lib/{arch}-linux-gnu/openblas-pthread/libopenblas.so.0",
    "/usr/lib/{arch}-linux-gnu/libopenblas.so.0",
    "/usr/lib64/libopenblas.so.0",
    "/usr/lib/libopenblas.so.0",
]


def find_openblas() -> str | None:
    """Path of a system OpenBLAS shared library, or None."""
    arch = platform.machine()
    for pattern in _CANDIDATES:
        path = pattern.format(arch=arch)
        if Path(path).exists():
            return path
    try:
        out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    for line in out.splitlines():
        if "libopenblas.so" in line and "=>" in line:
            return line.split("=>", 1)[1].strip()
    return None


def loaded_blas() -> str:
    """Which BLAS this process has mapped: a path to OpenBLAS, or 'reference (bundled)'."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return "Accelerate" if sys.platform == "darwin" else "unknown"
    for line in maps.splitlines():
        # numpy ships its own libscipy_openblas, which MLX does not use: match the system library.
        path = line.split()[-1]
        if Path(path).name.startswith("libopenblas"):
            return path
    return "reference (bundled with mlx)"


def wants_reexec(environ: dict[str, str] | None = None) -> str | None:
    """The library to preload if this process should re-execute itself, else None."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux") or env.get(OFF_VAR) or env.get(DONE_VAR):
        return None
    if "openblas" in env.get("LD_PRELOAD", ""):
        return None
    return find_openblas()


def ensure_fast_blas(python_args: list[str]) -> None:
    """Re-execute `python <python_args>` with OpenBLAS preloaded, when that helps. Never returns then."""
    lib = wants_reexec()
    if lib is None:
        return
    env = dict(os.environ)
    env[DONE_VAR] = "1"
    env["LD_PRELOAD"] = ":".join(p for p in [lib, env.get("LD_PRELOAD", "")] if p)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *python_args], env)


def measure_matmul_gflops(n: int = 1024, repeats: int = 5) -> float:
    """GFLOP/s of an n×n float32 matmul on MLX's default device."""
    import time

    import mlx.core as mx

    a = mx.random.normal((n, n))
    b = mx.random.normal((n, n))
    mx.eval(a @ b)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        mx.eval(a @ b)
    seconds = (time.perf_counter() - start) / repeats
    return 2 * n**3 / seconds / 1e9
