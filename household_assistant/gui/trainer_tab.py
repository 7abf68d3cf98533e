"""The Trainer tab: the data set, retraining, results and adapter history.

Training runs as `household-assistant train --progress json` in a child
process (QProcess), so a crash or a cancel can never take the window with it:
Cancel sends SIGTERM, which the command turns into a clean stop that changes
nothing. Each JSON line it prints moves the progress bar and the chart; the
last one names the new adapter, whose report.json fills in the result.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ..errors import HouseholdError
from ..trainer import load_train_config
from ..training_overview import (
    DataOverview,
    RunSummary,
    data_overview,
    format_duration,
    read_run_summary,
    version_rows,
)
from .categories_panel import CategoriesPanel
from .context import AppContext
from .trainer_result import ResultPanel, fill_table, new_table
from .trainer_widgets import TrainingChart, local_time, percent, short_time
from .training_run import TrainingRun

logger = logging.getLogger(__name__)

NOTHING_CHANGED = "nothing was changed."
CANCELLED_TEXT = f"Cancelled; {NOTHING_CHANGED}"
HISTORY_COLUMNS = ("Version", "Trained", "Held-out", "Corrections", "In use", "Reason")


class TrainerTab(QWidget):
    """Shows what training would learn from, runs it, and manages the results.

    Attributes:
        config_path: A training config YAML passed as `--config` (None: defaults).
        train_args: More arguments for `household-assistant train`.
    """

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.config_path: Path | None = None
        self.train_args: list[str] = []
        self.summary: RunSummary | None = None
        self.overview = None
        self._run: TrainingRun | None = None

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.setChildrenCollapsible(False)
        splitter.addWidget(self._build_data_side())
        splitter.addWidget(self._build_training_side())
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([290, 790])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 10, 10, 10)
        layout.addWidget(splitter)

        ctx.feedback_changed.connect(self.refresh)
        ctx.categories_changed.connect(self.refresh)
        ctx.router_changed.connect(self.refresh)
        ctx.assistant_replaced.connect(self._assistant_replaced)
        self.refresh()

    # --- building ---------------------------------------------------------------

    def _build_data_side(self) -> QWidget:
        self.data_label = QLabel()
        self.data_label.setWordWrap(True)
        self.data_label.setTextFormat(Qt.TextFormat.RichText)
        self.warning_label = QLabel()
        self.warning_label.setWordWrap(True)
        self.warning_label.setObjectName("thinWarning")
        self.warning_label.setStyleSheet(
            "#thinWarning { background: rgba(245, 158, 11, 0.16); "
            "border-radius: 6px; padding: 6px 8px; }"
        )
        self.categories = CategoriesPanel(self.ctx)

        data = QGroupBox("Training data")
        inner = QVBoxLayout(data)
        inner.setSpacing(8)
        inner.addWidget(self.data_label)
        inner.addWidget(self.warning_label)
        cats = QGroupBox("Categories")
        QVBoxLayout(cats).addWidget(self.categories)

        side = QWidget()
        layout = QVBoxLayout(side)
        layout.setContentsMargins(0, 0, 4, 0)
        layout.setSpacing(10)
        layout.addWidget(data)
        layout.addWidget(cats, 1)
        return side

    def _build_training_side(self) -> QWidget:
        self.retrain_button = QPushButton("Retrain Router")
        self.retrain_button.setDefault(True)
        self.retrain_button.setToolTip(
            "Fine-tune the router on the questions on the left; the new adapter "
            "is used only if it is at least as good as the router in use."
        )
        self.retrain_button.clicked.connect(self.start_training)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_training)
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setFixedWidth(180)
        self.progress.hide()  # shown while a run is going
        self.eta_label = QLabel()
        self.status_label = QLabel("Not trained in this session yet.")

        run = QHBoxLayout()
        run.setSpacing(8)
        run.addWidget(self.retrain_button)
        run.addWidget(self.cancel_button)
        run.addSpacing(4)
        run.addWidget(self.status_label, 1)
        run.addWidget(self.progress)
        run.addWidget(self.eta_label)

        self.chart = TrainingChart()
        progress_box = QGroupBox("Progress")
        box_layout = QVBoxLayout(progress_box)
        box_layout.setContentsMargins(4, 4, 4, 4)
        box_layout.addWidget(self.chart)
        self.result = ResultPanel()
        self.result.promote_button.clicked.connect(self.promote_shown)
        self.result.keep_button.clicked.connect(self.keep_current)
        self.result.rollback_button.clicked.connect(self.rollback)
        top = QHBoxLayout()
        top.setSpacing(10)
        top.addWidget(progress_box, 5)
        top.addWidget(self.result.summary_box, 4)

        self.details = QTabWidget()
        self.details.setDocumentMode(True)
        self.details.addTab(self.result.categories_page, "Per Category")
        self.details.addTab(self.result.mistakes_table, "Still Wrong")
        self.details.addTab(self._build_history(), "History")

        side = QWidget()
        layout = QVBoxLayout(side)
        layout.setContentsMargins(4, 0, 0, 0)
        layout.setSpacing(8)
        layout.addLayout(run)
        layout.addLayout(top, 2)
        layout.addWidget(self.details, 3)
        return side

    def _build_history(self) -> QWidget:
        self.router_label = QLabel()
        self.router_label.setWordWrap(True)
        self.history_table = new_table(HISTORY_COLUMNS, stretch=5)
        self.history_table.setSelectionMode(
            QAbstractItemView.SelectionMode.SingleSelection
        )
        self.history_table.itemSelectionChanged.connect(self._update_history_buttons)
        self.history_table.itemDoubleClicked.connect(self._show_selected_report)
        header = self.history_table.horizontalHeader()
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.activate_button = QPushButton("Activate Selected")
        self.activate_button.clicked.connect(self.activate_selected)
        self.history_rollback_button = QPushButton("Roll Back")
        self.history_rollback_button.setToolTip(
            "Go back to the router that was in use before this one"
        )
        self.history_rollback_button.clicked.connect(self.rollback)

        buttons = QHBoxLayout()
        buttons.addWidget(self.router_label, 1)
        buttons.addWidget(self.activate_button)
        buttons.addWidget(self.history_rollback_button)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 8, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.history_table, 1)
        return page

    # --- refreshing ---------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the counts, the categories and the adapter history."""
        self._refresh_data()
        self._refresh_history()
        if self.summary is None and not self.is_running():
            self._show_latest_report()
        elif self.summary is not None:
            self.result.update_actions(self._active_version(), self.is_running())

    def _assistant_replaced(self) -> None:
        # The result shown belongs to the old data folder.
        self.summary = None
        self.refresh()

    def _train_config(self):
        return load_train_config(self.config_path) if self.config_path else None

    def _refresh_data(self) -> None:
        try:
            overview = data_overview(self.ctx.assistant, self._train_config())
        except HouseholdError as exc:
            self.ctx.notify(str(exc))
            return
        self.overview = overview
        self.data_label.setText(_data_html(overview))
        warning = overview.warning()
        self.warning_label.setText(f"⚠︎  {warning}" if warning else "")
        self.warning_label.setVisible(bool(warning))
        self.categories.show_counts(overview)

    def _active_version(self) -> str | None:
        active = self.ctx.assistant.adapters.active()
        return active.version if active else None

    def _refresh_history(self) -> None:
        rows = version_rows(self.ctx.assistant.adapters)
        fill_table(
            self.history_table,
            [
                (
                    row.version,
                    local_time(row.created_at),
                    percent(row.heldout),
                    percent(row.corrections),
                    "● Active" if row.active else "",
                    row.reason,
                )
                for row in rows
            ],
            bold=[row.active for row in rows],
        )
        active = next((row.version for row in rows if row.active), None)
        self.router_label.setText(self._router_text(active))
        self._update_history_buttons()

    def _router_text(self, active: str | None) -> str:
        setting = self.ctx.assistant.settings.router
        if setting in ("knn", "llm"):
            return (
                f"The router setting is {setting}, so adapters are not used; "
                "choose auto in Settings to route with them."
            )
        if active:
            return f"Routing with adapter {active}."
        return "Routing with the kNN router: no adapter is active."

    def _update_history_buttons(self) -> None:
        busy = self.is_running()
        selected = self._selected_version()
        active = self._active_version()
        self.activate_button.setEnabled(not busy and selected not in (None, active))
        self.history_rollback_button.setEnabled(not busy and active is not None)

    def _selected_version(self) -> str | None:
        rows = self.history_table.selectionModel().selectedRows()
        if not rows:
            return None
        return self.history_table.item(rows[0].row(), 0).text()

    def _show_latest_report(self) -> None:
        versions = self.ctx.assistant.adapters.versions()
        if versions:
            self._show_report(versions[-1].path, live=False)
        else:
            self.result.clear()

    def _show_selected_report(self, item: QTableWidgetItem) -> None:
        if self.is_running():
            return
        version = self.history_table.item(item.row(), 0).text()
        self._show_report(self.ctx.assistant.adapters.root / version, live=False)

    def _show_report(self, folder: Path, live: bool) -> None:
        try:
            summary = read_run_summary(folder)
        except HouseholdError as exc:
            self.ctx.notify(str(exc), "warning")
            return
        self.summary = summary
        self.result.show_summary(summary, self._active_version(), live)
        if not live:
            self.chart.show_history(summary.history)
            self.status_label.setText(
                f"Showing the result of {summary.version}, trained "
                f"{local_time(summary.created_at)}."
            )

    # --- running ----------------------------------------------------------------

    def is_running(self) -> bool:
        return self._run is not None and self._run.is_running()

    def command(self) -> list[str]:
        """The arguments for `household-assistant train`, after --progress json."""
        args = ["--config", str(self.config_path)] if self.config_path else []
        return args + list(self.train_args)

    def start_training(self) -> None:
        if self.is_running():
            return
        if self._run is not None:
            self._run.deleteLater()
        self._run = TrainingRun(self.ctx.home, self.command(), self)
        self._run.event.connect(self._show_event)
        self._run.ended.connect(self._ended)

        self.chart.reset(100)
        self.progress.setRange(0, 0)  # busy until the first step
        self.eta_label.clear()
        self.status_label.setText("Loading the router model…")
        self._set_running(True)
        self._run.start()

    def cancel_training(self) -> None:
        """Ask the run to stop after its current step."""
        if self.is_running():
            self.cancel_button.setEnabled(False)
            self.status_label.setText("Cancelling after this step…")
            self._run.cancel()

    def shutdown(self) -> None:
        """Stop a run when the window closes."""
        if self._run is not None:
            self._run.stop_and_wait()

    def _set_running(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.eta_label.setVisible(running)
        self.retrain_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.result.update_actions(self._active_version(), running)
        self._update_history_buttons()

    def _show_event(self, event: dict) -> None:
        kind, step = event["event"], event.get("step", 0)
        total = event.get("total_steps", 0)
        if kind == "start":
            self.chart.reset(total)
            self.progress.setRange(0, max(total, 1))
            self.progress.setValue(0)
            self.status_label.setText(f"Training for up to {total} steps…")
        elif kind == "train":
            self.progress.setValue(step)
            self.chart.add(event)
            if "eta_s" in event:
                self.eta_label.setText(f"about {format_duration(event['eta_s'])} left")
            self.status_label.setText(
                f"Step {step} of {total}: training loss {event['train_loss']:.3f}"
            )
        elif kind == "eval":
            self.chart.add(event)
            self.status_label.setText(
                f"Step {step} of {total}: validation accuracy "
                f"{percent(event.get('val_accuracy'))}"
            )
        elif kind == "judge":
            self.progress.setRange(0, 0)
            self.eta_label.clear()
            self.status_label.setText("Judging the new router against the one in use…")

    def _ended(self, how: str, message: str) -> None:
        self._set_running(False)
        self.eta_label.clear()
        if how == "done":
            self._training_done(self._run.done)
        elif how == "cancelled":
            self.status_label.setText(CANCELLED_TEXT)
            self.ctx.notify(f"Training was cancelled; {NOTHING_CHANGED}", "info")
        else:
            self.status_label.setText(f"Training stopped; {NOTHING_CHANGED}")
            self.ctx.notify(message)
        self.refresh()

    def _training_done(self, done: dict) -> None:
        if done.get("promoted"):
            self.ctx.assistant.reset_routers()
            self.ctx.router_changed.emit()
        self._show_report(Path(done["report"]).parent, live=True)
        verdict = (
            f"Adapter {done['version']} is now routing."
            if done.get("promoted")
            else f"Adapter {done['version']} was saved but not activated."
        )
        self.status_label.setText(f"Finished. {verdict}")
        self.ctx.notify(f"{verdict} {done.get('reason', '')}", "info")

    # --- choosing the router ------------------------------------------------------

    def promote_shown(self) -> None:
        if self.summary is not None:
            self._activate(self.summary.version)

    def activate_selected(self) -> None:
        version = self._selected_version()
        if version:
            self._activate(version)

    def _activate(self, version: str) -> None:
        try:
            self.ctx.assistant.adapters.activate(version)
        except HouseholdError as exc:
            self.ctx.notify(str(exc))
            return
        self.ctx.notify(f"Routing with adapter {version} from now on.", "info")
        self._router_changed()

    def keep_current(self) -> None:
        self.result.keep_current()

    def rollback(self) -> None:
        try:
            now = self.ctx.assistant.adapters.rollback()
        except HouseholdError as exc:
            self.ctx.notify(str(exc))
            return
        where = f"adapter {now.version}" if now else "the kNN router (no adapter)"
        self.ctx.notify(f"Rolled back; routing with {where}.", "info")
        self._router_changed()

    def _router_changed(self) -> None:
        self.ctx.assistant.reset_routers()
        self.ctx.router_changed.emit()  # refreshes this tab too


def _data_html(overview: DataOverview) -> str:
    """The data set as a two-column table: count, what it is."""
    pool = "bundled questions" if overview.source == "bundled" else "questions in "
    if overview.source != "bundled":
        pool += overview.source
    corrections = "correction" + ("" if overview.corrections == 1 else "s")
    confirmed = "thumbs-up confirmation" + ("" if overview.confirmed == 1 else "s")
    if overview.last_version is None:
        new = "new: never trained yet"
    else:
        new = (
            f"new since {overview.last_version}, {short_time(overview.last_trained_at)}"
        )
    rows = [
        (overview.bundled, f"{pool} to learn from"),
        (overview.heldout, "held-out questions to judge by"),
        (overview.corrections, f"{corrections} from your household"),
        (overview.confirmed, confirmed),
        (overview.new_since_training, new),
    ]
    cells = "".join(
        f"<tr><td align='right'><b>{count:,}</b></td><td>{text}</td></tr>"
        for count, text in rows
    )
    return f"<table cellspacing='0' cellpadding='2'>{cells}</table>"
