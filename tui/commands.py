"""brie's commands in the command palette (ctrl+p): the screens, the exports, and each run by name.

Everything here is also on a key; the palette is for finding it by name ("open run pirate…").
"""

from __future__ import annotations

import asyncio
from typing import Callable

from textual.command import DiscoveryHit, Hit, Hits, Provider


def brie_commands(app, run_names: list[str]) -> list[tuple[str, Callable, str]]:
    """(name, callback, help) for each command; the callbacks run on the app's thread."""

    def mode(name: str) -> Callable:
        async def go() -> None:
            await app.action_switch_mode(name)
        return go

    def export(kind: str) -> Callable:
        async def go() -> None:
            await app.action_switch_mode("results")
            app.screen.action_export(kind)  # with the results screen's filters, asking before overwriting
        return go

    def open_run(name: str) -> Callable:
        async def go() -> None:
            from tui.screens.run_detail import RunDetailScreen

            await app.action_switch_mode("runs")
            app.push_screen(RunDetailScreen(name))
        return go

    commands = [
        ("Runs", mode("runs"), "Every training run, live (r)"),
        ("New run", app.action_new_run, "The form that launches `brie train` (n)"),
        ("Data", mode("data"), "Datasets with their import reports, and prompt suites (d)"),
        ("Compare", mode("compare"), "Generate and judge model A against model B (c)"),
        ("Blind session", app.action_blind, "Judge answers yourself, identities hidden (b)"),
        ("Results", mode("results"), "Win rates with intervals, judge agreement, forgetting (v)"),
        ("Export judged JSONL", export("judged"), "Every judgment to exports/judged.jsonl (j on Results)"),
        ("Export results CSV", export("csv"), "The results table to exports/results.csv (x on Results)"),
        ("Export DPO pairs", export("dpo"), "Chosen/rejected pairs to exports/dpo.jsonl (p on Results)"),
        ("Help", app.action_help, "The keys of the screen on (?)"),
    ]
    commands += [(f"Open run {name}", open_run(name), "Config, checkpoints, loss curves") for name in run_names]
    return commands


def _run_names(root) -> list[str]:
    from brie.store.ui import runs_overview
    from tui.reading import reading

    with reading(root) as store:
        return [r["name"] for r in runs_overview(store)]


class BrieCommands(Provider):
    async def startup(self) -> None:
        try:  # the run names, read off the UI's thread (a store read is a few milliseconds)
            names = await asyncio.to_thread(_run_names, self.app.workspace.root)
        except Exception:  # an unreadable store: the palette still has the other commands
            names = []
        self.commands = brie_commands(self.app, names)

    async def discover(self) -> Hits:
        for name, callback, help_text in self.commands:
            if not name.startswith("Open run"):  # the runs list is for that; typing finds them
                yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in self.commands:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, text=name, help=help_text)


def quiet_navigation():
    """The app's screen keys (r, d, c, v, b, n) bound again on a screen, working as ever but left out
    of its footer: screens with many keys of their own (a run, the new-run form, a blind session)
    keep `? Help` and `q Quit` in 80 columns. A screen's binding of a key comes before the app's in
    the footer; `?` lists these keys under "Everywhere"."""
    from textual.binding import Binding

    return [Binding("r", "app.switch_mode('runs')", show=False),
            Binding("d", "app.switch_mode('data')", show=False),
            Binding("c", "app.switch_mode('compare')", show=False),
            Binding("v", "app.switch_mode('results')", show=False),
            Binding("b", "app.blind", show=False),
            Binding("n", "app.new_run", show=False)]
