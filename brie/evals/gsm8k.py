"""GSM8K: grade-school math word problems, scored exactly as lm-evaluation-harness scores them.

Scoring is lm-eval's own, not a copy: the filters and the exact_match settings are read from the
`gsm8k.yaml` task config of the installed lm-eval, its filter classes extract the answer and its
exact_match metric compares it with the dataset's full answer as text (so `18.00` is not `18`,
and integers above 2**53 never collide). Two scores per item, named as lm-eval names its filters:

  strict    lm-eval's "strict-match": the number after `#### ` (the format brie's prompt asks for)
  flexible  lm-eval's "flexible-extract": the last number anywhere in the output

A small instruct model rarely writes `####`, so flexible is the primary metric here; both are stored.
brie's prompt (an instruction, the chat template, shots as earlier turns) is not lm-eval's
"Question: …\\nAnswer:" text, so the accuracy itself can differ from `lm_eval --tasks gsm8k`;
the scoring of a given output cannot (tests/conformance/test_gsm8k_lm_eval.py).
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from brie.errors import BrieError
from brie.evals.base import Benchmark, Item, Scored
from brie.evals.data import SHIPPED, load_located
from brie.words import plural

HUB_ID = "openai/gsm8k"
DEFAULT_FILE = SHIPPED / "gsm8k_test.jsonl"  # the test split, 1,319 problems (MIT, LICENSE.gsm8k)
LOCAL_HINT = "--benchmarks gsm8k (the shipped test split) or gsm8k:<your test.jsonl>"
INSTRUCTION = "Solve the problem step by step, then give the final answer on its own line as '#### <number>'.\n\n"
CALCULATOR = re.compile(r"<<[^>]*>>")
TASK_CONFIG = "tasks/gsm8k/gsm8k.yaml"  # inside the lm_eval package
# brie's score names and the lm-eval filters they are
FILTERS = {"strict": "strict-match", "flexible": "flexible-extract"}
# What a gold answer may be: what lm-eval's strict-match filter can extract at all. "inf", "nan" or
# "1e400" after '####' could never be matched, so they are errors in the data, not a 0 to count.
GOLD = re.compile(r"-?[0-9.,]*[0-9][0-9.,]*")


@lru_cache(maxsize=1)
def lm_eval_scoring() -> tuple[dict, dict, str]:
    """({score name: lm-eval FilterEnsemble}, exact_match's settings, gsm8k.yaml's version), from
    the gsm8k task config of the installed lm-eval. lm_eval is imported here: it is heavy."""
    import lm_eval
    import yaml
    from lm_eval.filters import build_filter_ensemble

    path = Path(lm_eval.__file__).resolve().parent / TASK_CONFIG
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise BrieError(f"lm-eval's GSM8K task config is missing ({path}: {e.strerror}); reinstall lm-eval") from None
    ensembles = {}
    by_name = {f["name"]: f["filter"] for f in config["filter_list"]}
    for ours, theirs in FILTERS.items():
        steps = [(step["function"], {k: v for k, v in step.items() if k != "function"}) for step in by_name[theirs]]
        ensembles[ours] = build_filter_ensemble(theirs, steps)
    (metric,) = [m for m in config["metric_list"] if m["metric"] == "exact_match"]
    kwargs = {k: v for k, v in metric.items() if k not in ("metric", "aggregation", "higher_is_better")}
    return ensembles, kwargs, str(config.get("metadata", {}).get("version", "?"))


def scoring_label() -> str:
    """Which lm-eval scoring a result used: part of its settings, so results scored otherwise (brie
    before it used lm-eval's, or another version of the task config, which lm-eval bumps when its
    scoring changes) are never mixed or paired with them."""
    return f"lm-eval gsm8k v{lm_eval_scoring()[2]}"


def extract(outputs: list[str]) -> dict[str, list[str]]:
    """{score name: [what lm-eval's filter keeps of each output]}; "[invalid]" where nothing matched."""
    from lm_eval.api.instance import Instance

    ensembles, _, _ = lm_eval_scoring()
    out = {}
    for name, ensemble in ensembles.items():
        instances = [Instance(request_type="generate_until", doc={}, arguments=("", {}), idx=0) for _ in outputs]
        for inst, text in zip(instances, outputs):
            inst.resps = [text]
        ensemble.apply(instances)
        out[name] = [inst.filtered_resps[ensemble.name] for inst in instances]
    return out


def exact_match(prediction: str, gold: str) -> int:
    """lm-eval's exact_match with gsm8k.yaml's settings (ignore_case, regexes_to_ignore, …): 0 or 1."""
    import lm_eval.api.metrics  # noqa: F401  registers exact_match, or get_metric would look on the hub
    from lm_eval.api.registry import get_metric

    _, kwargs, _ = lm_eval_scoring()
    return int(get_metric("exact_match")(references=[gold], predictions=[prediction], **kwargs)["exact_match"])


def score_outputs(outputs: list[str], answers: list[str]) -> list[dict]:
    """Per output, {"strict": 0/1, "flexible": 0/1}: lm-eval's filters, then its exact_match against
    the dataset's whole answer (gsm8k.yaml's target is the answer; its regexes drop all up to '#### ')."""
    kept = extract(outputs)
    return [{name: exact_match(kept[name][i], answer) for name in FILTERS} for i, answer in enumerate(answers)]


def score_output(output: str, answer: str) -> dict:
    return score_outputs([output], [answer])[0]


def gold_of(answer, where: str) -> str:
    """The number after the last '#### ' of a GSM8K solution, as text; a BrieError naming `where`
    when there is none or it is not a number lm-eval's strict-match could ever extract."""
    if not isinstance(answer, str):
        raise BrieError(f"{where}: 'answer' must be a string ending in '#### <number>', got {type(answer).__name__}")
    if "#### " not in answer:
        raise BrieError(f"{where}: the answer has no '#### <number>' (lm-eval reads the gold after '#### '): "
                        f"{answer[-60:]!r}")
    gold = answer.rsplit("#### ", 1)[1].strip()
    if not GOLD.fullmatch(gold):
        raise BrieError(f"{where}: the answer after '#### ' is {gold[:40]!r}, not a number (digits, with an "
                        "optional '-', ',' and '.')")
    return gold


def _fewshot_answer(answer: str) -> str:
    return CALCULATOR.sub("", answer).strip()


class GSM8K(Benchmark):
    primary = "flexible"
    binary = True
    unit = "accuracy"
    # which lm-eval filter each stored score is (tables and docs name them so)
    labels = FILTERS

    def __init__(self, spec: str, source: str | None = None, shots: int = 0, max_tokens: int = 256):
        self.spec, self.source, self.shots, self.max_tokens = spec, source or str(DEFAULT_FILE), shots, max_tokens
        self._shots: list[dict] = []

    def settings(self) -> dict:
        settings = {"shots": self.shots, "max_tokens": self.max_tokens, "scoring": scoring_label()}
        if self.shots and self.source == str(DEFAULT_FILE):
            # plain `gsm8k` took its examples from the hub's train split before the test split
            # shipped with brie; its own examples make other prompts, so other results
            settings["shots_from"] = "the shipped test split's last rows"
        return settings

    def _rows(self, split: str) -> list[tuple[str, dict]]:
        rows = load_located(self.source, split=split, config="main", local_hint=LOCAL_HINT)
        for where, r in rows:
            if not isinstance(r.get("question"), str) or "answer" not in r:
                raise BrieError(f"{where}: needs 'question' (a string) and 'answer'")
            gold_of(r["answer"], where)
        return rows

    def items(self, ws) -> list[Item]:
        rows = self._rows("test")
        if self.shots:
            # Few-shot examples come from the train split on the hub; a local file (the shipped test
            # split too) has only one split, so its last K rows become the examples and are left
            # out of the items.
            if self.source == HUB_ID:
                self._shots = [r for _, r in self._rows("train")[: self.shots]]
            else:
                if len(rows) <= self.shots:
                    raise BrieError(f"{self.source}: {plural(len(rows), 'row')} is too few for {plural(self.shots, 'shot')}")
                self._shots, rows = [r for _, r in rows[-self.shots:]], rows[: -self.shots]
        return [Item(id=str(r.get("id", n)), input=r["question"], target=gold_of(r["answer"], where),
                     data={"answer": r["answer"]})
                for n, (where, r) in enumerate(rows)]

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
            scores = score_outputs(outputs, [it.data["answer"] for _, it in chunk])
            for (idx, _item), out, s in zip(chunk, outputs, scores):
                yield Scored(idx, out, s)

    def score_shared(self, shared, todos, batch_size: int = 8) -> Iterator[tuple[int, Scored]]:
        """(model position, scored item) for the models of a SharedTrunk (brie.evals.sweep): the same
        greedy answers as `score` gives each model, generated together (generate_shared)."""
        from brie.generation.mlx_engine import answer_items_shared

        for rows, outputs in answer_items_shared(shared, todos, lambda it: self.conversation(it.input),
                                                 self.max_tokens, batch_size):
            scores = score_outputs(outputs, [it.data["answer"] for _, _, it in rows])
            for (which, idx, _), out, s in zip(rows, outputs, scores):
                yield which, Scored(idx, out, s)
