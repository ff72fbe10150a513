"""Benchmarks for forgetting checks: each kind in its own module, all run by brie.evals.runner.

A benchmark is named by a spec `kind[:argument]`: `gsm8k`, `gsm8k:path/to/test.jsonl`,
`perplexity:<dataset or folder>`, `mcq:<file>`, `overlap:<suite or file>`, `mt-bench[:file]`,
`lm-eval:<task>`. Each benchmark turns its data into a fixed list of items, scores items one by one
(so every item is stored as soon as it exists) and aggregates the stored per-item scores.

Modules:
  base          the contract: Benchmark, Item, Scored
  gsm8k, perplexity, mcq, overlap, mtbench, lm_eval_task
                one module per kind (loglik: log-likelihoods and the Scoring contract the mcq and perplexity kinds share)
  data          benchmark data from a file, a hub id, or the copies shipped in benchmarks/
  runner        evaluate (every item stored as scored; reruns resume) and evaluate_vs_base
  sweep         scoring kinds (loglik.Scoring) on the base and checkpoints at once, the layers below
                the first adapted one run once per item (the runner's shared path)
  forgetting    paired deltas against the base (McNemar, bootstrap), summaries, the forgetting table
"""

from __future__ import annotations

from brie.errors import BrieError
from brie.evals.base import Benchmark

KINDS = ("gsm8k", "perplexity", "mcq", "overlap", "mt-bench", "lm-eval")


def parse_benchmark(spec: str, shots: int = 0, max_tokens: int | None = None) -> Benchmark:
    """The Benchmark for one spec; raises BrieError naming the spec when it is not understood.

    `max_tokens` None: each kind's default (256; mt-bench FastChat's 1024)."""
    spec = spec.strip()
    kind, _, arg = spec.partition(":")
    if kind == "gsm8k":
        from brie.evals.gsm8k import GSM8K

        return GSM8K(spec, source=arg or None, shots=shots, max_tokens=max_tokens or 256)
    if kind == "perplexity":
        from brie.evals.perplexity import Perplexity

        if not arg:
            raise BrieError(f"{spec!r}: say which data, e.g. perplexity:<dataset name or folder>")
        return Perplexity(spec, source=arg)
    if kind == "mcq":
        from brie.evals.mcq import MultipleChoice

        if not arg:
            raise BrieError(f"{spec!r}: say which file, e.g. mcq:arc_easy.jsonl")
        return MultipleChoice(spec, source=arg)
    if kind == "overlap":
        from brie.evals.overlap import Overlap

        if not arg:
            raise BrieError(f"{spec!r}: say which suite or file, e.g. overlap:<suite>")
        return Overlap(spec, source=arg, max_tokens=max_tokens or 256)
    if kind == "mt-bench":
        from brie.evals.mtbench import MTBench

        return MTBench(spec, source=arg or None, max_tokens=max_tokens)
    if kind == "lm-eval":
        from brie.evals.lm_eval_task import LmEvalTask

        if not arg:
            raise BrieError(f"{spec!r}: say which task, e.g. lm-eval:arc_easy or lm-eval:my_task.yaml")
        return LmEvalTask(spec, task=arg, shots=shots)
    raise BrieError(f"{spec!r}: unknown benchmark (kinds: {', '.join(KINDS)})")


def parse_benchmarks(specs: str, shots: int = 0, max_tokens: int | None = None) -> list[Benchmark]:
    parts = [p.strip() for p in specs.split(",") if p.strip()]
    if not parts:
        raise BrieError("--benchmarks is empty; name at least one (e.g. gsm8k)")
    return [parse_benchmark(p, shots=shots, max_tokens=max_tokens) for p in parts]


def display_name(spec: str) -> str:
    """A benchmark spec as tables show it: a file argument by its name, not its whole path."""
    kind, sep, arg = spec.partition(":")
    if sep and ("/" in arg or "\\" in arg) and (arg.startswith((".", "/", "~")) or "." in arg.rsplit("/", 1)[-1]):
        return f"{kind}:{arg.replace(chr(92), '/').rstrip('/').rsplit('/', 1)[-1]}"
    return spec
