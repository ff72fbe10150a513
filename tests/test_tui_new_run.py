"""The new-run form: validation, the LoRA scale, the command preview, and a detached launch."""

from __future__ import annotations

import os
import signal

import pytest
from textual.widgets import Button, Select, Static

from tests.tui_fixtures import fill_demo, wait_for
from tui.screens.new_run import build_request, scale_text

pytestmark = pytest.mark.anyio


def test_build_request_validates_and_writes_only_changed_options():
    request, problems = build_request({"name": "pirate-lora", "data": "d", "rank": "x", "alpha": "0",
                                       "dropout": "1.5"}, taken={"pirate-lora"})
    assert problems == ["Run name: pirate-lora exists already (runs are never overwritten).",
                        "LoRA rank: 'x' is not a whole number.", "LoRA alpha: must be positive.",
                        "Dropout: must be at least 0 and below 1."]
    request, problems = build_request({"name": "r2", "data": "pirate-style", "rank": "16", "alpha": "16",
                                       "epochs": "", "mask_prompt": True}, taken=set())
    assert problems == []
    assert request.args == ["train", "--model", "smollm2-135m-instruct", "--data", "pirate-style", "--name", "r2",
                            "--rank", "16", "--mask-prompt"]
    assert scale_text("16", "32").endswith("[b]2[/b]")


async def test_form_previews_the_command_and_launches_brie_train_in_its_own_session(workspace):
    from tui.app import BrieApp
    from tui.screens.new_run import NewRunScreen

    fill_demo(workspace)
    app = BrieApp(workspace, poll_interval=0.1)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("n")
        assert isinstance(app.screen, NewRunScreen)
        form = app.screen
        await wait_for(pilot, lambda: len(form.query_one("#data", Select)._options) > 1)
        assert form.query_one("#launch", Button).disabled  # no name, no dataset yet
        await pilot.press(*"pirate-lora")
        await pilot.pause()
        assert "exists already" in str(form.query_one("#problems", Static).render())
        form.query_one("#name").value = "pirate-r32"
        form.query_one("#data", Select).value = "pirate-style"
        form.query_one("#rank").value = "16"
        form.query_one("#alpha").value = "32"
        await pilot.pause()
        assert "= 2" in str(form.query_one("#scale", Static).render())
        preview = str(form.query_one("#preview", Static).render())
        assert preview == ("brie train --model smollm2-135m-instruct --data pirate-style --name pirate-r32 "
                           "--rank 16 --alpha 32")
        assert not form.query_one("#launch", Button).disabled, form.query_one("#problems", Static).render()
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: app.launched)
        launched = app.launched[0]
        assert launched.command[-11:] == preview.split()[1:]
        assert launched.session_id == launched.process.pid != os.getsid(0)
        assert launched.log_path.parent == workspace.root / "logs"
        assert not isinstance(app.screen, NewRunScreen)
    # The UI is closed and the run's process is still there (or already failed on its own, since the
    # demo dataset has no files): stop it ourselves, by its own process group.
    if launched.process.poll() is None:
        os.killpg(launched.session_id, signal.SIGTERM)
    launched.process.wait(timeout=60)
