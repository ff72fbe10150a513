"""The experiment table: one row per training run and one per evaluation, with headline numbers."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from brie.evals import display_name
from brie.store import datasets as dataset_rows
from brie.store import evals as eval_rows
from brie.store import runs as run_rows
from brie.workspace import Workspace

COLUMNS = ["id", "kind", "model", "dataset", "method", "config", "status", "started", "ended", "metrics"]
# config keys worth a glance, in the spellings a run config may use
KEY_CONFIG = ("learning_rate", "lr", "rank", "lora_rank", "alpha", "num_layers", "batch_size", "iters", "epochs",
              "max_seq_length", "seed")


def key_config(config_json: str | None) -> str:
    try:
        config = json.loads(config_json or "{}")
    except json.JSONDecodeError:
        return ""
    flat = dict(config)
    for nested in ("lora_parameters", "lora"):
        if isinstance(config.get(nested), dict):
            flat.update(config[nested])
    if flat.get("method") in ("dpo", "orpo"):  # a preference run: its own settings and starting point lead
        flat = {"beta": flat.get("beta"), "from": flat.get("init_from"), **flat}
    return " ".join(f"{k}={flat[k]}" for k in ("beta", "from", *KEY_CONFIG) if k in flat and flat[k] is not None)


def dataset_text(ws: Workspace, dataset_id: int | None) -> str:
    """'name vN', with its sample ratio when below 1; '#id' for a dataset no longer stored."""
    if dataset_id is None:
        return ""
    d = dataset_rows.get_dataset_by_id(ws.store, dataset_id)
    if d is None:
        return f"#{dataset_id}"
    ratio = d.get("sample_ratio")
    return f"{d['name']} v{d['version']}" + (f" (sample {ratio:g})" if ratio is not None and ratio < 1 else "")


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def headline(result: dict) -> str:
    """The benchmark's primary metric first, then the rest: 'flexible=0.3 strict=0.1 (n=10)'."""
    from brie.evals import parse_benchmark

    metrics = dict(result["metrics"])
    n = metrics.pop("n", None)
    try:
        primary = parse_benchmark(result["benchmark"]).primary
    except Exception:  # a benchmark kind this version does not know still lists
        primary = None
    keys = sorted(metrics, key=lambda k: (k != primary, k))
    body = " ".join(f"{k}={_fmt(metrics[k])}" for k in keys if isinstance(metrics[k], (int, float)))
    return body + (f" (n={n})" if n is not None else "")


def experiment_rows(ws: Workspace) -> list[dict]:
    rows = []
    for run in run_rows.list_runs(ws.store):
        checkpoints = run_rows.list_checkpoints(ws.store, run["id"])
        vals = [(c["val_loss"], c["step"]) for c in checkpoints if c["val_loss"] is not None]
        metrics = {}
        if vals:
            best_val, best_at = min(vals)
            metrics["best_val_loss"] = round(best_val, 4)
            metrics["best_val_step"] = best_at
        metrics["checkpoints"] = len(checkpoints)
        rows.append({
            "id": run["name"], "kind": "run" + (" (dry run)" if run.get("dry_run") else ""),
            "model": run["model"], "dataset": dataset_text(ws, run["dataset_id"]), "method": run["method"] or "",
            "config": key_config(run["config_json"]), "status": run["status"],
            "started": run["started_at"] or run["created_at"], "ended": run["ended_at"],
            "metrics": " ".join(f"{k}={v}" for k, v in metrics.items()),
        })
    for r in eval_rows.list_results(ws.store):
        rows.append({
            "id": f"eval-{r['id']}", "kind": "eval",
            "model": r["label"] if r["run"] else f"base: {Path(r['model']).name}", "dataset": display_name(r["benchmark"]),
            "method": "", "config": " ".join(f"{k}={v}" for k, v in sorted(r["settings"].items()) if v is not None),
            "status": r["status"] + ("" if r["status"] == "completed" else f" {r['n_done']}/{r['n_items']}"),
            "started": r["started_at"], "ended": r["ended_at"], "metrics": headline(r),
        })
    return rows


def to_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _md_cell(value) -> str:
    return ("" if value is None else str(value)).replace("|", "\\|").replace("\n", " ")


def to_markdown(rows: list[dict], columns: list[str] = COLUMNS) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_md_cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"
