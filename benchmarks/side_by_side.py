"""What every side-by-side benchmark here shares, so that none favours a side by running it first.

A load that rises or falls during a run helps whichever side runs in the quieter half; so the order
alternates every round, and the spread of the per-round ratios (min, median, max) is printed with
the load average at the start and the end, so a reader can tell a real difference from noise.
"""

from __future__ import annotations

import os
import statistics


def in_turn(round_index: int, *sides):
    """The sides in their given order on even rounds, reversed on odd ones."""
    return list(sides) if round_index % 2 == 0 else list(reversed(sides))


def spread(ratios: list[float], digits: int = 2) -> str:
    """'min 0.97 / median 1.02 / max 1.08 over 4 rounds' of the per-round ratios."""
    f = f"{{:.{digits}f}}"
    return (f"min {f.format(min(ratios))} / median {f.format(statistics.median(ratios))} / "
            f"max {f.format(max(ratios))} over {len(ratios)} round{'s' if len(ratios) != 1 else ''}")


def load_average() -> str:
    """'load average 0.42 0.51 0.60 (1, 5, 15 min) on 2 CPUs', flagged when the machine is busy."""
    one, five, fifteen = os.getloadavg()
    cpus = os.cpu_count() or 1
    busy = " (busy: timings are inflated and noisy)" if one > cpus / 2 else ""
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} (1, 5, 15 min) on {cpus} CPUs{busy}"
