"""GSM8K with --shots K on the tiny model: the worked examples in the prompt, and shots in the result's identity."""

import json

from brie.models.specs import resolve_specs
from brie.evals import parse_benchmark
from brie.evals.runner import evaluate
from brie.evals.forgetting import base_result_for
from brie.evals.gsm8k import scoring_label
from brie.store import evals as eval_rows
from tests.evalkit import make_adapter, register_run

ROWS = [{"question": f"Tom has {a} apples and buys {b} more. How many now?",
         "answer": f"He has {a} + {b} = <<{a}+{b}={a + b}>>{a + b} apples.\n#### {a + b}"}
        for a, b in [(2, 3), (4, 1), (7, 2), (5, 5), (9, 9), (6, 3)]]


def test_shots_put_k_worked_examples_from_the_files_end_in_the_prompt(workspace, tiny_model_dir, tmp_path):
    from brie.evals.gsm8k import INSTRUCTION
    from brie.generation.mlx_engine import generate_batch
    from brie.models.registry import load_model

    data = tmp_path / "gsm.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    register_run(workspace, "r1", str(tiny_model_dir), {4: make_adapter(tiny_model_dir, tmp_path / "a4", seed=2)})
    specs = resolve_specs(workspace, "base,r1@4", str(tiny_model_dir))

    two = parse_benchmark(f"gsm8k:{data}", shots=2, max_tokens=6)
    items = two.items(workspace)
    # a local file has one split: its last 2 rows are the examples, and are not evaluated
    assert [i.input for i in items] == [r["question"] for r in ROWS[:4]]
    expected = [{"role": "user", "content": INSTRUCTION + ROWS[4]["question"]},
                {"role": "assistant", "content": "He has 9 + 9 = 18 apples.\n#### 18"},  # <<…>> removed
                {"role": "user", "content": INSTRUCTION + ROWS[5]["question"]},
                {"role": "assistant", "content": "He has 6 + 3 = 9 apples.\n#### 9"},
                {"role": "user", "content": INSTRUCTION + ROWS[0]["question"]}]
    assert two.conversation(ROWS[0]["question"]) == expected

    zero = evaluate(workspace, specs, [parse_benchmark(f"gsm8k:{data}", max_tokens=6)], batch_size=1)
    seen = []
    shot = evaluate(workspace, specs, [two], batch_size=1, progress=seen.append)
    # shots are part of the result's identity: a new result, nothing resumed from the 0-shot one
    scoring = scoring_label()  # lm-eval's gsm8k scoring, also part of the identity
    assert [r["settings"] for r in zero] == [{"shots": 0, "max_tokens": 6, "scoring": scoring}] * 2
    assert [r["settings"] for r in shot] == [{"shots": 2, "max_tokens": 6, "scoring": scoring}] * 2
    assert {r["id"] for r in zero}.isdisjoint({r["id"] for r in shot})
    assert [p.skipped for p in seen if p.done == 0] == [0, 0]
    assert [r["n_items"] for r in zero] == [6, 6] and [r["n_items"] for r in shot] == [4, 4]
    # the stored answer is what the model says to the few-shot conversation (greedy, one at a time)
    # (on the checkpoint: the random base model answers only newlines, whatever it is shown)
    model, tok = load_model(workspace, specs[1].model, specs[1].adapter_path)
    stored = [s["output"] for s in eval_rows.samples(workspace.store, shot[1]["id"])]
    assert stored == [generate_batch(model, tok, [two.conversation(i.input)], max_tokens=6, batch_size=1)[0]
                      for i in items]
    zero_out = [s["output"] for s in eval_rows.samples(workspace.store, zero[1]["id"])][:4]
    assert zero_out != stored  # the examples changed what the model saw
    # the checkpoint's 2-shot result pairs with the base's 2-shot result, never the 0-shot one
    assert base_result_for(workspace, shot[1])["id"] == shot[0]["id"]
    assert base_result_for(workspace, zero[1])["id"] == zero[0]["id"]


def test_plain_gsm8k_reads_the_shipped_split_and_its_few_shot_source_is_part_of_the_settings(workspace):
    """`gsm8k` alone is the test split shipped with brie (offline); with --shots its examples are that
    file's last rows, not the hub's train split as before it shipped, so results of the two never mix."""
    plain, shot = parse_benchmark("gsm8k"), parse_benchmark("gsm8k", shots=2)
    assert plain.settings() == {"shots": 0, "max_tokens": 256, "scoring": scoring_label()}
    assert shot.settings()["shots_from"] == "the shipped test split's last rows"
    assert len(plain.items(workspace)) == 1319 and len(shot.items(workspace)) == 1317
    assert "shots_from" not in parse_benchmark("gsm8k:openai/gsm8k", shots=2).settings()
