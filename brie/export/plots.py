"""PNG plots: eval metrics against step and loss curves under exports/<run>/, and the forest plot of a
`brie rank` under exports/ (matplotlib, Agg)."""

from __future__ import annotations

import re
from pathlib import Path

from brie.evals import display_name
from brie.store import evals as eval_rows
from brie.workspace import Workspace


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only; never opens a window
    import matplotlib.pyplot as plt

    return plt


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "benchmark"


COUNTS = {"n", "tokens"}


def sweep_series(ws: Workspace, run: str) -> dict[str, dict]:
    """{benchmark: {"steps": [...], "metrics": {name: [...]}, "base": {name: value}, "settings": {...}}}
    from stored results: per benchmark, the settings it was evaluated with last (as the forgetting
    table picks them), so two settings never share one line."""
    import json

    from brie.evals.forgetting import current_results

    out: dict[str, dict] = {}
    for r in current_results(eval_rows.list_results(ws.store, run=run)):
        entry = out.setdefault(r["benchmark"], {"points": {}, "base": {}, "settings": r["settings"]})
        entry["points"][r["step"]] = r["metrics"]
        base = eval_rows.find_result(ws.store, r["model"], None, r["benchmark"], json.loads(r["settings_json"]))
        if base is not None:
            entry["base"] = base["metrics"]
    for entry in out.values():
        steps = sorted(entry.pop("points").items())
        entry["steps"] = [s for s, _ in steps]
        # counts (items, scored tokens) are not metrics: they say how much, not how well
        names = sorted({k for _, m in steps for k, v in m.items()
                        if isinstance(v, (int, float)) and k not in COUNTS})
        entry["metrics"] = {k: [m.get(k) for _, m in steps] for k in names}  # None where a step lacks it
    return out


def plot_sweep(ws: Workspace, run: str) -> list[Path]:
    """One PNG per benchmark and metric: the metric at each checkpoint step, base as a dashed line."""
    plt = _pyplot()
    folder = ws.exports_dir / run
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for bench, entry in sweep_series(ws, run).items():
        for metric, values in entry["metrics"].items():
            fig, ax = plt.subplots(figsize=(6, 3.5))
            ax.plot(entry["steps"], [float("nan") if v is None else v for v in values], marker="o", label=run)
            if metric in entry["base"]:
                ax.axhline(entry["base"][metric], linestyle="--", color="gray", label="base")
            ax.set_xlabel("step")
            ax.set_ylabel(metric)
            ax.set_title(f"{display_name(bench)}: {metric}")
            ax.legend()
            fig.tight_layout()
            path = folder / f"sweep_{_slug(display_name(bench))}_{_slug(metric)}.png"
            fig.savefig(path, dpi=100)
            plt.close(fig)
            written.append(path)
    return written


def plot_losses(path: Path, series: dict[str, list[tuple[int, float]]], title: str) -> Path | None:
    """Loss curves ({name: [(step, value)]}) to one PNG; None when there is nothing to draw."""
    series = {k: v for k, v in series.items() if v}
    if not series:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for name, points in series.items():
        ax.plot([s for s, _ in points], [v for _, v in points], label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_ranking(ws: Workspace, ranking: dict) -> Path:
    """A forest plot of one `brie rank` result: each model's Bradley–Terry score with its 95% interval,
    best on top, the anchor (base) as a dashed line; exports/rank_<suite>_<judge>.png."""
    plt = _pyplot()
    models = ranking["models"]
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(models) + 1.4))
    ys = list(range(len(models)))[::-1]
    for y, m in zip(ys, models):
        color = "gray" if m["anchor"] else ("tab:green" if m["clears_anchor"] else "tab:blue")
        ax.errorbar(m["score"], y, xerr=[[m["score"] - m["ci_low"]], [m["ci_high"] - m["score"]]],
                    fmt="o", color=color, capsize=3)
    ax.axvline(1000.0, linestyle="--", color="gray")
    ax.set_yticks(ys)
    ax.set_yticklabels([m["label"] for m in models])
    ax.set_xlabel("Bradley–Terry score (Elo scale, base = 1000), 95% bootstrap interval")
    ax.set_title(f"{ranking['suite']} · {ranking['judge']}", fontsize=9)
    fig.tight_layout()
    path = ws.exports_dir / f"rank_{_slug(ranking['suite'])}_{_slug(ranking['judge'])}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
