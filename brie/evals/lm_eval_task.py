"""lm-evaluation-harness tasks (optional: `pip install lm_eval`), not wired in this version.

lm_eval needs torch, which brie's default install does not pull in; the kind is recognized so the
error says what is missing instead of "unknown benchmark".
"""

from __future__ import annotations

from brie.errors import BrieError
from brie.evals.base import Benchmark


class LmEvalTask(Benchmark):
    primary = "acc"
    binary = True

    def __init__(self, spec: str, task: str):
        self.spec, self.task = spec, task

    def items(self, ws):
        import importlib.util

        if importlib.util.find_spec("lm_eval") is None:
            raise BrieError(f"{self.spec}: lm-evaluation-harness is not installed (pip install lm_eval)")
        raise BrieError(f"{self.spec}: lm-eval tasks are not supported yet in this version of brie; "
                        "use mcq:<file> with the task's data exported to JSONL")
