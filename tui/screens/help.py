"""The help screen (`?`): the keys of the screen you are on first, then the ones that work everywhere."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

# One section per screen, keyed by the screen's class name: (title, markdown table rows).
SECTIONS: dict[str, tuple[str, str]] = {
    "RunsScreen": ("Runs", """\
Every training run, re-read every second (a run started from a terminal shows up here too). Running
runs show their progress and an estimate of the time left. A notice says when a run ends.

| Key | What |
|-----|------|
| `enter` | Open the run: config, checkpoints, loss curves |
| `/` | Filter by name, model, dataset or status (`enter` back to the list; empty it to see all) |
| `s` | Sort: newest, name, status, best validation loss |
| `f5` | Read again now |
"""),
    "RunDetailScreen": ("Run", """\
| Key | What |
|-----|------|
| `m` | Mark the selected checkpoint recommended |
| `u` | Resume (a failed or cancelled run only) |
| `x` | Cancel (a running run; its checkpoints stay) |
| `p` | Prune checkpoints (keeps best, last, recommended, and those results were made from) |
| `e` | Export the selected checkpoint to `exports/models/<run>-<step>/` (again: a new folder) |
| `s` | Next chart: reward margin and preference accuracy (a preference run), judged score (after `brie rank`), each eval metric (after `brie eval --sweep <run>`) |
| `escape` | Back to the runs list |

Keys that do nothing for this run (resume on a completed one, cancel on one not running) are left
out of the footer.
"""),
    "NewRunScreen": ("New run", """\
| Key | What |
|-----|------|
| `tab` / `shift+tab` | Next / previous field; the line under the form explains the field you are on |
| `space` | Tick or untick a checkbox |
| `ctrl+s` | Launch `brie train` as its own process, then show the run |
| `escape` | Leave the field (then the letter keys move between screens again); a second one goes back |

A field with a problem is outlined in red and the problem is listed beside the form; the model is
checked (a registered name, a model folder, or a Hugging Face id) before anything starts.
"""),
    "DataScreen": ("Data", """\
| Key | What |
|-----|------|
| `up` / `down` | Choose a dataset: its import report shows beside the list |
| `tab` | Move to the prompt suites |

Import with `brie data import FILE --name NAME` and `brie suites import FILE --name NAME`.
"""),
    "CompareScreen": ("Compare", """\
| Key | What |
|-----|------|
| `tab` | Next field |
| `ctrl+s` | Start: generate both sides, then judge them, with progress and cost on screen |
| `escape` | Leave the field |
"""),
    "ResultsScreen": ("Results", """\
The chart at the top shows B's win rate per model pair and suite with its 95% interval; the table
under it has every number (scroll it sideways with `left`/`right`).

| Key | What |
|-----|------|
| `j` / `x` / `p` | Export judged JSONL, the results CSV, DPO pairs to `exports/` (asks before overwriting) |
| `f5` | Read again now |
"""),
    "BlindSessionScreen": ("Blind session", """\
| Key | What |
|-----|------|
| `a` / `b` / `t` / `s` | Prefer A, prefer B, tie, skip |
| `u` | Undo the last choice |
| `escape` | Finish: the reveal (your win rates, agreement with the LLM judges) |
| `r` `d` `c` `v` `n` | End the session without the reveal (`b` goes on with what is left) |
"""),
    "RevealScreen": ("Reveal", """\
| Key | What |
|-----|------|
| `escape` | Done |
"""),
}

EVERYWHERE = """\
| Key | What |
|-----|------|
| `r` | Runs (the footer leaves out the key of the screen you are on) |
| `d` | Data: datasets, their reports, prompt suites |
| `c` | Compare: generate and judge model A against model B |
| `v` | Results: win rates with confidence intervals, judge agreement, forgetting |
| `b` | Blind session: judge answers yourself, identities hidden |
| `n` | New run: a form that launches `brie train` |
| `ctrl+p` | Command palette: every screen, the exports and each run by name |
| `?` | This help |
| `escape` | Leave a text field; else back, or close a dialog |
| `q` | Quit (training runs keep going) |

Training runs are their own processes: closing brie never stops one, and a run started from a
terminal shows up here within a second. Every verdict is stored as soon as you press the key, so a
blind session can be left and resumed.
"""


def help_text(screen_name: str | None) -> tuple[str, str]:
    """(section title, markdown): the screen's own keys, then the keys that work everywhere."""
    title, body = SECTIONS.get(screen_name or "", ("", ""))
    parts = [f"# {title}\n\n{body}"] if title else []
    parts.append(f"# Everywhere\n\n{EVERYWHERE}")
    return title or "Everywhere", "\n".join(parts)


class HelpScreen(ModalScreen[None]):
    CSS_PATH = "help.tcss"
    BINDINGS = [
        Binding("escape", "dismiss", "Close"),
        Binding("question_mark", "dismiss", "Close", show=False),
        Binding("q", "dismiss", "Close", show=False),
    ]

    def __init__(self, screen_name: str | None = None):
        super().__init__()
        self.section, self.text = help_text(screen_name)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(self.text)
