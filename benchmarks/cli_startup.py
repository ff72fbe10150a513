"""How long a brie command takes to answer, as a ratio to starting Python itself (`python -c pass`).

For each command, every round runs it and `python -c pass` back to back, alternating which goes
first (so a load that rises or falls during the run favours neither), and takes the ratio of the
two wall times. Prints min / median / max of the per-round ratios, the median wall times, the
median CPU time (user + system, which load inflates less than wall time), the peak RSS, and the
load average at the start and the end. The targets (issue 20) are wall times on the development
machine class, where `python -c pass` takes ~0.03 s: `--help` ≤ 0.3 s, `runs list` ≤ 0.5 s; the
ratio is what carries over between machines, so it is what is compared.

Runs the installed `brie` script (next to this Python) on a fresh workspace in a temporary folder,
as a user would, with brie's fast-BLAS re-execution left as it is.

    .venv/bin/python benchmarks/cli_startup.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from side_by_side import in_turn, load_average  # this script's folder

# name, command line after `brie`, target wall time in seconds (None: reported only)
COMMANDS = [
    ("brie --help", ["--help"], 0.3),
    ("brie runs list", ["runs", "list"], 0.5),
    ("brie train --help", ["train", "--help"], 0.3),
    ("brie eval --help", ["eval", "--help"], 0.3),
    ("brie compare --help", ["compare", "--help"], 0.3),
    ("brie data import --help", ["data", "import", "--help"], 0.3),
    ("brie doctor", ["doctor"], None),  # measures MLX's matmul speed: loads MLX on purpose
]
REFERENCE_WALL = 0.03  # `python -c pass` on the machine the targets were set on


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, int, int, float]:
    """Wall seconds, peak RSS (KiB), exit code and CPU seconds (user + system) of one run of argv."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return wall, usage.ru_maxrss, proc.returncode, usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="Side-by-side rounds per command.")
    args = parser.parse_args()

    brie = Path(sys.executable).parent / "brie"
    base = [str(brie)] if brie.exists() else [sys.executable, "-m", "brie"]
    reference = [sys.executable, "-c", "pass"]
    home = tempfile.mkdtemp(prefix="brie-cli-startup-")
    env = {**os.environ, "BRIE_HOME": home}
    subprocess.run([*base, "init"], env=env, check=True, capture_output=True)

    print(f"start: {load_average()}")
    print(f"brie: {' '.join(base)}; {args.rounds} rounds per command, order alternating each round")
    print()
    header = (f"{'command':<26} {'ratio min':>9} {'median':>7} {'max':>6}  {'wall':>7} {'python':>7}"
              f"  {'CPU':>6}  {'RSS':>7}  {'≈ at 0.03 s':>11}  target")
    print(header)
    print("-" * len(header))
    failed = []
    for name, argv, target in COMMANDS:
        timed([*base, *argv], env)  # warm the file cache once, untimed
        ratios, walls, refs, rss, cpu = [], [], [], [], []
        for r in range(args.rounds):
            got = {}
            for side, cmd in in_turn(r, ("ref", reference), ("cmd", [*base, *argv])):
                got[side] = timed(cmd, env)
            wall, peak, code, cpu_s = got["cmd"]
            if code not in (0,):
                failed.append(f"{name} exited {code}")
            ratios.append(wall / got["ref"][0])
            walls.append(wall)
            refs.append(got["ref"][0])
            rss.append(peak)
            cpu.append(cpu_s)
        med = statistics.median(ratios)
        scaled = med * REFERENCE_WALL
        verdict = "-" if target is None else (f"≤ {target:.1f} s: " + ("met" if scaled <= target else "MISSED"))
        print(f"{name:<26} {min(ratios):>8.1f}x {med:>6.1f}x {max(ratios):>5.1f}x  "
              f"{statistics.median(walls):>6.3f}s {statistics.median(refs):>6.3f}s  {statistics.median(cpu):>5.2f}s  "
              f"{max(rss) / 1024:>5.0f}MiB  {scaled:>10.2f}s  {verdict}")
    print()
    print(f"end: {load_average()}")
    print("≈ at 0.03 s: the median ratio times 0.03 s, the wall time on the machine the targets were set on")
    for line in failed[:5]:
        print(f"warning: {line}")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
