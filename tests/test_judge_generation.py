import json

import pytest
from typer.testing import CliRunner

from brie.cli import app
from brie.errors import BrieError
from tests.judge_fixtures import make_adapter, setup_workspace


@pytest.fixture
def ws(workspace, tiny_model_dir, tmp_path):
    setup_workspace(workspace, tiny_model_dir, make_adapter(tiny_model_dir, tmp_path / "runs" / "r1" / "10"))
    return workspace


def test_suite_generation_stores_identity_and_reruns_generate_nothing(ws):
    from brie.models.specs import resolve_specs
    from brie.generation.runner import generate_suite

    specs = resolve_specs(ws, "base,r1@best")
    seen = []
    gens = generate_suite(ws, "s", specs, max_tokens=6, progress=lambda *a: seen.append(a))
    assert set(gens) == {"base", "r1@10"} and len(seen) == 8
    rows = list(ws.store.db["generations"].rows)
    assert len(rows) == 8
    ckpt = [r for r in rows if r["label"] == "r1@10"]
    assert {(r["run"], r["step"], r["adapter_sha256"]) for r in ckpt} == {("r1", 10, specs[1].adapter_sha256)}
    assert all(r["temperature"] == 0 and r["max_tokens"] == 6 and r["seed"] == 0 and r["sample_idx"] == 0 for r in rows)
    seen.clear()
    assert generate_suite(ws, "s", specs, max_tokens=6, progress=lambda *a: seen.append(a)) == gens
    assert seen == [] and ws.store.db["generations"].count == 8
    # Other sampling parameters are other generations.
    more = generate_suite(ws, "s", specs[:1], samples=2, temperature=0.8, max_tokens=6)
    assert len(more["base"]) == 8 and ws.store.db["generations"].count == 16


def test_multi_turn_feeds_the_model_its_own_answer(ws):
    from brie.models.specs import resolve_specs
    from brie.generation.mlx_engine import generate_batch
    from brie.generation.runner import generate_suite
    from brie.models.registry import load_model

    spec = resolve_specs(ws, "r1@10")[0]
    generate_suite(ws, "s", [spec], max_tokens=6)
    row = next(r for r in ws.store.db["generations"].rows if len(json.loads(r["answers_json"])) == 2)
    first, second = json.loads(row["answers_json"])
    model, tok = load_model(ws, spec.model, spec.adapter_path)
    convo = [{"role": "user", "content": "Pick a fruit."}, {"role": "assistant", "content": first},
             {"role": "user", "content": "Now a vegetable."}]
    assert generate_batch(model, tok, [convo], max_tokens=6) == [second]


def test_samples_at_temperature_zero_is_refused(ws):
    from brie.models.specs import resolve_specs
    from brie.generation.runner import generate_suite

    with pytest.raises(BrieError, match="identical"):
        generate_suite(ws, "s", resolve_specs(ws, "base", "tiny"), samples=2)


def test_cli_generate_suite_json(ws):
    r = CliRunner().invoke(app, ["generate", "--suite", "s", "--models", "base,r1@10", "--max-tokens", "4", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output) == {"suite": "s", "generations": {"base": 4, "r1@10": 4}}
    r = CliRunner().invoke(app, ["generate"])
    assert r.exit_code == 1 and "--prompt" in r.output


def test_cli_prompt_answers_with_each_model_and_accepts_a_checkpoint_spec(ws, tmp_path):
    """--prompt honours --models (one answer per model, under its label) and --adapter <run>@<step>."""
    runner = CliRunner()
    both = runner.invoke(app, ["generate", "--prompt", "Say hello.", "--models", "base,r1@10", "--max-tokens", "6"])
    assert both.exit_code == 0, both.output
    assert "base" in both.stdout and "r1@10" in both.stdout
    by_spec = runner.invoke(app, ["generate", "--prompt", "Say hello.", "--adapter", "r1@10", "--max-tokens", "6"])
    by_folder = runner.invoke(app, ["generate", "--prompt", "Say hello.", "--model", "tiny",
                                    "--adapter", str(ws.root / "runs" / "r1" / "10"), "--max-tokens", "6"])
    assert by_spec.exit_code == 0 and by_folder.exit_code == 0, by_spec.output + by_folder.output
    assert by_spec.stdout == by_folder.stdout
    base_part, adapter_part = both.stdout.split("r1@10")
    assert by_spec.stdout.strip() in adapter_part and by_spec.stdout.strip() not in base_part
    unknown = runner.invoke(app, ["generate", "--prompt", "hi", "--adapter", "nope@best"])
    assert unknown.exit_code == 1 and "no run named 'nope'" in unknown.stderr
