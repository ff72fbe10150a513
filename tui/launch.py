"""Starting `brie …` processes from the UI.

`brie train` runs as its own process in its own session (start_new_session), so closing the UI —
or a Ctrl+C in the terminal that runs it — never stops a run. Its output goes to a log file under
the workspace; the UI follows the run through the store, like any run started from a terminal.
Short commands (recommend, prune, export) run to completion in a worker thread.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


def brie_command(args: list[str]) -> list[str]:
    """The command line that runs `brie <args>` with this Python (fast BLAS is set up by brie itself)."""
    return [sys.executable, "-m", "brie", *args]


def shown_command(args: list[str]) -> str:
    """What the user would type in a terminal for the same thing."""
    import shlex

    return "brie " + " ".join(shlex.quote(a) for a in args)


def child_env(root: Path) -> dict:
    env = dict(os.environ)
    env["BRIE_HOME"] = str(root)
    return env


@dataclass
class Launched:
    name: str
    process: subprocess.Popen
    log_path: Path
    command: list[str]  # the brie arguments, as a user would type them after `brie`
    session_id: int  # the child's own session: not the UI's, so closing the UI does not signal it


def launch_training(ws, name: str, train_args: list[str]) -> Launched:
    """Start `brie train <train_args>` through brie.training.lifecycle.launch: its own session (closing the UI
    never stops it; SIGTERM cancels it), output to logs/<name>-<time>.log in the workspace."""
    from brie.training.lifecycle import launch

    logs = Path(ws.root) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}.log"
    process = launch(ws, train_args, log=log_path)
    return Launched(name, process, log_path, ["train", *train_args], os.getsid(process.pid))


def run_to_end(root: Path, args: list[str], timeout: float = 600) -> tuple[int, str]:
    """Run `brie <args>` and return (exit code, its output). Call from a worker thread only."""
    done = subprocess.run(brie_command(args), cwd=root, env=child_env(root), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout)
    return done.returncode, (done.stdout + done.stderr).strip()


def log_tail(path: Path, lines: int = 5) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
