"""Perplexity on a held-out split: mean token loss (natural log) and exp of it.

Rows are tokenized exactly as mlx-lm's trainer tokenizes them (its own dataset classes: chat,
completions or text), and the loss is token-weighted like `mlx_lm.lora --test`: the sum of every
scored token's loss over the number of scored tokens, in the eval table and in the forgetting
table alike (a row's own mean loss is stored too, weighted by its token count when paired). It
equals mlx-lm's `default_loss` summed over the rows (tests/conformance/test_perplexity_mlx_lm.py).
One difference, on purpose: mlx-lm's `evaluate` also scores one padding token after each row (its
mask runs to the row's length inclusive); brie scores only the row's real tokens, so its loss is a
little different from mlx-lm's validation loss on the same rows; the conformance test shows the
gap is exactly that token.
"""

from __future__ import annotations

import math
from pathlib import Path
from brie.errors import BrieError
from brie.evals.base import Item, Scored
from brie.evals.data import read_jsonl_located
from brie.evals.loglik import Scoring
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


def _is_str(value) -> bool:
    return isinstance(value, str)


def check_row(row: dict, kind: str, where: str) -> None:
    """A BrieError naming `where` unless the row has the fields mlx-lm's dataset class of `kind`
    reads, as strings (a number or a list there would fail deep inside tokenization)."""
    if kind == "completions":
        if not (_is_str(row.get("prompt")) and _is_str(row.get("completion"))):
            raise BrieError(f"{where}: 'prompt' and 'completion' must be strings (the file's first row has both)")
    elif kind == "chat":
        messages = row.get("messages")
        if not isinstance(messages, list) or not messages or not all(
                isinstance(m, dict) and _is_str(m.get("role")) and _is_str(m.get("content")) for m in messages):
            raise BrieError(f"{where}: 'messages' must be a list of {{role, content}} strings "
                            "(the file's first row has 'messages')")
    elif not _is_str(row.get("text")):
        raise BrieError(f"{where}: 'text' must be a string (the file's first row has 'text')")


def row_kind(row: dict, where: str) -> str:
    """Which of mlx-lm's dataset classes reads the rows, decided by the first row as create_dataset does."""
    if "prompt" in row and "completion" in row:
        return "completions"
    if "messages" in row:
        return "chat"
    if "text" in row:
        return "text"
    raise BrieError(f"{where}: a row needs 'messages', 'prompt' and 'completion', or 'text' (mlx-lm's formats)")


class Perplexity(Scoring):
    primary = "loss"
    higher_is_better = False
    unit = "loss"  # natural log, per token
    weight = "tokens"

    def __init__(self, spec: str, source: str, max_seq_length: int = 2048):
        self.spec, self.source, self.max_seq_length = spec, source, max_seq_length

    def settings(self) -> dict:
        return {"max_seq_length": self.max_seq_length}

    def items(self, ws) -> list[Item]:
        self.file = resolve_data(ws, self.source)
        rows = read_jsonl_located(self.file)
        kind = row_kind(rows[0][1], rows[0][0])
        for where, r in rows:
            check_row(r, kind, where)
        return [Item(id=str(n), input=str(r)[:2000], data={"row": r, "where": where})
                for n, (where, r) in enumerate(rows)]

    def requests(self, tokenizer, items):
        from types import SimpleNamespace

        from mlx_lm.tuner.datasets import create_dataset

        try:
            dataset = create_dataset([it.data["row"] for _, it in items], tokenizer, SimpleNamespace())
        except ValueError as e:
            raise BrieError(f"{self.file}: {str(e).splitlines()[0]}") from None
        for n, (idx, item) in enumerate(items):
            try:
                tokens, offset = dataset.process(dataset[n])
            except Exception as e:  # a chat template may refuse a conversation (jinja's TemplateError, …)
                first = str(e).splitlines()[0] if str(e) else type(e).__name__
                raise BrieError(f"{item.data['where']}: cannot tokenize the row ({first})") from None
            tokens = tokens[: self.max_seq_length]  # the trainer truncates the same way
            # mlx-lm's default_loss counts targets from position max(offset, 1) on
            if len(tokens) <= max(offset, 1):
                raise BrieError(f"{item.data['where']}: the row leaves no token to score (one token long, or all "
                                f"prompt within the first {self.max_seq_length} tokens); remove it or shorten its prompt")
            yield idx, item, [tokens], offset

    def skip(self, offset) -> int:
        return max(offset - 1, 0)  # targets from position max(offset, 1), as default_loss counts them

    def finish(self, idx, item, offset, logprobs) -> Scored:
        kept = logprobs[0]
        nll = -sum(kept)
        return Scored(idx, None, {"loss": nll / len(kept), "nll": nll, "tokens": len(kept)})

    def aggregate(self, scores: list[dict]) -> dict:
        if not scores:
            return {"n": 0}
        tokens = sum(s["tokens"] for s in scores)
        loss = sum(s["nll"] for s in scores) / tokens
        return {"loss": loss, "perplexity": math.exp(loss), "tokens": tokens, "n": len(scores)}
