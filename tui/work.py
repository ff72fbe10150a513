"""Long work started from the UI (a comparison's generation and judging, a model export): run so that
quitting stops it, and followed on screen with counts, elapsed time and an estimate of the time left.

A Job does not run in a Textual thread worker: those run in asyncio's default executor, which the
app waits for as it exits, so `q` used to clear the screen and leave brie judging headless until the
work was done. A Job runs in a daemon thread with a `stop` event. The judging loop starts no new
request once it is set (those in flight are stored); generation stops at its next stored answer
(`Job.check` raises JobStopped from the progress callback). Quitting sets every job's event and leaves
the screen at once; `run_app` then gives the jobs a few seconds to store what is in flight, and ends
the process even if a slow request is still out (it was not stored; a rerun asks it again).

Work done by a brie child process (`brie export model`) runs through `run_brie`: a job whose stop
ends the child (SIGTERM, then SIGKILL) rather than leaving it behind. `status_line` is the one live
line every screen shows for a job: spinner, what it does, its counts, elapsed time and time left.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class JobStopped(Exception):
    """Raised inside a job (from its progress callback) once it was asked to stop."""


@dataclass
class Job:
    name: str  # what it does, for the quit question: "Judging", "Generating answers"
    stop: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.monotonic)
    thread: threading.Thread | None = None
    detail: str = ""  # what it works on ("pirate-lora@200 to exports/models/…"), for its status line
    phase: "Phase | None" = None  # what its counts and time left measure now, when it knows a total
    counts: str = ""  # every outcome so far, when it has more than one kind ("3 valid · 1 failed")

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def check(self) -> None:
        if self.stop.is_set():
            raise JobStopped()


def start_job(name: str, target: Callable[[Job], None], detail: str = "") -> Job:
    """Run `target(job)` in a daemon thread; `target` must catch its own errors (and say them)."""
    job = Job(name, detail=detail)
    job.thread = threading.Thread(target=target, args=(job,), daemon=True, name=f"brie: {name}")
    job.thread.start()
    return job


def stop_jobs(jobs: list[Job], grace: float) -> list[Job]:
    """Ask every job to stop, wait up to `grace` seconds in all; return those still running."""
    for job in jobs:
        job.stop.set()
    deadline = time.monotonic() + grace
    for job in jobs:
        if job.thread is not None:
            job.thread.join(max(0.0, deadline - time.monotonic()))
    return [job for job in jobs if job.running]


def clock(seconds: float) -> str:
    """0:07, 12:30, 1:02:03."""
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


@dataclass
class Phase:
    """One stretch of work with a known total (a model's answers, a judge's judgments), timed from its
    start. The estimate counts only what this run did: answers stored before it started cost no time."""

    label: str
    total: int | None
    started: float  # time.monotonic() when it began (the end of the stretch before it, or the job's start)
    done_at_start: int = 0
    done: int = 0

    def left(self, now: float | None = None) -> float | None:
        """Seconds left at this run's pace so far; None before this run's first result."""
        now = time.monotonic() if now is None else now
        new = self.done - self.done_at_start
        if self.total is None or new <= 0:
            return None
        return (now - self.started) / new * max(0, self.total - self.done)


def timing(job: Job, phase: Phase | None, now: float | None = None) -> str:
    """'0:42 elapsed · about 1:10 left' (elapsed since the job began; the estimate from this phase)."""
    now = time.monotonic() if now is None else now
    text = f"{clock(now - job.started)} elapsed"
    if phase is None or phase.total is None or phase.done >= phase.total:
        return text
    left = phase.left(now)
    return text + (" · estimating time left…" if left is None else f" · about {clock(left)} left")


def status_line(job: Job, now: float | None = None) -> str:
    """'⠹ Exporting model pirate-lora@200 · 0:07 elapsed': a job's live status (its counts and the time
    left too, once its phase has a total)."""
    now = time.monotonic() if now is None else now
    frame = SPINNER[int(now * 8) % len(SPINNER)]
    if job.stop.is_set():
        return f"{frame} Stopping {job.name.lower()}…"
    parts = [f"{frame} {job.name}" + (f" {job.detail}" if job.detail else "")]
    if job.phase is not None and job.phase.total:
        parts.append(f"{job.phase.done} of {job.phase.total}")
    if job.counts:
        parts.append(job.counts)
    parts.append(timing(job, job.phase, now))
    return " · ".join(parts)


def run_brie(job: Job, root, args: list[str]) -> tuple[int, str]:
    """`brie ARGS` as a child process (call from the job's thread): (exit code, its output). When the
    job is asked to stop, the child is ended (SIGTERM, then SIGKILL after 5 s) and JobStopped raised."""
    import subprocess
    import tempfile

    from tui.launch import brie_command, child_env

    with tempfile.TemporaryFile("w+") as out:  # a file, not a pipe: a chatty child never blocks on it
        child = subprocess.Popen(brie_command(args), cwd=root, env=child_env(root), stdin=subprocess.DEVNULL,
                                 stdout=out, stderr=subprocess.STDOUT, text=True)
        while child.poll() is None:
            if job.stop.wait(0.1):
                child.terminate()
                try:
                    child.wait(5)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
                raise JobStopped()
        out.seek(0)
        return child.returncode, out.read().strip()
