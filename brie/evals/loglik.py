"""Log-likelihood of continuations under a model: the core of multiple choice and perplexity.

Kinds that only score (perplexity, mcq) are `Scoring` benchmarks: they say which token sequences
each item needs (`requests`) and turn those sequences' log-probs into the item's scores (`finish`).
`score` runs one forward pass per item; brie.evals.sweep runs the same requests for several
checkpoints at once, sharing the layers below the first adapted one.
"""

from __future__ import annotations

from typing import Any, Iterator

from brie.evals.base import Benchmark, Item, Scored


def pad(sequences: list[list[int]]):
    """The sequences right-padded (with 0) into one mx.array batch."""
    import mlx.core as mx

    width = max(len(s) for s in sequences)
    return mx.array([s + [0] * (width - len(s)) for s in sequences])


def picked_logprobs(logits, batch, sequences: list[list[int]]) -> list[list[float]]:
    """From the logits of batch[:, :-1], log p(token_j | tokens_<j) for j = 1…len-1 of each sequence."""
    import mlx.core as mx

    logits = logits.astype(mx.float32)
    picked = mx.take_along_axis(logits, batch[:, 1:, None], axis=-1)[..., 0] - mx.logsumexp(logits, axis=-1)
    mx.eval(picked)
    rows = picked.tolist()
    return [rows[i][: len(s) - 1] for i, s in enumerate(sequences)]


def token_logprobs(model, sequences: list[list[int]]) -> list[list[float]]:
    """For each token sequence, log p(token_j | tokens_<j) for j = 1…len-1 (one forward pass).

    Sequences are right-padded into one batch; a causal model never looks right, so the padding
    changes no log-prob that is read back.
    """
    batch = pad(sequences)
    return picked_logprobs(model(batch[:, :-1]), batch, sequences)


def continuation_sequences(tokenizer, context: str, continuations: list[str]) -> tuple[list[list[int]], int]:
    """(context + continuation token ids for each continuation, the context's length).

    Context and continuation are tokenized apart and joined, as lm-evaluation-harness does, so
    every choice is scored on exactly its own tokens."""
    ctx = tokenizer.encode(context)
    return [ctx + tokenizer.encode(c, add_special_tokens=False) for c in continuations], len(ctx)


def continuation_sums(logprobs: list[list[float]], context_length: int) -> list[float]:
    """Sum of each continuation's token log-probs (those after the context)."""
    return [float(sum(lps[context_length - 1:])) for lps in logprobs]


def continuation_logliks(model, tokenizer, context: str, continuations: list[str]) -> list[float]:
    """Sum of log-probs of each continuation's tokens after the context (lm-eval's loglikelihood)."""
    seqs, n_ctx = continuation_sequences(tokenizer, context, continuations)
    return continuation_sums(token_logprobs(model, seqs), n_ctx)


class Scoring(Benchmark):
    """A benchmark scored by log-probs of fixed token sequences (no generation)."""

    def requests(self, tokenizer, items: list[tuple[int, Item]]) -> Iterator[tuple[int, Item, list[list[int]], Any]]:
        """(index, item, the token sequences to score in one batch, state for `finish`) per item."""
        raise NotImplementedError

    def finish(self, idx: int, item: Item, state: Any, logprobs: list[list[float]]) -> Scored:
        """The item's scores from its sequences' token log-probs (as token_logprobs gives them)."""
        raise NotImplementedError

    def score(self, model, tokenizer, items, batch_size, judge=None) -> Iterator[Scored]:
        for idx, item, sequences, state in self.requests(tokenizer, items):
            yield self.finish(idx, item, state, token_logprobs(model, sequences))
