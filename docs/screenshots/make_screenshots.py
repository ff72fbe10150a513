"""Screenshots for the README, made by the app itself (App.save_screenshot → SVG, cairosvg → PNG).

    PYTHONPATH=. python docs/screenshots/make_screenshots.py WORKSPACE [--run NAME]

Takes the Runs screen, one run's detail, the new-run form, the Data screen, the Results screen and
(when the workspace has comparisons) a blind session, on the workspace given (for example the one
`brie demo` made). The PNGs here come from a fresh `brie demo` workspace; with a sweep as well, the
run detail shows its eval chart too:

    brie eval --sweep demo-lora --benchmarks perplexity:demo,gsm8k \
        --limit 5 --max-tokens 64 --batch-size 5
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

OUT = Path(__file__).resolve().parent
SIZE = (150, 42)


async def settle(pilot, condition, tries: int = 200):
    from textual.css.query import NoMatches

    for _ in range(tries):
        try:
            if condition():
                break
        except NoMatches:
            pass
        await pilot.pause(0.05)
    await pilot.pause(0.3)


async def shoot(root: Path, run: str | None) -> list[Path]:
    from tui.app import BrieApp
    from tui.screens.run_detail import RunDetailScreen

    app = BrieApp(root, poll_interval=0.2)
    made = []

    def save(name: str) -> None:
        path = app.save_screenshot(filename=f"{name}.svg", path=str(OUT))
        made.append(Path(path))

    async with app.run_test(size=SIZE) as pilot:
        app.sub_title = "~/brie-demo"
        table = app.screen.query_one("#runs")
        await settle(pilot, lambda: table.row_count > 0)
        save("runs")
        name = run or (table.coordinate_to_cell_key((0, 0)).row_key.value if table.row_count else None)
        if name:
            app.push_screen(RunDetailScreen(name))
            await settle(pilot, lambda: isinstance(app.screen, RunDetailScreen) and app.screen.checkpoints)
            save("run-detail")
            await pilot.press("escape")
        await pilot.press("n")
        await settle(pilot, lambda: len(app.screen.query_one("#data")._options) > 1, tries=40)
        form = app.screen
        form.query_one("#name").value = "demo-r16"
        form.query_one("#data").value = form.query_one("#data")._options[1][1]  # the first dataset
        form.query_one("#rank").value = "16"
        form.query_one("#mask_prompt").value = True
        app.screen.query_one("#rank").focus()  # its help on the line under the form
        await settle(pilot, lambda: True, tries=1)
        save("new-run")
        app.screen.query_one("#rank").blur()
        await pilot.press("d")
        await settle(pilot, lambda: app.screen.query_one("#datasets").row_count > 0, tries=40)
        save("data")
        await pilot.press("v")
        await settle(pilot, lambda: getattr(app.screen, "data", None) is not None, tries=400)
        save("results")
        from tui.screens.blind import BlindSessionScreen, BlindSetup

        app.push_screen(BlindSessionScreen(BlindSetup("me", None), rng=random.Random(1)))
        await settle(pilot, lambda: isinstance(app.screen, BlindSessionScreen) and app.screen.items is not None)
        if app.screen.items:
            save("blind-session")
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace")
    parser.add_argument("--run", help="Which run to show in detail (default: the newest).")
    args = parser.parse_args()
    import cairosvg

    for svg in asyncio.run(shoot(Path(args.workspace), args.run)):
        png = svg.with_suffix(".png")
        cairosvg.svg2png(url=str(svg), write_to=str(png), output_width=1600)
        svg.unlink()  # the PNG is what the README shows
        print(png)


if __name__ == "__main__":
    main()
