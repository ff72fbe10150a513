"""MT-Bench single-answer grading (placeholder until the judging code is merged)."""

from __future__ import annotations

from brie.errors import BrieError
from brie.evals.base import Benchmark


class MTBench(Benchmark):
    primary = "score"
    needs_judge = True

    def __init__(self, spec: str, source: str | None = None, max_tokens: int = 256):
        self.spec, self.source, self.max_tokens = spec, source, max_tokens

    def items(self, ws):
        raise BrieError(f"{self.spec}: mt-bench needs the judging code, which this build does not have yet")


def make_judge(spec: str):
    raise BrieError(f"--judge {spec}: judges are not available in this build yet")
