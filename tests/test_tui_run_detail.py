"""Run detail actions with real effects: `u` resumes a cancelled run in its own process, `e` exports
the selected checkpoint under exports/ (both on the tiny random model, so they take seconds)."""

from __future__ import annotations

import json

import pytest
from textual.widgets import DataTable

from tests.tui_fixtures import wait_for

pytestmark = pytest.mark.anyio


def make_app(ws):
    from tui.app import BrieApp

    return BrieApp(ws, poll_interval=0.1)


async def open_detail(app, pilot, name):
    from tui.screens.run_detail import RunDetailScreen

    app.push_screen(RunDetailScreen(name))
    await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.checkpoints)
    return app.screen


async def test_u_resumes_a_cancelled_run_in_its_own_process(workspace, tiny_model_dir, tmp_path):
    from brie.training.context import TrainCallback
    from brie.training.lifecycle import train
    from tests.train_helpers import tiny_config, write_chat_data

    class CancelAt6(TrainCallback):
        def on_step(self, step):
            if step == 6:
                raise KeyboardInterrupt  # what ctrl+c does: the run is marked cancelled

    data = write_chat_data(tmp_path / "chat")
    run = train(workspace, tiny_config(tiny_model_dir, data, iters=8, save_every=4), "halfway", callback=CancelAt6())
    assert run["status"] == "cancelled"

    app = make_app(workspace)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_detail(app, pilot, "halfway")
        assert [c["step"] for c in screen.checkpoints] == [4]
        await pilot.press("u")
        await wait_for(pilot, lambda: any("Started run halfway" in n.message for n in app._notifications))
        (launched,) = app.launched
        assert launched.command == ["train", "--resume", "halfway"]
        # The UI follows the resumed process through the store: it finishes the remaining steps.
        await wait_for(pilot, lambda: screen.run["status"] == "completed", tries=2400)
        assert screen.run["step"] == 8
        await wait_for(pilot, lambda: screen.query_one("#checkpoints", DataTable).row_count == 2)
        assert launched.process.wait(timeout=30) == 0
        assert "Resuming halfway from step 4" in launched.log_path.read_text()


async def test_e_exports_the_selected_checkpoint(workspace, tiny_model_dir, tmp_path):
    from tests.evalkit import make_adapter, register_run

    adapters = {10: make_adapter(tiny_model_dir, tmp_path / "10", seed=3),
                20: make_adapter(tiny_model_dir, tmp_path / "20", seed=4)}
    register_run(workspace, "exp", str(tiny_model_dir), adapters, best_step=20)

    app = make_app(workspace)
    async with app.run_test(size=(140, 40)) as pilot:
        await open_detail(app, pilot, "exp")
        app.screen.query_one("#checkpoints", DataTable).focus()
        await pilot.press("down")  # step 20
        await pilot.press("e")
        # A live status while the export runs (a job of tui/work.py), and `q` asks before stopping it.
        status = app.screen.query_one("#job-status")
        await wait_for(pilot, lambda: status.display and "elapsed" in str(status.render()))
        assert "Exporting model exp@20 to " in str(status.render())
        await pilot.press("q")
        from tui.screens.confirm import ConfirmScreen

        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert app.screen.question == "Exporting model is running: stop it and quit?"
        await pilot.press("n")  # keep working
        await wait_for(pilot, lambda: any("exp@20" in n.message for n in app._notifications), tries=2400)
        assert not status.display
        out = (workspace.exports_dir / "models" / "exp-20").resolve()
        # The message says where the model went.
        assert [n.message for n in app._notifications if "exp@20" in n.message] == [f"Exported exp@20 to {out}."]
        meta = json.loads((out / "brie_export.json").read_text())
        assert meta["step"] == 20 and meta["fused"] is True
        assert (out / "config.json").exists() and not (workspace.exports_dir / "models" / "exp-10").exists()

        # Again: the folder exists and is never overwritten, so the UI asks to export to the next free one
        # (not the CLI's "give --out").
        from tui.screens.confirm import ConfirmScreen

        app.clear_notifications()
        await pilot.press("e")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        again = out.parent / "exp-20-2"
        assert str(again) in str(app.screen.query_one("#detail").render())
        await pilot.press("y")
        await wait_for(pilot, lambda: any("exp@20" in n.message for n in app._notifications), tries=2400)
        assert [n.message for n in app._notifications if "exp@20" in n.message] == [f"Exported exp@20 to {again}."]
        assert json.loads((again / "brie_export.json").read_text())["step"] == 20
        assert json.loads((out / "brie_export.json").read_text()) == meta  # the first one is kept


async def test_u_on_a_completed_run_is_not_offered_and_starts_nothing(workspace):
    from tests.tui_fixtures import fill_demo

    fill_demo(workspace)  # pirate-lora is completed
    app = make_app(workspace)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_detail(app, pilot, "pirate-lora")
        assert screen.run["status"] == "completed"
        await pilot.pause(0.1)
        assert "resume" not in {b.binding.action for b in app.active_bindings.values()}  # not in the footer
        await pilot.press("u")
        await pilot.pause(0.2)
        assert not app.launched  # no `brie train --resume` that would fail with "already completed"
        assert not any("Started run" in n.message for n in app._notifications)


async def test_one_point_is_told_in_a_line_not_drawn_on_a_stretched_axis(workspace):
    """A run with one logged step and one evaluated checkpoint: plotext would draw the x axis
    19.950…20.050 and the base line as a dot; the values are said in a line instead."""
    from textual_plotext import PlotextPlot

    from brie.store import evals as eval_rows
    from tests.tui_fixtures import T0, add_checkpoint, fill_demo

    fill_demo(workspace)
    db = workspace.store.db
    with workspace.store.transaction():
        db["runs"].insert({"id": 9, "name": "young", "model": "smollm2-135m-instruct", "dataset_id": 1,
                           "backend": "mlx", "method": "lora", "status": "running", "step": 20, "total_steps": 300,
                           "config_json": "{}", "path": "runs/young", "created_at": T0, "started_at": T0})
        db["metrics"].insert_all([{"run_id": 9, "step": 20, "name": n, "value": v, "at": T0}
                                  for n, v in (("train_loss", 2.25), ("val_loss", 2.5))])
        add_checkpoint(workspace, 9, 20)
    for step, value in ((None, 0.2), (20, 0.35)):
        row = eval_rows.get_or_create_result(
            workspace.store, label="base" if step is None else f"young@{step}", model="smollm2-135m-instruct",
            run=None if step is None else "young", step=step,
            adapter_sha256=None if step is None else f"{9:02d}{20:06d}" + "0" * 56,
            benchmark="gsm8k:gsm8k_test.jsonl", settings={"limit": 10, "shots": 0}, n_items=10)
        eval_rows.finish_result(workspace.store, row["id"], {"strict": value, "n": 10})

    app = make_app(workspace)
    async with app.run_test(size=(140, 40)) as pilot:
        screen = await open_detail(app, pilot, "young")
        await wait_for(pilot, lambda: screen.sweep_charts)
        await pilot.pause(0.1)
        assert not screen.query_one("#loss", PlotextPlot).display
        loss_text = str(screen.query_one("#loss-text").render())
        assert "train_loss 2.25 at step 20" in loss_text and "val_loss 2.5 at step 20" in loss_text
        assert not screen.query_one("#sweep", PlotextPlot).display
        sweep_text = str(screen.query_one("#sweep-text").render())
        assert "young 0.35 at step 20" in sweep_text and "base model: 0.2" in sweep_text

        # A second step makes it a chart.
        with workspace.store.transaction():
            db["metrics"].insert({"run_id": 9, "step": 30, "name": "train_loss", "value": 2.0, "at": T0})
        await wait_for(pilot, lambda: screen.query_one("#loss", PlotextPlot).display)
        assert not screen.query_one("#loss-text").display


async def test_judged_score_against_step_and_the_evidence_of_the_recommendation(workspace):
    """pirate-lora's checkpoints judged against the base: a chart of their Bradley–Terry score
    against step beside the loss, and the summary says the recommended one was chosen by judged rank
    (`brie runs recommend --by judged`). One judged checkpoint is told in a line instead."""
    from textual_plotext import PlotextPlot

    from brie.judging.rank import recommend_by_judged
    from tests.tui_fixtures import add_ranking, fill_demo

    fill_demo(workspace)
    add_ranking(workspace)
    chosen = recommend_by_judged(workspace, "pirate-lora", "rank-suite")
    app = make_app(workspace)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await open_detail(app, pilot, "pirate-lora")
        await wait_for(pilot, lambda: ("judged", "rank-suite") in screen.sweep_charts, tries=200)
        assert screen.sweep_charts[0] == ("judged", "rank-suite")
        assert screen.query_one("#sweep", PlotextPlot).display
        summary = str(screen.query_one("#latest").render())
        e = chosen["evidence"]
        assert f"✓ step {chosen['step']}: judged rank {e['rank']} of 4 on suite rank-suite" in summary
        assert f"Bradley–Terry {e['score']:.0f}" in summary
        await pilot.pause(0.2)
        from tests.test_tui_app import drawn_text

        assert "judged score on rank-suite" in drawn_text(app)

    # With one checkpoint judged, its rank and score are said in a line.
    db = workspace.store.db
    with workspace.store.transaction():
        db.execute("delete from judgments where comparison_id in (select c.id from comparisons c join generations g "
                   "on g.id = c.gen_b where g.step in (100, 300))")
    app = make_app(workspace)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await open_detail(app, pilot, "pirate-lora")
        await wait_for(pilot, lambda: screen.sweep_charts, tries=200)
        await wait_for(pilot, lambda: screen.query_one("#sweep-text").display)
        text = str(screen.query_one("#sweep-text").render())
        assert "at step 200" in text and "rank 1 of 2" in text and "base model: 1000" in text


async def test_a_preference_run_charts_reward_margin_and_preference_accuracy(workspace):
    """A dpo run's metrics (brie.training.preference's names): reward margin and preference
    accuracy, train and val_, beside the loss; `s` goes from one to the other."""
    from textual_plotext import PlotextPlot

    from tests.tui_fixtures import T0, fill_demo

    fill_demo(workspace)
    db = workspace.store.db
    with workspace.store.transaction():
        db.execute("update runs set method = 'dpo lora' where name = 'pirate-lora'")
        db["metrics"].insert_all(
            [{"run_id": 1, "step": s, "name": n, "value": v, "at": T0} for s in range(10, 301, 10)
             for n, v in (("reward_margin", s / 300), ("preference_accuracy", 0.5 + s / 700))]
            + [{"run_id": 1, "step": s, "name": n, "value": v, "at": T0} for s in range(50, 301, 50)
               for n, v in (("val_reward_margin", s / 400), ("val_preference_accuracy", 0.5 + s / 800))])
    app = make_app(workspace)
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await open_detail(app, pilot, "pirate-lora")
        await wait_for(pilot, lambda: screen.sweep_charts)
        assert screen.sweep_charts == [("pref", "reward_margin"), ("pref", "preference_accuracy")]
        assert screen.query_one("#sweep", PlotextPlot).display
        assert screen.preference["val_reward_margin"][-1] == (300, 0.75)
        await pilot.pause(0.2)
        from tests.test_tui_app import drawn_text

        text = drawn_text(app)
        assert "reward margin" in text and "val_reward_margin" in text
        await pilot.press("s")
        await pilot.pause(0.2)
        assert "preference accuracy" in drawn_text(app) and "val_preference_accuracy" in drawn_text(app)
