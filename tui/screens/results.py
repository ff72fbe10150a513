"""Results: a chart of B's win rate with its 95% interval per model pair and suite; the Bradley–Terry
ranking of every model judged against the base on a suite (a forest plot: score and 95% interval per
model, brie.judging.rank.suite_ranking, as `brie rank` fits it) when there is one; then the table of
win rates per suite, category and judge; the preference from verdict probabilities where a judge
stored them; position bias, swap consistency and parse failures; judge agreement; each judge
against the human; forgetting (every evaluated benchmark as a delta vs base, coloured by
significance); exports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Select, Static
from textual_plotext import PlotextPlot

from brie.store import Store
from brie.store.ui import eval_signature, evaluated_runs, judge_names, judgment_signature, suite_names
from brie.workspace import Workspace
from tui import format as fmt
from tui.messages import ActionFinished, ResultsRefreshed
from tui.screens.confirm import ConfirmScreen
from tui.screens.polling import PollingScreen

# The files under exports/ that `brie export judged|csv|dpo` write by default; the UI passes the path
# itself, so the file it asks about is the one written.
EXPORT_FILES = {"judged": "judged.jsonl", "csv": "results.csv", "dpo": "dpo.jsonl"}

# The win rate and its interval right after the pair, so they stay on screen at 80 columns; the
# rest scrolls sideways (left/right on the table).
RESULT_COLUMNS = [
    ("suite", "Suite"), ("category", "Category"), ("a", "A"), ("b", "B"), ("rate", "B win rate"), ("ci", "95% CI"),
    ("n", "n"), ("judge", "Judge"), ("a_wins", "A wins"), ("b_wins", "B wins"), ("ties", "Ties"),
    ("first", "First-shown wins"), ("swap", "Swap consistency"), ("parse", "Parse failures"),
    ("cost", "Cost"), ("warning", ""),
]
JUDGE_WIDTH = 36

# Shown after the ties only when some judge stored verdict probabilities (a local: judge, logprobs).
PREFERENCE_COLUMNS = [("pref", "B preference"), ("pref_ci", "95% CI (bootstrap)"), ("first_pref", "First-shown pref")]


AGREEMENT_COLUMNS = ("Judgments", "Agreement", "Cohen's kappa", "Pairs", "Agreement (pairs)", "kappa (pairs)")


def agreement_cells(a: dict) -> list:
    """The agreement numbers of two judges: over judgments, then over merged pairs (— when none)."""
    def kappa(v) -> str:
        return "—" if v is None else f"{v:.2f}"

    return [a["n"], f"{fmt.pct(a['agreement'])} ({a['agreed']} of {a['n']})", kappa(a["kappa"]), a["pairs_n"],
            fmt.pct(a["pairs_agreement"]) if a["pairs_n"] else "—", kappa(a["pairs_kappa"])]


def position_text(warnings: list[str]) -> str:
    return "\n".join(f"! Position bias: {w}" for w in warnings)


@dataclass
class Filters:
    suite: str | None = None
    judge: str | None = None


def result_columns(rows: list[dict]) -> list[tuple[str, str]]:
    """The results table's columns: the preference ones only when some row has a preference."""
    if not any(r.get("pref_b") is not None for r in rows):
        return RESULT_COLUMNS
    i = [k for k, _ in RESULT_COLUMNS].index("ties") + 1
    return RESULT_COLUMNS[:i] + PREFERENCE_COLUMNS + RESULT_COLUMNS[i:]


def shown_results(rows: list[dict]) -> list[dict]:
    """The rows worth a line: a group no judgment decided (n = 0) says nothing."""
    return [r for r in rows if r["n"]]


def chart_rows(rows: list[dict]) -> list[dict]:
    """One bar per model pair and suite (and judge, when several): the rows over all categories."""
    return [r for r in shown_results(rows) if r["category"] == "(all)" and r["b_win_rate"] is not None]


def chart_label(r: dict, judges: int) -> str:
    label = f"{r['b']} vs {r['a']} · {r['suite']}"
    label += f" · {fmt.judge(r['judge'], 24)}" if judges > 1 else ""
    return f"{label}  {fmt.pct(r['b_win_rate'])}"  # the number itself, beside its bar


def rank_rows(rankings: list[dict]) -> list[dict]:
    """One row per model of every ranking, best first within its suite, labelled for the forest plot."""
    out = []
    for r in rankings:
        for m in r["models"]:
            label = m["label"] + (f" · {r['suite']}" if len(rankings) > 1 else "")
            out.append({**m, "text": f"{label}  {m['score']:.0f}" + (" (base)" if m["anchor"] else "")})
    return out


def rank_note(rankings: list[dict], note: str) -> str:
    """Under the forest plot: what it was fitted on, and which neighbours are told apart."""
    lines = []
    for r in rankings:
        apart = [f"{s['higher']} > {s['lower']}" for s in r.get("separable") or [] if s["separable"]]
        lines.append(f"{r['suite']}: {r['outcomes']} judgments on {r['prompts']} prompts by {fmt.judge(r['judge'], 40)}; "
                     "base = 1000; ✓ clears the base" + (f"; separable: {', '.join(apart)}" if apart else ""))
    return "\n".join(lines + ([note] if note else []))


def long_judge_note(rows: list[dict]) -> str:
    """The full names of the judges the table shows shortened."""
    full = sorted({r["judge"] for r in rows if fmt.judge(r["judge"], JUDGE_WIDTH) != r["judge"]})
    return "\n".join(f"{fmt.judge(j, JUDGE_WIDTH)} = {j}" for j in full)


def forgetting_cells(d: dict, root) -> list:
    """One benchmark's change vs base: the delta and its interval coloured by significance, and the
    benchmark's file relative to the workspace."""
    from rich.text import Text

    style = fmt.significance_style(d["significant"], d["drop"])
    verdict = "significant drop" if d["drop"] else ("significant gain" if d["significant"] else "within noise")
    return [fmt.benchmark(d["benchmark"], root), d["metric"], d["label"], d["n"], f"{d['base']:.3f}",
            f"{d['value']:.3f}", Text(f"{d['delta']:+.3f}", style=style),
            Text(fmt.signed_interval(d["ci_low"], d["ci_high"]), style=style),
            "—" if d["p_value"] is None else f"{d['p_value']:.3g}", Text(verdict, style=style)]


def preference_cells(r: dict) -> list:
    return [fmt.pct(r.get("pref_b")),
            "—" if r.get("pref_b_low") is None else f"{fmt.pct(r['pref_b_low'])}–{fmt.pct(r['pref_b_high'])}",
            "—" if r.get("position_bias") is None else fmt.pct(0.5 + r["position_bias"])]


def result_cells(r: dict, weighted: bool = False) -> list:
    return [
        r["suite"], r["category"], r["a"], r["b"], fmt.pct(r["b_win_rate"]),
        "—" if r["ci_low"] is None else f"{fmt.pct(r['ci_low'])}–{fmt.pct(r['ci_high'])}",
        r["n"], fmt.judge(r["judge"], JUDGE_WIDTH), r["a_wins"], r["b_wins"], r["ties"],
        *(preference_cells(r) if weighted else []),
        fmt.pct(r["first_shown_win_rate"]) + (f" (n={r['first_shown_n']})" if r["first_shown_n"] else ""),
        fmt.pct(r["swap_consistency"]), fmt.pct(r["parse_failure_rate"]), f"${r['cost_usd']:.4f}",
        r["warning"] or "",
    ]


class ResultsScreen(PollingScreen):
    CSS_PATH = "results.tcss"
    POLL_EVERY = 10.0  # statistics over every judgment: cheap enough, but no need every second
    BINDINGS = [
        # Short, so `? Help` and `q Quit` stay in an 80-column footer; help (and the tooltips) say more.
        Binding("j", "export('judged')", "JSONL", tooltip="Export judged JSONL to exports/judged.jsonl"),
        Binding("x", "export('csv')", "CSV", tooltip="Export the results table to exports/results.csv"),
        Binding("p", "export('dpo')", "DPO", tooltip="Export DPO pairs to exports/dpo.jsonl"),
        Binding("f5", "refresh_results", "Refresh", show=False),
    ]

    def __init__(self):
        super().__init__()
        self.filters = Filters()
        self.data: dict | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="filters"):
            yield Static("Suite", classes="hint")
            yield Select([], id="suite-filter", prompt="every suite", compact=True)
            yield Static("Judge", classes="hint")
            yield Select([], id="judge-filter", prompt="every judge", compact=True)
        with VerticalScroll(id="results-body"):
            yield Static("Reading results…", id="results-summary")
            yield PlotextPlot(id="win-chart")  # B's win rate per pair and suite, with its 95% interval
            yield PlotextPlot(id="rank-chart")  # Bradley–Terry score per model, with its 95% interval
            yield Static("", id="rank-note", classes="hint", markup=False)
            yield Static("Win rates (B's, ties as half) · left/right scrolls the table", classes="title")
            table = DataTable(id="results", cursor_type="row", zebra_stripes=True)
            for key, label in RESULT_COLUMNS:
                table.add_column(label, key=key)
            yield table
            yield Static("", id="judge-names", classes="hint", markup=False)
            yield Static("", id="position-bias", classes="hint", markup=False)
            yield Static("Judge agreement, judgment by judgment (same comparison, same shown order); "
                         "pairs: both orders judged by both (--swap), merged", classes="title")
            agreement = DataTable(id="agreement", cursor_type="row")
            agreement.add_columns("Judge", "Judge", *AGREEMENT_COLUMNS)
            yield agreement
            yield Static("Agreement needs two judges on the same comparisons (a blind session counts as one).",
                         id="agreement-empty", classes="hint")
            # Hidden until some judge shares comparisons with a human (on_results_refreshed).
            title = Static("Each judge against the human (the human's verdicts are the reference)",
                           id="vs-human-title", classes="title")
            vs_human = DataTable(id="vs-human", cursor_type="row")
            vs_human.add_columns("Judge", "Human", "Judgments", "Agreement", "Cohen's kappa", "P(human's verdict)")
            title.display = vs_human.display = False
            yield title
            yield vs_human
            yield Static("Forgetting: each run's best (else last) evaluated checkpoint vs its base; "
                         "green: significant gain, red: significant drop, dim: within noise", classes="title")
            forgetting = DataTable(id="forgetting", cursor_type="row", zebra_stripes=True)
            forgetting.add_columns("Benchmark", "Metric", "Model", "n", "Base", "Model value", "Δ", "95% CI of Δ",
                                   "p", "")
            yield forgetting
            yield Static("No evaluations yet: `brie eval --models base,<run>@<step> --benchmarks …`.",
                         id="forgetting-empty", classes="hint", markup=False)
        yield Footer()

    def read(self, store: Store) -> ResultsRefreshed:
        from brie.judging.stats import results

        ws = Workspace.with_store(self.app.workspace.root, store)
        data = results(ws, self.filters.suite, self.filters.judge)
        data["suites"], data["judges"] = suite_names(store), judge_names(store)
        data["forgetting"] = self._forgetting(ws)
        data["rankings"], data["rank_note"] = self._rankings(ws, data["suites"])
        return ResultsRefreshed(data)

    def _forgetting(self, ws: Workspace) -> list[dict]:
        """Deltas vs base for each evaluated run; bootstraps are not free, so only when evals changed."""
        signature = eval_signature(ws.store)
        cached = getattr(self, "_forgetting_cache", None)
        if cached is not None and cached[0] == signature:
            return cached[1]
        from brie.evals.forgetting import forgetting_table

        from brie.errors import BrieError

        rows: list[dict] = []
        for run in evaluated_runs(ws.store):
            try:
                rows += [d.to_dict() for d in forgetting_table(ws, run)]
            except BrieError as e:  # one run's results that cannot be paired must not hide the rest
                rows.append({"error": f"{run}: {e}"})
        self._forgetting_cache = (signature, rows)
        return rows

    def _rankings(self, ws: Workspace, suites: list[str]) -> tuple[list[dict], str]:
        """The ranking of each suite shown (the chosen one, else every one) by the chosen judge (else its
        only one); fitted again only when a judgment or comparison was added or the filters changed.
        Why there is none is said only for a chosen suite (with every suite, most have no ranking)."""
        from brie.errors import BrieError
        from brie.judging.rank import suite_ranking

        key = (judgment_signature(ws.store), self.filters.suite, self.filters.judge)
        cached = getattr(self, "_rank_cache", None)
        if cached is not None and cached[0] == key:
            return cached[1]
        rankings, note = [], ""
        for suite in [self.filters.suite] if self.filters.suite else suites:
            try:
                rankings.append(suite_ranking(ws, suite, self.filters.judge))
            except BrieError as e:
                if self.filters.suite:
                    note = f"No ranking: {e}."
        self._rank_cache = (key, (rankings, note))
        return rankings, note

    def on_results_refreshed(self, message: ResultsRefreshed) -> None:
        message.stop()
        data = message.tables
        summary = self.query_one("#results-summary", Static)
        if data == self.data:
            return
        if bool((self.data or {}).get("judgments")) != bool(data["judgments"]):
            self.call_after_refresh(self.refresh_bindings)  # the export keys: dimmed or not
        self.data = data
        self._set_options("#suite-filter", data["suites"])
        self._set_options("#judge-filter", data["judges"])
        parse = data["parse_failure_rate"]
        summary.update(
            f"{data['judgments']} judgments · parse failures {fmt.pct(parse)} · total cost ${data['total_cost_usd']:.4f}"
            if data["judgments"] else "No judgments yet: press [b]c[/b] to compare two models with a judge, or "
            "[b]b[/b] to judge comparisons yourself in a blind session.")
        rows = shown_results(data["results"])
        self._draw_chart(chart_rows(data["results"]))
        self._draw_ranking(data.get("rankings") or [])
        ranked = self.query_one("#rank-note", Static)
        ranked.update(rank_note(data.get("rankings") or [], data.get("rank_note") or ""))
        ranked.display = bool(data.get("rankings") or data.get("rank_note"))
        note, names = self.query_one("#judge-names", Static), long_judge_note(rows)
        note.update(names)
        note.display = bool(names)
        table = self.query_one("#results", DataTable)
        columns = result_columns(rows)
        if [str(c.key.value) for c in table.ordered_columns] != [k for k, _ in columns]:
            table.clear(columns=True)
            for key, label in columns:
                table.add_column(label, key=key)
        table.clear()
        for r in rows:
            table.add_row(*result_cells(r, weighted=columns is not RESULT_COLUMNS))
        table.display = bool(rows)
        agreement = self.query_one("#agreement", DataTable)
        agreement.clear()
        for a in data["agreement"]:
            agreement.add_row(a["judge_1"], a["judge_2"], *agreement_cells(a))
        vs_human = self.query_one("#vs-human", DataTable)
        vs_human.clear()
        for h in data.get("vs_human") or []:
            vs_human.add_row(h["judge"], h["human"], h["n"], f"{fmt.pct(h['agreement'])} ({h['agreed']} of {h['n']})",
                             "—" if h["kappa"] is None else f"{h['kappa']:.2f}",
                             "—" if h["p_human"] is None else f"{fmt.pct(h['p_human'])} ({h['p_n']})")
        vs_human.display = self.query_one("#vs-human-title").display = bool(vs_human.row_count)
        bias = self.query_one("#position-bias", Static)
        bias.update(position_text(data["position_warnings"]))
        bias.display = bool(data["position_warnings"])
        forgetting = self.query_one("#forgetting", DataTable)
        forgetting.clear()
        problems = []
        for d in data.get("forgetting") or []:
            if "error" in d:
                problems.append(d["error"])
            else:
                forgetting.add_row(*forgetting_cells(d, self.app.workspace.root))
        hint = self.query_one("#forgetting-empty", Static)
        if problems:
            hint.update("\n".join(f"! {p}" for p in problems))
        hint.display = bool(problems) or not forgetting.row_count
        self.query_one("#agreement-empty").display = not agreement.row_count

    def _draw_chart(self, rows: list[dict]) -> None:
        """A bar of B's win rate (ties as half) per pair and suite, its 95% interval (│───│) on the
        line under it, and a line at 50%: who won, and whether it is more than noise, before any
        table. Two text rows per bar, drawn as lines at whole y values so each lands on its own row."""
        widget = self.query_one("#win-chart", PlotextPlot)
        widget.display = bool(rows)
        if not rows:
            return
        n = len(rows)
        widget.styles.height = 2 * n + 4  # title, frame and x labels take 4 rows
        judges = len({r["judge"] for r in rows})
        plt = widget.plt
        plt.clear_data()
        plt.title("B's win rate, 95% interval")  # short: plotext drops a title wider than the plot
        ys = [2 * (n - i) for i in range(n)]
        for y, r in zip(ys, rows):
            rate = 100 * r["b_win_rate"]
            plt.plot([0, rate], [y, y], color="cyan", marker="━")  # a box-drawing bar: as wide as a cell in every font
            if r["ci_low"] is not None:
                lo, hi = 100 * r["ci_low"], 100 * r["ci_high"]
                plt.plot([lo, hi], [y - 1, y - 1], color="white", marker="─")
                plt.scatter([lo, hi], [y - 1, y - 1], color="white", marker="│")
        plt.vline(50, "gray")
        plt.yticks(ys, [chart_label(r, judges) for r in rows])
        plt.ylim(0.5, 2 * n + 0.5)
        plt.xlim(0, 100)
        plt.xticks([0, 25, 50, 75, 100], ["0%", "25%", "50%", "75%", "100%"])
        widget.refresh()

    def _draw_ranking(self, rankings: list[dict]) -> None:
        """A forest plot: each model's Bradley–Terry score (●) on its 95% interval (───), best first,
        and a line at the base's 1000. An interval far wider than the spread of the scores is cut at
        the frame (◀ ▶ mark a cut end), so one model judged on few prompts does not squash the rest."""
        widget = self.query_one("#rank-chart", PlotextPlot)
        rows = rank_rows(rankings)
        widget.display = bool(rows)
        if not rows:
            return
        n = len(rows)
        widget.styles.height = n + 5
        scores = [r["score"] for r in rows]
        pad = max(100.0, max(scores) - min(scores))
        lo_x, hi_x = min(scores) - pad, max(scores) + pad
        plt = widget.plt
        plt.clear_data()
        plt.title("Ranking: Bradley–Terry score, 95% interval")
        ys = [n - i for i in range(n)]
        for y, r in zip(ys, rows):
            lo, hi = max(r["ci_low"], lo_x), min(r["ci_high"], hi_x)
            colour = "green" if r["clears_anchor"] else ("gray" if r["anchor"] else "cyan")
            if hi > lo:
                plt.plot([lo, hi], [y, y], color=colour, marker="─")
                if r["ci_low"] < lo_x:
                    plt.scatter([lo], [y], color=colour, marker="◀")
                if r["ci_high"] > hi_x:
                    plt.scatter([hi], [y], color=colour, marker="▶")
            plt.scatter([r["score"]], [y], color=colour, marker="●")
        plt.vline(1000, "gray")
        plt.yticks(ys, [("✓ " if r["clears_anchor"] else "  ") + r["text"] for r in rows])
        plt.ylim(0.5, n + 0.5)
        plt.xlim(lo_x, hi_x)
        widget.refresh()

    def _set_options(self, selector: str, names: list[str]) -> None:
        select = self.query_one(selector, Select)
        current = select.value
        if [v for _, v in select._options if v is not Select.NULL] == names:
            return
        with select.prevent(Select.Changed):
            select.set_options([(n, n) for n in names])
            if current in names:
                select.value = current

    def on_select_changed(self, event: Select.Changed) -> None:
        value = None if event.value is Select.NULL else event.value
        if event.select.id == "suite-filter":
            self.filters.suite = value
        else:
            self.filters.judge = value
        self.data = None
        self.refresh_now()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "export":  # dimmed (None) while there is no judgment to export
            return bool(self.data and self.data.get("judgments")) or None
        return True

    def action_refresh_results(self) -> None:
        self.refresh_now()

    def action_export(self, kind: str) -> None:
        """Write exports/<file>; one that exists is overwritten only when the user says so (the
        CLI refuses without --force), so an export made with other filters is not lost by a key press."""
        path = (self.app.workspace.exports_dir / EXPORT_FILES[kind]).resolve()
        filters = (self.filters.suite, self.filters.judge)
        if not path.exists():
            self._export(kind, path, filters, force=False)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self._export(kind, path, filters, force=True)
            else:
                self.notify(f"Kept {path}; nothing exported.")

        self.app.push_screen(ConfirmScreen(f"Overwrite {path.name}?", f"{path} already exists.",
                                           yes="Overwrite"), answered)

    @work(thread=True, group="export")
    def _export(self, kind: str, path: Path, filters: tuple[str | None, str | None], force: bool) -> None:
        from brie.export import judged as export

        fn = {"judged": export.export_judged, "csv": export.export_csv, "dpo": export.export_dpo}[kind]
        ws = Workspace(self.app.workspace.root)
        try:
            written, n = fn(ws, path, *filters, force=force)
            self.post_message(ActionFinished(f"Wrote {n} records to {Path(written).resolve()}."))
        except Exception as e:
            self.post_message(ActionFinished(f"export {kind}: {e}", error=True))
        finally:
            ws.close()
