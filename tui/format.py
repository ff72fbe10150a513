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
