"""Log-likelihood of continuations under a model: the core of multiple choice and perplexity."""

from __future__ import annotations


def token_logprobs(model, sequences: list[list[int]]) -> list[list[float]]:
    """For each token sequence, log p(token_j | tokens_<j) for j = 1…len-1 (one forward pass).

    Sequences are right-padded into one batch; a causal model never looks right, so the padding
    changes no log-prob that is read back.
    """
    import mlx.core as mx

    width = max(len(s) for s in sequences)
    batch = mx.array([s + [0] * (width - len(s)) for s in sequences])
    logits = model(batch[:, :-1]).astype(mx.float32)
    logp = logits - mx.logsumexp(logits, axis=-1, keepdims=True)
    picked = mx.take_along_axis(logp, batch[:, 1:, None], axis=-1)[..., 0]
    mx.eval(picked)
    rows = picked.tolist()
    return [rows[i][: len(s) - 1] for i, s in enumerate(sequences)]


def continuation_logliks(model, tokenizer, context: str, continuations: list[str]) -> list[float]:
    """Sum of log-probs of each continuation's tokens after the context (lm-eval's loglikelihood).

    Context and continuation are tokenized apart and joined, as lm-evaluation-harness does, so
    every choice is scored on exactly its own tokens.
    """
    ctx = tokenizer.encode(context)
    seqs = [ctx + tokenizer.encode(c, add_special_tokens=False) for c in continuations]
    out = []
    for seq, lps in zip(seqs, token_logprobs(model, seqs)):
        out.append(float(sum(lps[len(ctx) - 1:])))
    return out
