"""What `brie rank` does: rank base and many checkpoints by judged quality, judging only as much as
it takes; and `brie runs recommend --by judged`.

It generates what is missing, then schedules comparisons: every model against the anchor (the base)
first, then the neighbours in the ranking whose order is still uncertain. Comparisons are made and
judged through the same path as `brie compare` (workflows.make_comparisons, judge_comparisons): the
same stored comparisons and judgments, resume, --max-cost, --swap. The statistics are in
brie.judging.ranking.

With `until_clear` each pair is judged in rounds, its prompts in a fixed shuffled order (seeded), and
stops as soon as the betting confidence sequence for its win rate excludes 50 %; what judging
everything would have cost is reported beside what was spent.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

from brie.errors import BrieError
from brie.store import judging as rows

SCORE = {"a": 0.0, "b": 1.0, "tie": 0.5}  # a verdict as the points of side b


@dataclass
class Pair:
    a: str
    b: str
    ids: list[int]  # comparison ids, in judging order
    phase: int  # 1: against the anchor; 2: uncertain neighbours
    consumed: int = 0  # how many of `ids` have been handed to the judge
    clear_at: int | None = None  # outcomes after which the confidence sequence excluded 50 %
    observations: list[float] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.clear_at is None and self.consumed < len(self.ids)


def expand_models(ws, models: str) -> list[str]:
    """The specs of a --models list with `RUN@*` replaced by every checkpoint of RUN, in step order."""
    from brie.models.specs import checkpoint_steps

    out = []
    for part in (p.strip() for p in models.split(",")):
        if not part:
            continue
        name, _, which = part.partition("@")
        if which == "*":
            out += [f"{name}@{s}" for s in checkpoint_steps(ws, name, part)]
        else:
            out.append(part)
    unique = list(dict.fromkeys(out))
    if len(unique) < 2:
        raise BrieError("--models: give at least two models to rank (e.g. base,RUN@*)")
    return unique


def outcomes_of(ws, spec, comparisons: list[dict], swap: bool) -> dict[int, float]:
    """{comparison_id: points of side b} from this judge's stored verdicts on the prompt each
    comparison shows now; with `swap`, both orders averaged (a disagreement is a tie). A comparison
    without a verdict yet is left out."""
    from brie.judging.tasks import stored_attempts

    stored = stored_attempts(ws, spec, comparisons, swap)
    out = {}
    for c in comparisons:
        points = []
        for p in ((0, 1) if swap else (0,)):
            valid = [a for a in stored.get((c["comparison_id"], p), []) if a["verdict"] != "invalid"]
            if valid:
                points.append(SCORE[valid[0]["verdict"]])
        if points:
            out[c["comparison_id"]] = sum(points) / len(points)
    return out


def _length(answers: list[str]) -> int:
    return sum(len(t) for t in answers)


def summarise(comparisons: dict[int, dict], points: dict[int, float], labels: list[str], anchor: str,
              bootstrap: int = 1000, seed: int = 0, level: float = 0.95) -> dict:
    """The ranked table from judged comparisons (ids → find_comparisons rows, ids → points of b):
    Bradley–Terry scores with bootstrap intervals clustered by prompt, each model's raw and
    length-controlled win rate against the anchor, the spread from repeated samples, and which
    neighbours are separable."""
    from brie.judging import ranking

    outcomes = [(c["prompt_id"], c["a_label"], c["b_label"], points[cid])
                for cid, c in sorted(comparisons.items()) if cid in points]
    if not outcomes:
        raise BrieError("nothing judged yet to rank (every judgment failed or is missing)")
    reached = ranking.connected_to(labels, outcomes, anchor)
    lost = [m for m in labels if m not in reached]
    kept = [m for m in labels if m in reached]
    if len(kept) < 2:
        raise BrieError(f"no judged comparison involves {anchor} (the anchor), so nothing can be scored against it")
    fit = ranking.rank_models([o for o in outcomes if o[1] in reached and o[2] in reached], kept, anchor,
                              rounds=bootstrap, seed=seed, level=level)
    vs_anchor: dict[str, dict] = {m: {"y": [], "len_m": [], "len_o": [], "by_prompt": {}} for m in labels}
    for cid, c in sorted(comparisons.items()):
        if cid not in points or anchor not in (c["a_label"], c["b_label"]):
            continue
        model_is_b = c["a_label"] == anchor
        model = c["b_label"] if model_is_b else c["a_label"]
        y = points[cid] if model_is_b else 1 - points[cid]
        mine, theirs = (c["b_answers"], c["a_answers"]) if model_is_b else (c["a_answers"], c["b_answers"])
        entry = vs_anchor[model]
        entry["y"].append(y)
        entry["len_m"].append(_length(mine))
        entry["len_o"].append(_length(theirs))
        entry["by_prompt"].setdefault(c["prompt_id"], []).append(y)
    table = []
    for rank_no, row in enumerate(fit["models"], 1):
        e = vs_anchor[row["label"]]
        n = len(e["y"])
        raw = sum(e["y"]) / n if n else None
        lc = ranking.length_controlled(e["y"], e["len_m"], e["len_o"]) if n else None
        n_all = sum(1 for o in outcomes if row["label"] in (o[1], o[2]))
        table.append({
            "rank": rank_no, "label": row["label"], "score": round(row["score"], 1),
            "ci_low": round(row["ci_low"], 1), "ci_high": round(row["ci_high"], 1),
            "anchor": row["label"] == anchor,
            "clears_anchor": row["label"] != anchor and row["beta_low"] > 0 and fit["clusters"] >= ranking.MIN_PROMPTS,
            "win_rate_vs_anchor": raw, "n_vs_anchor": n, "n": n_all,
            "lc_win_rate_vs_anchor": lc,
            "length_warning": raw is not None and lc is not None and abs(raw - lc) > 0.10,
            "mean_length": (sum(e["len_m"]) / n) if n else None,
            "sampling_share": ranking.sampling_share(list(e["by_prompt"].values())),
        })
    return {"anchor": anchor, "models": table, "separable": fit["separable"], "prompts": fit["clusters"],
            "outcomes": len(outcomes), "unconnected": lost, "level": level}


def rank(ws, suite: str, models: str, judge: str | None, swap: bool = False, samples: int = 1,
         temperature: float = 0.0, max_tokens: int = 256, seed: int = 0, concurrency: int = 4,
         max_cost: float | None = None, max_judgments: int | None = None, until_clear: bool = False,
         alpha: float = 0.05, round_size: int = 10, bootstrap: int = 1000, neighbours: bool = True,
         max_attempts: int = 3, max_retries: int = 4, timeout: float = 120.0, judge_max_tokens: int = 1024,
         base_model: str | None = None, engine: str = "auto", progress=None, warn=None) -> dict:
    """Rank `models` (comma-separated specs; `RUN@*` is every checkpoint of RUN) on `suite` with one judge.

    Phase 1 judges every model against the anchor (`base` when listed, else the first model); phase
    2 (`neighbours`) adds the neighbouring pairs of the ranking whose order the bootstrap leaves
    uncertain, until none is left to add. Without `until_clear` every scheduled comparison is judged;
    with it, each pair in rounds of `round_size` prompts until its confidence sequence excludes
    50 % at level `alpha`. `max_judgments` and `max_cost` bound this run. Returns the ranked table
    (see `summarise`), the pairs with their confidence sequences, and the judgments and money spent
    and saved."""
    from brie.generation.runner import generate_suite
    from brie.judging import ranking
    from brie.judging.tasks import JudgeRunSummary
    from brie.judging.workflows import api_judges, judge_comparisons, make_comparisons
    from brie.models.specs import resolve_specs

    if not 0 < alpha < 1:
        raise BrieError("--alpha must be between 0 and 1")
    specs = api_judges(ws, [j.strip() for j in judge.split(",") if j.strip()] if judge else None, warn)
    if len(specs) != 1:
        raise BrieError("brie rank ranks by one judge; give one --judge (rank again for another)")
    spec = specs[0]
    labels = expand_models(ws, models)
    model_specs = resolve_specs(ws, ",".join(labels), base_model)
    labels = [s.label for s in model_specs]
    anchor = "base" if "base" in labels else labels[0]
    gens = generate_suite(ws, suite, model_specs, samples=samples, temperature=temperature, max_tokens=max_tokens,
                          seed=seed, engine=engine,
                          progress=(lambda label, done, total: progress(("generate", label, done, total)))
                          if progress else None)
    order = random.Random(seed)  # the prompts' judging order: the same on a rerun, so it resumes
    prompt_order: dict[str, float] = {}
    comparisons: dict[int, dict] = {}
    pairs: dict[tuple[str, str], Pair] = {}

    def schedule(a: str, b: str, phase: int) -> None:
        ids = make_comparisons(ws, suite, gens, a, b, rng=random.Random(f"{seed}:{a}:{b}"))
        found = rows.find_comparisons(ws.store, ids=ids)
        for c in found:
            comparisons[c["comparison_id"]] = c
            prompt_order.setdefault(c["prompt_id"], order.random())
        ids = sorted(ids, key=lambda i: (prompt_order[comparisons[i]["prompt_id"]], comparisons[i]["sample_idx"]))
        pairs[(a, b)] = Pair(a, b, ids, phase)

    for label in labels:
        if label != anchor:
            schedule(anchor, label, 1)

    passes = 2 if swap else 1
    total = JudgeRunSummary()
    spent = {"asked": 0, "out_of_judgments": False}
    size = max(1, round_size) * samples if until_clear else None  # whole prompts, all their samples

    def judged_points() -> dict[int, float]:
        return outcomes_of(ws, spec, list(comparisons.values()), swap)

    def run_rounds() -> None:
        while True:
            active = [p for p in pairs.values() if p.active]
            if not active or total.stopped_for_cost:
                return
            budget = None if max_judgments is None else max_judgments - spent["asked"]
            if budget is not None and budget < passes:
                spent["out_of_judgments"] = True
                return
            chunk: list[int] = []
            taken: dict[tuple[str, str], int] = {}
            for p in active:
                want = len(p.ids) - p.consumed if size is None else min(size, len(p.ids) - p.consumed)
                if budget is not None:
                    want = min(want, (budget - len(chunk) * passes) // passes)
                if want <= 0:
                    break
                chunk += p.ids[p.consumed:p.consumed + want]
                taken[(p.a, p.b)] = want
            left = None if max_cost is None else max(0.0, max_cost - total.cost_usd)
            s = judge_comparisons(ws, chunk, [spec], swap=swap, concurrency=concurrency, max_cost=left,
                                  max_attempts=max_attempts, max_retries=max_retries, timeout=timeout,
                                  judge_max_tokens=judge_max_tokens, warn=warn,
                                  progress=(lambda x: progress(("judge", x))) if progress else None)
            _add(total, s)
            spent["asked"] += s.valid + s.invalid + s.failed
            if s.stopped_for_cost:
                total.stopped_for_cost = True
            points = judged_points()
            for key, n in taken.items():
                p = pairs[key]
                p.consumed += n
                p.observations = _per_prompt(p.ids[:p.consumed], points, comparisons)
                if until_clear and p.clear_at is None:
                    p.clear_at = ranking.first_clear(p.observations, alpha)
            if progress:
                progress(("round", sum(p.active for p in pairs.values()), len(pairs)))
            if s.tasks and not (s.valid + s.invalid):  # nothing came back: do not go on asking
                return

    run_rounds()
    if neighbours:
        for _ in range(len(labels)):
            points = judged_points()
            if not points:
                break
            table = summarise(comparisons, points, labels, anchor, bootstrap=min(bootstrap, 500), seed=seed)
            added = False
            for n in table["separable"]:
                hi, lo = n["higher"], n["lower"]
                if not n["separable"] and (hi, lo) not in pairs and (lo, hi) not in pairs:
                    schedule(lo, hi, 2)
                    added = True
            if not added:
                break
            run_rounds()
    points = judged_points()
    result = summarise(comparisons, points, labels, anchor, bootstrap=bootstrap, seed=seed)
    full = sum(len(p.ids) for p in pairs.values()) * passes
    judged = sum(p.consumed for p in pairs.values()) * passes
    per_judgment = rows.mean_cost(ws.store, spec.name, spec.batch)
    result.update({
        "suite": suite, "judge": spec.name, "swap": swap, "samples": samples, "until_clear": until_clear,
        "alpha": alpha,
        "pairs": [_pair_row(p, alpha) for p in pairs.values()],
        "judgments": {"scheduled": full, "handed_to_judge": judged, "saved": max(0, full - judged),
                      "asked": total.tasks, "already_stored": total.already_done, "valid": total.valid,
                      "invalid": total.invalid, "failed": total.failed},
        "cost_usd": round(total.cost_usd, 6),
        "saved_usd": None if per_judgment is None else round(per_judgment * max(0, full - judged), 6),
        "stopped_for_cost": total.stopped_for_cost,
        "stopped_for_judgments": spent["out_of_judgments"],
        "errors": total.errors, "notices": total.notices,
    })
    return result


def _per_prompt(ids: list[int], points: dict[int, float], comparisons: dict[int, dict]) -> list[float]:
    """One observation per prompt, in judging order: the mean of its samples' points. The samples of
    one prompt are alike, so they are not independent draws; the prompts, in shuffled order, are."""
    by_prompt: dict[str, list[float]] = {}
    for i in ids:
        if i in points:
            by_prompt.setdefault(comparisons[i]["prompt_id"], []).append(points[i])
    return [sum(v) / len(v) for v in by_prompt.values()]


def _add(total, s) -> None:
    total.tasks += s.tasks
    total.already_done += s.already_done
    total.invalid_stored += s.invalid_stored
    total.valid += s.valid
    total.invalid += s.invalid
    total.failed += s.failed
    total.cost_usd += s.cost_usd
    total.errors += s.errors
    total.notices += [n for n in s.notices if n not in total.notices]


def _pair_row(p: Pair, alpha: float) -> dict:
    from brie.judging import ranking

    x = p.observations
    low, high = ranking.confidence_sequence(x, alpha) if x else (None, None)
    return {"a": p.a, "b": p.b, "phase": p.phase, "comparisons": len(p.ids), "prompts_judged": len(x),
            "b_win_rate": sum(x) / len(x) if x else None, "cs_low": low, "cs_high": high,
            "clear": p.clear_at is not None or (low is not None and (low > 0.5 or high < 0.5)),
            "clear_after": p.clear_at}


# --- brie runs recommend --by judged ---------------------------------------------------------------

def judged_ranking(ws, run_name: str, suite: str, judge: str | None = None, bootstrap: int = 1000,
                   seed: int = 0) -> dict:
    """The ranking of base and run `run_name`'s checkpoints on `suite` from the judgments stored
    (nothing is judged): every comparison between two of them, by one judge (`judge`, or the only
    one that judged them)."""
    from brie.judging.judges import parse_judge
    from brie.store import runs as run_rows

    run = run_rows.get_run(ws.store, run_name)
    if run is None:
        raise BrieError(f"no run named {run_name!r} (see `brie runs list`)")
    current = {c["step"]: c["adapter_sha256"] for c in run_rows.list_checkpoints(ws.store, run["id"])}

    def member(c: dict, side: str) -> bool:
        if c[f"{side}_run"] is None:
            return c[f"{side}_model"] == run["model"] and c[f"{side}_label"] == "base"
        return c[f"{side}_run"] == run_name and current.get(c[f"{side}_step"]) == c[f"{side}_sha"]

    found = [c for c in rows.find_comparisons(ws.store, suite=suite, run=run_name) if member(c, "a") and member(c, "b")]
    if not found:
        raise BrieError(f"no judged comparisons of {run_name}'s checkpoints on suite {suite!r} "
                        f"(`brie rank --suite {suite} --models base,{run_name}@*` makes them)")
    judged = rows.judges_of(ws.store, [c["comparison_id"] for c in found])
    judges = sorted(j for j in judged if not j.startswith("human:"))
    if judge is None:
        if len(judges) != 1:
            raise BrieError(f"{run_name}'s comparisons on {suite!r} were judged by "
                            f"{', '.join(judges) or 'no judge'}; say which with --judge")
        judge = judges[0]
    elif judge not in judges:
        raise BrieError(f"judge {judge} has not judged {run_name}'s comparisons on {suite!r} "
                        f"(judged by: {', '.join(judges) or 'none'})")
    spec = parse_judge(judge, ws)
    points = outcomes_of(ws, spec, found, judged[judge])
    labels = list(dict.fromkeys([c["a_label"] for c in found] + [c["b_label"] for c in found]))
    if "base" not in labels:
        raise BrieError(f"none of {run_name}'s judged comparisons on {suite!r} is against the base")
    result = summarise({c["comparison_id"]: c for c in found}, points, labels, "base", bootstrap=bootstrap, seed=seed)
    result.update({"suite": suite, "judge": judge, "run": run_name})
    return result


def recommend_by_judged(ws, run_name: str, suite: str, judge: str | None = None) -> dict:
    """Mark the checkpoint with the best Bradley–Terry score whose interval clears the base as
    recommended, recording the evidence; a BrieError when none clears it."""
    from brie.store import runs as run_rows

    ranked = judged_ranking(ws, run_name, suite, judge)
    candidates = [m for m in ranked["models"] if m["label"] != "base" and m["clears_anchor"]]
    if not candidates:
        best = next((m for m in ranked["models"] if m["label"] != "base"), None)
        detail = (f"; the best, {best['label']}, scores {best['score']:.0f} ({best['ci_low']:.0f}–"
                  f"{best['ci_high']:.0f}) against the base's 1000" if best else "")
        raise BrieError(f"no checkpoint of {run_name} is clearly better than the base on {suite!r}{detail}; "
                        "judge more (`brie rank … --until-clear`) or mark one by step")
    top = candidates[0]
    step = int(top["label"].rsplit("@", 1)[1])
    evidence = {"by": "judged", "suite": suite, "judge": ranked["judge"], "rank": top["rank"],
                "score": top["score"], "ci_low": top["ci_low"], "ci_high": top["ci_high"],
                "win_rate_vs_base": top["win_rate_vs_anchor"], "n_vs_base": top["n_vs_anchor"],
                "lc_win_rate_vs_base": top["lc_win_rate_vs_anchor"], "models_ranked": len(ranked["models"])}
    run = run_rows.get_run(ws.store, run_name)
    run_rows.set_recommended(ws.store, run["id"], step, by="judged", evidence=json.dumps(evidence))
    return {"run": run_name, "step": step, "evidence": evidence, "ranking": ranked}


def recommended_why(run: dict) -> str:
    """On what evidence run `run` (a runs row) has its recommended checkpoint (runs.recommended_by,
    migration 034): the lowest validation loss, a person, or the judged ranking whose evidence
    `recommend_by_judged` stored. The one wording that `brie runs show`, `brie runs recommend`, the
    report and the UI all print."""
    by = run.get("recommended_by")
    if by == "judged" and run.get("recommended_evidence"):
        try:  # an imported run's evidence came from another machine's archive: read it, never crash on it
            e = json.loads(run["recommended_evidence"])
            win = ("" if e.get("win_rate_vs_base") is None
                   else f", {100 * e['win_rate_vs_base']:.0f}% vs base (n {e['n_vs_base']})")
            return (f"judged rank {e['rank']} of {e['models_ranked']} on suite {e['suite']} by {e['judge']}: "
                    f"Bradley–Terry {e['score']:.0f} (95% interval {e['ci_low']:.0f}–{e['ci_high']:.0f}; "
                    f"base 1000){win}")
        except (ValueError, KeyError, TypeError, AttributeError):
            return "judged rank (its stored evidence is incomplete)"
    return {"user": "marked by hand (`brie runs recommend`)"}.get(by, "lowest validation loss (follows best)")


def suite_ranking(ws, suite: str, judge: str | None = None, bootstrap: int = 1000, seed: int = 0) -> dict:
    """The ranking of every model judged against the base on `suite`, from the judgments stored
    (nothing is judged), for the UI's results screen: like `judged_ranking`, but over every run's
    checkpoints. A BrieError says why there is none (fewer than three models, no base, several
    judges and none chosen)."""
    from brie.judging.judges import parse_judge

    found = rows.find_comparisons(ws.store, suite=suite)
    bases = [c[f"{s}_model"] for c in found for s in "ab" if c[f"{s}_label"] == "base"]
    if not bases:
        raise BrieError(f"no comparison on {suite!r} is against a base model")
    base = max(set(bases), key=bases.count)  # one base model: "base" of another model is another model
    found = [c for c in found if all(c[f"{s}_label"] != "base" or c[f"{s}_model"] == base for s in "ab")]
    labels = list(dict.fromkeys([c["a_label"] for c in found] + [c["b_label"] for c in found]))
    if len(labels) < 3:
        raise BrieError(f"fewer than three models compared on {suite!r}: the win rates say it all")
    judged = rows.judges_of(ws.store, [c["comparison_id"] for c in found])
    judges = sorted(j for j in judged if not j.startswith("human:"))
    if judge is None:
        if len(judges) != 1:
            raise BrieError(f"{suite!r} was judged by {', '.join(judges) or 'no judge'}; choose one to rank by")
        judge = judges[0]
    elif judge not in judges:
        raise BrieError(f"{judge} has not judged {suite!r}")
    spec = parse_judge(judge, ws)
    points = outcomes_of(ws, spec, found, judged[judge])
    result = summarise({c["comparison_id"]: c for c in found}, points, labels, "base", bootstrap=bootstrap, seed=seed)
    result.update({"suite": suite, "judge": judge, "base_model": base})
    return result
