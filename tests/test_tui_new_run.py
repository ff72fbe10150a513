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
        followed = []  # what the app was given to follow (it forgets a process once it has exited)
        follow = app.follow
        app.follow = lambda launched: (followed.append(launched), follow(launched))
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: followed)
        launched = followed[0]
        assert launched.command[-11:] == preview.split()[1:]
        assert launched.session_id == launched.process.pid != os.getsid(0)
        assert launched.log_path.parent == workspace.root / "logs"
        # On to the run launched, not back to where the form was opened from.
        from tui.screens.run_detail import RunDetailScreen

        await wait_for(pilot, lambda: isinstance(app.screen, RunDetailScreen))
        assert app.screen.run_name == "pirate-r32"
    # The UI is closed and the run's process is still there (or already failed on its own, since the
    # demo dataset has no files): stop it ourselves, by its own process group.
    if launched.process.poll() is None:
        os.killpg(launched.session_id, signal.SIGTERM)
    launched.process.wait(timeout=60)


async def test_form_explains_the_field_on_marks_problems_and_refuses_an_unknown_model(workspace):
    from tui.app import BrieApp
    from tui.screens.new_run import NewRunScreen

    fill_demo(workspace)
    app = BrieApp(workspace, poll_interval=0.1)
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("n")
        form = app.screen
        await wait_for(pilot, lambda: len(form.query_one("#data", Select)._options) > 1)
        help_line = lambda: str(form.query_one("#field-help", Static).render())  # noqa: E731
        assert "new name for the run" in help_line()  # the name field has focus at first
        form.query_one("#rank").focus()
        await pilot.pause()
        assert help_line().startswith("LoRA rank")  # TrainConfig's help, on screen, not a tooltip

        # Ticked and unticked do not look alike: the box shows ✓ or nothing.
        box = form.query_one("#mask_prompt")
        assert "✓" not in str(box.render())
        box.focus()
        await pilot.press("space")
        assert box.value and "✓" in str(box.render())

        # The field in error is marked, and only it.
        form.query_one("#rank").value = "x"
        await pilot.pause()
        assert form.query_one("#rank").has_class("-problem")
        assert not form.query_one("#alpha").has_class("-problem")
        form.query_one("#rank").value = "8"

        # A model brie cannot load is refused in the form, with brie's own reason; nothing starts.
        form.query_one("#name").value = "new-one"
        form.query_one("#data", Select).value = "pirate-style"
        form.query_one("#model").value = "no-such-model"
        await wait_for(pilot, lambda: "no-such-model" in form.model_checks)
        await pilot.pause()
        problems = str(form.query_one("#problems", Static).render())
        assert "not a registered model, a model folder, or a Hugging Face id" in problems
        assert form.query_one("#model").has_class("-problem")
        assert form.query_one("#launch", Button).disabled
        await pilot.press("ctrl+s")
        await pilot.pause(0.2)
        assert not app.launched and isinstance(app.screen, NewRunScreen)

        # A model folder that loads is accepted.
        form.query_one("#model").value = "smollm2-135m-instruct"
        await pilot.pause()
        assert not form.query_one("#launch", Button).disabled, str(form.query_one("#problems", Static).render())
