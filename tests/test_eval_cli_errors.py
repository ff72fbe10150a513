"""How `brie eval` and the other commands report errors: one prefix, clear help, fast offline failures."""

import socket

from typer.testing import CliRunner

from brie.cli import app


def test_usage_errors_use_the_same_prefix_as_brie_errors(workspace):
    runner = CliRunner()
    for args in (["eval", "--models", "base"],  # click: missing option
                 ["eval", "--models", "base", "--benchmarks", "gsm8k", "--limit", "0"],  # click: bad value
                 ["no-such-command"], ["export", "judged", "--bogus"]):
        r = runner.invoke(app, args)
        assert r.exit_code == 2, (args, r.output)
        assert "Error:" not in r.output and "\nerror: " in r.output, (args, r.output)
        assert "--help' for help." in r.output  # click's usage hint stays
    r = runner.invoke(app, ["eval", "--models", "base", "--benchmarks", "nope"])  # a BrieError
    assert r.exit_code == 1 and r.output.startswith("error: 'nope': unknown benchmark")


def test_eval_help_says_what_each_benchmark_needs(workspace):
    r = CliRunner().invoke(app, ["eval", "--help"], terminal_width=80)
    assert r.exit_code == 0
    text = " ".join(r.output.split())
    for needed in ["without it, the test split shipped with brie", "mt-bench[:FILE] 1-10 grades of both turns; needs --judge",
                   "perplexity:DATA", "a registered dataset", "mcq:FILE", "overlap:SUITE", "lm-eval:TASK", "strict (strict-match), flexible (flexible-extract)",
                   "Judge for mt-bench (required by it)"]:
        assert needed in text, needed
    assert max(len(line) for line in r.output.splitlines()) <= 80


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gsm8k_from_the_hub_fails_at_once_when_offline(workspace, monkeypatch):
    """No connection to the hub: an immediate error naming the local file to pass, not ~25 s of retries.

    The retries are what would make this test slow; it asserts the message, which only the early
    check writes ("offline and not in the Hugging Face cache").
    """
    from brie.evals.data import hub_reachable

    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # restored after the test: load_records may set it
    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    assert hub_reachable() is not None
    for bench, hint in (("gsm8k:openai/gsm8k", "gsm8k (the shipped test split) or gsm8k:<your test.jsonl>"),
                        ("mt-bench:HuggingFaceH4/mt_bench_prompts",
                         "mt-bench (the shipped questions) or mt-bench:<FastChat's question.jsonl>")):
        r = CliRunner().invoke(app, ["eval", "--models", "base", "--base-model", "x", "--benchmarks", bench,
                                     "--judge", "openai-compatible:j@http://127.0.0.1:1/v1"])
        assert r.exit_code == 1, r.output
        out = " ".join(r.output.split())
        assert out.startswith("error: cannot load dataset"), out
        assert ("offline and not in the Hugging Face cache" in out or "cannot reach 127.0.0.1" in out), out
        assert f"pass a local file instead, e.g. --benchmarks {hint}" in out, out


def test_hf_hub_offline_is_honoured_without_probing(workspace, monkeypatch):
    from brie.errors import BrieError
    from brie.evals.data import load_records

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_ENDPOINT", "http://no-such-host.invalid")
    try:
        load_records("someone/not-cached-anywhere", local_hint="x.jsonl")
    except BrieError as e:
        assert "offline and not in the Hugging Face cache; pass a local file instead, e.g. x.jsonl" in str(e)
    else:
        raise AssertionError("loaded a dataset that cannot exist")
