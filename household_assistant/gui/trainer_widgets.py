"""The Trainer tab's drawings: the live training chart and the confusion heat map.

Colours are mid-tone tints that read on light and dark windows alike; text
and axes take the palette's own colours, and follow it when it changes.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import QEvent, QMargins, Qt
from PySide6.QtGui import QColor, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from ..training_overview import Confusion

TRAIN_LOSS_COLOUR = QColor(59, 130, 246)  # blue
VAL_LOSS_COLOUR = QColor(245, 158, 11)  # amber
ACCURACY_COLOUR = QColor(16, 185, 129)  # green
RIGHT_TINT = QColor(16, 185, 129)
WRONG_TINT = QColor(239, 68, 68)
# Few columns fit as names; more show the two-letter codes (names in tooltips).
MAX_NAMED_COLUMNS = 6


def percent(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def local_time(stamp: str) -> str:
    """An ISO UTC time as the Mac's local '12 Mar 2025, 14:05'."""
    try:
        moment = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return stamp or "–"
    return moment.astimezone().strftime("%d %b %Y, %H:%M").lstrip("0")


def short_time(stamp: str) -> str:
    """'4 Dec, 14:05' this year, '4 Dec 2024' before."""
    try:
        moment = datetime.fromisoformat(stamp).astimezone()
    except (TypeError, ValueError):
        return stamp or "–"
    if moment.year == datetime.now().year:
        return moment.strftime("%d %b, %H:%M").lstrip("0")
    return moment.strftime("%d %b %Y").lstrip("0")


def tint(colour: QColor, alpha: int) -> QColor:
    out = QColor(colour)
    out.setAlpha(max(0, min(alpha, 255)))
    return out


class TrainingChart(QChartView):
    """Training loss, validation loss and validation accuracy against the step.

    Losses share the left axis; accuracy (in percent) has the right one.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.train_loss = self._series("Train loss", TRAIN_LOSS_COLOUR)
        self.val_loss = self._series("Val. loss", VAL_LOSS_COLOUR)
        self.val_accuracy = self._series("Val. accuracy", ACCURACY_COLOUR)

        self.steps_axis = QValueAxis()
        self.steps_axis.setLabelFormat("%d")
        self.steps_axis.setTitleText("step")
        self.loss_axis = QValueAxis()
        self.loss_axis.setLabelFormat("%g")
        self.accuracy_axis = QValueAxis()
        self.accuracy_axis.setRange(0, 100)
        self.accuracy_axis.setLabelFormat("%d%%")

        chart = QChart()
        chart.setBackgroundVisible(False)
        chart.setMargins(QMargins(4, 4, 4, 4))
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignTop)
        chart.addAxis(self.steps_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(self.loss_axis, Qt.AlignmentFlag.AlignLeft)
        chart.addAxis(self.accuracy_axis, Qt.AlignmentFlag.AlignRight)
        for series, axis in (
            (self.train_loss, self.loss_axis),
            (self.val_loss, self.loss_axis),
            (self.val_accuracy, self.accuracy_axis),
        ):
            chart.addSeries(series)
            series.attachAxis(self.steps_axis)
            series.attachAxis(axis)
        self.setChart(chart)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setFrameShape(QFrame.Shape.NoFrame)
        # See-through, so the box around it shows; no style sheet, which would
        # pin the palette and stop dark mode from reaching the axes.
        self.setBackgroundBrush(Qt.BrushStyle.NoBrush)
        self.viewport().setAutoFillBackground(False)
        self.setMinimumHeight(190)
        self._largest_loss = 0.0
        self.reset(100)
        self._apply_palette()

    @staticmethod
    def _series(name: str, colour: QColor) -> QLineSeries:
        series = QLineSeries()
        series.setName(name)
        series.setPen(QPen(colour, 2))
        series.setPointsVisible(True)
        return series

    def reset(self, total_steps: int) -> None:
        """Empty the chart for a run of up to `total_steps` steps."""
        for series in (self.train_loss, self.val_loss, self.val_accuracy):
            series.clear()
        self.steps_axis.setRange(0, max(total_steps, 1))
        self._largest_loss = 0.0
        self.loss_axis.setRange(0, 1)

    def add(self, event: dict) -> None:
        """Plot one `train` or `eval` progress event; others are ignored."""
        step = event.get("step", 0)
        if event.get("event") == "train" and "train_loss" in event:
            self._add_loss(self.train_loss, step, event["train_loss"])
        elif event.get("event") == "eval":
            if "val_loss" in event:
                self._add_loss(self.val_loss, step, event["val_loss"])
            if "val_accuracy" in event:
                self.val_accuracy.append(step, 100 * event["val_accuracy"])

    def show_history(self, history: list[dict]) -> None:
        """Redraw a finished run from its report's history of events."""
        total = max((e.get("total_steps", 0) for e in history), default=0)
        self.reset(total)
        for event in history:
            self.add(event)

    def _add_loss(self, series: QLineSeries, step: float, loss: float) -> None:
        series.append(step, loss)
        if loss > self._largest_loss:
            self._largest_loss = loss
            self.loss_axis.setRange(0, loss * 1.1)
            self.loss_axis.applyNiceNumbers()

    def changeEvent(self, event: QEvent) -> None:  # Qt's override
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)

    def _apply_palette(self) -> None:
        palette = self.palette()
        text = palette.color(QPalette.ColorRole.WindowText)
        grid = tint(palette.color(QPalette.ColorRole.Mid), 90)
        chart = self.chart()
        chart.legend().setLabelColor(text)
        for axis in (self.steps_axis, self.loss_axis, self.accuracy_axis):
            axis.setLabelsColor(text)
            axis.setTitleBrush(text)
            axis.setGridLineColor(grid)
            axis.setLinePenColor(grid)
        self.accuracy_axis.setGridLineVisible(False)


class ConfusionHeatMap(QTableWidget):
    """Counts of (expected category, routed category), tinted by count.

    Right answers (the diagonal) are tinted green, wrong ones red; the more
    questions in a cell, the stronger its tint. Empty cells stay blank.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setShowGrid(False)
        self.setCornerButtonEnabled(False)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        # Cells share the space; with many categories they stop at a readable
        # size and the grid scrolls.
        for header in (self.horizontalHeader(), self.verticalHeader()):
            header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
            header.setMinimumSectionSize(22)
        self.setToolTip("Rows: the right category. Columns: where the router sent it.")
        self.confusion: Confusion | None = None

    def show_confusion(self, confusion: Confusion) -> None:
        self.confusion = confusion
        self.clear()
        self.setRowCount(len(confusion.rows))
        self.setColumnCount(len(confusion.columns))
        named = len(confusion.columns) <= MAX_NAMED_COLUMNS
        # With codes for columns, the rows name each code so they can be read.
        self.setVerticalHeaderLabels(
            [name if named else f"{name} ({code})" for code, name in confusion.rows]
        )
        self.setHorizontalHeaderLabels(
            [name if named else code for code, name in confusion.columns]
        )
        for index, (code, name) in enumerate(confusion.columns):
            self.horizontalHeaderItem(index).setToolTip(f"routed to {name} ({code})")

        largest = max(confusion.largest, 1)
        for row, (truth, truth_name) in enumerate(confusion.rows):
            for column, (code, name) in enumerate(confusion.columns):
                count = confusion.counts[row][column]
                self.setItem(row, column, self._cell(count, truth == code, largest))
                self.item(row, column).setToolTip(
                    f"{count} {truth_name} question(s) routed to {name}"
                )

    def _cell(self, count: int, right: bool, largest: int) -> QTableWidgetItem:
        item = QTableWidgetItem(str(count) if count else "")
        item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        if count:
            strength = 50 + int(150 * count / largest)
            item.setBackground(tint(RIGHT_TINT if right else WRONG_TINT, strength))
        return item
