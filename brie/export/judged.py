"""Exports: judged JSONL (the schema in docs/architecture.md), the results table as CSV, DPO pairs.

Nothing here reads the environment, so no API key can reach an export.
"""

from __future__ import annotations

import csv
import json
import os
import threading
from collections import Counter, defaultdict
from contextlib import contextmanager
from pathlib import Path

from brie.errors import BrieError
from brie.judging.stats import combined, final_verdicts, results
from brie.store import judging as rows
from brie.words import plural


def check_filters(ws, suite: str | None, judge: str | None) -> None:
    """A --suite or --judge that matches nothing is a typo, not an empty export: say what exists."""
    if suite is not None:
        from brie.data.suites import list_suites

        names = sorted(s["name"] for s in list_suites(ws))
        if suite not in names:
            raise BrieError(f"--suite {suite!r}: no such suite (suites: {', '.join(names) or 'none yet'})")
    if judge is not None:
        names = rows.judges_with_results(ws.store)
        if judge not in names:
            raise BrieError(f"--judge {judge!r}: no judgments by that judge "
                            f"(judges with judgments: {', '.join(names) or 'none yet'})")


@contextmanager
def _atomic(path: Path, force: bool, newline: str | None = None):
    """Write to a temporary file beside `path`, then rename it over `path`: a reader never sees half a
    file, and a crash leaves the old one. An existing file is kept unless `force`."""
    if path.exists() and not force:
        raise BrieError(f"{path} already exists; pass --force to overwrite it, or --out another file")
    # Beside the target (same filesystem, so the rename is atomic), with the usual permissions.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", newline=newline) as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _nonempty(rows: list, why: str, nothing: str = "nothing to export") -> None:
    """Refuse to write an empty export: it would only block the next one behind --force."""
    if not rows:
        raise BrieError(f"{nothing}: {why} yet (make some with `brie compare`)")


def _side(c: dict, side: str) -> dict:
    return {"label": c[f"{side}_label"], "model": c[f"{side}_model"], "run": c[f"{side}_run"],
            "step": c[f"{side}_step"], "adapter_sha256": c[f"{side}_sha"], "text": c[f"{side}_answers"][-1]}


def judged_lines(ws, suite: str | None = None, judge: str | None = None) -> list[dict]:
    """One record per stored judgment (every attempt, invalid ones included), in the order stored.

    For multi-turn prompts `prompt` and `text` are the last turn; `turns` and each side's
    `answers` carry the whole conversation.
    """
    comps = {c["comparison_id"]: c for c in rows.find_comparisons(ws.store, suite=suite or None)}
    out = []
    for j in rows.all_judgments(ws.store, judge):
        c = comps.get(j["comparison_id"])
        if c is None:
            continue
        a, b = _side(c, "a"), _side(c, "b")
        winner = {"a": a["label"], "b": b["label"], "tie": "tie"}.get(j["verdict"])
        line = {"comparison_id": str(c["comparison_id"]), "suite": c["suite"], "prompt_id": c["prompt_id"],
                "prompt": c["turns"][-1], "category": c["category"], "a": a, "b": b,
                "judge": j["judge"], "template": j["template"], "shown_first": j["shown_first"],
                "raw": j["raw"], "verdict": j["verdict"], "winner": winner,
                "input_tokens": j["input_tokens"], "output_tokens": j["output_tokens"],
                "cost_usd": j["cost_usd"], "judged_at": j["judged_at"]}
        if len(c["turns"]) > 1:
            line["turns"] = c["turns"]
            a["answers"], b["answers"] = c["a_answers"], c["b_answers"]
        out.append(line)
    return out


def _out(ws, out: str | Path | None, default: str) -> Path:
    path = Path(out) if out else ws.exports_dir / default
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def export_judged(ws, out=None, suite=None, judge=None, force: bool = False) -> tuple[Path, int]:
    return _judged(ws, out, suite, judge, force)[:2]


def _judged(ws, out, suite, judge, force) -> tuple[Path, int, dict]:
    check_filters(ws, suite, judge)
    lines = judged_lines(ws, suite, judge)
    _nonempty(lines, "no judgments")
    path = _out(ws, out, "judged.jsonl")
    with _atomic(path, force) as f:
        for line in lines:
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    return path, len(lines), dict(Counter(line["verdict"] for line in lines))


CSV_FIELDS = ["suite", "category", "a", "b", "judge", "template", "n", "b_wins", "a_wins", "ties", "b_win_rate",
              "ci_low", "ci_high", "warning", "first_shown_win_rate", "first_shown_wins", "first_shown_n",
              "first_shown_p", "position_warning", "swap_consistency",
              "position_flips", "samples", "sample_win_rate_sd", "parse_failure_rate", "judgments", "cost_usd",
              "pref_b", "pref_b_low", "pref_b_high", "pref_n", "pref_prompts", "position_bias", "position_bias_n"]


def export_csv(ws, out=None, suite=None, judge=None, force: bool = False) -> tuple[Path, int]:
    return _csv(ws, out, suite, judge, force)[:2]


def _csv(ws, out, suite, judge, force) -> tuple[Path, int, dict]:
    check_filters(ws, suite, judge)
    table = results(ws, suite, judge)["results"]
    _nonempty(table, "no pairwise judgments")
    path = _out(ws, out, "results.csv")
    with _atomic(path, force, newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        w.writeheader()
        w.writerows(table)
    return path, len(table), {"comparisons": sum(r["n"] for r in table if r["category"] == "(all)")}


def export_dpo(ws, out=None, suite=None, judge=None, force: bool = False) -> tuple[Path, int]:
    return _dpo(ws, out, suite, judge, force)[:2]


def dpo_pairs(ws, suite: str | None = None, judge: str | None = None,
              nothing: str = "nothing to export") -> tuple[list[dict], dict]:
    """(pairs, counts): prompt/chosen/rejected from the consensus of decisive verdicts.

    One pair per prompt and pair of answers, from the consensus of every judge's verdict on it
    (humans included; after swap a flip is that judge's tie). A comparison made again with the sides
    the other way round is the same pair. When every verdict picks the same answer it gives one
    pair; a pair every judge tied, or one the judges disagree on (a tie against a win counts as
    disagreeing), gives none and is counted: one pair per judge would repeat what agreeing judges
    said and write both orders where they disagree, teaching the trainer nothing but noise.
    Multi-turn prompts are left out: their earlier answers differ between the two sides.

    Each pair also carries the judges, the comparisons and the checkpoint identity of each answer
    (`chosen_from`/`rejected_from`: label, model, run, step, adapter sha256; every model that gave
    that exact text). Raises when there is nothing to make pairs from, saying why after `nothing`
    (what the caller could not do: export, import).
    """
    check_filters(ws, suite, judge)
    comps = {c["comparison_id"]: c for c in rows.find_comparisons(ws.store, suite=suite or None)}
    judgments = [j for j in rows.all_judgments(ws.store, judge) if j["comparison_id"] in comps]
    verdicts = combined(final_verdicts(judgments))
    # {(turns, {answers of one side, answers of the other}): [(winning answers or None for a tie, judge, comparison)]}
    votes: dict[tuple, list[tuple]] = defaultdict(list)
    for (cid, jname), v in sorted(verdicts.items()):
        c = comps[cid]
        a, b = tuple(c["a_answers"]), tuple(c["b_answers"])
        won = {"a": a, "b": b}.get(v["verdict"]) if a != b else None  # identical answers: nothing to prefer
        votes[(tuple(c["turns"]), frozenset((a, b)))].append((won, jname, cid))
    pairs, skipped = [], Counter()
    for (turns, answers), vs in votes.items():
        winners = {won for won, _, _ in vs}
        if winners == {None}:
            skipped["ties"] += 1
        elif len(winners) > 1:
            skipped["disagreements"] += 1
        elif len(turns) != 1:
            skipped["multi_turn"] += 1
        else:
            [win] = winners
            [lose] = answers - {win}
            cids = sorted({cid for _, _, cid in vs})
            pairs.append({"prompt": turns[0], "chosen": win[0], "rejected": lose[0],
                          "judges": sorted({jname for _, jname, _ in vs}),
                          "comparison_ids": [str(cid) for cid in cids],
                          "chosen_from": _sources(comps, cids, win), "rejected_from": _sources(comps, cids, lose)})
    # Judgments stored but none valid is not "no judgments yet": that would send the user to make
    # more when what they have needs looking at.
    if judgments and not verdicts:
        raise BrieError(f"{nothing}: no decisive single-turn verdicts ({plural(len(judgments), 'judgment')}, "
                        "all without a valid verdict; see `brie results` or `brie export judged`)")
    no_verdict = len({(j["comparison_id"], j["judge"]) for j in judgments} - set(verdicts))
    _nonempty(pairs, f"no decisive single-turn verdicts ({skipped['ties']} ties, {skipped['disagreements']} "
              f"where judges disagree, {skipped['multi_turn']} multi-turn"
              + (f", {no_verdict} without a valid verdict" if no_verdict else "") + ")" if verdicts else "no judgments",
              nothing)
    return pairs, {"pairs": len(pairs), "skipped_ties": skipped["ties"],
                   "skipped_disagreements": skipped["disagreements"], "skipped_multi_turn": skipped["multi_turn"],
                   "without_valid_verdict": no_verdict}


def _sources(comps: dict, cids: list, answers: tuple) -> list[dict]:
    """The checkpoint identity of every side of these comparisons that gave exactly `answers`."""
    out = []
    for cid in cids:
        c = comps[cid]
        for side in ("a", "b"):
            if tuple(c[f"{side}_answers"]) == answers:
                who = {k: v for k, v in _side(c, side).items() if k != "text"}
                if who not in out:
                    out.append(who)
    return out


def _dpo(ws, out, suite, judge, force) -> tuple[Path, int, dict]:
    """prompt/chosen/rejected JSONL (what mlx-lm-lora and TRL's DPOTrainer read) from decisive verdicts
    (`dpo_pairs`), with the judges and comparisons of each pair."""
    pairs, counts = dpo_pairs(ws, suite, judge)
    path = _out(ws, out, "dpo.jsonl")
    with _atomic(path, force) as f:
        for pair in pairs:
            line = {k: v for k, v in pair.items() if k not in ("chosen_from", "rejected_from")}
            f.write(json.dumps(line, ensure_ascii=False) + "\n")
    counts.pop("without_valid_verdict")
    return path, len(pairs), counts


def write_export(ws, kind: str, out=None, suite=None, judge=None, force: bool = False) -> dict:
    """One export by kind ("judged", "csv", "dpo"): {kind, path, rows, counts}."""
    fn = {"judged": _judged, "csv": _csv, "dpo": _dpo}[kind]
    path, n, counts = fn(ws, out, suite, judge, force)
    return {"kind": kind, "path": str(path), "rows": n, "counts": counts}
