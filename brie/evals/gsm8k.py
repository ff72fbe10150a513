"""GSM8K: grade-school math word problems, exact match on the final number.

Two extractions, as lm-evaluation-harness reports them: `strict` reads the number after `#### `
(the dataset's own answer format), `flexible` takes the last number anywhere in the output. A small
instruct model rarely writes `####`, so flexible is the primary metric here and both are stored.
"""

from __future__ import annotations

import re
from typing import Iterator

from brie.errors import BrieError
from brie.evals.base import Benchmark, Item, Scored
from brie.evals.data import SHIPPED, load_records
from brie.words import plural

HUB_ID = "openai/gsm8k"
DEFAULT_FILE = SHIPPED / "gsm8k_test.jsonl"  # the test split, 1,319 problems (MIT, LICENSE.gsm8k)
LOCAL_HINT = "--benchmarks gsm8k (the shipped test split) or gsm8k:<your test.jsonl>"
INSTRUCTION = "Solve the problem step by step, then give the final answer on its own line as '#### <number>'.\n\n"
# lm-evaluation-harness's gsm8k filters: strict-match and flexible-extract
STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")
FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
CALCULATOR = re.compile(r"<<[^>]*>>")


def normalize_number(text: str | None) -> str | None:
    """'$1,000.' → '1000'; '18.00' → '18'; None when nothing numeric is left."""
    if text is None:
        return None
    s = text.strip().replace(",", "").replace("$", "").rstrip(".")
    try:
        value = float(s)
    except ValueError:
        return s or None
    return str(int(value)) if value == int(value) else repr(value)


def extract_strict(output: str) -> str | None:
    m = STRICT.search(output)
    return normalize_number(m.group(1)) if m else None


def extract_flexible(output: str) -> str | None:
    matches = FLEXIBLE.findall(output)
    if not matches:
        return None
    last = matches[-1]
    return normalize_number(last[0] or last[1])


def target_of(answer: str) -> str:
    """The number after '####' in a GSM8K solution."""
    if "####" not in answer:
        raise BrieError(f"GSM8K answer without '####': {answer[:60]!r}")
    return normalize_number(answer.split("####")[-1])


def score_output(output: str, target: str) -> dict:
    return {"strict": int(extract_strict(output) == target), "flexible": int(extract_flexible(output) == target)}


def _fewshot_answer(answer: str) -> str:
    return CALCULATOR.sub("", answer).strip()


class GSM8K(Benchmark):
    primary = "flexible"
    binary = True

    def __init__(self, spec: str, source: str | None = None, shots: int = 0, max_tokens: int = 256):
        self.spec, self.source, self.shots, self.max_tokens = spec, source or str(DEFAULT_FILE), shots, max_tokens
        self._shots: list[dict] = []

    def settings(self) -> dict:
        settings = {"shots": self.shots, "max_tokens": self.max_tokens}
        if self.shots and self.source == str(DEFAULT_FILE):
            # plain `gsm8k` took its examples from the hub's train split before the test split
            # shipped with brie; its own examples make other prompts, so other results
            settings["shots_from"] = "the shipped test split's last rows"
        return settings

    def items(self, ws) -> list[Item]:
        rows = load_records(self.source, split="test", config="main", local_hint=LOCAL_HINT)
        for n, r in enumerate(rows):
            if "question" not in r or "answer" not in r:
                raise BrieError(f"{self.source}: row {n + 1} needs 'question' and 'answer'")
        if self.shots:
            # Few-shot examples come from the train split on the hub; a local file (the shipped test
            # split too) has only one split, so its last K rows become the examples and are left
            # out of the items.
            if self.source == HUB_ID:
                self._shots = load_records(self.source, split="train", config="main",
                                           local_hint=LOCAL_HINT)[: self.shots]
            else:
                if len(rows) <= self.shots:
                    raise BrieError(f"{self.source}: {plural(len(rows), 'row')} is too few for {plural(self.shots, 'shot')}")
                self._shots, rows = rows[-self.shots:], rows[: -self.shots]
        return [Item(id=str(r.get("id", n)), input=r["question"], target=target_of(r["answer"]))
                for n, r in enumerate(rows)]

    def conversation(self, question: str) -> list[dict]:
        messages = []
        for shot in self._shots:
            messages.append({"role": "user", "content": INSTRUCTION + shot["question"]})
            messages.append({"role": "assistant", "content": _fewshot_answer(shot["answer"])})
        messages.append({"role": "user", "content": INSTRUCTION + question})
        return messages

    def score(self, model, tokenizer, items, batch_size, judge=None) -> Iterator[Scored]:
        from brie.generation.mlx_engine import generate_batch

        for start in range(0, len(items), batch_size):
            chunk = items[start:start + batch_size]
            outputs = generate_batch(model, tokenizer, [self.conversation(it.input) for _, it in chunk],
                                     max_tokens=self.max_tokens, batch_size=batch_size)
            for (idx, item), out in zip(chunk, outputs):
                yield Scored(idx, out, score_output(out, item.target))
