"""Checkpoint sweeps that share the frozen trunk.

A LoRA on the top layers leaves every layer below the first adapted one identical in the base and
in every checkpoint of the run, so on the same input their hidden states are identical too. For
scoring benchmarks (brie.evals.loglik.Scoring: perplexity, mcq) the runner hands such a group of
models here: the base model is loaded once and each of its LoRA layers is wrapped as a multi_lora
layer holding every model's weights, stacked (the base's are zeros: a LoRA layer then adds
(x @ 0) @ 0 = 0, so the base's numbers are the unwrapped model's exactly). Per item the embedding
and layers[0:k] (k = the lowest layer any adapter touches) run once; their hidden state is copied
once per model into one batch whose rows each pick their own model's adapter weights, and layers[k:],
the norm and the head run once over that batch; the head (the projection onto the vocabulary, as
costly as several layers) only at the positions the benchmark scores, as on the one-at-a-time path
(brie.evals.loglik). Items are the outer loop, so only one item's hidden states are held at a time,
and at most TOKENS tokens (rows x length) run at once. Other kinds share through their own
`score_shared` (lm-eval tasks: brie.evals.lm_eval_task; gsm8k and overlap), and greedy suite
generation through brie.generation.mlx_engine.generate_shared, all on this trunk (`trunk`, `top`
and `forward` take KV caches for generation).

Sharing applies only where it is known to give the one-at-a-time numbers: plain LoRA adapters
(not DoRA or full fine-tunes) with one configuration, whose weights touch only transformer layers,
on a model whose split forward matches its own forward on a probe input, with and
without KV caches. Anything else returns None and the caller runs model by model as before.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Iterator

from brie.evals.base import Item, Scored

LAYER_NAME = re.compile(r"^model\.layers\.(\d+)\.")


def shareable(bench) -> bool:
    """A benchmark scored by log-probs of fixed sequences (Scoring), or one that shares in its own
    way (`score_shared`: lm-eval tasks, gsm8k, overlap)."""
    from brie.evals.loglik import Scoring

    return isinstance(bench, Scoring) or hasattr(bench, "score_shared")


def adapter_signature(adapter_path: str | Path) -> str | None:
    """The LoRA configuration of an adapter folder as one string (adapters with the same one wrap
    the same layers), or None when it is not a plain LoRA brie can share."""
    try:
        cfg = json.loads((Path(adapter_path) / "adapter_config.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(cfg, dict) or cfg.get("fine_tune_type", "lora") != "lora" \
            or not isinstance(cfg.get("num_layers"), int) or not isinstance(cfg.get("lora_parameters"), dict):
        return None
    return json.dumps({"num_layers": cfg["num_layers"], "lora_parameters": cfg["lora_parameters"]}, sort_keys=True)


def share_groups(specs) -> list[list[int]]:
    """Positions in `specs` of the models that can share a trunk: per base model, its base specs and
    the checkpoints with the most common LoRA configuration; only groups of two or more."""
    by_model: dict[str, list[int]] = {}
    for i, spec in enumerate(specs):
        by_model.setdefault(spec.model, []).append(i)
    groups = []
    for positions in by_model.values():
        bases = [i for i in positions if specs[i].adapter_path is None]
        by_config: dict[str, list[int]] = {}
        for i in positions:
            if specs[i].adapter_path is not None:
                signature = adapter_signature(specs[i].adapter_path)
                if signature is not None:
                    by_config.setdefault(signature, []).append(i)
        group = sorted(bases + max(by_config.values(), key=len, default=[]))
        if len(group) >= 2:
            groups.append(group)
    return groups


class Rows:
    """Which model each row of a batch is: the index every multi_lora layer of one model reads."""

    def __init__(self):
        self.index = None  # mx.array (N,) of model positions


def multi_lora(linear, scale: float, stacked_a, stacked_b, rows: Rows):
    """A layer standing in for one of mlx-lm's LoRALinear (its frozen `linear` and `scale`) with one
    (lora_a, lora_b) per model, stacked as (K, in, r) and (K, r, out) and picked per batch row: row r
    adds scale * (x_r @ lora_a[m]) @ lora_b[m] for m = rows.index[r] (one index: every row), so one
    batch holds rows of several checkpoints. The base's weights are zeros, which add exactly 0."""
    layer = _multi_lora_class()()
    layer.linear, layer.scale, layer.lora_a, layer.lora_b, layer.rows = linear, scale, stacked_a, stacked_b, rows
    return layer


@functools.cache
def _multi_lora_class():
    """The class of multi_lora layers, built on first use: this module imports no MLX at import time."""
    import mlx.nn as nn

    class MultiLoRALinear(nn.Module):
        def __call__(self, x):
            # as LoRALinear.__call__ (dropout is off when evaluating), per row
            y = self.linear(x)
            index = self.rows.index
            z = (x @ self.lora_a[index]) @ self.lora_b[index]
            return y + (self.scale * z).astype(x.dtype)

    return MultiLoRALinear


class SharedTrunk:
    """One loaded base model that runs the trunk once and the top for many models (module doc)."""

    def __init__(self, model, tokenizer, first: int, rows: Rows, count: int):
        self.model, self.tokenizer, self.first = model, tokenizer, first
        self.rows, self.count = rows, count  # count: models (base and checkpoints), in adapter order

    def trunk(self, inputs, cache=None):
        """Hidden state after layers[0:first] (evaluated, so every model reuses it); `cache`: one
        KV cache per trunk layer (generation), filled here."""
        import mlx.core as mx
        from mlx_lm.models.base import create_attention_mask

        inner = self.model.model
        h = inner.embed_tokens(inputs)
        cache = cache or [None] * self.first
        mask = create_attention_mask(h, cache[0] if cache else None)
        for layer, c in zip(inner.layers[: self.first], cache):
            h = layer(h, mask, cache=c)
        mx.eval(h)
        return h

    def top(self, h, index: list[int], cache=None):
        """Final-norm hidden states from the trunk's hidden states `h` (N, L, D), row r through model
        index[r]'s adapted layers: the inner network's own forward over layers[first:] only (its norm
        included; brie.evals.loglik.head applies the model's own head to them). `cache`: one KV cache
        per top layer (generation)."""
        import mlx.core as mx

        self.rows.index = mx.array(index, dtype=mx.uint32)
        inner = self.model.model
        layers = inner.layers
        inner.layers = layers[self.first:]
        try:
            return inner(None, cache=cache, input_embeddings=h)
        finally:
            inner.layers = layers

    def forward(self, inputs, index: list[int], cache):
        """Logits of the whole model, row r as model index[r] (a generation step after the prompt)."""
        import mlx.core as mx

        self.rows.index = mx.array(index, dtype=mx.uint32)
        return self.model(inputs, cache=cache)


def mixes_attention(inner) -> bool:
    """Whether some layers attend through a sliding window (llama's `layer_types`, gpt-oss, …): the
    trunk builds one causal mask for every layer, right only when all of them attend to everything.
    The probe check cannot see this, as its input is shorter than any window."""
    kinds = set(getattr(inner, "layer_types", None) or getattr(getattr(inner, "args", None), "layer_types", None)
                or [])
    return bool(kinds - {"full_attention"}) or any(
        getattr(inner, name, None) is not None for name in ("swa_idx", "sliding_window", "window_size",
                                                             "pipeline_layers"))


def open_shared(ws, model_ref: str, adapter_paths: list[str | None]) -> SharedTrunk | None:
    """The base model loaded once, wrapped with the adapters' LoRA layers, with every adapter's
    weights read; None when these models cannot share a trunk (see the module doc)."""
    import inspect
    import types

    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.tuner.lora import LoRALinear
    from mlx_lm.tuner.utils import linear_to_lora_layers

    from brie.evals.loglik import PROBE, head, splits_head
    from brie.models.registry import cpu_only, load_model
    from brie.models.specs import ADAPTER_FILE

    adapters = [p for p in adapter_paths if p is not None]
    signatures = {adapter_signature(p) for p in adapters}
    if not adapters or len(signatures) != 1 or None in signatures:
        return None
    model, tokenizer = load_model(ws, model_ref)
    inner = getattr(model, "model", None)
    if not all(hasattr(inner, name) for name in ("embed_tokens", "layers", "norm")) \
            or "input_embeddings" not in inspect.signature(inner.__call__).parameters or not splits_head(model):
        return None
    if mixes_attention(inner):
        return None
    config = types.SimpleNamespace(**json.loads(signatures.pop()))
    linear_to_lora_layers(model, config.num_layers, config.lora_parameters)
    model.eval()  # the new LoRA layers start in training mode (dropout on), as mlx_lm.load leaves them off
    leaves = {name: p for name, p in tree_flatten(model.parameters()) if name.rsplit(".", 1)[-1] in ("lora_a", "lora_b")}
    if not leaves or any(type(m) is not LoRALinear for _, m in model.named_modules() if hasattr(m, "lora_a")):
        return None  # no LoRA at all, or one on an embedding or a mixture of experts
    first = None
    weights = []
    for path in adapter_paths:
        if path is None:
            weights.append([(name, mx.zeros_like(p)) for name, p in leaves.items()])
            continue
        try:
            loaded = mx.load(str(Path(path) / ADAPTER_FILE))
        except Exception:  # the one-at-a-time path reports an unreadable adapter in its own words
            return None
        if set(loaded) != set(leaves) or any(loaded[n].shape != leaves[n].shape for n in leaves):
            return None
        for name in loaded:
            match = LAYER_NAME.match(name)
            if match is None:
                return None  # an adapted embedding or head: not a trunk below adapted layers
            first = int(match.group(1)) if first is None else min(first, int(match.group(1)))
        if cpu_only():  # load_model casts an adapter's weights to float32 on the CPU; do the same
            loaded = {n: w.astype(mx.float32) if mx.issubdtype(w.dtype, mx.floating) else w for n, w in loaded.items()}
        weights.append(list(loaded.items()))
    # The split forward must be the model's own: check it once on a probe, with a real adapter in,
    # through the multi-model layers and through the KV caches generation uses, a shorter row left-padded.
    which = next(i for i, p in enumerate(adapter_paths) if p is not None)
    try:
        probe = mx.array(PROBE)
        short = PROBE[0][3:]
        model.load_weights(weights[which], strict=False)
        whole, whole_short = model(probe), model(mx.array([short]))[:, -1]
        shared = SharedTrunk(model, tokenizer, first, stack_adapters(model, weights), len(weights))
        split = head(model, shared.top(shared.trunk(probe), [which]))
        batch = mx.array([PROBE[0], [0] * 3 + short])
        cache = new_cache(model, [0, 3])
        prefix = head(model, shared.top(shared.trunk(batch[:, :-1], cache[:first]), [which] * 2, cache[first:]))
        step = shared.forward(batch[:, -1:], [which] * 2, cache)
        same = all(a.shape == b.shape and mx.allclose(a, b, rtol=1e-4, atol=1e-4).item()
                   for a, b in ((split, whole), (mx.concatenate([prefix[:1], step[:1]], axis=1), whole),
                                (step[1:, -1], whole_short)))
    except Exception:
        return None
    return shared if same else None


def stack_adapters(model, weights: list[list[tuple[str, object]]]) -> Rows:
    """Every LoRALinear of `model` replaced by a multi_lora layer holding each model's weights
    (`weights`: per model, every LoRA leaf by name); returns the rows index they read."""
    import mlx.core as mx
    from mlx.utils import tree_unflatten
    from mlx_lm.tuner.lora import LoRALinear

    by_model = [dict(w) for w in weights]
    rows = Rows()
    swapped = []
    for name, module in model.named_modules():
        if not isinstance(module, LoRALinear):
            continue
        stacked_a = mx.stack([w[f"{name}.lora_a"] for w in by_model])
        stacked_b = mx.stack([w[f"{name}.lora_b"] for w in by_model])
        swapped.append((name, multi_lora(module.linear, module.scale, stacked_a, stacked_b, rows)))
    model.update_modules(tree_unflatten(swapped))
    return rows


def new_cache(model, left_padding: list[int]) -> list:
    """One mlx-lm batch KV cache per layer for a left-padded batch (padding per row)."""
    from mlx_lm.models.cache import BatchKVCache

    return [BatchKVCache(left_padding) for _ in model.model.layers]


TOKENS = 16384  # most tokens (rows x padded length) the adapted layers run on at once, beyond one
# model's rows (those always run together, as on brie's one-at-a-time scoring path)


def score_shared(shared: SharedTrunk, bench, todos: list[list[tuple[int, Item]]],
                 batch_size: int = 8) -> Iterator[tuple[int, Scored]]:
    """(model position, scored item) for every item each model still needs; a benchmark with its own
    `score_shared` (lm-eval tasks, gsm8k, overlap) runs that, a Scoring one runs here, items in order:
    the trunk once per item for all the models that need it."""
    if hasattr(bench, "score_shared"):
        yield from bench.score_shared(shared, todos, batch_size)
        return
    union = sorted({idx: item for todo in todos for idx, item in todo}.items())
    wanted = [{idx for idx, _ in todo} for todo in todos]
    for idx, item, sequences, state in bench.requests(shared.tokenizer, union):
        models = [which for which, want in enumerate(wanted) if idx in want]
        for which, logprobs in shared_logprobs(shared, sequences, bench.skip(state), models):
            yield which, bench.finish(idx, item, state, logprobs)


def shared_logprobs(shared: SharedTrunk, sequences: list[list[int]], skip: int,
                    models: list[int]) -> Iterator[tuple[int, list[list[float]]]]:
    """For each of `models`: (model position, log p(token_j | tokens_<j) for j = skip+1 … len-1 of
    each sequence). The trunk runs
    once, the adapted layers for as many models as TOKENS allows in one batch, and the head only at the
    scored positions (as brie.evals.loglik.head_logprobs)."""
    import mlx.core as mx

    from brie.evals.loglik import head, pad, picked_logprobs, scored_positions

    batch = pad(sequences)
    h = shared.trunk(batch[:, :-1])
    positions = scored_positions(sequences, skip)
    rows, cols = positions
    per = max(1, TOKENS // (len(sequences) * batch.shape[1]))
    for start in range(0, len(models), per):
        chunk = models[start:start + per]
        normed = shared.top(mx.concatenate([h] * len(chunk)), [m for m in chunk for _ in sequences])
        for j, which in enumerate(chunk):
            if rows.size == 0:
                yield which, [[] for _ in sequences]
                continue
            part = normed[j * len(sequences):(j + 1) * len(sequences)]
            logits = head(shared.model, part[rows, cols][None])[0]
            yield which, picked_logprobs(logits, batch, positions, sequences, skip)


def shared_continuations(shared: SharedTrunk, context: list[int], continuations: list[list[int]],
                         models: list[int]) -> dict[int, list[tuple[float, bool]]]:
    """{model position: per continuation (log p(continuation | context), whether each of its tokens
    is that model's greedy pick)}, scored as mlx-lm's harness adapter scores one model: the context
    once into KV caches, then every continuation from them. Here the context's trunk runs once for
    all models and the continuations' trunk once for all models; the adapted layers run per model,
    as many models at a time as TOKENS allows. An empty continuation scores (0.0, True) (mlx-lm's
    adapter fails on one)."""
    import mlx.core as mx

    from brie.evals.loglik import head, pad, picked_logprobs, scored_positions

    model, first = shared.model, shared.first
    out: dict[int, list[tuple[float, bool]]] = {m: [(0.0, True)] * len(continuations) for m in models}
    kept = [i for i, c in enumerate(continuations) if c]
    if not kept:
        return out
    conts = [continuations[i] for i in kept]
    n, tokens = len(conts), pad(conts)
    lower = new_cache(model, [0])[:first]
    h_context = shared.trunk(mx.array([context]), lower)
    for c in lower:  # the context's trunk cache, one copy per continuation
        c.filter(mx.zeros((n,), dtype=mx.int32))
    positions = scored_positions(conts, 0)  # position j-1 predicts continuation token j >= 1
    rows, cols = positions
    if rows.size:  # no pass for one-token continuations: the context's last position scores them
        h_conts = shared.trunk(tokens, lower)
    firsts = mx.array([c[0] for c in conts])
    per = max(1, TOKENS // (n * (len(context) + tokens.shape[1])))
    for start in range(0, len(models), per):
        chunk = models[start:start + per]
        upper = new_cache(model, [0] * len(chunk))[first:]
        normed = shared.top(mx.concatenate([h_context] * len(chunk)), chunk, upper)
        last = head(model, normed[:, -1:, :])[:, 0].astype(mx.float32)  # (models, V): each first token
        first_scores = (mx.take_along_axis(last, mx.stack([firsts] * len(chunk)), axis=-1)
                        - mx.logsumexp(last, axis=-1, keepdims=True)).tolist()
        first_greedy = (mx.argmax(last, axis=-1)[:, None] == firsts[None]).tolist()
        if rows.size:
            for c in upper:  # each model's context cache, one copy per continuation
                c.filter(mx.array([k for k in range(len(chunk)) for _ in range(n)], dtype=mx.int32))
            normed = shared.top(mx.concatenate([h_conts] * len(chunk)), [m for m in chunk for _ in range(n)], upper)
        for k, m in enumerate(chunk):
            rest, hits = [[] for _ in conts], [[] for _ in conts]
            if rows.size:
                logits = head(model, normed[k * n:(k + 1) * n][rows, cols][None])[0]
                rest = picked_logprobs(logits, tokens, positions, conts, 0)
                flat, at = (mx.argmax(logits, axis=-1) == tokens[rows, cols + 1]).tolist(), 0
                for i, c in enumerate(conts):
                    hits[i], at = flat[at:at + len(c) - 1], at + len(c) - 1
            for i, first_score, greedy, more, hit in zip(kept, first_scores[k], first_greedy[k], rest, hits):
                out[m][i] = (first_score + sum(more), bool(greedy and all(hit)))
    return out
