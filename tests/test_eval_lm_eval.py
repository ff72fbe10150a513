"""lm-eval:<task> through lm-evaluation-harness on the tiny model: a local task config, stored per item."""

import json

import pytest

from brie.models.specs import resolve_specs
from brie.errors import BrieError
from brie.evals import parse_benchmark
from brie.evals.runner import evaluate
from brie.store import evals as eval_rows
from tests.evalkit import make_adapter, register_run, write_mc_task

pytest.importorskip("lm_eval")

QUESTIONS = [("What colour is the sky?", ["blue", "green", "red"], 0),
             ("How many legs has a cat?", ["two", "four", "six"], 1),
             ("What do mice like?", ["cheese", "rocks", "glass"], 0),
             ("Which is a fruit?", ["carrot", "apple"], 1),
             ("Which is largest?", ["ant", "whale", "dog"], 1),
             ("What is 2+2?", ["4", "five", "22"], 0),
             ("Which one swims?", ["fish", "stone"], 0)]


def write_task(folder):
    return write_mc_task(folder, QUESTIONS)


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


PROMPTS = ["Say hi", "Count", "Name a fruit", "Sky colour", "Two plus two"]


def write_generation_task(folder, targets):
    data = folder / "gen.jsonl"
    data.write_text("".join(json.dumps({"prompt": p, "target": t}) + "\n" for p, t in zip(PROMPTS, targets)))
    task = folder / "tiny_gen.yaml"
    task.write_text(f"""task: tiny_gen
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: generate_until
doc_to_text: "Q: {{{{prompt}}}}\\nA:"
doc_to_target: target
generation_kwargs:
  until: ["Q:"]
  max_gen_toks: 6
  do_sample: false
metric_list:
  - metric: exact_match
    aggregation: mean
    higher_is_better: true
""")
    return task


def test_lm_eval_generation_task_stores_what_the_model_generates_and_shots_are_a_setting(
        workspace, tiny_model_dir, tmp_path):
    """A generate_until task: each stored output is the model's greedy continuation of the task's
    prompt, cut at `until`; exact_match is 1 exactly where the target is that text."""
    from mlx_lm import generate
    from mlx_lm.sample_utils import make_sampler

    from brie.models.registry import load_model

    register_run(workspace, "r1", str(tiny_model_dir), {4: make_adapter(tiny_model_dir, tmp_path / "a4", seed=2)})
    (_, tuned) = specs = resolve_specs(workspace, "base,r1@4", str(tiny_model_dir))
    model, tok = load_model(workspace, tuned.model, tuned.adapter_path)
    expected = []
    for p in PROMPTS:  # by hand: greedy, one prompt at a time, the harness's own encoding (no chat template)
        text = generate(model, tok, tok.encode(f"Q: {p}\nA:"), max_tokens=6, sampler=make_sampler(temp=0.0))
        expected.append(text.split("Q:")[0])
    assert len(set(expected)) > 1  # the adapter's answers differ per prompt: a real check
    targets = [expected[0], expected[1] + "!", expected[2], "no such answer", "nor this"]
    task = write_generation_task(tmp_path, targets)

    (base, got) = evaluate(workspace, specs, [parse_benchmark(f"lm-eval:{task}")], batch_size=1)
    samples = eval_rows.samples(workspace.store, got["id"])
    assert [s["item_idx"] for s in samples] == list(range(len(PROMPTS)))
    assert [s["input"] for s in samples] == [f"Q: {p}\nA:" for p in PROMPTS]
    assert [s["target"] for s in samples] == targets
    assert [s["output"] for s in samples] == expected
    assert [s["scores"]["exact_match"] for s in samples] == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert [s["scores"]["score"] for s in samples] == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert got["metrics"]["score"] == pytest.approx(2 / 5)
    assert got["settings"]["shots"] == 0

    # --shots: a result of its own (nothing resumed from the 0-shot one), with the examples in the prompt
    seen = []
    (_, shot) = evaluate(workspace, specs, [parse_benchmark(f"lm-eval:{task}", shots=2)], batch_size=1,
                         progress=seen.append)
    assert shot["settings"]["shots"] == 2 and shot["id"] not in (base["id"], got["id"])
    assert [p.skipped for p in seen if p.done == 0] == [0, 0]
    shot_samples = eval_rows.samples(workspace.store, shot["id"])
    assert [s["item_idx"] for s in shot_samples] == list(range(len(PROMPTS)))
    assert [s["output"] for s in shot_samples] != expected


def test_lm_eval_few_shot_examples_of_an_item_do_not_depend_on_what_ran_before(workspace, tiny_model_dir, tmp_path):
    """The harness draws each document's examples from one seeded stream in document order. The
    checkpoint evaluated after base, and a run resumed halfway, must see the examples that one
    uninterrupted harness run gives the same document, or paired deltas compare different prompts."""
    from brie.workspace import Workspace

    import brie.evals.lm_eval_task as lm_eval_task

    task = write_generation_task(tmp_path, ["x"] * len(PROMPTS))
    adapter = make_adapter(tiny_model_dir, tmp_path / "a4", seed=2)
    alone = Workspace.open(tmp_path / "alone", create=True)
    outputs = {}
    try:
        for ws in (workspace, alone):
            register_run(ws, "r1", str(tiny_model_dir), {4: adapter})
        specs = resolve_specs(workspace, "base,r1@4", str(tiny_model_dir))
        # here: base first, then the checkpoint in the same call, which is cut after 2 items and resumed
        evaluate(workspace, specs, [parse_benchmark(f"lm-eval:{task}", shots=2)], batch_size=1, limit=2)
        lm_eval_task.CHUNK = 2  # the resumed part runs in several harness calls
        try:
            (_, resumed) = evaluate(workspace, specs, [parse_benchmark(f"lm-eval:{task}", shots=2)], batch_size=1)
        finally:
            lm_eval_task.CHUNK = 32
        (whole,) = evaluate(alone, resolve_specs(alone, "r1@4", str(tiny_model_dir)),
                            [parse_benchmark(f"lm-eval:{task}", shots=2)], batch_size=1)
        for ws, r in ((workspace, resumed), (alone, whole)):
            outputs[ws.root] = [s["output"] for s in eval_rows.samples(ws.store, r["id"])]
    finally:
        alone.close()
    assert len(set(outputs[alone.root])) > 1
    assert outputs[workspace.root] == outputs[alone.root]
