"""The report's forgetting summary names a worst benchmark only when one got worse."""

import pytest

from brie.evals import parse_benchmark
from brie.export.report import build_report
from brie.store import evals as eval_rows
from tests.evalkit import register_run


def _result(ws, bench: str, label: str, sha: str | None, step: int | None, values: list[int]) -> None:
    b = parse_benchmark(bench)
    row = eval_rows.get_or_create_result(ws.store, label=label, model="tiny", run="r" if sha else None, step=step,
                                         adapter_sha256=sha, benchmark=bench, settings={}, n_items=len(values))
    for i, v in enumerate(values):
        eval_rows.add_sample(ws.store, row["id"], i, str(i), f"q{i}", "out", "t", {b.primary: v})
    eval_rows.finish_result(ws.store, row["id"], b.aggregate([{b.primary: v} for v in values]))


@pytest.fixture
def report_ws(workspace, tmp_path):
    folder = tmp_path / "ckpt" / "10"
    folder.mkdir(parents=True)
    (folder / "adapters.safetensors").write_bytes(b"not really weights")
    register_run(workspace, "r", "tiny", {10: folder}, best_step=10)
    sha = workspace.store.db.execute("select adapter_sha256 from checkpoints").fetchone()[0]
    return workspace, sha


def _summary_line(report: str) -> str:
    (line,) = [x for x in report.splitlines() if x.startswith("Mean change vs base")]
    return line


@pytest.mark.parametrize("b_ckpt, said, unsaid", [
    ([1, 0], "No benchmark got worse.", "Worst"),  # b unchanged, a better
    ([0, 0], "Worst: mcq:b.jsonl.", "got worse"),  # b dropped
])
def test_the_summary_names_the_worst_benchmark_only_when_one_got_worse(report_ws, b_ckpt, said, unsaid):
    ws, sha = report_ws
    for bench, base, ckpt in (("mcq:a.jsonl", [0, 0, 1, 1], [1, 0, 1, 1]), ("mcq:b.jsonl", [1, 0], b_ckpt)):
        _result(ws, bench, "base", None, None, base)
        _result(ws, bench, "r@10", sha, 10, ckpt)
    line = _summary_line(build_report(ws, "r"))
    assert said in line and unsaid not in line


def _perplexity_result(ws, label: str, sha: str | None, step: int | None, rows: list[tuple[float, int]]) -> dict:
    """A perplexity result from (nll, tokens) per row, aggregated by the benchmark itself."""
    b = parse_benchmark("perplexity:held.jsonl")
    scores = [{"loss": nll / tokens, "nll": nll, "tokens": tokens} for nll, tokens in rows]
    row = eval_rows.get_or_create_result(ws.store, label=label, model="tiny", run="r" if sha else None, step=step,
                                         adapter_sha256=sha, benchmark=b.spec, settings={}, n_items=len(rows))
    for i, s in enumerate(scores):
        eval_rows.add_sample(ws.store, row["id"], i, str(i), f"q{i}", None, None, s)
    eval_rows.finish_result(ws.store, row["id"], b.aggregate(scores))
    return eval_rows.get_result(ws.store, row["id"])


def test_forgetting_perplexity_is_the_eval_tables_token_weighted_loss(report_ws):
    from brie.evals.forgetting import forgetting_table

    ws, sha = report_ws
    # rows of very different lengths: the unweighted mean of row losses would be far off
    base = _perplexity_result(ws, "base", None, None, [(40.0, 20), (3.0, 1), (9.0, 3)])
    ckpt = _perplexity_result(ws, "r@10", sha, 10, [(36.0, 20), (4.0, 1), (12.0, 3)])
    (d,) = forgetting_table(ws, "r")
    assert d.base == pytest.approx(base["metrics"]["loss"], rel=1e-12)  # 52 / 24, not mean(2, 3, 3)
    assert d.value == pytest.approx(ckpt["metrics"]["loss"], rel=1e-12)
    assert d.delta == pytest.approx(ckpt["metrics"]["loss"] - base["metrics"]["loss"], rel=1e-12)
    assert d.base != pytest.approx((2 + 3 + 3) / 3)
    report = build_report(ws, "r")
    assert f"{base['metrics']['loss']:.4g} | {ckpt['metrics']['loss']:.4g}" in report


def test_the_summary_gives_one_mean_per_unit_never_across_units(report_ws):
    ws, sha = report_ws
    _result(ws, "mcq:a.jsonl", "base", None, None, [0, 0, 1, 1])
    _result(ws, "mcq:a.jsonl", "r@10", sha, 10, [1, 0, 1, 1])  # +25 points
    _perplexity_result(ws, "base", None, None, [(20.0, 10), (3.0, 1)])
    _perplexity_result(ws, "r@10", sha, 10, [(10.0, 10), (3.0, 1)])  # 23/11 → 13/11 per token
    line = _summary_line(build_report(ws, "r"))
    assert "accuracy +25 points (higher is better; 1 benchmark)" in line, line
    assert f"loss {(13 - 23) / 11:+.4g} per token (lower is better; 1 benchmark)" in line, line
