"""MT-Bench: two-turn questions, each turn graded 1–10 by an LLM judge (single-answer grading).

The model answers turn 1, then turn 2 with its own first answer in the conversation. The judge
sees turn 1 alone for the first grade and the whole conversation for the second, with the
reference answer when the question has one (math, reasoning, coding) — the MT-Bench protocol.
Prompts, rating parsing and the judge clients are the judging code's (brie.judging.prompts,
brie.judging.verdicts, brie.judging.judges): a failed request raises brie's JudgeRequestError, and
an answer without exactly one `Rating: [[N]]` is retried up to `max_attempts`, then counted as a
parse failure, never guessed. Scores are averaged per turn, per category and overall.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Iterator

from brie.errors import BrieError
from brie.evals.base import Benchmark, Item, Scored
from brie.evals.data import SHIPPED, load_records

DEFAULT_FILE = SHIPPED / "mt_bench_questions.jsonl"  # FastChat's 80 questions (Apache-2.0, LICENSE.mt_bench)
LOCAL_HINT = "--benchmarks mt-bench (the shipped questions) or mt-bench:<FastChat's question.jsonl>"


def make_judge(name: str, ws=None):
    """A judge client from a judge name (anthropic:<model>, openai:<model>, openai-compatible:<m>@<url>)."""
    from brie.judging.judges import connect, parse_judge

    return connect(parse_judge(name, ws))


def judge_name(judge) -> str:
    spec = getattr(judge, "spec", None)
    return spec.name if spec is not None else str(judge)


def normalize_question(row: dict, where: str) -> tuple[str, list[str], str, list[str] | None]:
    """(id, turns, category, reference) from FastChat's question.jsonl or the hub's mt_bench_prompts."""
    turns = row.get("turns") or row.get("prompt")
    if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
        raise BrieError(f"{where}: needs 'turns', a list of user messages")
    reference = row.get("reference") or None
    if reference is not None and not (isinstance(reference, list) and all(isinstance(r, str) for r in reference)):
        raise BrieError(f"{where}: 'reference' must be a list of strings, one per turn")
    return str(row.get("question_id", row.get("prompt_id", ""))), turns, row.get("category") or "", reference


class MTBench(Benchmark):
    primary = "score"
    needs_judge = True

    def __init__(self, spec: str, source: str | None = None, max_tokens: int = 256, max_attempts: int = 3):
        self.spec, self.source, self.max_tokens, self.max_attempts = spec, source or str(DEFAULT_FILE), max_tokens, max_attempts

    def settings(self) -> dict:
        return {"max_tokens": self.max_tokens}

    def items(self, ws) -> list[Item]:
        items = []
        for n, row in enumerate(load_records(self.source, split="train", local_hint=LOCAL_HINT)):
            qid, turns, category, reference = normalize_question(row, f"{self.source}: row {n + 1}")
            items.append(Item(id=qid or str(n), input=turns[0], target=json.dumps(reference) if reference else None,
                              data={"turns": turns, "category": category, "reference": reference}))
        return items

    def _grade(self, judge, turns: list[str], answers: list[str], reference: list[str] | None) -> dict:
        """One grade, retried while the answer does not parse: {score, raw, attempts, cost_usd}.

        A request that fails (after the SDK's retries) raises the judge's JudgeRequestError, a BrieError
        naming the judge and its URL: the runner stores the result as failed."""
        from brie.judging.prompts import single_prompt
        from brie.judging.verdicts import parse_rating

        _template, system, user = single_prompt(turns, answers, reference)
        raw, cost = "", 0.0
        for attempt in range(1, self.max_attempts + 1):
            reply = judge.ask(system, user)
            raw = reply.text
            cost += judge.spec.cost(reply.input_tokens, reply.output_tokens, reply.cache_read_tokens,
                                    reply.cache_write_tokens)
            score = None if reply.refused else parse_rating(reply.text)
            if score is not None:
                return {"score": score, "raw": raw, "attempts": attempt, "cost_usd": cost}
        return {"score": None, "raw": raw, "attempts": self.max_attempts, "cost_usd": cost}

    def score(self, model, tokenizer, items, batch_size, judge=None) -> Iterator[Scored]:
        from brie.generation.mlx_engine import generate_batch

        for start in range(0, len(items), batch_size):
            chunk = items[start:start + batch_size]
            convos = [[] for _ in chunk]
            answers = [[] for _ in chunk]
            for turn in range(max(len(it.data["turns"]) for _, it in chunk)):
                live = [k for k, (_, it) in enumerate(chunk) if turn < len(it.data["turns"])]
                for k in live:
                    convos[k].append({"role": "user", "content": chunk[k][1].data["turns"][turn]})
                outs = generate_batch(model, tokenizer, [convos[k] for k in live], max_tokens=self.max_tokens,
                                      batch_size=batch_size)
                for k, out in zip(live, outs):
                    convos[k].append({"role": "assistant", "content": out})
                    answers[k].append(out)
            for k, (idx, item) in enumerate(chunk):
                turns, ref = item.data["turns"], item.data["reference"]
                grades = [self._grade(judge, turns[:t + 1], answers[k][:t + 1], ref[:t + 1] if ref else None)
                          for t in range(len(turns))]
                valid = [g["score"] for g in grades if g["score"] is not None]
                scores = {f"turn_{t + 1}": g["score"] for t, g in enumerate(grades)}
                scores.update({"score": sum(valid) / len(valid) if valid else None,
                               "category": item.data["category"],
                               "parse_failures": sum(g["score"] is None for g in grades),
                               "judge_calls": sum(g["attempts"] for g in grades),
                               "cost_usd": round(sum(g["cost_usd"] for g in grades), 8)})
                output = json.dumps({"answers": answers[k], "judge": [g["raw"] for g in grades]})
                yield Scored(idx, output, scores)

    def aggregate(self, scores: list[dict]) -> dict:
        if not scores:
            return {"n": 0}
        turn_scores = defaultdict(list)
        by_category = defaultdict(list)
        for s in scores:
            for key, value in s.items():
                if key.startswith("turn_") and value is not None:
                    turn_scores[key].append(value)
                    by_category[s["category"] or "(none)"].append(value)
        every = [v for vs in turn_scores.values() for v in vs]
        grades = sum(1 for s in scores for k in s if k.startswith("turn_"))
        out = {"score": sum(every) / len(every) if every else None}
        out.update({k: sum(v) / len(v) for k, v in sorted(turn_scores.items())})
        out.update({f"category:{c}": sum(v) / len(v) for c, v in sorted(by_category.items())})
        out.update({"parse_failure_rate": sum(s["parse_failures"] for s in scores) / grades if grades else None,
                    "cost_usd": round(sum(s["cost_usd"] for s in scores), 6), "n": len(scores)})
        return out
