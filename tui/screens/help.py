"""The help screen: every key, and how the loop fits together."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# brie — keys

| Key | Where | What |
|-----|-------|------|
| `r` | anywhere | Runs: every training run, live (the footer leaves out the key of the screen you are on) |
| `d` | anywhere | Data: datasets, their reports, prompt suites |
| `c` | anywhere | Compare: generate and judge model A against model B |
| `v` | anywhere | Results: win rates with confidence intervals, judge agreement |
| `b` | anywhere | Blind session: judge answers yourself, identities hidden |
| `n` | anywhere | New run: a form that launches `brie train` |
| `?` | anywhere | This help |
| `q` | anywhere | Quit (training runs keep going) |
| `ctrl+p` | anywhere | Command palette |
| `enter` | Runs | Open the run: config, checkpoints, loss curves |
| `m` / `u` / `x` / `p` / `e` | Run | Mark recommended, resume (a failed or cancelled run), cancel, prune, export (to `exports/models/<run>-<step>/`; again: a new folder) |
| `s` | Run | Next eval metric chart (after `brie eval --sweep <run>`) |
| `a` / `b` / `t` / `s` | Blind session | Prefer A, prefer B, tie, skip |
| `u` | Blind session | Undo the last choice |
| `escape` | Blind session | Finish: the reveal (your win rates, agreement with the LLM judges) |
| `r` `d` `c` `v` `n` | Blind session | End the session without the reveal (`b` goes on with what is left) |
| `ctrl+s` | New run, Compare | Launch / start |
| `j` / `x` / `p` | Results | Export judged JSONL, CSV, DPO pairs to `exports/` (asks before overwriting) |
| `f5` | Runs, Results | Read again now |
| `escape` | screens and dialogs | Back |

Training runs are their own processes: closing brie never stops one, and a run started from a
terminal shows up here within a second. Every verdict is stored as soon as you press the key, so a
blind session can be left and resumed.
"""


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
