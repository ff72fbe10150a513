"""`brie report <run>`: exports/<run>/report.md — what the run learned and what it forgot, with caveats.

Only what exists is shown: a run without judgments says so instead of showing empty tables.
"""

from __future__ import annotations

from pathlib import Path

from brie.errors import BrieError
from brie.export.experiments import dataset_text, key_config
from brie.evals import display_name
from brie.evals.forgetting import (current_results, forgetting_table, left_out_settings, mean_change_text,
                                   summarize, worst_text)
from brie.export.plots import plot_losses, plot_sweep, sweep_series
from brie.judging import stats
from brie.judging.rank import recommended_why
from brie.store import datasets as dataset_rows
from brie.store import evals as eval_rows
from brie.store import runs as run_rows
from brie.workspace import Workspace
from brie.words import plural

SMALL_N = 100  # below this many items a benchmark's interval is wide; say so


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]  # not str.capitalize: it lowercases a benchmark's name


def _fmt(v, digits: int = 4) -> str:
    if v is None:
        return "–"
    return f"{v:.{digits}g}" if isinstance(v, float) else str(v)


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_fmt(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return out


def _settings(settings: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(settings.items())) or "defaults"


def _loss_series(ws: Workspace, run_id: int) -> dict[str, list[tuple[int, float]]]:
    series: dict[str, list[tuple[int, float]]] = {}
    for m in run_rows.loss_metrics(ws.store, run_id):
        series.setdefault(m["name"], []).append((m["step"], m["value"]))
    return series


def _thin(points: list, most: int = 20) -> list:
    if len(points) <= most:
        return points
    every = -(-len(points) // most)
    return points[::every] + ([points[-1]] if (len(points) - 1) % every else [])


def _judging_section(ws: Workspace, run: str) -> tuple[list[str], list[str]]:
    """Win rates, position bias and judge agreement from the judging statistics (brie.judging.stats),
    over the comparisons in which one side is this run's checkpoint — never other runs'."""
    data = stats.results(ws, run=run)
    rows = [r for r in data["results"] if r["category"] == "(all)"]
    scores = data.get("scores", [])
    if not rows and not scores:
        return ["No judgments yet."], []
    lines, caveats = [], []
    if rows:
        lines += ["Win rate is B's, ties counted as half; 95% Wilson interval. \"first shown\" is how often the "
                  "answer shown first won a decisive verdict (0.5 = no position bias).", ""]
        weighted = any(r["pref_b"] is not None for r in rows)  # judges that stored verdict probabilities
        if weighted:
            lines[-2] += (" \"B preference\" is the mean probability the judge gave B (ties half), from its verdict "
                          "token's probabilities, both orders averaged with `--swap` (which cancels a constant "
                          "position bias); its 95% interval is a percentile bootstrap over prompts (2,000 "
                          "resamples, seeded). \"position bias\" is the mean probability for the answer shown "
                          "first, minus 0.5.")
        table = []
        for r in rows:
            ci = "–" if r["ci_low"] is None else f"[{r['ci_low']:.2f}, {r['ci_high']:.2f}]"
            table.append([r["suite"], r["a"], r["b"], r["judge"], r["n"], f"{r['b_wins']}/{r['a_wins']}/{r['ties']}",
                          r["b_win_rate"], ci, r["first_shown_win_rate"], r["swap_consistency"],
                          f"{r['parse_failure_rate']:.0%}"])
            if weighted:
                pref_ci = "–" if r["pref_b_low"] is None else f"[{r['pref_b_low']:.2f}, {r['pref_b_high']:.2f}]"
                bias = "–" if r["position_bias"] is None else f"{r['position_bias']:+.2f}"
                table[-1][8:8] = [r["pref_b"], pref_ci, bias]
            if r["n"] < stats.SMALL_N:
                caveats.append(f"{r['a']} vs {r['b']} on {r['suite']} ({r['judge']}): only n={r['n']} {'comparison' if r['n'] == 1 else 'comparisons'}.")
            if r["parse_failure_rate"]:
                caveats.append(f"{r['judge']} on {r['suite']}: {r['parse_failure_rate']:.0%} of its answers did not "
                               "parse (stored as invalid, retried, never guessed).")
        lines += _table(["suite", "A", "B", "judge", "n", "B wins/A wins/ties", "B win rate", "95% CI",
                         *(["B preference", "95% CI (bootstrap)", "position bias"] if weighted else []),
                         "first shown wins", "swap consistency", "parse failures"], table) + [""]
    for text in data["position_warnings"]:
        lines += [f"**Position bias:** {text}", ""]
        caveats.append(f"Position bias: {text}")
    agreement = data["agreement"]
    if agreement:
        lines += ["Judge agreement (Cohen's kappa over a / b / tie). n, agreement and kappa count judgments: "
                  "the verdicts both judges gave on the same comparison shown in the same order. The pairs "
                  "columns count comparisons both judged in both orders (`--swap`), each judge's two verdicts "
                  "merged (a flip is a tie); – where there are none.", ""]
        lines += _table(["judge 1", "judge 2", "n", "agreement", "kappa", "pairs n", "pairs agreement", "pairs kappa"],
                        [[a["judge_1"], a["judge_2"], a["n"], a["agreement"], a["kappa"], a["pairs_n"],
                          a["pairs_agreement"], a["pairs_kappa"]] for a in agreement]) + [""]
    if data["vs_human"]:
        probs = any(h["p_human"] is not None for h in data["vs_human"])
        lines += ["Each judge against the human (the human's verdicts are the reference): agreement and Cohen's "
                  "kappa over the comparisons both judged in the same shown order"
                  + ("; P(human's verdict) is the mean probability the judge gave the verdict the human chose."
                     if probs else "."), ""]
        lines += _table(["judge", "human", "n", "agreement", "kappa", *(["P(human's verdict)"] if probs else [])],
                        [[h["judge"], h["human"], h["n"], h["agreement"], h["kappa"],
                          *([h["p_human"]] if probs else [])] for h in data["vs_human"]]) + [""]
    if scores:
        lines += ["Single-answer grades (1–10):", ""]
        lines += _table(["suite", "model", "judge", "n", "mean", "sd", "parse failures"],
                        [[r["suite"], r["model"], r["judge"], r["n"], r["mean_score"], r["sd"],
                          r["parse_failure_rate"]] for r in scores]) + [""]
    return lines, caveats


def _steps(row: dict) -> str:
    """Steps done out of planned, in words when either is unknown (a run that failed or was
    cancelled before its first step has neither)."""
    done, total = row.get("step"), row.get("total_steps")
    if done is None and total is None:
        return f"none recorded (the run is {row['status']})" if row["status"] != "completed" else "–"
    if total is None:
        return f"{done} (total not recorded)"
    if done is None:
        return f"0 of {total}"
    return f"{done} of {total}"


def _verdicts_section(ws: Workspace, ds: dict | None) -> list[str]:
    """For a run on a preference dataset made from verdicts (`data import --from-judgments`): which
    verdicts it learned from, and whose answers (checkpoint identities) those were."""
    import json
    from collections import Counter

    verdicts = json.loads(ds.get("report_json") or "{}").get("verdicts") if ds else None
    if not verdicts:
        return []
    judges, answers, pairs = Counter(), Counter(), 0
    for split in ("train", "valid", "test"):
        path = ws.path_of(ds["path"]) / f"{split}.jsonl"
        for line in (path.read_text(encoding="utf-8").splitlines() if path.exists() else []):
            pair = json.loads(line)
            pairs += split == "train"
            judges.update(pair.get("judges", []))
            for side in ("chosen", "rejected"):
                for who in pair.get(f"{side}_from", []):
                    sha = (who.get("adapter_sha256") or "")[:12]
                    answers[(side, who.get("label"), sha)] += 1
    out = ["## Learned from verdicts", "",
           f"{plural(verdicts['pairs'], 'pair')} from the verdicts of {', '.join(sorted(judges)) or 'no judge'}"
           + (f" on suite {verdicts['suite']}" if verdicts.get("suite") else "")
           + f" ({pairs} in training); skipped {plural(verdicts['skipped_ties'], 'tie')}, "
           f"{verdicts['skipped_disagreements']} where judges disagree, {verdicts['skipped_multi_turn']} multi-turn.", ""]
    out += _table(["answer", "model", "adapter sha256", "pairs"],
                  [[side, label, sha or "–", n] for (side, label, sha), n in sorted(answers.items())]) + [""]
    return out


def build_report(ws: Workspace, run: str) -> str:
    row = run_rows.get_run(ws.store, run)
    if row is None:
        raise BrieError(f"{run!r}: no run with that name (see `brie runs list`)")
    folder = ws.exports_dir / run
    folder.mkdir(parents=True, exist_ok=True)
    caveats: list[str] = []
    lines = [f"# Report: {run}", ""]
    info = [
        ("model", row["model"]), ("dataset", dataset_text(ws, row["dataset_id"]) or "–"),
        ("method", row["method"] or "–"), ("key config", key_config(row["config_json"]) or "–"),
        ("status", row["status"]), ("steps", _steps(row)),
        ("started", row["started_at"] or row["created_at"]), ("ended", row["ended_at"] or "–"),
    ]
    if row.get("error"):
        info.append(("error", " ".join(str(row["error"]).split())[:300]))
    lines += _table(["", ""], [[f"**{k}**", v] for k, v in info]) + [""]
    if row.get("dry_run"):
        caveats.append("This was a **dry run**: its numbers check the plumbing, not the method.")
    ds = dataset_rows.get_dataset_by_id(ws.store, row["dataset_id"]) if row["dataset_id"] is not None else None
    if ds and ds.get("sample_ratio") is not None and ds["sample_ratio"] < 1:
        caveats.append(f"Trained on a **{ds['sample_ratio']:g} sample** of the dataset, not all of it.")
    if row["status"] != "completed":
        caveats.append(f"The run's status is **{row['status']}**: the checkpoints may not be its final state.")
    lines += _verdicts_section(ws, ds)

    lines += ["## Loss curves", ""]
    series = _loss_series(ws, row["id"])
    png = plot_losses(folder / "loss.png", series, f"{run}: loss")
    if png is None:
        lines += ["No loss metrics recorded.", ""]
    else:
        lines += [f"![loss curves]({png.name})", ""]
        steps = sorted({s for pts in series.values() for s, _ in pts})
        names = sorted(series)
        by = {n: dict(series[n]) for n in names}
        lines += _table(["step", *names], [[s, *[by[n].get(s) for n in names]] for s in _thin(steps)]) + [""]

    lines += ["## Checkpoints", ""]
    checkpoints = run_rows.list_checkpoints(ws.store, row["id"])
    if not checkpoints:
        lines += ["No checkpoints.", ""]
    else:
        table = []
        for c in checkpoints:
            note = ", ".join(v for k, v in [(row["best_step"], "best"), (row["recommended_step"], "recommended")]
                             if k == c["step"])
            table.append([c["step"], c["train_loss"], c["val_loss"], c["adapter_sha256"][:12], note])
        lines += _table(["step", "train loss", "val loss", "adapter sha256", ""], table) + [""]
        if row["recommended_step"] is not None:
            lines += [f"Recommended: step {row['recommended_step']} — {recommended_why(row)}.", ""]

    lines += ["## Win rates and judge agreement", ""]
    judging, judge_caveats = _judging_section(ws, run)
    lines += judging + [""]
    caveats += judge_caveats

    lines += ["## Forgetting (vs the base model, paired on items)", ""]
    deltas = forgetting_table(ws, run)
    if not deltas:
        lines += [f"No evaluations of this run against its base yet (`brie eval --sweep {run} --benchmarks …`).", ""]
    else:
        table = []
        for d in deltas:
            ci = "–" if d.ci_low is None else f"[{d.ci_low:+.3g}, {d.ci_high:+.3g}]"
            flag = "**drop**" if d.drop else ("better" if d.significant else "")
            table.append([display_name(d.benchmark), d.metric + ("" if d.higher_is_better else " (lower is better)"), d.n,
                          d.base, d.value, f"{d.delta:+.4g}", ci, d.p_value, flag])
        lines += [f"Checkpoint: **{deltas[0].label}**. Intervals are 95% paired bootstrap; p is McNemar's exact "
                  "test for 0/1 metrics. Losses are token-weighted, as in the eval table.", ""]
        lines += _table(["benchmark", "metric", "n", "base", "checkpoint", "delta", "95% CI", "p", ""], table)
        s = summarize(deltas)
        # one mean per unit: accuracies and losses are never averaged together
        lines += ["", f"Mean change vs base, per unit: {mean_change_text(s)}. {_sentence(worst_text(s))}. "
                  + (f"Significant drops: {', '.join(map(display_name, s['drops']))}." if s["drops"] else "No significant drop."), ""]
        for d in deltas:
            if d.n < SMALL_N:
                caveats.append(f"{display_name(d.benchmark)}: only n={d.n} {'item' if d.n == 1 else 'items'}, so the interval is wide; a real difference "
                               "this small may not show.")
    series = sweep_series(ws, run)
    if series:
        lines += ["### Every evaluated checkpoint", ""]
        for bench, entry in series.items():
            names = list(entry["metrics"])
            rows = [["base", *[entry["base"].get(n) for n in names]]] if entry["base"] else []
            rows += [[step, *[entry["metrics"][n][i] for n in names]] for i, step in enumerate(entry["steps"])]
            lines += [f"**{display_name(bench)}**", ""] + _table(["step", *names], rows) + [""]
        for png in plot_sweep(ws, run):
            lines += [f"![{png.stem}]({png.name})"]
        lines += [""]
    current = {e["benchmark"]: e for e in current_results(eval_rows.list_results(ws.store, run=run))}
    for bench, others in left_out_settings(eval_rows.list_results(ws.store, run=run)).items():
        caveats.append(f"{display_name(bench)}: shown with the settings it was evaluated with last "
                       f"({_settings(current[bench]['settings'])}); results with other settings "
                       f"({'; '.join(map(_settings, others))}) are left out of the tables and plots.")
    unfinished = [r for r in eval_rows.list_results(ws.store, run=run) if r["status"] != "completed"]
    for r in unfinished:
        caveats.append(f"{r['label']} on {display_name(r['benchmark'])} is {r['status']} ({r['n_done']}/{plural(r['n_items'], 'item')}); "
                       "rerun the same `brie eval` to finish it.")
    limited = sorted({f"{display_name(r['benchmark'])} ({r['n_items']} of {r['n_available']})"
                      for r in eval_rows.list_results(ws.store, run=run)
                      if r["n_available"] and r["n_items"] < r["n_available"]})
    if limited:
        caveats.append(f"Evaluated on the first --limit items only: {', '.join(limited)}.")

    lines += ["## Caveats", ""]
    lines += [f"- {c}" for c in caveats] if caveats else ["None found."]
    return "\n".join(lines) + "\n"


def write_report(ws: Workspace, run: str) -> Path:
    text = build_report(ws, run)
    path = ws.exports_dir / run / "report.md"
    path.write_text(text, encoding="utf-8")
    return path
