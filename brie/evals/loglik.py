"""Log-likelihood of continuations under a model: the core of multiple choice and perplexity.

Kinds that only score (perplexity, mcq) are `Scoring` benchmarks: they say which token sequences
each item needs (`requests`) and turn those sequences' log-probs into the item's scores (`finish`).
`score` runs one forward pass per item, the head (the projection onto the vocabulary and its
log-softmax) only at the positions `finish` reads; brie.evals.sweep runs the same requests for several
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


class _Passthrough:
    """Stands in for a model's inner network so that the model's own __call__ applies only its head
    (tied or separate projection, any logit scaling) to hidden states it is handed."""

    def __init__(self, inner):
        self.inner = inner

    def __call__(self, inputs=None, cache=None, input_embeddings=None, **kwargs):
        return input_embeddings

    def __getattr__(self, name):  # the head may read the inner network's weights (tied embeddings)
        return getattr(self.inner, name)


def head(model, normed):
    """The model's logits from final-norm hidden states `normed` (B, N, D), by its own __call__."""
    inner = model.model
    model["model"] = _Passthrough(inner)  # mlx Modules keep their children in the dict itself
    try:
        return model(None, input_embeddings=normed)
    finally:
        model["model"] = inner


PROBE = [[1, 2, 3, 4, 5, 6, 7, 8]]  # token ids every vocabulary has


def splits_head(model) -> bool:
    """Whether the model's inner network followed by `head` gives its own logits (checked on a probe),
    so the vocabulary projection can run at the scored positions only."""
    import inspect

    import mlx.core as mx

    inner = getattr(model, "model", None)
    if not callable(inner) or "input_embeddings" not in inspect.signature(model.__call__).parameters:
        return False
    try:
        probe = mx.array(PROBE)
        split, whole = head(model, inner(probe)), model(probe)
        return split.shape == whole.shape and mx.allclose(split, whole, rtol=1e-4, atol=1e-4).item()
    except Exception:
        return False


def scored_positions(sequences: list[list[int]], skip: int):
    """(rows, columns) of batch[:, :-1] whose next token is scored: positions skip … len-2 of each
    sequence (the log-probs of tokens skip+1 … len-1)."""
    import mlx.core as mx

    rows = [i for i, s in enumerate(sequences) for _ in range(skip, len(s) - 1)]
    cols = [p for s in sequences for p in range(skip, len(s) - 1)]
    return mx.array(rows, dtype=mx.int32), mx.array(cols, dtype=mx.int32)


def picked_logprobs(logits, batch, positions, sequences: list[list[int]], skip: int) -> list[list[float]]:
    """log p(token_j | tokens_<j) for j = skip+1 … len-1 of each sequence, from `logits` (N, V) at
    `positions` (as scored_positions gives them)."""
    import mlx.core as mx

    rows, cols = positions
    logits = logits.astype(mx.float32)  # N rows only: the upcast and the logsumexp skip unscored positions
    targets = batch[rows, cols + 1]
    picked = mx.take_along_axis(logits, targets[:, None], axis=-1)[:, 0] - mx.logsumexp(logits, axis=-1)
    values = picked.tolist()
    out, at = [], 0
    for s in sequences:
        n = max(len(s) - 1 - skip, 0)
        out.append(values[at: at + n])
        at += n
    return out


def head_logprobs(model, normed, batch, sequences: list[list[int]], skip: int) -> list[list[float]]:
    """Log-probs (as token_logprobs) from the final-norm hidden states of batch[:, :-1]: the head runs
    at the scored positions only (the projection onto the vocabulary costs as much as several layers)."""
    positions = scored_positions(sequences, skip)
    rows, cols = positions
    if rows.size == 0:
        return [[] for _ in sequences]
    return picked_logprobs(head(model, normed[rows, cols][None])[0], batch, positions, sequences, skip)


def token_logprobs(model, sequences: list[list[int]], skip: int = 0, split: bool | None = None) -> list[list[float]]:
    """For each token sequence, log p(token_j | tokens_<j) for j = skip+1 … len-1 (one forward pass).

    Sequences are right-padded into one batch; a causal model never looks right, so the padding
    changes no log-prob that is read back. Where the model splits into inner network and head
    (`split`, checked with splits_head when not given), the head runs at the scored positions only.
    """
    batch = pad(sequences)
    if split is None:
        split = splits_head(model)
    if split:
        return head_logprobs(model, model.model(batch[:, :-1]), batch, sequences, skip)
    positions = scored_positions(sequences, skip)
    rows, cols = positions
    if rows.size == 0:
        return [[] for _ in sequences]
    return picked_logprobs(model(batch[:, :-1])[rows, cols], batch, positions, sequences, skip)


def continuation_sequences(tokenizer, context: str, continuations: list[str]) -> tuple[list[list[int]], int]:
    """(context + continuation token ids for each continuation, the context's length).

    Context and continuation are tokenized apart and joined, as lm-evaluation-harness does, so
    every choice is scored on exactly its own tokens."""
    ctx = tokenizer.encode(context)
    return [ctx + tokenizer.encode(c, add_special_tokens=False) for c in continuations], len(ctx)


def continuation_logliks(model, tokenizer, context: str, continuations: list[str]) -> list[float]:
    """Sum of log-probs of each continuation's tokens after the context (lm-eval's loglikelihood)."""
    seqs, n_ctx = continuation_sequences(tokenizer, context, continuations)
    return [float(sum(lps)) for lps in token_logprobs(model, seqs, skip=n_ctx - 1)]


class Scoring(Benchmark):
    """A benchmark scored by log-probs of fixed token sequences (no generation)."""

    def requests(self, tokenizer, items: list[tuple[int, Item]]) -> Iterator[tuple[int, Item, list[list[int]], Any]]:
        """(index, item, the token sequences to score in one batch, state for `finish`) per item."""
        raise NotImplementedError

    def skip(self, state: Any) -> int:
        """How many leading log-probs of each sequence `finish` does not read (the context's): they
        are not computed, so the head runs at the scored positions only."""
        return 0

    def finish(self, idx: int, item: Item, state: Any, logprobs: list[list[float]]) -> Scored:
        """The item's scores from its sequences' token log-probs after the first skip(state) (as
        token_logprobs(model, sequences, skip) gives them)."""
        raise NotImplementedError

    def score(self, model, tokenizer, items, batch_size, judge=None) -> Iterator[Scored]:
        split = splits_head(model)
        for idx, item, sequences, state in self.requests(tokenizer, items):
            yield self.finish(idx, item, state, token_logprobs(model, sequences, self.skip(state), split))
