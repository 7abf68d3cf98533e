"""One training run's result: before and after, per category, what it still gets
wrong, and the choice between the new adapter and the router in use."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..training_overview import RunSummary, format_duration
from .trainer_widgets import ConfusionHeatMap, percent

CATEGORY_COLUMNS = ("Category", "Questions", "Before", "After")
MISTAKE_COLUMNS = ("Question", "Expected", "Routed to", "Confidence", "Judged on")


def new_table(columns: Sequence[str], stretch: int = 0) -> QTableWidget:
    """A read-only, row-selecting table; column `stretch` takes spare width."""
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(list(columns))
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().hide()
    table.setShowGrid(False)
    table.setAlternatingRowColors(True)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table


def fill_table(
    table: QTableWidget, rows: list[Sequence[str]], bold: list[bool] | None = None
) -> None:
    """Replace the table's rows; numbers and percentages align right."""
    table.setRowCount(len(rows))
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            item = QTableWidgetItem(text)
            item.setToolTip(text if len(text) > 30 else "")
            if text[:1].isdigit() or text in ("–", "+", "-"):
                item.setTextAlignment(
                    Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                )
            if bold and bold[r]:
                font = item.font()
                font.setBold(True)
                item.setFont(font)
            table.setItem(r, c, item)


class ResultPanel:
    """The widgets that show one run's result; the tab places them.

    `summary_box` holds the decision, the before/after scores and the buttons;
    `categories_page` the per-category table beside the heat map;
    `mistakes_table` the questions the new adapter still routes wrong.
    """

    def __init__(self) -> None:
        self.summary: RunSummary | None = None
        self.kept = False
        self.decision_label = QLabel()
        self.decision_label.setWordWrap(True)
        self.decision_label.setTextFormat(Qt.TextFormat.RichText)
        self.decision_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.scores = QGridLayout()
        self.scores.setHorizontalSpacing(16)
        self.scores.setVerticalSpacing(4)
        self.score_text: dict[str, tuple[str, str]] = {}
        self.training_label = QLabel()
        self.training_label.setWordWrap(True)
        self.training_label.setEnabled(False)  # secondary: the palette's dim text

        self.promote_button = QPushButton("Promote")
        self.promote_button.setToolTip("Route with this adapter from now on")
        self.keep_button = QPushButton("Keep Current Router")
        self.rollback_button = QPushButton("Roll Back")
        self.rollback_button.setToolTip(
            "Go back to the router that was in use before this adapter"
        )
        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        buttons.addStretch(1)
        for button in (self.promote_button, self.keep_button, self.rollback_button):
            buttons.addWidget(button)

        self.summary_box = QGroupBox("Result")
        layout = QVBoxLayout(self.summary_box)
        layout.setSpacing(10)
        layout.addWidget(self.decision_label)
        layout.addLayout(self.scores)
        layout.addWidget(self.training_label)
        layout.addStretch(1)
        layout.addLayout(buttons)

        self.category_table = new_table(CATEGORY_COLUMNS)
        self.heat_map = ConfusionHeatMap()
        heat_title = QLabel("Where the held-out questions went (rows: right answer)")
        heat_title.setWordWrap(True)
        heat = QVBoxLayout()
        heat.setSpacing(4)
        heat.addWidget(heat_title)
        heat.addWidget(self.heat_map, 1)
        self.categories_page = QWidget()
        page = QHBoxLayout(self.categories_page)
        page.setContentsMargins(0, 8, 0, 0)
        page.setSpacing(12)
        page.addWidget(self.category_table, 2)
        page.addLayout(heat, 3)

        self.mistakes_table = new_table(MISTAKE_COLUMNS)
        self.clear()

    # --- showing -----------------------------------------------------------------

    def clear(self) -> None:
        self.summary = None
        self.decision_label.setText(
            "No adapter trained yet. Retrain to fine-tune the router on these "
            "questions; the result and the choice to use it appear here."
        )
        self._set_scores([])
        self.training_label.clear()
        for table in (self.category_table, self.mistakes_table):
            table.setRowCount(0)
        self.heat_map.setRowCount(0)
        self.heat_map.setColumnCount(0)
        self.update_actions(None, False)

    def show_summary(self, summary: RunSummary, active: str | None, live: bool) -> None:
        """Fill in a run's result; `live` marks one that just finished."""
        self.summary = summary
        self.kept = False
        self._set_scores(
            [
                (
                    f"{s.title} ({s.total})",
                    percent(s.before),
                    percent(s.after),
                    _change(s.before, s.after),
                )
                for s in summary.scores
            ]
        )
        self.score_text = {
            s.name: (percent(s.before), percent(s.after)) for s in summary.scores
        }
        fill_table(
            self.category_table,
            [
                (
                    c.name,
                    str(c.total),
                    "–" if c.before is None else f"{c.before}/{c.total}",
                    f"{c.after}/{c.total}",
                )
                for c in summary.categories
            ],
        )
        self.heat_map.show_confusion(summary.confusion)
        self.training_label.setText(_training_text(summary))
        fill_table(
            self.mistakes_table,
            [
                (m.question, m.expected, m.got, f"{m.confidence:.0%}", m.judged_on)
                for m in summary.mistakes
            ],
        )
        self.update_actions(active, False)

    def _set_scores(self, rows: list[tuple[str, str, str, str]]) -> None:
        while self.scores.count():
            widget = self.scores.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        if not rows or self.summary is None:
            return
        before = f"Before ({self.summary.compared_with or 'in use'})"
        header = ("Accuracy", before, f"After ({self.summary.version})", "")
        for column, text in enumerate(header):
            label = QLabel(text)
            label.setEnabled(False)  # the palette's dimmed text, in both modes
            self.scores.addWidget(label, 0, column)
        for row, values in enumerate(rows, 1):
            for column, text in enumerate(values):
                label = QLabel(text)
                if column == 2:
                    font = QFont(label.font())
                    font.setBold(True)
                    font.setPointSizeF(font.pointSizeF() * 1.25)
                    label.setFont(font)
                if column:
                    label.setAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.scores.addWidget(label, row, column)
        self.scores.setColumnStretch(0, 1)

    def update_actions(self, active: str | None, busy: bool) -> None:
        """Promote / Keep for a version not in use, Roll back for the one in use."""
        summary = self.summary
        in_use = summary is not None and summary.version == active
        offer = summary is not None and not in_use and not self.kept
        self.promote_button.setVisible(offer)
        self.keep_button.setVisible(offer)
        self.rollback_button.setVisible(in_use)
        for button in (self.promote_button, self.keep_button, self.rollback_button):
            button.setEnabled(not busy)
        if summary is not None:
            self.decision_label.setText(self._decision_text(summary, in_use))

    def keep_current(self) -> None:
        self.kept = True
        self.promote_button.hide()
        self.keep_button.hide()
        if self.summary is not None:
            self.decision_label.setText(self._decision_text(self.summary, False))

    def _decision_text(self, summary: RunSummary, in_use: bool) -> str:
        current = summary.compared_with or "the router in use"
        if in_use:
            head = f"<b>Routing with {summary.version}.</b>"
        elif self.kept:
            head = f"<b>Kept {current}</b>; {summary.version} is saved in History."
        elif summary.promoted:
            head = f"<b>{summary.version} is not in use</b> (it was replaced since)."
        else:
            head = f"<b>{summary.version} was not activated.</b>"
        return f"{head}<br>{_escape(summary.reason)}"


def _training_text(summary: RunSummary) -> str:
    text = f"Trained {summary.steps} steps in {format_duration(summary.seconds)}"
    if summary.stopped_early:
        text += ", then stopped: validation accuracy had stopped improving"
    if summary.best_accuracy is not None:
        text += (
            f". Kept step {summary.best_step}, the best on validation "
            f"({percent(summary.best_accuracy)})"
        )
    return text + "."


def _change(before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return ""
    points = round(100 * (after - before))
    return "no change" if points == 0 else f"{points:+d} pts"


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
