"""One run: its resolved config, checkpoints, loss curves, and beside them one chart at a time (`s`
for the next): a preference run's reward margin and preference accuracy, the judged Bradley–Terry
score of its checkpoints against step, and each eval metric by step; on what evidence a checkpoint
was recommended; and what can be done with it."""

from __future__ import annotations

import json
import os
import signal

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Footer, Header, Static
from textual_plotext import PlotextPlot

from brie.words import plural
from brie.store import Store
from brie.store import runs as run_rows
from brie.store.ui import eval_signature, judgment_signature, metric_series
from brie.workspace import Workspace
from tui import format as fmt
from tui.launch import launch_training, shown_command
from tui.work import Job, JobStopped, run_brie, start_job, status_line
from tui.messages import ActionFinished, RunDetailRefreshed, RunLaunched
from tui.screens.confirm import ConfirmScreen
from tui.reading import reading
from tui.commands import quiet_navigation
from tui.screens.polling import PollingScreen

CHECKPOINT_COLUMNS = [
    ("mark", ""),
    ("step", "Step"),
    ("epoch", "Epoch"),
    ("train_loss", "Train loss"),
    ("val_loss", "Val loss"),
    ("size", "Size"),
    ("sha", "sha256"),
]


KEEP = "best,last,recommended"
RESUMABLE = ("failed", "cancelled")
LOSS_CURVES = ("train_loss", "val_loss", "guard_loss")
LATEST = [
    ("train_loss", "train loss", lambda v: f"{v:.4f}"),
    ("val_loss", "val loss", lambda v: f"{v:.4f}"),
    ("tokens_per_second", "tokens/s", lambda v: f"{v:.0f}"),
    ("learning_rate", "lr", lambda v: f"{v:.2e}"),
    ("peak_memory_gb", "peak memory", lambda v: f"{v:.2f} GB"),
    ("guard_rise", "forgetting guard", lambda v: f"{100 * v:+.1f}%"),
    # preference runs (--method dpo|orpo) only
    ("reward_margin", "reward margin", lambda v: f"{v:.3f}"),
    ("reward_chosen", "chosen reward", lambda v: f"{v:.3f}"),
    ("reward_rejected", "rejected reward", lambda v: f"{v:.3f}"),
    ("val_preference_accuracy", "val preference accuracy", lambda v: f"{v:.2f}"),
]


def lora_scale(config: dict) -> str:
    """alpha/rank: the number that actually scales the update (and the one people get wrong)."""
    if config.get("fine_tune_type") == "full":
        return ""
    for params in (config, config.get("lora_parameters") or {}):  # brie's config, or an mlx-lm one
        rank, alpha = params.get("rank"), params.get("alpha")
        if rank and alpha is not None:
            return f"rank {rank}, alpha {alpha:g} → LoRA scale {alpha / rank:g}"
        if rank and params.get("scale") is not None:
            return f"rank {rank}, LoRA scale {params['scale']:g}"
    return ""


# A preference run's (--method dpo|orpo) own charts, beside the loss: train and val_ of each
# (brie.training.preference names them).
PREFERENCE_CHARTS = ("reward_margin", "preference_accuracy")


def is_preference(run: dict | None) -> bool:
    return ((run or {}).get("method") or "").split(" ")[0] in ("dpo", "orpo")


def recommended_text(run: dict) -> str:
    """On what evidence the recommended checkpoint was chosen (runs.recommended_by, migration 034)."""
    from brie.judging.rank import recommended_why

    if run.get("recommended_step") is None:
        return ""
    return f"✓ step {run['recommended_step']}: {recommended_why(run)}"


def few_points_text(title: str, series: dict[str, list[tuple[int, float]]]) -> str:
    """One line per series for a chart with fewer than two steps: "val_loss 1.2345 at step 50"."""
    lines = [f"{name} {value:.4g} at step {step}" for name, points in series.items() for step, value in points]
    return f"{title}: " + "; ".join(lines) if lines else ""


class RunDetailScreen(PollingScreen):
    CSS_PATH = "run_detail.tcss"
    BINDINGS = [
        # Short descriptions, and only the actions this run allows (check_action), so the footer fits
        # in 80 columns; `?` has the long ones.
        Binding("escape", "app.pop_screen", "Back"),
        Binding("m", "recommend", "Mark", tooltip="Mark the selected checkpoint recommended"),
        Binding("u", "resume", "Resume"),
        Binding("x", "cancel_run", "Cancel"),
        Binding("p", "prune", "Prune"),
        Binding("e", "export", "Export", tooltip="Export the selected checkpoint"),
        Binding("s", "next_sweep_chart", "Next chart",
                tooltip="Next chart: reward margin, preference accuracy, judged score, eval metric"),
        *quiet_navigation(),
    ]

    def __init__(self, run_name: str):
        super().__init__()
        self.run_name = run_name
        self.run: dict | None = None
        self.checkpoints: list[dict] = []
        self._shown_series: dict | None = None
        self._shown_config: str | None = None
        self._sweep_read: tuple | None = None  # (eval_signature, sweep) as last read, in the worker
        self._judged_read: tuple | None = None  # (judgment_signature, rankings) as last read
        self.sweep: dict = {}
        self.judged: list[dict] = []
        self.preference: dict[str, list[tuple[int, float]]] = {}
        # The charts beside the loss, one at a time: ("pref", metric), ("judged", suite), ("eval", benchmark, metric).
        self.sweep_charts: list[tuple] = []
        self.sweep_index = 0
        self.export_job: Job | None = None  # `e`: a model export, followed on screen and stopped by quitting

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(self.run_name, id="summary", classes="title")
        yield Static("", id="latest", classes="hint")
        yield Static("", id="job-status", classes="hint", markup=False)  # a model export while it runs
        with Horizontal(id="top"):
            table = DataTable(id="checkpoints", cursor_type="row", zebra_stripes=True)
            for key, label in CHECKPOINT_COLUMNS:
                table.add_column(label, key=key)
            yield table
            with VerticalScroll(id="config-box"):
                yield Static("", id="config", markup=False)
        with Horizontal(id="charts"):
            yield PlotextPlot(id="loss")
            # Below two points a chart says nothing (plotext stretches one step into 19.95…20.05):
            # the value is told in a line instead.
            yield Static("No loss logged yet.", id="loss-text", classes="chart-text")
            yield PlotextPlot(id="sweep")  # shown once the run has eval results (`brie eval --sweep`)
            yield Static("", id="sweep-text", classes="chart-text")
        yield Footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#job-status").display = False
        self.set_interval(0.25, self._show_job)  # the spinner and the clock of an export move

    def read(self, store: Store) -> RunDetailRefreshed:
        run = run_rows.get_run(store, self.run_name)
        if run is None:
            return RunDetailRefreshed(None, [], {})
        checkpoints = run_rows.list_checkpoints(store, run["id"])
        series = metric_series(store, run["id"])
        return RunDetailRefreshed(run, checkpoints, series, self._read_sweep(store), self._read_judged(store))

    def _read_judged(self, store: Store) -> list[dict]:
        """The judged ranking of this run's checkpoints on each suite they were compared on against
        the base (by the judge its recommendation used, else the only one); fitted again only when a
        judgment was added."""
        signature = judgment_signature(store)
        if self._judged_read is not None and self._judged_read[0] == signature:
            return self._judged_read[1]
        from brie.errors import BrieError
        from brie.judging.rank import judged_ranking
        from brie.store.judging import comparison_labels

        run = run_rows.get_run(store, self.run_name) or {}
        evidence = json.loads(run.get("recommended_evidence") or "{}") if run.get("recommended_by") == "judged" else {}
        ws = Workspace.with_store(self.app.workspace.root, store)
        rankings = []
        for suite in dict.fromkeys(c["suite"] for c in comparison_labels(store, run=self.run_name)):
            try:
                rankings.append(judged_ranking(ws, self.run_name, suite,
                                               evidence.get("judge") if evidence.get("suite") == suite else None))
            except BrieError:  # not against the base, or several judges: no ranking on this suite
                continue
        self._judged_read = (signature, rankings)
        return rankings

    def _read_sweep(self, store: Store) -> dict:
        """The run's eval metrics by step; sweep_series looks up a base result per row, so it is
        read again only when an evaluation was added or finished, not on every poll."""
        signature = eval_signature(store)
        if self._sweep_read is None or self._sweep_read[0] != signature:
            from brie.export.plots import sweep_series

            sweep = sweep_series(Workspace.with_store(self.app.workspace.root, store), self.run_name)
            self._sweep_read = (signature, sweep)
        return self._sweep_read[1]

    def on_run_detail_refreshed(self, message: RunDetailRefreshed) -> None:
        message.stop()
        before = ((self.run or {}).get("status"), bool(self.checkpoints))
        self.run, self.checkpoints = message.run, message.checkpoints
        if ((message.run or {}).get("status"), bool(message.checkpoints)) != before:
            self.refresh_bindings()  # the footer offers what the run allows now
        if message.run is None:
            # Also what a run just launched from the form shows until `brie train` has written it.
            self.query_one("#summary", Static).update(
                f"{self.run_name}: not in the store (yet). A run just launched appears here once `brie train` "
                "has checked its data and model; a notice says so if it fails.")
            return
        self._show_job()
        self._show_summary(message.run)
        self._show_config(message.run)
        self._show_checkpoints(message.run, message.checkpoints)
        self._show_latest(message.series, message.run)
        losses = {k: v for k, v in message.series.items() if k in LOSS_CURVES}
        if losses != self._shown_series:
            self._show_losses(losses)
        preference = {k: v for k, v in message.series.items()
                      if k.removeprefix("val_") in PREFERENCE_CHARTS} if is_preference(message.run) else {}
        if (message.sweep, message.judged, preference) != (self.sweep, self.judged, self.preference):
            self._show_sweep(message.sweep, message.judged, preference)

    def _show_summary(self, run: dict) -> None:
        config = json.loads(run.get("config_json") or "{}")
        parts = [f"[b]{run['name']}[/b]", f"[{fmt.STATUS_STYLE.get(run['status'], '')}]{run['status']}[/]",
                 f"step {fmt.progress(run.get('step'), run.get('total_steps'))}", run.get("model") or "",
                 f"{run.get('backend') or '?'}/{run.get('method') or '?'}"]
        scale = lora_scale(config)
        if scale:
            parts.append(scale)
        if run.get("dry_run"):
            parts.append("[yellow]dry run[/]")
        if run.get("error"):
            parts.append(f"[red]{run['error']}[/]")
        self.query_one("#summary", Static).update("  ·  ".join(p for p in parts if p))

    def _show_latest(self, series: dict[str, list[tuple[int, float]]], run: dict) -> None:
        """The newest value of each metric: what a live run is doing right now; then on what evidence
        a checkpoint was recommended."""
        parts = []
        for name, label, show in LATEST:
            if series.get(name):
                step, value = series[name][-1]
                parts.append(f"{label} [b]{show(value)}[/b]")
        if recommended_text(run):
            parts.append(recommended_text(run))
        self.query_one("#latest", Static).update("  ·  ".join(parts))

    def _show_config(self, run: dict) -> None:
        if run.get("config_json") == self._shown_config:
            return
        self._shown_config = run.get("config_json")
        import yaml

        config = json.loads(run.get("config_json") or "{}")
        text = yaml.safe_dump(config, sort_keys=True, default_flow_style=False) if config else "(no config recorded)"
        self.query_one("#config", Static).update(text)

    def _show_checkpoints(self, run: dict, checkpoints: list[dict]) -> None:
        table = self.query_one("#checkpoints", DataTable)
        existing = {key.value for key in table.rows}
        for ckpt in checkpoints:
            key = str(ckpt["step"])
            marks = ("★" if ckpt["step"] == run.get("best_step") else " ") + (
                "✓" if ckpt["step"] == run.get("recommended_step") else " ")
            cells = {
                "mark": marks,
                "step": ckpt["step"],
                "epoch": "—" if ckpt.get("epoch") is None else f"{ckpt['epoch']:.2f}",
                "train_loss": fmt.loss(ckpt.get("train_loss")),
                "val_loss": fmt.loss(ckpt.get("val_loss")),
                "size": fmt.size(ckpt.get("size_bytes")),
                "sha": (ckpt.get("adapter_sha256") or "")[:12],
            }
            if key in existing:
                for col, value in cells.items():
                    if table.get_cell(key, col) != value:
                        table.update_cell(key, col, value, update_width=True)
            else:
                table.add_row(*(cells[k] for k, _ in CHECKPOINT_COLUMNS), key=key)
        for gone in existing - {str(c["step"]) for c in checkpoints}:
            table.remove_row(gone)

    def _show_losses(self, series: dict[str, list[tuple[int, float]]]) -> None:
        self._shown_series = series
        widget = self.query_one("#loss", PlotextPlot)
        text = self.query_one("#loss-text", Static)
        steps_seen = {s for points in series.values() for s, _ in points}
        widget.display = len(steps_seen) >= 2
        text.display = not widget.display
        if not widget.display:
            text.update(few_points_text("loss", {name: points for name, points in sorted(series.items())})
                        or "No loss logged yet.")
            return
        plt = widget.plt
        plt.clear_data()
        plt.title("loss")
        plt.xlabel("step")
        for name in sorted(series):
            steps, values = zip(*series[name]) if series[name] else ((), ())
            if len(steps) == 1:  # one value (a first validation loss): a marker, not a line
                plt.scatter(list(steps), list(values), label=name, marker="●")
            else:
                plt.plot(list(steps), list(values), label=name, marker="braille")
        widget.refresh()

    def _show_sweep(self, sweep: dict, judged: list[dict] | None = None, preference: dict | None = None) -> None:
        self.sweep, self.judged, self.preference = sweep, judged or [], preference or {}
        charts = [("pref", name) for name in PREFERENCE_CHARTS
                  if self.preference.get(name) or self.preference.get(f"val_{name}")]
        charts += [("judged", r["suite"]) for r in self.judged]
        charts += [("eval", bench, metric) for bench in sorted(sweep) for metric in sweep[bench]["metrics"]]
        shown = self.sweep_charts[self.sweep_index] if self.sweep_charts else None
        self.sweep_charts = charts  # a new result keeps the chart on screen where it still exists
        self.sweep_index = charts.index(shown) if shown in charts else 0
        self.query_one("#sweep").display = bool(charts)
        self.query_one("#sweep-text").display = False
        self.refresh_bindings()  # `s` is offered only when there is more than one chart
        if charts:
            self._draw_sweep()

    def _chart_title(self, title: str) -> str:
        n = len(self.sweep_charts)
        return title + (f"  ({self.sweep_index + 1}/{n}, s: next)" if n > 1 else "")

    def _show_few(self, few: bool) -> Static:
        """Below two points a chart says nothing: the line of text shows instead of the plot."""
        self.query_one("#sweep", PlotextPlot).display = not few
        text = self.query_one("#sweep-text", Static)
        text.display = few
        return text

    def _draw_sweep(self) -> None:
        chart = self.sweep_charts[self.sweep_index]
        if chart[0] == "pref":
            self._draw_preference(chart[1])
        elif chart[0] == "judged":
            self._draw_judged(chart[1])
        else:
            self._draw_eval(chart[1], chart[2])

    def _step_chart(self, title: str):
        """The chart slot beside the loss, shown and cleared for `title` against step: (widget, plt)."""
        self._show_few(False)
        widget = self.query_one("#sweep", PlotextPlot)
        widget.plt.clear_data()
        widget.plt.title(title)
        widget.plt.xlabel("step")
        return widget, widget.plt

    def _draw_preference(self, name: str) -> None:
        """A preference run's reward margin or preference accuracy against step, train and val_."""
        series = {k: self.preference[k] for k in (name, f"val_{name}") if self.preference.get(k)}
        title = self._chart_title(name.replace("_", " "))
        steps_seen = {s for points in series.values() for s, _ in points}
        if len(steps_seen) < 2:
            self._show_few(True).update(few_points_text(title, series))
            return
        widget, plt = self._step_chart(title)
        for key, colour in ((name, "cyan"), (f"val_{name}", "orange")):
            if key not in series:
                continue
            steps, values = zip(*series[key])
            if len(steps) == 1:
                plt.scatter(list(steps), list(values), label=key, marker="●", color=colour)
            else:
                plt.plot(list(steps), list(values), label=key, marker="braille", color=colour)
        if name == "preference_accuracy":
            plt.ylim(0, 1.05)  # a rate: chance (0.5) and perfect (1) in sight
        widget.refresh()

    def _draw_judged(self, suite: str) -> None:
        """Each checkpoint's judged Bradley–Terry score (its 95% interval as a vertical bar) against
        step, the base's 1000 as a flat line; the rank of each is said in the title's line of text
        when there are fewer than two checkpoints."""
        ranking = next(r for r in self.judged if r["suite"] == suite)
        points = sorted((int(m["label"].rsplit("@", 1)[1]), m) for m in ranking["models"] if not m["anchor"])
        title = self._chart_title(f"judged score on {suite}")
        if len(points) < 2:
            line = "; ".join(f"rank {m['rank']} of {len(ranking['models'])}, score {m['score']:.0f} "
                             f"({m['ci_low']:.0f}–{m['ci_high']:.0f}) at step {step}" for step, m in points)
            self._show_few(True).update(f"{title}: {line}\nbase model: 1000 ({fmt.judge(ranking['judge'], 30)})")
            return
        widget, plt = self._step_chart(title)
        steps, scores = [s for s, _ in points], [m["score"] for _, m in points]
        pad = max(100.0, max(scores) - min(scores))  # an interval far wider than the scores' spread is cut
        low, high = min(scores + [1000.0]) - pad, max(scores + [1000.0]) + pad
        plt.plot([steps[0], steps[-1]], [1000, 1000], label="base 1000", color="gray", marker="braille")
        for step, m in points:
            plt.plot([step, step], [max(m["ci_low"], low), min(m["ci_high"], high)], color="white", marker="│")
        plt.plot(steps, scores, label=self.run_name, marker="braille", color="cyan")
        plt.scatter(steps, scores, marker="●", color=["green" if m["clears_anchor"] else "cyan" for _, m in points])
        dx = (steps[-1] - steps[0]) or 1
        plt.xlim(steps[0] - 0.05 * dx, steps[-1] + 0.05 * dx)
        plt.ylim(low, high)
        widget.refresh()

    def _draw_eval(self, bench: str, metric: str) -> None:
        """One metric against checkpoint step, the base model's value as a flat reference line."""
        from brie.evals import display_name

        entry = self.sweep[bench]
        points = [(s, v) for s, v in zip(entry["steps"], entry["metrics"][metric]) if v is not None]
        title = self._chart_title(f"{display_name(bench)}: {metric}")
        if len(points) < 2:
            base = entry["base"].get(metric)
            line = few_points_text(title, {self.run_name: points}) or f"{title}: no value yet."
            if isinstance(base, (int, float)):
                line += f"\nbase model: {base:.4g}"
            self._show_few(True).update(line + "\n(one evaluated checkpoint; a chart needs two)")
            return
        widget, plt = self._step_chart(title)
        if points:
            steps, values = [s for s, _ in points], [v for _, v in points]
            base = entry["base"].get(metric)
            if isinstance(base, (int, float)):  # drawn first, so the run's points stay on top of it
                plt.plot([steps[0], steps[-1]], [base, base], label=f"base {base:.4g}", color="gray",
                         marker="braille")
            plt.plot(steps, values, label=self.run_name, marker="braille", color="cyan")
            plt.scatter(steps, values, marker="●", color="cyan")  # the checkpoints themselves: a sweep has few
            # Room around the points: a sweep's first and best checkpoints would sit on the frame, or
            # under the legend in the top left corner.
            ys = values + ([base] if isinstance(base, (int, float)) else [])
            dy = (max(ys) - min(ys)) or abs(ys[0]) or 1.0
            dx = (steps[-1] - steps[0]) or 1
            low = min(ys) - 0.1 * dy
            plt.ylim(0 if min(ys) >= 0 > low else low, max(ys) + 0.3 * dy)  # no negative axis for a rate
            plt.xlim(steps[0] - 0.05 * dx, steps[-1] + 0.05 * dx)
        widget.refresh()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        # False leaves the key out of the footer: only what this run allows is offered.
        status = (self.run or {}).get("status")
        if action == "next_sweep_chart":
            return len(self.sweep_charts) > 1
        if action == "resume":
            return status in RESUMABLE
        if action == "cancel_run":
            return status in ("running", "pending")
        if action in ("recommend", "export", "prune"):
            return bool(self.checkpoints)
        return True

    def action_next_sweep_chart(self) -> None:
        if self.sweep_charts:
            self.sweep_index = (self.sweep_index + 1) % len(self.sweep_charts)
            self._draw_sweep()

    # --- actions ---------------------------------------------------------------------------------

    def _selected_step(self) -> int | None:
        table = self.query_one("#checkpoints", DataTable)
        if table.row_count == 0:
            return None
        return int(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_recommend(self) -> None:
        step = self._selected_step()
        if step is None:
            self.notify("No checkpoint to mark yet.")
            return
        self._recommend(step)

    @work(thread=True, group="action")
    def _recommend(self, step: int) -> None:
        from brie.store.runs import set_recommended

        with reading(self.app.workspace.root) as store:
            set_recommended(store, self.run["id"], step)
        self.post_message(ActionFinished(f"Marked {self.run_name}@{step} recommended."))
        self.app.call_from_thread(self.refresh_now)

    def action_resume(self) -> None:
        # Said here rather than by a process that fails a moment later: only a failed or cancelled
        # run has steps left to resume (`brie train --resume` refuses the others).
        status = (self.run or {}).get("status")
        if status is None:
            self.notify(f"{self.run_name} is not read yet; try again in a moment.")
            return
        if status in ("running", "pending"):
            self.notify(f"{self.run_name} is already {status}.")
            return
        if status not in RESUMABLE:
            self.notify(f"{self.run_name} is {status}: nothing to resume (only a failed or cancelled run "
                        "can be resumed). Press n for a new run.", severity="warning")
            return
        args = ["--resume", self.run_name]
        launched = launch_training(self.app.workspace, self.run_name, args)
        self.app.follow(launched)
        self.post_message(RunLaunched(self.run_name, launched.process.pid, launched.command))

    def action_cancel_run(self) -> None:
        if not self.run or self.run["status"] not in ("running", "pending"):
            self.notify(f"{self.run_name} is not running.")
            return

        pid = self.run.get("pid")

        def answered(yes: bool | None) -> None:
            if yes:
                self._stop(pid)

        self.app.push_screen(ConfirmScreen(f"Cancel run {self.run_name}?",
                                           "Its checkpoints stay; it can be resumed later.", yes="Cancel run"), answered)

    def _stop(self, pid: int | None) -> None:
        """SIGTERM is how `brie train` is asked to stop: it marks the run cancelled and exits."""
        if not pid:
            self.notify(f"{self.run_name} has no process id recorded.", severity="error")
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            self.notify(f"Process {pid} of {self.run_name} is gone; the next `brie train` marks the run failed.",
                        severity="warning")
            return
        self.notify(f"Asked {self.run_name} (pid {pid}) to stop; it is marked cancelled when it has.")

    def action_prune(self) -> None:
        self._plan_prune()

    @work(thread=True, group="action")
    def _plan_prune(self) -> None:
        """What `brie runs prune --keep best,last,recommended` would delete, asked before it does."""
        from brie.errors import BrieError
        from brie.training.housekeeping import prune_plan

        ws = Workspace(self.app.workspace.root)
        try:
            run = run_rows.get_run(ws.store, self.run_name)
            doomed = prune_plan(ws, run, KEEP)
        except BrieError as e:
            self.post_message(ActionFinished(str(e), error=True))
            return
        finally:
            ws.close()
        self.app.call_from_thread(self._confirm_prune, doomed)

    def _confirm_prune(self, doomed: list[dict]) -> None:
        if not doomed:
            self.notify("Nothing to prune: only best, last, recommended and checkpoints that results "
                        "were made from are left.")
            return
        size = sum(c.get("size_bytes") or 0 for c in doomed)

        def answered(yes: bool | None) -> None:
            if yes:
                self._prune([c["step"] for c in doomed])

        self.app.push_screen(ConfirmScreen(
            f"Delete {plural(len(doomed), 'checkpoint')} of {self.run_name} ({fmt.size(size)})?",
            "Steps: " + ", ".join(str(c["step"]) for c in doomed)
            + "\nKept: best, last, recommended and checkpoints that generations, judgments or evaluations"
            " were made from.",
            yes="Delete"), answered)

    @work(thread=True, group="action")
    def _prune(self, steps: list[int]) -> None:
        from brie.training.housekeeping import prune, prune_plan

        ws = Workspace(self.app.workspace.root)
        try:
            run = run_rows.get_run(ws.store, self.run_name)
            # Planned again: a checkpoint marked recommended meanwhile must not go.
            doomed = [c for c in prune_plan(ws, run, KEEP) if c["step"] in steps]
            prune(ws, run, doomed)
        finally:
            ws.close()
        self.post_message(ActionFinished(f"Deleted {len(doomed)} checkpoints of {self.run_name}."))
        self.app.call_from_thread(self.refresh_now)

    def action_export(self) -> None:
        """`brie export model <run>@<step>` to exports/models/<run>-<step>/. Exports are never
        overwritten, so when that folder exists the UI offers the next free one (<run>-<step>-2/ …)."""
        step = self._selected_step()
        if step is None:
            self.notify("No checkpoint to export yet.")
            return
        spec = f"{self.run_name}@{step}"
        models = self.app.workspace.exports_dir.resolve() / "models"
        out = models / f"{self.run_name}-{step}"
        if not out.exists():
            self._export(spec, out)
            return
        n = 2
        while (models / f"{out.name}-{n}").exists():
            n += 1
        fresh = models / f"{out.name}-{n}"

        def answered(yes: bool | None) -> None:
            if yes:
                self._export(spec, fresh)
            else:
                self.notify(f"Not exported again; {spec} is in {out}.")

        self.app.push_screen(ConfirmScreen(
            f"{spec} was exported before. Export it again to {fresh.name}?",
            f"{out} already exists and is kept (exports are never overwritten).\nThe new export goes to {fresh}.",
            yes="Export again", danger=False), answered)

    def _export(self, spec: str, out) -> None:
        """`brie export model` as a job (tui/work.py): its status under the summary while it runs, and
        `q` asks before stopping it (the child process is ended; a partial folder is its own to clean)."""
        if self.export_job is not None and self.export_job.running:
            self.notify(f"An export is running ({self.export_job.detail}); wait for it to finish.")
            return
        args = ["export", "model", spec, "--out", str(out)]
        self.export_job = start_job("Exporting model", lambda job: self._run_export(job, args, spec, out),
                                    detail=f"{spec} to {out}")
        self.app.jobs.append(self.export_job)
        self._show_job()

    def _run_export(self, job: Job, args: list[str], spec: str, out) -> None:
        """Runs in the job's thread."""
        try:
            code, output = run_brie(job, self.app.workspace.root, args)
        except JobStopped:
            return
        except Exception as e:  # the child could not start: said, not raised in a thread nobody reads
            code, output = 1, str(e)
        if code == 0:
            message = ActionFinished(f"Exported {spec} to {out}.")
        else:
            last = output.splitlines()[-1] if output else f"exit code {code}"
            message = ActionFinished(f"{shown_command(args)}: {last}", error=True)
        try:
            self.post_message(message)
            self.app.call_from_thread(self.refresh_now)
        except RuntimeError:  # the app has closed its loop meanwhile: nobody to tell
            pass

    def _show_job(self) -> None:
        shown = self.query_one("#job-status", Static)
        running = self.export_job is not None and self.export_job.running
        shown.display = running
        if running:
            shown.update(status_line(self.export_job))
