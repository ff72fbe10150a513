"""`local:<model>`: an MLX model in the brie process, read from its next token's probabilities.

The judge is shown the same versioned templates as the API judges (brie/judging/prompts.py), with
its answer begun for it up to the verdict (`VERDICT_PREFILL`, "My final verdict: [["; for a rating
`RATING_PREFILL`). One forward pass gives the next token's distribution; the probabilities of `A`,
`B` and `C` — every single-token spelling the model's tokenizer has for each, such as "A" and " A" —
are summed and normalised over the three. The verdict is the most likely letter, mapped back to the
model through `shown_first` by `verdicts.to_verdict` like every verdict. So it always answers (no
parse failures) and costs nothing. AlpacaEval 2's logprob annotator and G-Eval's probability-weighted
score read judges the same way.

A rating is read from the next token after "Rating: [[": P(1)…P(9) from the digits' tokens, and "10"
— two tokens in most tokenizers, "1" then "0" — from the same pass: the "1" token is appended, so the
last position gives P("0" | "1") against a closing "]" (P(10) = P("1")·q, P(1) = P("1")·(1−q), plus a
single "10" token where the tokenizer has one). The expected rating Σ k·P(k) is the score.

Many prompts go through one batched forward pass (left-padded, with mlx-lm's BatchKVCache masking the
padding and giving each row its own positions), sorted by length so a batch pads little. Only the
last positions' logits are computed: the prompt's head is run through the KV cache first, and MLX,
being lazy, never computes the vocabulary projection of positions nobody reads.

`<model>`: `default` or the embedded model's name, a registered model, a model folder, a Hugging Face
id in the local cache, or a checkpoint `<run>@<step|best|last|recommended>` (base model + adapter).
"""

from __future__ import annotations

import threading
from typing import ClassVar

from brie.judging.base import JudgeError, JudgeSpec, Provider, Reply
from brie.judging.prompts import RATING_PREFILL, VERDICT_PREFILL
from brie.judging.verdicts import RATINGS

LETTERS = ("A", "B", "C")
DEFAULT_ALIAS = "default"  # `local:default`: the embedded default model


def token_spellings(tokenizer, text: str) -> list[int]:
    """Every single token this tokenizer decodes to `text` or to " " + `text` ("A" and " A", or
    sentencepiece's "▁A"): what the next token after "[[" may be to mean `text`."""
    wanted = {text, " " + text}
    ids = set()
    for variant in wanted:
        encoded = tokenizer.encode(variant, add_special_tokens=False)
        # (checked by decoding: a tokenizer may drop what it cannot spell, leaving " " for " A")
        if len(encoded) == 1 and tokenizer.decode(encoded) in wanted:
            ids.add(encoded[0])
    # Other tokens that decode the same (the encoder picks one spelling; the model may prefer another).
    # Only short vocabulary entries can: a marker byte or two and the text itself.
    for piece, i in tokenizer.get_vocab().items():
        if len(piece) <= len(text) + 3 and i not in ids and tokenizer.decode([i]) in wanted:
            ids.add(i)
    return sorted(ids)


def closing_tokens(tokenizer) -> list[int]:
    """The tokens that begin with "]" (what ends "[[1" as a rating of 1 rather than 10)."""
    return sorted(i for piece, i in tokenizer.get_vocab().items()
                  if len(piece) <= 4 and tokenizer.decode([i]).startswith("]"))


def resolve_local_model(ws, ref: str):
    """(model, tokenizer) for what follows `local:`, loaded the way generation loads models."""
    from brie.models.registry import DEFAULT_MODEL, load_model

    if ref == DEFAULT_ALIAS:
        ref = DEFAULT_MODEL
    if "@" in ref:
        if ws is None:
            raise JudgeError(f"judge local:{ref}: a checkpoint needs a workspace")
        from brie.models.specs import resolve_spec

        spec = resolve_spec(ws, ref)
        return load_model(ws, spec.model, spec.adapter_path)
    return load_model(ws, ref)


class LocalJudge(Provider):
    kind = "local"
    name_form = "local:<model>"
    free_when_unlisted = True  # in-process: nothing is paid per token
    in_process: ClassVar[bool] = True  # the loops hand it whole chunks (`verdicts`, `ratings`)
    batch_size: ClassVar[int] = 8  # prompts per forward pass

    @classmethod
    def check(cls, ws, spec: JudgeSpec) -> None:
        """What can be checked before generation without loading the model: the checkpoint or model exists."""
        from brie.models.registry import DEFAULT_MODEL, check_model

        ref = DEFAULT_MODEL if spec.model == DEFAULT_ALIAS else spec.model
        if "@" in ref and ws is not None:
            from brie.models.specs import resolve_spec

            resolve_spec(ws, ref)
        elif ref != DEFAULT_MODEL:
            check_model(ws, ref)

    def __init__(self, spec: JudgeSpec, max_retries: int = 4, timeout: float = 120.0, max_tokens: int = 1024,
                 ws=None):
        super().__init__(spec, max_retries=max_retries, timeout=timeout, max_tokens=max_tokens)
        self.model, self.tokenizer = resolve_local_model(ws, spec.model)
        self.letters = {letter: token_spellings(self.tokenizer, letter) for letter in LETTERS}
        missing = [letter for letter, ids in self.letters.items() if not ids]
        if missing:
            raise JudgeError(f"judge {spec.name}: the model's tokenizer has no single token for "
                             f"{', '.join(missing)}, so it cannot give a verdict as the next token")
        self.digits: dict[str, list[int]] | None = None  # read when first grading
        # One forward pass at a time. brie's own callers judge in the thread that loaded the model;
        # the lock keeps any other caller (a UI worker, say) from running two passes at once.
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"local model {self.spec.model}"

    def translate(self, e: Exception):
        return None  # no SDK: an MLX error is a bug to see, not a failed request

    def send(self, system: str, user: str) -> Reply:
        """One prompt: a rating when the template asks for "Rating: [[…]]" (brie's and FastChat's
        single-answer templates), else a pairwise verdict."""
        if "Rating: [[" in system:
            return self.ratings([(system, user)])[0]
        return self.verdicts([(system, user)])[0]

    # --- the two readings ---

    def verdicts(self, prompts: list[tuple[str, str]]) -> list[Reply]:
        """A pairwise verdict for each (system, user): probabilities of A, B, C, most likely as text."""
        rows, lengths = self.forward(prompts, VERDICT_PREFILL, extra=[])
        replies = []
        for row, n in zip(rows, lengths):
            mass = {letter: float(row[0][ids].sum()) for letter, ids in self.letters.items()}
            total = sum(mass.values())
            probs = {k: v / total for k, v in mass.items()} if total > 0 else {k: 1 / 3 for k in LETTERS}
            best = max(LETTERS, key=lambda k: probs[k])
            replies.append(Reply(text=f"{VERDICT_PREFILL}{best}]]", input_tokens=n, probabilities=probs))
        return replies

    def ratings(self, prompts: list[tuple[str, str]]) -> list[Reply]:
        """A 1–10 rating for each (system, user): P(1)…P(10), the most likely as text (the score
        stored is the expected rating, `verdicts.expected_rating`)."""
        if self.digits is None:
            digits = {k: token_spellings(self.tokenizer, k) for k in RATINGS}
            # the "1" token itself, without a leading space: what follows "[[" when the rating is 10
            # (not encode("1"), which a SentencePiece tokenizer prefixes with its space token)
            one = ([i for i in digits["1"] if self.tokenizer.convert_ids_to_tokens(i) == "1"]
                   or [i for i in digits["1"] if self.tokenizer.decode([i]) == "1"])
            zero = token_spellings(self.tokenizer, "0")
            missing = [k for k in RATINGS[:9] if not digits[k]]
            if missing or not one or not zero:
                raise JudgeError(f"judge {self.spec.name}: the model's tokenizer has no single token for "
                                 f"each digit, so it cannot give a rating as the next token")
            self.digits, self.one, self.zero = digits, one[0], zero
            self.closing = closing_tokens(self.tokenizer)
        rows, lengths = self.forward(prompts, RATING_PREFILL, extra=[self.one])
        replies = []
        for row, n in zip(rows, lengths):
            first, after_one = row[0], row[1]
            mass = {k: float(first[ids].sum()) if ids else 0.0 for k, ids in self.digits.items()}
            zero, close = float(after_one[self.zero].sum()), float(after_one[self.closing].sum())
            q = zero / (zero + close) if zero + close > 0 else 0.0  # "1" goes on as "10"
            p1 = mass["1"]
            mass["1"], mass["10"] = p1 * (1 - q), mass["10"] + p1 * q
            total = sum(mass.values())
            probs = {k: v / total for k, v in mass.items()} if total > 0 else {k: 0.1 for k in RATINGS}
            best = max(RATINGS, key=lambda k: probs[k])
            replies.append(Reply(text=f"{RATING_PREFILL}{best}]]", input_tokens=n, probabilities=probs))
        return replies

    # --- the forward pass ---

    def encode(self, system: str, user: str, prefill: str) -> list[int]:
        """The chat template applied to the prompt, and the assistant's answer begun with `prefill`."""
        from brie.generation.chat import chat_prompt

        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        return self.tokenizer.encode(chat_prompt(self.tokenizer, messages) + prefill, add_special_tokens=False)

    def forward(self, prompts: list[tuple[str, str]], prefill: str, extra: list[int]):
        """For each prompt, the softmax (float32, numpy) at its last 1 + len(extra) positions, in the
        order given, and its length in tokens; batched by length."""
        import numpy as np

        sequences = [self.encode(system, user, prefill) + extra for system, user in prompts]
        out: list = [None] * len(sequences)
        order = sorted(range(len(sequences)), key=lambda i: len(sequences[i]))
        for start in range(0, len(order), self.batch_size):
            chunk = order[start:start + self.batch_size]
            with self.lock:
                probs = self.last_probabilities([sequences[i] for i in chunk], 1 + len(extra))
            for i, p in zip(chunk, probs):
                out[i] = p
        return [np.asarray(p) for p in out], [len(s) - len(extra) for s in sequences]

    def last_probabilities(self, sequences: list[list[int]], n_last: int) -> list:
        """Softmax over the vocabulary at the last `n_last` positions of each sequence, in one
        forward pass: left-padded, the padding masked and each row's positions counted from its
        first real token (mlx-lm's BatchKVCache). A model whose cache cannot batch runs one by one."""
        import mlx.core as mx
        import numpy as np
        from mlx_lm.models.cache import BatchKVCache, KVCache, make_prompt_cache

        plain = make_prompt_cache(self.model)
        if len(sequences) > 1 and not all(type(c) is KVCache for c in plain):
            return [p for s in sequences for p in self.last_probabilities([s], n_last)]
        width = max(len(s) for s in sequences)
        padding = [width - len(s) for s in sequences]
        x = mx.array([[0] * p + s for p, s in zip(padding, sequences)])
        cache = [BatchKVCache(padding) for _ in plain] if len(sequences) > 1 else plain
        head = width - n_last
        if head > 0:
            self.model(x[:, :head], cache=cache)  # only its KV cache is ever evaluated
        logits = self.model(x[:, head:], cache=cache).astype(mx.float32)
        probs = mx.softmax(logits, axis=-1)
        mx.eval(probs)
        result = np.array(probs)
        return [result[i] for i in range(len(sequences))]
