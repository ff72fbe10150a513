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
    (line,) = [x for x in report.splitlines() if x.startswith("Mean change over")]
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
