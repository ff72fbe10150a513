"""lm-eval:<task> through lm-evaluation-harness on the tiny model: a local task config, stored per item."""

import json

import pytest

from brie.checkpoints import resolve_specs
from brie.errors import BrieError
from brie.evals import parse_benchmark
from brie.evals.runner import evaluate
from brie.store import evals as eval_rows
from tests.evalkit import make_adapter, register_run

pytest.importorskip("lm_eval")

QUESTIONS = [("What colour is the sky?", ["blue", "green", "red"], 0),
             ("How many legs has a cat?", ["two", "four", "six"], 1),
             ("What do mice like?", ["cheese", "rocks", "glass"], 0),
             ("Which is a fruit?", ["carrot", "apple"], 1),
             ("Which is largest?", ["ant", "whale", "dog"], 1),
             ("What is 2+2?", ["4", "five", "22"], 0),
             ("Which one swims?", ["fish", "stone"], 0)]


def write_task(folder):
    data = folder / "qa.jsonl"
    data.write_text("".join(json.dumps({"question": q, "choices": c, "answer": a}) + "\n" for q, c, a in QUESTIONS))
    task = folder / "tiny_mc.yaml"
    task.write_text(f"""task: tiny_mc
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: answer
metric_list:
  - metric: acc
  - metric: acc_norm
""")
    return task, data


def test_lm_eval_task_matches_brie_mcq_on_the_same_data_and_resumes(workspace, tiny_model_dir, tmp_path, monkeypatch):
    """The harness and brie's own mcq kind score the same file the same way, item by item."""
    import brie.evals.lm_eval_task as lm_eval_task

    monkeypatch.setattr(lm_eval_task, "CHUNK", 3)  # several harness calls per model
    register_run(workspace, "r1", str(tiny_model_dir), {4: make_adapter(tiny_model_dir, tmp_path / "a4", seed=2)})
    task, data = write_task(tmp_path)
    specs = resolve_specs(workspace, "base,r1@4", str(tiny_model_dir))

    first = evaluate(workspace, specs, [parse_benchmark(f"lm-eval:{task}")], limit=4)
    assert [r["metrics"]["n"] for r in first] == [4, 4]
    harness = evaluate(workspace, specs, [parse_benchmark(f"lm-eval:{task}")])
    mcq = evaluate(workspace, specs, [parse_benchmark(f"mcq:{data}")])
    for h, m in zip(harness, mcq):
        assert h["id"] == first[harness.index(h)]["id"]  # the same result, extended
        hs, ms = eval_rows.samples(workspace.store, h["id"]), eval_rows.samples(workspace.store, m["id"])
        assert [s["item_idx"] for s in hs] == list(range(len(QUESTIONS)))  # each item stored once
        assert [s["scores"]["acc"] for s in hs] == [s["scores"]["acc"] for s in ms]
        assert [s["scores"]["acc_norm"] for s in hs] == [s["scores"]["acc_norm"] for s in ms]
        for hi, mi in zip(hs, ms):
            assert json.loads(hi["output"]) == pytest.approx(mi["scores"]["logliks"], abs=1e-3)
        assert h["metrics"]["score"] == pytest.approx(m["metrics"]["acc"])
    base_ll, tuned_ll = (json.loads(eval_rows.samples(workspace.store, h["id"])[0]["output"]) for h in harness)
    assert base_ll != pytest.approx(tuned_ll, abs=1e-3)  # the adapter was applied, unfused


def test_lm_eval_errors_are_one_line(workspace, tmp_path):
    with pytest.raises(BrieError, match="no such task file"):
        parse_benchmark(f"lm-eval:{tmp_path / 'missing.yaml'}").items(workspace)
    bad = tmp_path / "bad.yaml"
    bad.write_text("dataset_path: json\n")
    with pytest.raises(BrieError, match="needs a `task:` name"):
        parse_benchmark(f"lm-eval:{bad}").items(workspace)
