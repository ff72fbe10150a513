"""Multiple choice by log-likelihood: `acc` picks the choice with the highest summed log-prob,
`acc_norm` divides each by the choice's length in characters first (lm-evaluation-harness's
definitions), so long answers are not penalized for having more tokens.

Accepted rows (JSONL): ARC ({"question", "choices": {"text", "label"}, "answerKey"}), MMLU
({"question", "choices": [...], "answer": 0}), HellaSwag ({"ctx", "endings", "label"}) and the plain
{"question", "choices": [...], "answer": index | letter | the choice's text}.
"""

from __future__ import annotations

from brie.errors import BrieError
from brie.evals.base import Item, Scored
from brie.evals.data import load_records
from brie.evals.loglik import Scoring


def normalize_row(row: dict, where: str) -> tuple[str, list[str], int]:
    """(context, choices, gold index) from any of the accepted row shapes."""
    if "ctx" in row and "endings" in row:  # HellaSwag: the ending continues the context directly
        context, choices, answer = row["ctx"], list(row["endings"]), row.get("label")
    else:
        if "question" not in row or "choices" not in row:
            raise BrieError(f"{where}: needs 'question' and 'choices' (or HellaSwag's 'ctx' and 'endings')")
        context = f"Question: {row['question']}\nAnswer:"
        choices = row["choices"]
        labels = None
        if isinstance(choices, dict):  # ARC
            labels, choices = list(choices.get("label", [])), list(choices["text"])
        answer = row.get("answerKey", row.get("answer", row.get("label")))
        if labels and isinstance(answer, str) and answer in labels:
            answer = labels.index(answer)
    if not choices or not all(isinstance(c, str) for c in choices):
        raise BrieError(f"{where}: 'choices' must be a non-empty list of strings")
    gold = _gold_index(answer, choices)
    if gold is None:
        raise BrieError(f"{where}: answer {answer!r} is not an index, a letter or one of the choices")
    return context, choices, gold


def _gold_index(answer, choices: list[str]) -> int | None:
    if isinstance(answer, bool):
        return None
    if isinstance(answer, int):
        return answer if 0 <= answer < len(choices) else None
    if isinstance(answer, str):
        a = answer.strip()
        if a.isdigit() and int(a) < len(choices):
            return int(a)
        if len(a) == 1 and a.isalpha() and ord(a.upper()) - 65 < len(choices):
            return ord(a.upper()) - 65
        if a in choices:
            return choices.index(a)
    return None


def pick(logliks: list[float], choices: list[str]) -> tuple[int, int]:
    """(argmax of log-likelihood, argmax of log-likelihood per character); first wins ties."""
    raw = max(range(len(logliks)), key=lambda i: (logliks[i], -i))
    normed = [ll / max(len(c), 1) for ll, c in zip(logliks, choices)]
    norm = max(range(len(normed)), key=lambda i: (normed[i], -i))
    return raw, norm


class MultipleChoice(Scoring):
    primary = "acc"
    binary = True

    def __init__(self, spec: str, source: str):
        self.spec, self.source = spec, source

    def items(self, ws) -> list[Item]:
        items = []
        for n, row in enumerate(load_records(self.source)):
            context, choices, gold = normalize_row(row, f"{self.source}: row {n + 1}")
            items.append(Item(id=str(row.get("id", n)), input=context, target=str(gold),
                              data={"choices": choices}))
        return items

    def requests(self, tokenizer, items):
        from brie.evals.loglik import continuation_sequences

        for idx, item in items:
            sequences, n_ctx = continuation_sequences(tokenizer, item.input, [" " + c for c in item.data["choices"]])
            yield idx, item, sequences, n_ctx

    def skip(self, n_ctx) -> int:
        return n_ctx - 1  # only the continuation's tokens are scored

    def finish(self, idx, item, n_ctx, logprobs) -> Scored:
        choices = item.data["choices"]
        logliks = [float(sum(lps)) for lps in logprobs]
        raw, norm = pick(logliks, choices)
        gold = int(item.target)
        return Scored(idx, choices[raw], {"acc": int(raw == gold), "acc_norm": int(norm == gold),
                                          "logliks": [round(x, 4) for x in logliks]})
