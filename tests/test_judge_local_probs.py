"""`local:<model>` judges: verdicts and ratings read from the next token's probabilities (issue 15).

Every probability stored is checked against a hand computation: the tiny model run here on the same
token ids, without cache or padding, softmax at the last position, the letters' token ids picked and
normalised. Nothing is mocked: real MLX, a real SQLite workspace, the real CLI.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from brie.judging.prompts import RATING_PREFILL, VERDICT_PREFILL, prompt_sha256, template_sha256
from brie.store import judging as rows
from tests.judge_fixtures import fresh_ws, judged_template  # noqa: F401  (fixtures)

N = 12  # comparisons in the judged_template suite


@pytest.fixture(scope="module")
def hand(tiny_model_dir):
    """The tiny model and tokenizer loaded straight through mlx_lm, and a full-sequence softmax."""
    import mlx.core as mx
    from mlx_lm import load

    model, tokenizer = load(str(tiny_model_dir))

    def ids_of(system: str, user: str, prefill: str) -> list[int]:
        text = tokenizer.apply_chat_template([{"role": "system", "content": system}, {"role": "user", "content": user}],
                                             tokenize=False, add_generation_prompt=True) + prefill
        return tokenizer.encode(text, add_special_tokens=False)

    def softmax_at(ids: list[int], positions: list[int]) -> list[np.ndarray]:
        logits = model(mx.array([ids]))[0].astype(mx.float32)
        return [np.array(mx.softmax(logits[p], axis=-1)) for p in positions]

    return model, tokenizer, ids_of, softmax_at


def by_hand_letters(hand, system: str, user: str) -> dict[str, float]:
    _, tokenizer, ids_of, softmax_at = hand
    [p] = softmax_at(ids_of(system, user, VERDICT_PREFILL), [-1])
    # The tiny tokenizer is byte-level without merges: "A" is one token, " A" is two (so not a spelling).
    mass = {k: float(p[tokenizer.convert_tokens_to_ids(k)]) for k in "ABC"}
    return {k: v / sum(mass.values()) for k, v in mass.items()}


def judge_name(ref: str) -> str:
    return f"local:{ref}"


def comparisons_of(ws) -> list[int]:
    from brie.generation.runner import generate_suite
    from brie.judging.workflows import make_comparisons
    from brie.models.specs import resolve_specs

    gens = generate_suite(ws, "s", resolve_specs(ws, "base,r1@10"), max_tokens=8)  # stored: no model load
    return make_comparisons(ws, "s", gens, "base", "r1@10")


@pytest.mark.parametrize("ref", ["tiny", "r1@10"])
def test_verdicts_are_the_hand_computed_probabilities_mapped_through_shown_first(fresh_ws, hand, ref):
    from brie.judging.judges import parse_judge
    from brie.judging.tasks import Task
    from brie.judging.verdicts import OTHER
    from brie.judging.workflows import judge_comparisons

    ids = comparisons_of(fresh_ws)
    s = judge_comparisons(fresh_ws, ids, [judge_name(ref)], swap=True)
    assert (s.valid, s.invalid, s.failed) == (2 * N, 0, 0)
    spec = parse_judge(judge_name(ref), fresh_ws)
    comparisons = {c["comparison_id"]: c for c in rows.find_comparisons(fresh_ws.store, ids=ids)}
    stored = rows.all_judgments(fresh_ws.store, judge_name(ref))
    assert len(stored) == 2 * N and all(j["cost_usd"] == 0 for j in stored)
    letters = set()
    for j in stored:
        c = comparisons[j["comparison_id"]]
        assert j["shown_first"] == (c["shown_first"] if j["pass"] == 0 else OTHER[c["shown_first"]])
        template, system, user = Task(spec, c, j["pass"], j["shown_first"], 1).prompt()
        assert j["template"] == template and "-prefill-" in template
        # The prefill is part of the prompt's identity: a text judge's stored answer never stands for it.
        assert j["prompt_sha256"] == prompt_sha256(system, user, VERDICT_PREFILL) != prompt_sha256(system, user)
        assert j["template_sha256"] == template_sha256("pairwise", VERDICT_PREFILL) != template_sha256("pairwise")
        probs = json.loads(j["probabilities"])
        assert sum(probs.values()) == pytest.approx(1.0)
        if ref == "tiny":
            expected = by_hand_letters(hand, system, user)
            for k in "ABC":
                assert probs[k] == pytest.approx(expected[k], abs=1e-5)
        best = max("ABC", key=lambda k: probs[k])
        letters.add(best)
        assert j["raw"] == f"{VERDICT_PREFILL}{best}]]"
        assert j["verdict"] == {"A": j["shown_first"], "B": OTHER[j["shown_first"]], "C": "tie"}[best]
    # Both passes of every comparison: shown_first differs between them.
    by_comparison = {}
    for j in stored:
        by_comparison.setdefault(j["comparison_id"], set()).add(j["shown_first"])
    assert all(v == {"a", "b"} for v in by_comparison.values())
    # A rerun asks nothing again.
    again = judge_comparisons(fresh_ws, ids, [judge_name(ref)], swap=True)
    assert again.tasks == 0 and again.already_done == 2 * N


def test_a_verdict_for_A_or_B_maps_back_to_the_model_in_both_orders(fresh_ws, hand):
    """The same two answers in both orders: the letter the judge prefers moves with the answer, and
    to_verdict turns each position back into the model that wrote it."""
    from brie.judging.judges import connect, parse_judge
    from brie.judging.tasks import Task, record_judgment
    from brie.judging.verdicts import OTHER

    spec = parse_judge("local:tiny", fresh_ws)
    client = connect(spec, ws=fresh_ws)
    comparisons_of(fresh_ws)
    [c] = [c for c in rows.find_comparisons(fresh_ws.store) if c["prompt_id"] == "p1"]
    for shown in ("a", "b"):
        task = Task(spec, c, 0 if shown == c["shown_first"] else 1, shown, 1)
        template, system, user = task.prompt()
        reply = client.verdicts([(system, user)])[0]
        # Force each letter in turn through the real storing path: the verdict follows shown_first.
        for attempt, (letter, model) in enumerate((("A", shown), ("B", OTHER[shown]), ("C", "tie")), 1):
            reply.probabilities = {k: (0.8 if k == letter else 0.1) for k in "ABC"}
            reply.text = f"{VERDICT_PREFILL}{letter}]]"
            row = record_judgment(fresh_ws, task, attempt, template, reply)
            assert row["verdict"] == model and json.loads(row["probabilities"])[letter] == 0.8


def test_batched_equals_one_at_a_time(fresh_ws):
    from brie.judging.judges import connect, parse_judge
    from brie.judging.tasks import Task

    spec = parse_judge("local:tiny", fresh_ws)
    client = connect(spec, ws=fresh_ws)
    comparisons_of(fresh_ws)
    prompts = [Task(spec, c, 0, c["shown_first"], 1).prompt()[1:] for c in rows.find_comparisons(fresh_ws.store)]
    assert len({len(u) for _, u in prompts}) > 1  # different lengths: the batch is padded
    client.batch_size = len(prompts)
    batched = client.verdicts(prompts)
    rated = client.ratings(prompts)
    client.batch_size = 1
    single = client.verdicts(prompts)
    single_rated = client.ratings(prompts)
    for x, y in zip(batched + rated, single + single_rated):
        assert x.probabilities.keys() == y.probabilities.keys()
        for k in x.probabilities:
            assert x.probabilities[k] == pytest.approx(y.probabilities[k], abs=1e-5)


def test_grading_stores_the_expected_rating_of_the_hand_computed_distribution(fresh_ws, hand):
    from brie.judging.prompts import single_prompt
    from brie.judging.workflows import grade

    _, tokenizer, ids_of, softmax_at = hand
    counts = grade(fresh_ws, "s", "base", ["local:tiny"], max_tokens=8)
    assert counts["valid"] == N and counts["invalid"] == counts["failed"] == 0
    prompts = {p["id"]: p for p in fresh_ws.store.db["prompts"].rows}
    scores = [s for s in rows.all_scores(fresh_ws.store) if s["judge"] == "local:tiny"]
    assert len(scores) == N
    tok = tokenizer.convert_tokens_to_ids
    for sc in scores:
        gen = rows.get_generation(fresh_ws.store, sc["generation_id"])
        p = prompts[gen["prompt_row_id"]]
        template, system, user = single_prompt(json.loads(p["turns_json"]), gen["answers"],
                                               json.loads(p["reference_json"]) if p["reference_json"] else None)
        assert sc["template"] == template.replace("-v1", "-prefill-v1")
        assert sc["prompt_sha256"] == prompt_sha256(system, user, RATING_PREFILL)
        # By hand: the digit after "Rating: [[", and whether "1" goes on with "0" (10) or "]" (1).
        first, after_one = softmax_at(ids_of(system, user, RATING_PREFILL) + [tok("1")], [-2, -1])
        mass = {str(k): float(first[tok(str(k))]) for k in range(1, 10)}
        q = after_one[tok("0")] / (after_one[tok("0")] + after_one[tok("]")])
        mass["10"] = mass["1"] * q
        mass["1"] *= 1 - q
        expected = {k: v / sum(mass.values()) for k, v in mass.items()}
        probs = json.loads(sc["probabilities"])
        for k in expected:
            assert probs[k] == pytest.approx(expected[k], abs=1e-5)
        assert sc["score"] == pytest.approx(sum(int(k) * v for k, v in expected.items()), abs=1e-4)
        assert sc["valid"] == 1 and 1 <= sc["score"] <= 10


def test_cli_compare_with_a_local_folder_judge(fresh_ws, tiny_model_dir):
    from typer.testing import CliRunner

    from brie.cli import app

    judge = f"local:{tiny_model_dir}"
    r = CliRunner().invoke(app, ["compare", "--suite", "s", "--a", "base", "--b", "r1@10", "--judge", judge,
                                 "--swap", "--max-tokens", "8", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["valid"] == 2 * N and out["invalid"] == 0 and out["failed"] == 0
    stored = rows.all_judgments(fresh_ws.store, judge)
    assert len(stored) == 2 * N and all(j["verdict"] in ("a", "b", "tie") and j["probabilities"] for j in stored)


def test_bad_local_judges_are_one_line_errors(fresh_ws, tmp_path):
    from brie.errors import BrieError
    from brie.judging.workflows import api_judges

    with pytest.raises(BrieError, match="no run named"):
        api_judges(fresh_ws, ["local:nope@best"])
    with pytest.raises(BrieError, match="not a registered model"):
        api_judges(fresh_ws, [f"local:{tmp_path / 'missing'}"])


def test_a_tokenizer_without_the_letters_is_a_judge_error(fresh_ws, tiny_model_dir, tmp_path):
    """A tokenizer whose vocabulary has no token for "A" on its own cannot answer as the next token."""
    import shutil

    from brie.judging.base import JudgeError
    from brie.judging.judges import connect, parse_judge

    folder = tmp_path / "no-letters"
    shutil.copytree(tiny_model_dir, folder)
    tok = json.loads((folder / "tokenizer.json").read_text())
    vocab = tok["model"]["vocab"]
    vocab["Ã"] = vocab.pop("A")  # byte-level "A" now spelled as a byte nobody writes alone: no "A" token
    (folder / "tokenizer.json").write_text(json.dumps(tok))
    with pytest.raises(JudgeError, match="no single token for A"):
        connect(parse_judge(f"local:{folder}", fresh_ws), ws=fresh_ws)
