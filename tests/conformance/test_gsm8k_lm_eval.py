"""GSM8K: brie's scores equal lm-evaluation-harness's, item by item, on the tricky set.

The reference is lm-eval itself, run at test time: its `gsm8k` task (the installed gsm8k.yaml,
with only the data pointed at a local file) builds the requests, applies its "strict-match" and
"flexible-extract" filters to the outputs and scores them with process_results. Nobody typed the
expected scores: data/gsm8k_tricky.jsonl holds outputs and gold answers only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TRICKY = Path(__file__).with_name("data") / "gsm8k_tricky.jsonl"


def _cases() -> list[dict]:
    return [json.loads(line) for line in TRICKY.read_text(encoding="utf-8").splitlines() if line.strip()]


def lm_eval_scores(docs_file: Path, predictions: list[str], cache: Path) -> list[dict]:
    """{filter name: exact_match} per document, as lm-eval's gsm8k task scores the predictions."""
    import lm_eval
    import yaml
    from lm_eval.api.task import ConfigurableTask

    config = yaml.safe_load((Path(lm_eval.__file__).parent / "tasks/gsm8k/gsm8k.yaml").read_text(encoding="utf-8"))
    # the task as lm-eval ships it; only its data is a local file (no network in tests)
    config.update(dataset_path="json", dataset_name=None, training_split=None, fewshot_split=None, num_fewshot=0,
                  dataset_kwargs={"data_files": {"test": str(docs_file)}, "cache_dir": str(cache)})
    task = ConfigurableTask(config=config)
    docs = list(task.test_docs())
    assert len(docs) == len(predictions)
    instances = []
    for i, (doc, prediction) in enumerate(zip(docs, predictions)):
        inst = task.construct_requests(doc=doc, ctx=task.doc_to_text(doc), metadata=(task.config.task, i, 1))
        inst.resps = [prediction]
        instances.append(inst)
    task._instances = instances
    task.apply_filters()
    return [{name: float(task.process_results(doc, [resp])["exact_match"]) for name, resp in inst.filtered_resps.items()}
            for doc, inst in zip(docs, instances)]


def test_the_tricky_set_scores_as_lm_eval_scores_it_item_by_item(tmp_path):
    from brie.evals.gsm8k import FILTERS, GSM8K, score_outputs

    cases = _cases()
    assert len(cases) >= 42
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"question": f"question {c['id']}", "answer": c["answer"]}) + "\n"
                            for c in cases), encoding="utf-8")
    predictions = [c["prediction"] for c in cases]
    theirs = lm_eval_scores(docs, predictions, tmp_path / "hf-cache")
    # brie's path: the items as `brie eval --benchmarks gsm8k:<file>` reads them, then its scoring
    items = GSM8K("gsm8k:docs", source=str(docs)).items(None)
    ours = score_outputs(predictions, [it.data["answer"] for it in items])
    differ = []
    for case, mine, ref in zip(cases, ours, theirs):
        for name, lm_eval_name in FILTERS.items():
            if mine[name] != ref[lm_eval_name]:
                differ.append(f"{case['id']} {case['prediction']!r} vs {case['answer'][-20:]!r} ({case['why']}): "
                              f"brie {name}={mine[name]}, lm-eval {lm_eval_name}={ref[lm_eval_name]}")
    assert not differ, "\n".join(differ)
    # the set discriminates: each filter both accepts and rejects some of it
    for name, lm_eval_name in FILTERS.items():
        assert {r[lm_eval_name] for r in theirs} == {0.0, 1.0}, lm_eval_name
    # each stored target is the gold text lm-eval compares with (never a float's repr)
    assert [it.target for it in items] == [c["answer"].rsplit("#### ", 1)[1].strip() for c in cases]


def test_brie_labels_its_scores_with_the_lm_eval_filters_and_task_version():
    from brie.evals.gsm8k import GSM8K, lm_eval_scoring, scoring_label

    ensembles, metric, version = lm_eval_scoring()
    assert {name: e.name for name, e in ensembles.items()} == {"strict": "strict-match", "flexible": "flexible-extract"}
    assert metric["ignore_case"] is True and metric["ignore_punctuation"] is False
    label = scoring_label()
    assert label == f"lm-eval gsm8k v{version}"
    assert GSM8K("gsm8k").settings()["scoring"] == label  # results scored otherwise never pair with these


@pytest.mark.parametrize("prediction", ["#### 18", "The answer is 18.", "#### 18.00"])
def test_a_single_output_scores_the_same_alone_as_in_a_batch(prediction):
    from brie.evals.gsm8k import score_output, score_outputs

    cases = _cases()
    batch = score_outputs([c["prediction"] for c in cases] + [prediction], [c["answer"] for c in cases] + ["#### 18"])
    assert batch[-1] == score_output(prediction, "#### 18")
