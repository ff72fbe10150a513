"""Perplexity on a held-out split: mean token loss (natural log) and exp of it.

Rows are tokenized exactly as mlx-lm's trainer tokenizes them (its own dataset classes: chat,
completions or text), and the aggregate loss is token-weighted like `mlx_lm.lora --test`. One
difference, on purpose: mlx-lm's evaluate also scores one padding token after each row (its mask
runs to the row's length inclusive); brie scores only the row's real tokens, so its loss is a
little different from mlx-lm's validation loss on the same rows (tests/test_eval_runner.py shows
the gap is exactly that token). Each row's own mean loss is the paired per-item value.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Iterator

from brie.errors import BrieError
from brie.evals.base import Benchmark, Item, Scored
from brie.evals.data import read_jsonl
from brie.store import datasets as dataset_rows

SPLITS = ("test", "valid")


def resolve_data(ws, source: str) -> Path:
    """A registered dataset's newest version, a folder with test/valid.jsonl, or one .jsonl file."""
    path = Path(source).expanduser()
    if not path.exists() and ws is not None:
        latest = dataset_rows.get_dataset(ws.store, source)
        if latest is not None:
            path = ws.path_of(latest["path"])
    if path.is_dir():
        for split in SPLITS:
            if (path / f"{split}.jsonl").exists():
                return path / f"{split}.jsonl"
        raise BrieError(f"{path}: no test.jsonl or valid.jsonl")
    if path.is_file():
        return path
    raise BrieError(f"{source!r}: not a registered dataset, a data folder or a .jsonl file")


class Perplexity(Benchmark):
    primary = "loss"
    higher_is_better = False

    def __init__(self, spec: str, source: str, max_seq_length: int = 2048):
        self.spec, self.source, self.max_seq_length = spec, source, max_seq_length

    def settings(self) -> dict:
        return {"max_seq_length": self.max_seq_length}

    def items(self, ws) -> list[Item]:
        self.file = resolve_data(ws, self.source)
        rows = read_jsonl(self.file)
        return [Item(id=str(n), input=str(r)[:2000], data={"row": r}) for n, r in enumerate(rows)]

    def score(self, model, tokenizer, items, batch_size, judge=None) -> Iterator[Scored]:
        from types import SimpleNamespace

        from mlx_lm.tuner.datasets import create_dataset

        from brie.evals.loglik import token_logprobs

        try:
            dataset = create_dataset([it.data["row"] for _, it in items], tokenizer, SimpleNamespace())
        except ValueError as e:
            raise BrieError(f"{self.file}: {str(e).splitlines()[0]}") from None
        for n, (idx, _item) in enumerate(items):
            tokens, offset = dataset.process(dataset[n])
            tokens = tokens[: self.max_seq_length]  # the trainer truncates the same way
            # mlx-lm's default_loss counts targets from position max(offset, 1) on
            if len(tokens) <= max(offset, 1):
                raise BrieError(f"{self.file}: row {idx + 1} leaves no token to score (one token long, or all "
                                f"prompt within the first {self.max_seq_length} tokens); remove it or shorten its prompt")
            lps = token_logprobs(model, [tokens])[0]
            kept = lps[max(offset - 1, 0):]
            nll = -sum(kept)
            yield Scored(idx, None, {"loss": nll / len(kept), "nll": nll, "tokens": len(kept)})

    def aggregate(self, scores: list[dict]) -> dict:
        if not scores:
            return {"n": 0}
        tokens = sum(s["tokens"] for s in scores)
        loss = sum(s["nll"] for s in scores) / tokens
        return {"loss": loss, "perplexity": math.exp(loss), "tokens": tokens, "n": len(scores)}
