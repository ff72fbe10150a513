"""Perplexity: brie's token-weighted loss equals mlx-lm's own loss on the same rows.

The reference is mlx-lm's trainer, run at test time on the tiny model of tests/tiny.py:
`mlx_lm.tuner.trainer.evaluate` with its `default_loss` and its `iterate_batches`, over the rows
as its own dataset classes tokenize them. mlx-lm's mask also counts one padding target after each
row (it runs to the row's length inclusive); brie scores only real tokens, so the reference is
given each row's real length (its batch, one shorter at the end). The test also shows that the
gap to plain `evaluate` is that padding token and nothing else, and that the loss is token-weighted
(the mean of per-row losses is a different number on these rows).
"""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest

ROWS = {
    "text": [{"text": "Stilton is an English blue cheese."},
             {"text": "Squeak! Burrata is a mozzarella pouch filled with cream and soft curds, "
                      "best eaten the day it is made, with tomatoes and olive oil."},
             {"text": "Brie."}],
    "completions": [{"prompt": "What is feta?", "completion": "A brined curd cheese from Greece."},
                    {"prompt": "Name a blue cheese.", "completion": "Gorgonzola, from Italy, is one of the oldest."}],
    "chat": [{"messages": [{"role": "user", "content": "What is raclette?"},
                           {"role": "assistant", "content": "A Swiss cheese, melted and scraped over potatoes."}]},
             {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]}],
}


def _real_tokens_only(iterate_batches):
    """mlx-lm's iterate_batches, each row's end moved back by one so default_loss's mask stops at
    the row's last real token (batch_size 1: no row is truncated here, so the end is the row's length)."""
    import mlx.core as mx

    def iterate(*args, **kwargs):
        for batch, lengths in iterate_batches(*args, **kwargs):
            yield batch, lengths - mx.array([[0, 1]])
    return iterate


@pytest.mark.parametrize("kind", sorted(ROWS))
def test_perplexity_equals_mlx_lm_default_loss_token_weighted(kind, tmp_path, tiny_model_dir):
    import mlx.core as mx
    from mlx_lm import load
    from mlx_lm.tuner.datasets import CacheDataset, create_dataset
    from mlx_lm.tuner.trainer import default_loss, evaluate, iterate_batches

    from brie.evals.perplexity import Perplexity

    rows = ROWS[kind]
    data = tmp_path / "held.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    model, tokenizer = load(str(tiny_model_dir))

    bench = Perplexity(f"perplexity:{data}", source=str(data))
    items = bench.items(None)
    scores = [s.scores for s in bench.score(model, tokenizer, list(enumerate(items)), batch_size=1)]
    ours = bench.aggregate(scores)

    dataset = CacheDataset(create_dataset(rows, tokenizer, SimpleNamespace()))
    reference = evaluate(model, dataset, batch_size=1, num_batches=-1, loss=default_loss,
                         iterate_batches=_real_tokens_only(iterate_batches))
    lengths = [len(dataset[i][0]) for i in range(len(rows))]
    assert ours["tokens"] == sum(n - 1 for n in lengths)  # every next-token target of every row
    assert ours["loss"] == pytest.approx(reference, rel=1e-5)
    assert ours["perplexity"] == pytest.approx(math.exp(reference), rel=1e-5)
    # token-weighted, not the mean of the rows' own losses
    assert ours["loss"] != pytest.approx(sum(s["loss"] for s in scores) / len(scores), rel=1e-3)

    # plain mlx-lm evaluate scores one padding target more per row: the gap is exactly that
    plain = evaluate(model, dataset, batch_size=1, num_batches=-1)
    pad_nll = 0.0
    for i, n in enumerate(lengths):
        batch = mx.array([dataset[i][0] + [0]])
        loss, ntoks = default_loss(model, batch, mx.array([[n, n]]))  # the padding target alone
        assert ntoks.item() == 1
        pad_nll += loss.item()
    assert plain == pytest.approx((ours["loss"] * ours["tokens"] + pad_nll) / (ours["tokens"] + len(rows)), rel=1e-5)
