"""A local OpenAI-compatible judge: `mlx_lm.server` serving a model folder, for offline judging."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from brie.errors import BrieError

PREFERRED_PORT = 18231  # fixed when free, so the judge's name (which holds the URL) stays the same


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return s.getsockname()[1]
            except OSError:
                continue
    raise BrieError("no free local port for mlx_lm.server")


@contextmanager
def mlx_server(model_path: str | Path, port: int = PREFERRED_PORT, wait_s: float = 180.0,
               log_path: Path | None = None) -> Iterator[str]:
    """Start `mlx_lm.server` for `model_path`; yield its base URL (…/v1); stop it on exit.

    It inherits this process's environment, so on Linux it gets the same fast BLAS (brie/blas.py).
    """
    port = _free_port(port)
    log = open(log_path, "ab") if log_path else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, "-m", "mlx_lm.server", "--model", str(model_path),
                             "--host", "127.0.0.1", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + wait_s
        while True:
            if proc.poll() is not None:
                raise BrieError(f"mlx_lm.server exited with code {proc.returncode}"
                                + (f" (see {log_path})" if log_path else ""))
            try:
                with urllib.request.urlopen(url + "/v1/models", timeout=2):
                    break
            except OSError:
                if time.time() > deadline:
                    raise BrieError(f"mlx_lm.server did not answer on {url} within {wait_s:.0f} s") from None
                time.sleep(0.5)
        yield url + "/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log_path:
            log.close()
