"""lm-evaluation-harness tasks through its Python API (lm-eval is a dependency of brie).

`lm-eval:<task>` runs a task from the harness's registry (its data comes from the Hugging Face hub,
so it needs the network or a filled datasets cache); `lm-eval:<file.yaml>` runs a task config of
your own, e.g. one whose `dataset_path: json` points at a local file. The model brie already loaded
(base or base + adapter, never fused) is handed to mlx-lm's harness adapter, so the numbers are the
ones `mlx_lm.evaluate` would give. Documents are scored in chunks and each one's metrics are stored
as the chunk lands, so an interrupted run resumes where it stopped.

Per-item scores keep every metric the task reports; `score` repeats the task's first metric (acc for
multiple-choice tasks, exact_match for most generation tasks) so forgetting deltas have one to use.
"""

from __future__ import annotations

import logging
import os
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Iterator

from brie.errors import BrieError
from brie.evals.base import Benchmark, Item, Scored

CHUNK = 32  # documents per harness call: the most an interruption can lose


class LmEvalTask(Benchmark):
    primary = "score"
    binary = False  # acc is 0/1 but exact_match of some tasks is not; the bootstrap interval fits both

    def __init__(self, spec: str, task: str, shots: int = 0):
        self.spec, self.task, self.shots = spec, task, shots
        self._loaded = None

    def settings(self) -> dict:
        from importlib.metadata import version

        # generation length is the task's own max_gen_toks, as in the harness; --max-tokens does not apply
        return {"shots": self.shots, "lm_eval": version("lm_eval")}

    def _task(self):
        """(task manager, task name, task object), built once."""
        if self._loaded is not None:
            return self._loaded
        path = Path(self.task).expanduser()
        offline = False
        local = ("or write a task .yaml whose dataset_path: json reads a local file, and pass "
                 "lm-eval:path/to/task.yaml")
        if path.suffix not in (".yaml", ".yml"):
            from brie.evals.data import go_offline_if_unreachable

            # Registry tasks read the hub: without it, fail now rather than after ~30 s of retries.
            offline = go_offline_if_unreachable(f"{self.spec}: the task's data is on the Hugging Face hub",
                                                local)
        try:
            from lm_eval.tasks import TaskManager
        except ImportError:
            raise BrieError(f"{self.spec}: lm-evaluation-harness is not installed "
                            "(pip install 'brie[lm-eval]', or pip install lm-eval)") from None
        logging.getLogger("lm_eval").setLevel(logging.ERROR)  # its per-task notices drown the progress
        if path.suffix in (".yaml", ".yml"):
            if not path.is_file():
                raise BrieError(f"{self.spec}: no such task file: {path}")
            import yaml

            name = (yaml.safe_load(path.read_text()) or {}).get("task")
            if not isinstance(name, str):
                raise BrieError(f"{path}: a task config needs a `task:` name")
            manager = TaskManager(include_path=str(path.resolve().parent), include_defaults=False)
        else:
            name, manager = self.task, TaskManager()
        if name not in manager.all_tasks:
            raise BrieError(f"{self.spec}: lm-eval has no task {name!r} "
                            "(`lm-eval ls tasks` lists them; a local task: lm-eval:path/to/task.yaml)")
        try:
            with open(os.devnull, "w") as sink, redirect_stderr(sink):  # the datasets library's split bars
                loaded = manager.load([name])
        except Exception as e:  # the harness raises whatever its dataset loader raised
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            if offline:
                raise BrieError(f"{self.spec}: offline, and the task's data is not in the Hugging Face "
                                f"cache; run it once online, {local}") from None
            raise BrieError(f"{self.spec}: could not load the task's data: {first}") from None
        if loaded["groups"] or name not in loaded["tasks"]:
            raise BrieError(f"{self.spec}: {name!r} is a group of tasks; name one of its tasks "
                            f"({', '.join(sorted(loaded['tasks'])[:8])}…)")
        task = loaded["tasks"][name]
        # what simple_evaluate would do: --shots overrides the task's default unless it pins 0
        if self.shots and task.get_config("num_fewshot") != 0:
            task.set_config(key="num_fewshot", value=self.shots)
        elif task.get_config("num_fewshot") is None:
            task.set_config(key="num_fewshot", value=0)
        task.set_fewshot_seed(seed=1234)
        self._loaded = (loaded, name, task)
        return self._loaded

    def items(self, ws) -> list[Item]:
        _, _, task = self._task()
        return [Item(id=str(i), input=str(task.doc_to_text(doc)), target=str(task.doc_to_target(doc)))
                for i, doc in enumerate(task.eval_docs)]

    def score(self, model, tokenizer, items, batch_size, judge=None) -> Iterator[Scored]:
        yield from self._score(_harness_model(model, tokenizer, batch_size), items)

    def score_shared(self, shared, todos: list[list[tuple[int, Item]]], batch_size: int = 8) -> Iterator[tuple[int, Scored]]:
        """(model position, scored item) for the models of a SharedTrunk (brie.evals.sweep), model by
        model through the harness as `score` does; but the first model's log-likelihood requests are
        answered for every model at once (trunk once per context, SharedLoglik), so the others find
        theirs ready. Generation and rolling requests run per model on the one loaded model."""
        known = SharedLoglik(shared, [which for which, todo in enumerate(todos) if todo])
        for which, todo in enumerate(todos):
            if todo:
                lm = _harness_model(shared.model, shared.tokenizer, batch_size, (known, which))
                for scored in self._score(lm, todo):
                    yield which, scored

    def _score(self, lm, items) -> Iterator[Scored]:
        from lm_eval.evaluator import evaluate

        loaded, name, task = self._task()
        first_metric = task.config.metric_list[0]["metric"] if task.config.metric_list else None
        shots = task.get_config("num_fewshot") or 0
        docs = task.eval_docs
        # The harness draws each document's few-shot examples from one stream, seeded once and read in
        # document order. Restart it for every model and move it past the documents not scored here
        # (stored before a resume), so a document always gets the examples one uninterrupted harness
        # run gives it, whichever model, chunk or resume point: base and checkpoint see the same prompt.
        task.set_fewshot_seed(seed=1234)
        at = 0  # the document the stream is at
        for chunk in _runs(sorted(idx for idx, _ in items), CHUNK):
            for j in range(at, chunk[0]) if shots else ():
                task.fewshot_context(docs[j], num_fewshot=shots, gen_prefix=task.doc_to_prefix(docs[j]))
            at = chunk[-1] + 1
            # evaluate(), not simple_evaluate(): the latter also shells out to git and collects torch's
            # environment report on every call. Quiet its tqdm bars and mlx-lm's generation stats; brie shows its own progress per item
            with open(os.devnull, "w") as sink, redirect_stderr(sink), redirect_stdout(sink):
                out = evaluate(lm, loaded, samples={name: chunk}, bootstrap_iters=0,
                               log_samples=True, verbosity="ERROR")
            for sample in sorted(out["samples"][name], key=lambda s: s["doc_id"]):
                metrics = {m: float(sample[m]) for m in sample.get("metrics", []) if isinstance(sample.get(m), (int, float))}
                if not metrics:
                    raise BrieError(f"{self.spec}: the task reports no per-document number; brie cannot store it")
                metrics["score"] = metrics.get(first_metric, next(iter(metrics.values())))
                yield Scored(sample["doc_id"], _readable(sample.get("filtered_resps")), metrics)


def _runs(indices: list[int], most: int) -> list[list[int]]:
    """Sorted indices cut into runs of consecutive ones, at most `most` long: a gap (an item stored
    earlier) ends a run, so the few-shot stream can be moved past it before the next."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and runs[-1][-1] == i - 1 and len(runs[-1]) < most:
            runs[-1].append(i)
        else:
            runs.append([i])
    return runs


def _readable(resps) -> str | None:
    """Generated text as is; for log-likelihood tasks the per-choice log-probs."""
    if not resps:
        return None
    if all(isinstance(r, str) for r in resps):
        return resps[0] if len(resps) == 1 else "\n".join(resps)
    return str([round(r[0], 4) if isinstance(r, (list, tuple)) else r for r in resps])


class SharedLoglik:
    """The harness's log-likelihood requests answered for every model of a SharedTrunk at once, as
    mlx-lm's MLXLM.loglikelihood answers them for one: the context and context + continuation
    tokenized as it does, the context cut from the left where it does, run once into KV caches that
    every continuation is scored from (brie.evals.sweep.shared_continuations): the continuation's
    log-prob summed and whether every token of it is the greedy pick, equal up to float rounding."""

    def __init__(self, shared, models: list[int]):
        self.shared, self.models = shared, models  # models: the positions that still need items
        self.known: dict[tuple[str, str], list[tuple[float, bool]]] = {}  # per request: per model

    def loglikelihood(self, lm, which: int, requests) -> list[tuple[float, bool]]:
        from mlx_lm.evaluate import DEFAULT_MAX_TOKENS

        from brie.evals.sweep import shared_continuations

        by_context: dict[str, list[str]] = {}
        for context, continuation in dict.fromkeys(tuple(r.args) for r in requests if tuple(r.args) not in self.known):
            by_context.setdefault(context, []).append(continuation)
        for context, continuations in by_context.items():
            prefix = lm._tokenize([context])[0]
            full = lm._tokenize([context + c for c in continuations])
            cut = max(0, max(len(f) for f in full) - (lm._max_tokens or DEFAULT_MAX_TOKENS) - 1)
            kept = prefix[cut:] if cut < len(prefix) else ()
            if not kept:  # the whole context cut away: MLXLM scores these -inf, not greedy
                for c in continuations:
                    self.known[(context, c)] = [(float("-inf"), False)] * self.shared.count
                continue
            scored = shared_continuations(self.shared, list(kept), [list(f[len(prefix):]) for f in full], self.models)
            for i, c in enumerate(continuations):
                self.known[(context, c)] = [scored[m][i] if m in scored else None for m in range(self.shared.count)]
        return [self.known[tuple(r.args)][which] for r in requests]


def _harness_model(model, tokenizer, batch_size: int, shared: tuple[SharedLoglik, int] | None = None):
    """mlx-lm's harness adapter around a model brie already loaded (with its adapter, unfused); with
    `shared` (answers, model position), a view of one model of a SharedTrunk."""
    from lm_eval.api.model import LM
    from mlx_lm.evaluate import MLXLM

    class LoadedModel(MLXLM):
        def __init__(self):
            LM.__init__(self)  # MLXLM's own __init__ would load the model again from a path
            self._model, self.tokenizer = model, tokenizer
            # no max_tokens override: each task's own max_gen_toks applies, as in the harness
            self._batch_size, self._max_tokens, self._sampler = batch_size, None, None
            self.use_chat_template = False  # the harness's default; tasks carry their own prompt format

        def loglikelihood(self, requests):
            if shared is None:
                return super().loglikelihood(requests)
            answers, which = shared
            return answers.loglikelihood(self, which, requests)

        def loglikelihood_rolling(self, requests):
            self._as_model()
            return super().loglikelihood_rolling(requests)

        def generate_until(self, requests):
            self._as_model()
            return super().generate_until(requests)

        def _as_model(self):
            """Every row of the shared model runs as this view's model (its multi_lora rows index)."""
            if shared is not None:
                import mlx.core as mx

                shared[0].shared.rows.index = mx.array([shared[1]], dtype=mx.uint32)

    return LoadedModel()
