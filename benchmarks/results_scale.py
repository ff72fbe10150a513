"""`brie results` on 50,000 judgments: how much work it does beyond starting up.

Builds a workspace through brie's own store functions (one transaction, so it takes seconds):
a suite of 2,500 prompts in 8 categories, base and two checkpoints of one run, 5,000 comparisons
(each checkpoint against base), each judged in both orders by four LLM judges (two of them with
verdict probabilities, so the preference and its bootstrap interval are computed) and once by two
humans: 10 judgments per comparison, 50,000, plus the 2 % of LLM answers that are invalid and asked again.

Then, every round, runs `python -c pass`, `brie --help` (brie's start-up: the CLI imported, nothing
done) and `brie results --json` one after the other, the order rotating each round so a load that
rises or falls favours no side. Prints min / median / max over rounds of
  - the work beyond start-up: wall(`results --json`) − wall(`--help`) (target ≤ 0.5 s),
  - the ratio wall(`results --json`) / wall(`python -c pass`),
and the CPU time (user + system, which load inflates less than wall), and the load average. Every
command runs from compiled bytecode, as an installed brie does (see `main`).

    .venv/bin/python benchmarks/results_scale.py [--judgments 50000] [--rounds 9] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from side_by_side import load_average, spread  # noqa: E402  (this script's folder)

CATEGORIES = ["writing", "roleplay", "reasoning", "math", "coding", "extraction", "stem", "humanities"]
LLM_JUDGES = ["anthropic:claude-sonnet-5-5", "openai:gpt-5", "local:qwen-judge", "local:llama-judge"]
WITH_PROBABILITIES = {"local:qwen-judge", "local:llama-judge"}
HUMANS = ["human:ana", "human:bo"]
PER_COMPARISON = 2 * len(LLM_JUDGES) + len(HUMANS)  # both orders per LLM judge, one per human


def build(home: Path, judgments: int, seed: int = 0) -> int:
    """A workspace at `home` holding `judgments` judgments; how many were stored."""
    from brie.data.suites import import_suite
    from brie.judging.prompts import template_sha256
    from brie.store import judging as rows
    from brie.workspace import Workspace

    rng = random.Random(seed)
    comparisons = judgments // PER_COMPARISON
    prompts = max(1, comparisons // 2)
    os.environ["BRIE_HOME"] = str(home)
    ws = Workspace.open(home, create=True)
    suite = home / "bench.jsonl"
    suite.write_text("".join(json.dumps({"id": f"q{i}", "category": CATEGORIES[i % len(CATEGORIES)],
                                         "prompt": f"Question {i}?"}) + "\n" for i in range(prompts)))
    import_suite(ws, suite, "bench")
    prompt_ids = [r["id"] for r in ws.store.db["prompts"].rows]
    tsha = template_sha256("pairwise", None)
    with ws.store.transaction():  # one transaction: every store function below nests in it
        gens = {}
        for label, key, step in (("base", "base:m", None), ("run@100", "sha-100", 100), ("run@200", "sha-200", 200)):
            gens[label] = [rows.insert_generation(ws.store, {
                "prompt_row_id": pid, "model_key": key, "label": label, "model": "m", "run": None if step is None else "run",
                "step": step, "adapter_sha256": None if step is None else key, "temperature": 0.0, "max_tokens": 8,
                "seed": 0, "sample_idx": 0, "answers_json": json.dumps([f"{label} answer {pid}"])}) for pid in prompt_ids]
        pairs = [(a, b) for label in ("run@100", "run@200") for a, b in zip(gens["base"], gens[label])]
        comparison_rows = [{"suite_id": ws.store.db["suites"].rows_where("name = 'bench'").__next__()["id"],
                            "prompt_row_id": prompt_ids[i % len(prompt_ids)], "gen_a": a, "gen_b": b,
                            "sample_idx": 0, "shown_first": rng.choice("ab")}
                           for i, (a, b) in enumerate(pairs[:comparisons])]
        ids = rows.ensure_comparisons(ws.store, comparison_rows)
        stored = 0
        for cid, c in zip(ids, comparison_rows):
            strength = rng.random()  # how much better B is on this comparison, shared by every judge
            for judge in LLM_JUDGES:
                for pass_, shown in ((0, c["shown_first"]), (1, "b" if c["shown_first"] == "a" else "a")):
                    pb = min(0.98, max(0.02, strength + rng.gauss(0, 0.2) + (0.08 if shown == "a" else -0.08)))
                    pc = 0.1 * rng.random()
                    probs = {"A": (1 - pb) * (1 - pc), "B": pb * (1 - pc), "C": pc}  # B = model b here
                    if shown == "b":
                        probs["A"], probs["B"] = probs["B"], probs["A"]
                    verdict = max(("a", "b", "tie"), key=lambda v: {"a": (1 - pb) * (1 - pc), "b": pb * (1 - pc), "tie": pc}[v])
                    attempts = [("invalid", "I cannot tell."), (verdict, "ok")] if rng.random() < 0.02 else [(verdict, "ok")]
                    for attempt, (v, raw) in enumerate(attempts, 1):
                        rows.insert_judgment(ws.store, {
                            "comparison_id": cid, "judge": judge, "template": "pairwise-v1",
                            "prompt_sha256": f"{cid}-{pass_}", "template_sha256": tsha, "pass": pass_,
                            "shown_first": shown, "attempt": attempt, "raw": raw, "verdict": v,
                            "input_tokens": 400, "output_tokens": 30, "cache_read_tokens": 0, "cost_usd": 0.0005,
                            "probabilities": json.dumps(probs) if judge in WITH_PROBABILITIES and v != "invalid" else None})
                        stored += 1
            for human in HUMANS:
                v = "b" if strength + rng.gauss(0, 0.3) > 0.5 else ("a" if rng.random() < 0.8 else "tie")
                rows.insert_judgment(ws.store, {
                    "comparison_id": cid, "judge": human, "template": "human", "pass": 0,
                    "shown_first": c["shown_first"], "attempt": 1, "raw": "first", "verdict": v,
                    "input_tokens": 0, "output_tokens": 0, "cache_read_tokens": 0, "cost_usd": 0.0})
                stored += 1
    ws.close()
    return stored


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one run of argv, which must succeed."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.read().decode()[-2000:]}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--judgments", type=int, default=50_000)
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--keep", type=Path, help="Build (or reuse) the workspace here instead of a temporary folder.")
    args = ap.parse_args()

    home = args.keep or Path(tempfile.mkdtemp(prefix="brie-results-scale-"))
    if not (home / "brie.db").exists():
        start = time.perf_counter()
        n = build(home, args.judgments)
        print(f"built {n} judgments in {time.perf_counter() - start:.1f} s at {home}")
    # As an installed brie runs: from compiled bytecode. Where PYTHONDONTWRITEBYTECODE is set (CI,
    # this sandbox) every run would compile brie's modules again, ~10 ms a module on either side;
    # the bytecode goes to a folder of the workspace, not into the source tree.
    env = {**os.environ, "BRIE_HOME": str(home), "PYTHONPYCACHEPREFIX": str(home / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    brie = Path(sys.executable).parent / "brie"
    base = [str(brie)] if brie.exists() else [sys.executable, "-m", "brie"]
    sides = {"python": [sys.executable, "-c", "pass"], "help": [*base, "--help"], "results": [*base, "results", "--json"]}
    out = subprocess.run(sides["results"], env=env, capture_output=True, text=True, check=True)
    r = json.loads(out.stdout)  # warms the file cache, and shows what is computed
    print(f"results: {r['judgments']} judgments, {len(r['results'])} rows, {len(r['agreement'])} judge pairs, "
          f"{len(r['vs_human'])} judge-vs-human rows")
    print(f"start: {load_average()}")
    names = list(sides)
    got: dict[str, list[tuple[float, float]]] = {k: [] for k in names}
    for i in range(args.rounds):
        for k in names[i % 3:] + names[:i % 3]:  # rotate the order every round
            got[k].append(timed(sides[k], env))
    print(f"end:   {load_average()}")
    beyond = [res[0] - hlp[0] for res, hlp in zip(got["results"], got["help"])]
    beyond_cpu = [res[1] - hlp[1] for res, hlp in zip(got["results"], got["help"])]
    ratio = [res[0] / py[0] for res, py in zip(got["results"], got["python"])]
    med = {k: statistics.median(w for w, _ in v) for k, v in got.items()}
    print(f"median wall: python -c pass {med['python']:.3f} s, brie --help {med['help']:.3f} s, "
          f"brie results --json {med['results']:.3f} s ({args.rounds} rounds, order rotating)")
    print(f"work beyond start-up (results − --help), wall s: {spread(beyond, 3)}   (target ≤ 0.5 s)")
    print(f"work beyond start-up, CPU s:                    {spread(beyond_cpu, 3)}")
    print(f"results / python -c pass:                      {spread(ratio, 1)}")
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
