"""How numbers and states look on screen, shared by the screens."""

from __future__ import annotations

STATUS_STYLE = {
    "pending": "dim",
    "running": "bold yellow",
    "completed": "green",
    "failed": "bold red",
    "cancelled": "magenta",
}


def status_text(status: str | None):
    from rich.text import Text

    status = status or "?"
    return Text(status, style=STATUS_STYLE.get(status, ""))


def loss(value: float | None) -> str:
    return "—" if value is None else f"{value:.4f}"


def size(n: int | None) -> str:
    if n is None:
        return "—"
    for unit in ("B", "KiB", "MiB", "GiB"):  # binary units: the divisor is 1024
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def progress(step: int | None, total: int | None) -> str:
    if total:
        return f"{step or 0}/{total}"
    return str(step or 0)


def dataset(name: str | None, version: int | None, ratio: float | None) -> str:
    if not name:
        return "—"
    text = f"{name} v{version}" if version else name
    if ratio is not None and ratio < 1:
        text += f" ×{ratio:g}"
    return text


def pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.0f}%"


def parse_time(text: str | None):
    """A stored UTC timestamp ("2026-11-22T10:00:00Z") as a datetime, or None."""
    from datetime import datetime

    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def duration(seconds: float) -> str:
    """A rough duration: 40s, 16m, 2h 5m."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes}m"
    return f"{minutes // 60}h {minutes % 60}m"


def time_left(step: int | None, total: int | None, started_at: str | None, last_step_at: str | None) -> str | None:
    """The time a running run still needs at the pace it kept from its start to its newest logged
    step ("~16m left"); None while there is no pace to go by. It depends on the stored times only,
    not on the clock, so it does not jump between two reads of the same store."""
    start, last = parse_time(started_at), parse_time(last_step_at)
    if not (step and total and start and last) or step >= total:
        return None
    elapsed = (last - start).total_seconds()
    if elapsed <= 0:
        return None
    return f"~{duration(elapsed / step * (total - step))} left"


def run_progress(row: dict) -> str:
    """The Step cell of the runs list: step/total, and for a running run its percentage and time left."""
    step, total = row.get("step"), row.get("total_steps")
    text = progress(step, total)
    if row.get("status") == "running" and total:
        text += f" {100 * (step or 0) / total:.0f}%"
        left = time_left(step, total, row.get("started_at"), row.get("last_step_at"))
        if left:
            text += f" {left}"
    return text


def judge(name: str, width: int = 32) -> str:
    """A judge's name short enough for a table column: a local server's URL loses its scheme and
    /v1, a model folder its path; what is still too long is cut in the middle (the table's note
    gives the full names)."""
    import re

    kind, sep, rest = name.partition(":")
    if not sep:
        return name if len(name) <= width else name[: width - 1] + "…"
    if kind == "openai-compatible":
        kind = "compat"
    model, at, url = rest.partition("@")
    if at:
        url = re.sub(r"^[a-z]+://", "", url).rstrip("/")
        url = re.sub(r"/v1$", "", url)
        rest = f"{model}@{url}"
    elif "/" in rest and (rest.startswith(("/", ".", "~")) or rest.count("/") > 1):
        rest = rest.rstrip("/").rsplit("/", 1)[-1]  # a model folder: its own name
    text = f"{kind}:{rest}"
    if len(text) > width:
        keep = width - 1
        text = text[: keep - keep // 3] + "…" + text[len(text) - keep // 3:]
    return text


def benchmark(spec: str, root) -> str:
    """A benchmark spec with a file argument under the workspace shown relative to it (else by its
    file name, as brie.evals.display_name does), never as an absolute path."""
    from pathlib import Path

    from brie.evals import display_name

    kind, sep, arg = spec.partition(":")
    if sep and arg.startswith("/"):
        try:
            return f"{kind}:{Path(arg).relative_to(Path(root).resolve())}"
        except ValueError:
            pass
    return display_name(spec)


def signed_interval(low: float | None, high: float | None) -> str:
    return "—" if low is None else f"{low:+.3f} … {high:+.3f}"


def significance_style(significant: bool, drop: bool) -> str:
    """Red for a significant drop, green for a significant gain, dim for a change within noise."""
    if drop:
        return "bold red"
    return "green" if significant else "dim"
