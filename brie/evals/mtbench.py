"""MT-Bench as FastChat runs it: two-turn questions, each turn graded 1–10 by an LLM judge.

What FastChat's llm_judge does (fastchat/llm_judge/common.py, gen_model_answer.py, gen_judgment.py),
and brie does the same:
- answers: up to 1024 new tokens, temperature per category (`TEMPERATURE`, FastChat's
  `temperature_config`; greedy at 0), turn 2 with the model's own first answer in the conversation;
- judge prompts: FastChat's judge_prompts.jsonl, shipped in benchmarks/ (Apache-2.0): turn 1 with
  `single-v1`, turn 2 with `single-v1-multi-turn` (the whole conversation, focused on the second
  answer); the reference categories (`NEED_REF_CATS`: math, reasoning, coding) with the `-math`
  variants and FastChat's GPT-4 reference answers, one per turn, interleaved with the questions;
  filled by `str.format` as FastChat's `run_judge_single` fills them (no escaping);
- the score: the mean of every graded turn; per turn and per category too.

Where brie differs it says so (`protocol_label`): a judge other than GPT-4, a --limit subset, other
max tokens, other questions. A sampled answer (temperature > 0) is drawn alone with a seed from its
question id, so it does not depend on which other questions run with it. brie reads a rating only
when the answer holds exactly one [[N]] (brie.judging.verdicts), retried up to `max_attempts`;
FastChat takes the first match of a looser pattern. Ratings brie could not read are counted
(`unparsed_ratings`), with how many FastChat's pattern would have read (`fastchat_would_read`).
A failed request raises brie's JudgeRequestError; the runner stores the result as failed.
"""

from __future__ import annotations

import json
import re
import zlib
from collections import defaultdict
from typing import Iterator

from brie.errors import BrieError
from brie.evals.base import Benchmark, Item, Scored
from brie.evals.data import SHIPPED, load_records, read_jsonl

DEFAULT_FILE = SHIPPED / "mt_bench_questions.jsonl"  # FastChat's 80 questions (Apache-2.0, LICENSE.mt_bench)
REFERENCE_FILE = SHIPPED / "mt_bench_reference_answers_gpt4.jsonl"  # FastChat's reference_answer/gpt-4.jsonl
PROMPTS_FILE = SHIPPED / "fastchat_judge_prompts.jsonl"  # FastChat's data/judge_prompts.jsonl
LOCAL_HINT = "--benchmarks mt-bench (the shipped questions) or mt-bench:<FastChat's question.jsonl>"

NEED_REF_CATS = ("math", "reasoning", "coding")  # FastChat's reference-guided categories
TEMPERATURE = {"writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0,
               "reasoning": 0.0, "stem": 0.1, "humanities": 0.1}  # FastChat's temperature_config
OTHER_TEMPERATURE = 0.7  # gen_model_answer.py: a category not in temperature_config
MAX_TOKENS = 1024  # gen_model_answer.py's --max-new-token default
JUDGE_MAX_TOKENS = 2048  # common.py asks its GPT-4 judge for at most 2048 tokens
PUBLISHED_JUDGE = "openai:gpt-4"  # the judge of the published MT-Bench scores
PROTOCOL = "fastchat-single-v1"
# FastChat's rating patterns (common.py): the first match, else the backup's first match.
FASTCHAT_RATING = (re.compile(r"\[\[(\d+\.?\d*)\]\]"), re.compile(r"\[(\d+\.?\d*)\]"))


def make_judge(name: str, ws=None):
    """A judge client from a judge name (anthropic:<model>, openai:<model>, openai-compatible:<m>@<url>),
    allowed FastChat's 2048 answer tokens."""
    from brie.judging.judges import connect, parse_judge

    spec = parse_judge(name, ws)
    if spec.prefilled:  # a local: judge reads its rating from probabilities, not FastChat's protocol
        raise BrieError(f"judge {name}: MT-Bench is graded as FastChat grades it, by a judge that writes its "
                        f"rating; for ratings from a local model's probabilities use `brie grade --judge {name}`")
    return connect(spec, max_tokens=JUDGE_MAX_TOKENS, ws=ws)


def judge_name(judge) -> str:
    spec = getattr(judge, "spec", None)
    return spec.name if spec is not None else str(judge)


def judge_prompts(path=PROMPTS_FILE) -> dict[str, dict]:
    """FastChat's judge prompts by name, read as its load_judge_prompts reads them."""
    return {row["name"]: row for row in read_jsonl(path)}


TEMPLATE_NAMES = ("single-v1", "single-math-v1", "single-v1-multi-turn", "single-math-v1-multi-turn")


def templates_sha256(prompts: dict[str, dict] | None = None) -> str:
    """The identity of the four templates brie uses: sha256 of their system prompts and templates."""
    import hashlib

    prompts = prompts or judge_prompts()
    text = "\0".join(prompts[n][k] for n in TEMPLATE_NAMES for k in ("system_prompt", "prompt_template"))
    return hashlib.sha256(text.encode()).hexdigest()


def template_for(category: str, turn: int) -> str:
    """FastChat's template for a category and turn (1 or 2), as gen_judgment.make_judge_single picks."""
    math = category in NEED_REF_CATS
    if turn == 1:
        return "single-math-v1" if math else "single-v1"
    return "single-math-v1-multi-turn" if math else "single-v1-multi-turn"


def judge_prompt(prompts: dict[str, dict], turn: int, category: str, questions: list[str], answers: list[str],
                 reference: list[str] | None) -> tuple[str, str, str]:
    """(template name, system, user) for grading `turn` (1 or 2), filled as FastChat's
    run_judge_single fills it: the reference only for NEED_REF_CATS, one answer per turn."""
    name = template_for(category, turn)
    template = prompts[name]
    kwargs = {}
    if category in NEED_REF_CATS and reference:
        kwargs.update({f"ref_answer_{i + 1}": r for i, r in enumerate(reference[:2])})
    if turn == 2:
        user = template["prompt_template"].format(question_1=questions[0], question_2=questions[1],
                                                  answer_1=answers[0], answer_2=answers[1], **kwargs)
    else:
        user = template["prompt_template"].format(question=questions[0], answer=answers[0], **kwargs)
    return name, template["system_prompt"], user


def fastchat_reads(text: str | None) -> bool:
    """Whether FastChat's rating patterns find a rating in a judge's answer."""
    return any(p.search(text or "") for p in FASTCHAT_RATING)


def question_seed(qid: str) -> int:
    """A sampled answer's seed, from its question id alone (stable across runs and --limit)."""
    return zlib.crc32(qid.encode())


def normalize_question(row: dict, where: str) -> tuple[str, list[str], str, list[str] | None]:
    """(id, turns, category, reference) from FastChat's question.jsonl or the hub's mt_bench_prompts."""
    turns = row.get("turns") or row.get("prompt")
    if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
        raise BrieError(f"{where}: needs 'turns', a list of user messages")
    reference = row.get("reference") or None
    if reference is not None and not (isinstance(reference, list) and all(isinstance(r, str) for r in reference)):
        raise BrieError(f"{where}: 'reference' must be a list of strings, one per turn")
    return str(row.get("question_id", row.get("prompt_id", ""))), turns, row.get("category") or "", reference


def reference_answers(path=REFERENCE_FILE) -> dict[str, list[str]]:
    """FastChat's GPT-4 reference answers by question id: one answer per turn."""
    out = {}
    for n, row in enumerate(read_jsonl(path), 1):
        try:
            out[str(row["question_id"])] = list(row["choices"][0]["turns"])
        except (KeyError, IndexError, TypeError):
            raise BrieError(f"{path}: row {n}: needs question_id and choices[0].turns") from None
    return out


class MTBench(Benchmark):
    primary = "score"
    needs_judge = True

    def __init__(self, spec: str, source: str | None = None, max_tokens: int | None = None, max_attempts: int = 3):
        self.spec, self.source = spec, source or str(DEFAULT_FILE)
        self.max_tokens = MAX_TOKENS if max_tokens is None else max_tokens
        self.max_attempts = max_attempts
        self.shipped = source is None

    def settings(self) -> dict:
        # the protocol and the templates' hash are part of the identity: a changed template grades anew
        return {"protocol": PROTOCOL, "max_tokens": self.max_tokens, "judge_templates": templates_sha256()[:16]}

    def items(self, ws) -> list[Item]:
        # FastChat's references are its GPT-4 answers (reference_answer/gpt-4.jsonl), not the questions'
        # own `reference` field; another question file brings its own references.
        refs = reference_answers() if self.shipped else {}
        items = []
        for n, row in enumerate(load_records(self.source, split="train", local_hint=LOCAL_HINT)):
            qid, turns, category, reference = normalize_question(row, f"{self.source}: row {n + 1}")
            qid = qid or str(n)
            reference = (refs.get(qid) if self.shipped else reference) if category in NEED_REF_CATS else None
            if category in NEED_REF_CATS and len(reference or []) < len(turns):
                # FastChat grades these categories against a reference answer, one per turn
                raise BrieError(f"{self.source}: row {n + 1}: category {category} needs 'reference' with one "
                                f"answer per turn ({len(turns)}), as FastChat grades it against them")
            items.append(Item(id=qid, input=turns[0], target=json.dumps(reference) if reference else None,
                              data={"turns": turns, "category": category, "reference": reference}))
        return items

    def _grade(self, judge, system: str, user: str) -> dict:
        """One grade, retried while the answer does not parse: {score, raw, attempts, cost_usd}.

        A request that fails (after the SDK's retries) raises the judge's JudgeRequestError, a BrieError
        naming the judge and its URL: the runner stores the result as failed."""
        from brie.judging.verdicts import parse_rating

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

    def answer(self, model, tokenizer, chunk: list[Item], batch_size: int) -> list[list[str]]:
        """Every turn's answer: greedy questions batched, sampled ones one at a time with their own seed."""
        from brie.generation.mlx_engine import generate_batch

        answers: list[list[str]] = [[] for _ in chunk]
        groups: dict[float, list[int]] = defaultdict(list)
        for k, item in enumerate(chunk):
            groups[TEMPERATURE.get(item.data["category"], OTHER_TEMPERATURE)].append(k)
        for temp, members in sorted(groups.items()):
            runs = [members] if temp == 0 else [[k] for k in members]
            for run in runs:
                convos: dict[int, list[dict]] = {k: [] for k in run}
                for turn in range(max(len(chunk[k].data["turns"]) for k in run)):
                    live = [k for k in run if turn < len(chunk[k].data["turns"])]
                    for k in live:
                        convos[k].append({"role": "user", "content": chunk[k].data["turns"][turn]})
                    seed = question_seed(chunk[run[0]].id) + turn if temp > 0 else None
                    outs = generate_batch(model, tokenizer, [convos[k] for k in live], max_tokens=self.max_tokens,
                                          temp=temp, seed=seed, batch_size=batch_size)
                    for k, out in zip(live, outs):
                        convos[k].append({"role": "assistant", "content": out})
                        answers[k].append(out)
        return answers

    def score(self, model, tokenizer, items, batch_size, judge=None) -> Iterator[Scored]:
        from brie.judging.prompts import prompt_sha256

        prompts = judge_prompts()
        for start in range(0, len(items), batch_size):
            chunk = items[start:start + batch_size]
            answers = self.answer(model, tokenizer, [it for _, it in chunk], batch_size)
            for k, (idx, item) in enumerate(chunk):
                turns, ref, category = item.data["turns"], item.data["reference"], item.data["category"]
                # FastChat grades turn 1 and, for two-turn questions, turn 2
                asked = [judge_prompt(prompts, t, category, turns, answers[k], ref)
                         for t in (1, 2) if t <= len(turns)]
                grades = [self._grade(judge, system, user) for _, system, user in asked]
                valid = [g["score"] for g in grades if g["score"] is not None]
                scores = {f"turn_{t + 1}": g["score"] for t, g in enumerate(grades)}
                scores.update({"score": sum(valid) / len(valid) if valid else None,
                               "category": category,
                               "parse_failures": sum(g["score"] is None for g in grades),
                               "fastchat_would_read": sum(g["score"] is None and fastchat_reads(g["raw"])
                                                          for g in grades),
                               "judge_calls": sum(g["attempts"] for g in grades),
                               "cost_usd": round(sum(g["cost_usd"] for g in grades), 8),
                               "templates": [name for name, _, _ in asked],
                               "prompt_sha256": [prompt_sha256(system, user) for _, system, user in asked]})
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
                    "unparsed_ratings": sum(s["parse_failures"] for s in scores),
                    "fastchat_would_read": sum(s.get("fastchat_would_read", 0) for s in scores),
                    "grades": grades, "judge_calls": sum(s.get("judge_calls", 0) for s in scores),
                    "cost_usd": round(sum(s["cost_usd"] for s in scores), 6), "n": len(scores)})
        return out


def protocol_label(result: dict) -> str:
    """What a stored MT-Bench result is, to place it next to published MT-Bench scores, and what differs."""
    settings, metrics = result.get("settings") or {}, result.get("metrics") or {}
    judge = settings.get("judge", "?")
    if settings.get("protocol") != PROTOCOL:
        return f"MT-Bench (brie's earlier grading, judge {judge}): not comparable to published MT-Bench scores"
    differs = []
    if judge != PUBLISHED_JUDGE:
        differs.append(f"judge {judge}, not GPT-4")
    n, available = result.get("n_done") or 0, result.get("n_available")
    if available and n < available:
        differs.append(f"{n} of {available} questions (--limit)")
    if result.get("benchmark", "mt-bench") != "mt-bench":
        differs.append(f"questions and references from {result['benchmark'].partition(':')[2]}")
    if settings.get("max_tokens") != MAX_TOKENS:
        differs.append(f"answers up to {settings.get('max_tokens')} tokens, not {MAX_TOKENS}")
    if metrics.get("unparsed_ratings"):
        differs.append(f"{metrics['unparsed_ratings']} ratings unparsed (brie needs exactly one [[N]]; "
                       f"FastChat's pattern would read {metrics.get('fastchat_would_read', 0)} of them)")
    asked_again = (metrics.get("judge_calls") or 0) - (metrics.get("grades") or 0)
    if asked_again > 0:
        differs.append(f"{asked_again} ratings asked again after an unreadable answer (FastChat asks once)")
    label = f"MT-Bench (FastChat single-v1 protocol, judge {judge})"
    return label + ("; differs from published MT-Bench: " + "; ".join(differs) if differs else "")
