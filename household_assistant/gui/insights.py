"""The Insights tab: usage, router accuracy from feedback, and savings.

The numbers come from household_assistant.insights (which defines each one);
this tab lays them out as a few cards and lets the household edit the API
price table the cost estimate uses.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..errors import ConfigError, HouseholdError
from ..insights import (
    Insights,
    Price,
    compute,
    default_prices,
    estimate_costs,
    load_prices,
    save_prices,
)
from .context import AppContext
from .style import emphasized, muted
from .workers import Task

logger = logging.getLogger(__name__)

NAME, INPUT, OUTPUT, COST = range(4)
ERROR_TINT = "rgba(255, 59, 48, 0.14)"
NONE_YET = "—"


def dollars(amount: float) -> str:
    """Small sums keep enough digits to be more than "$0.00"."""
    if amount == 0:
        return "$0.00"
    if amount < 0.0001:
        return "under $0.0001"
    if amount < 0.01:
        return f"${amount:.4f}"
    return f"${amount:,.2f}"


def _percent(share: float | None) -> str:
    return NONE_YET if share is None else f"{share:.0%}"


def _duration(ms: float | None) -> str:
    if ms is None:
        return NONE_YET
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


class StatCard(QFrame):
    """A title, one big number and a line that says what it is based on."""

    def __init__(self, title: str, tooltip: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("statCard")
        self.setStyleSheet(
            "#statCard { background: palette(base); border: 1px solid palette(mid);"
            " border-radius: 8px; }"
        )
        self.setToolTip(tooltip)
        self.title = muted(QLabel(title))
        self.value = emphasized(QLabel(NONE_YET), 1.9)
        self.detail = muted(QLabel())
        self.detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        # Wrapped labels under-report their height in a grid; keep two lines.
        self.detail.setMinimumHeight(2 * self.detail.fontMetrics().lineSpacing() + 2)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.setSpacing(4)
        layout.addWidget(self.title)
        layout.addWidget(self.value)
        layout.addWidget(self.detail, 1)

    def show_stat(self, value: str, detail: str) -> None:
        self.value.setText(value)
        self.detail.setText(detail)


class InsightsTab(QWidget):
    """Stat cards over the feedback store, and the editable price table.

    Signals:
        refreshed(object): the Insights just shown.
    """

    refreshed = Signal(object)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.insights: Insights | None = None
        self.task: Task | None = None
        self._again = False

        heading = emphasized(QLabel("Insights"), 1.4)
        self.subtitle = muted(QLabel())
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        top = QHBoxLayout()
        top.addWidget(heading)
        top.addWidget(self.subtitle, 1, Qt.AlignmentFlag.AlignBottom)
        top.addWidget(refresh)

        self.cards = {
            "questions": StatCard("Questions asked"),
            "accuracy": StatCard(
                "Router accuracy",
                "Rated questions: a thumbs or a correction. Wrong: corrected to "
                "another category. Right: every other rated one (a thumbs-down "
                "without a correction judges the answer, not the category).",
            ),
            "corrections": StatCard("Corrections"),
            "speed": StatCard("Router speed (median)"),
            "tokens": StatCard(
                "Tokens processed on this Mac",
                "Router prompt (none for the kNN router) + answer prompt + answer.",
            ),
            "off_topic": StatCard(
                "Off-topic tokens kept out",
                "After each answer the question is also searched across every "
                "note; these are the tokens of that search's top chunks that came "
                "from categories outside the ones searched.",
            ),
        }
        grid = QGridLayout()
        grid.setSpacing(10)
        for n, card in enumerate(self.cards.values()):
            grid.addWidget(card, n // 3, n % 3)
        for column in range(3):
            grid.setColumnStretch(column, 1)

        costs = QLabel("What the same questions would cost on a hosted API")
        bold = costs.font()
        bold.setWeight(QFont.Weight.DemiBold)
        costs.setFont(bold)
        self.cost_basis = muted(QLabel())
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(
            ["API", "Input $ / 1M tokens", "Output $ / 1M tokens", "Estimated cost"]
        )
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(NAME, QHeaderView.ResizeMode.Stretch)
        for column in (INPUT, OUTPUT, COST):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().hide()
        self.table.setAlternatingRowColors(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.cellChanged.connect(self._cell_changed)

        self.price_error = QLabel()
        self.price_error.setWordWrap(True)
        self.price_error.setStyleSheet(
            f"background: {ERROR_TINT}; border-radius: 6px; padding: 8px 10px;"
        )
        self.price_error.hide()
        add = QPushButton("Add Row")
        add.clicked.connect(self.add_price_row)
        self.remove_button = QPushButton("Remove Row")
        self.remove_button.clicked.connect(self.remove_price_row)
        restore = QPushButton("List Prices")
        restore.setToolTip("Put the shipped list prices back in the table (then Save).")
        restore.clicked.connect(lambda: self.show_prices(default_prices()))
        self.save_button = QPushButton("Save Prices")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save_prices)
        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        for button in (add, self.remove_button, restore):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(10)
        layout.addLayout(top)
        layout.addLayout(grid)
        layout.addSpacing(8)
        layout.addWidget(costs)
        layout.addWidget(self.cost_basis)
        layout.addWidget(self.table)
        layout.addWidget(self.price_error)
        layout.addLayout(buttons)
        layout.addStretch(1)

        ctx.feedback_changed.connect(self._changed)
        ctx.assistant_replaced.connect(self._changed)
        self._load_prices()

    # --- refreshing -----------------------------------------------------------

    def refresh(self) -> None:
        """Recompute from the feedback store in a worker; shows when done."""
        if self.task is not None:
            self._again = True  # the store changed while counting
            return
        feedback, home = self.ctx.assistant.feedback, self.ctx.home
        self.task = Task(lambda _task: compute(feedback, load_prices(home)), self)
        self.task.result.connect(self.show_insights)
        self.task.failed.connect(self.ctx.notify)
        self.task.finished.connect(self._refresh_finished)
        self.task.start()

    def _refresh_finished(self) -> None:
        self.task = None
        if self._again:
            self._again = False
            self.refresh()

    def _changed(self) -> None:
        if self.isVisible():
            self.refresh()

    def shutdown(self) -> None:
        if self.task is not None:
            self.task.wait()

    # --- showing --------------------------------------------------------------

    def show_insights(self, insights: Insights) -> None:
        self.insights = insights
        manual = insights.questions - insights.routed
        self.subtitle.setText(
            f"From the {insights.questions:,} questions asked on this Mac."
            if insights.questions
            else "Nothing yet: ask a question in Chat and it is counted here."
        )
        self.cards["questions"].show_stat(
            f"{insights.questions:,}",
            f"{insights.routed:,} routed by the router, {manual:,} in a category "
            "you chose."
            if manual
            else "Every one routed by the router.",
        )
        self.cards["accuracy"].show_stat(
            _percent(insights.accuracy),
            f"From {insights.rated:,} rated question"
            f"{'' if insights.rated == 1 else 's'} (thumbs or corrections).",
        )
        self.cards["corrections"].show_stat(
            _percent(insights.correction_rate),
            f"{insights.corrected:,} of {insights.routed:,} routed questions were "
            "corrected to another category.",
        )
        self.cards["speed"].show_stat(
            _duration(insights.median_route_ms),
            f"Answers take {_duration(insights.median_answer_ms)} to write, the "
            f"first words after {_duration(insights.median_first_token_ms)}.",
        )
        self.cards["tokens"].show_stat(
            f"{insights.total_tokens:,}",
            f"Router {insights.router_tokens:,} · prompts {insights.prompt_tokens:,} "
            f"· answers {insights.answer_tokens:,}, over {insights.counted:,} "
            "questions.",
        )
        self.cards["off_topic"].show_stat(
            f"{insights.off_topic_tokens:,}",
            "Tokens from other categories that an unfiltered search would have put "
            f"into {insights.off_topic_counted:,} answer prompts.",
        )
        self.cost_basis.setText(
            f"Input: router and prompt tokens ({insights.input_tokens:,}). Output: "
            f"answer tokens ({insights.answer_tokens:,}). Public list prices; edit "
            "them to match your plan."
        )
        self._update_costs()
        self.refreshed.emit(insights)

    # --- the price table ------------------------------------------------------

    def _load_prices(self) -> None:
        try:
            prices = load_prices(self.ctx.home)
        except HouseholdError as exc:
            self._price_problem(str(exc))
            prices = default_prices()
        self.show_prices(prices)
        self.save_button.setEnabled(False)

    def show_prices(self, prices: list[Price]) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        for price in prices:
            self._append_row(price.name, f"{price.input:.2f}", f"{price.output:.2f}")
        self.table.blockSignals(False)
        self._update_costs()
        self._fit_table()
        self.save_button.setEnabled(True)

    def _fit_table(self) -> None:
        # As tall as its rows (a few more fit before it scrolls), no taller.
        rows = min(max(self.table.rowCount(), 3), 8)
        height = (
            self.table.horizontalHeader().sizeHint().height()
            + rows * self.table.verticalHeader().defaultSectionSize()
            + 2 * self.table.frameWidth()
        )
        self.table.setFixedHeight(height)

    def _append_row(self, name: str, input_price: str, output_price: str) -> int:
        row = self.table.rowCount()
        self.table.insertRow(row)
        for column, text in (
            (NAME, name),
            (INPUT, input_price),
            (OUTPUT, output_price),
        ):
            item = QTableWidgetItem(text)
            if column != NAME:
                item.setTextAlignment(
                    Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                )
            self.table.setItem(row, column, item)
        cost = QTableWidgetItem(NONE_YET)
        cost.setFlags(cost.flags() & ~Qt.ItemFlag.ItemIsEditable)
        cost.setTextAlignment(
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        self.table.setItem(row, COST, cost)
        return row

    def add_price_row(self) -> None:
        row = self._append_row("Another API", "0.00", "0.00")
        self._fit_table()
        self.table.editItem(self.table.item(row, NAME))
        self.save_button.setEnabled(True)

    def remove_price_row(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True)
        for row in rows:
            self.table.removeRow(row)
        self._fit_table()
        if rows:
            self.save_button.setEnabled(True)

    def prices(self) -> list[Price]:
        """The table's prices; ConfigError says which cell is wrong."""
        return [self._row_price(row) for row in range(self.table.rowCount())]

    def _row_price(self, row: int) -> Price:
        name = self.table.item(row, NAME).text().strip()
        if not name:
            raise ConfigError(f"Row {row + 1} of the price table needs the API's name.")
        values = []
        for column, what in ((INPUT, "input"), (OUTPUT, "output")):
            text = self.table.item(row, column).text().strip().lstrip("$").strip()
            try:
                value = float(text)
            except ValueError:
                value = -1.0
            if value < 0:
                raise ConfigError(
                    f"The {what} price of {name} should be dollars per million tokens, "
                    f"such as 0.40; found {text!r}."
                )
            values.append(value)
        return Price(name, *values)

    def _cell_changed(self, row: int, column: int) -> None:
        if column != COST:
            self.save_button.setEnabled(True)
            self._update_costs()

    def _update_costs(self) -> None:
        insights = self.insights
        self.table.blockSignals(True)
        for row in range(self.table.rowCount()):
            try:
                price = self._row_price(row)
            except ConfigError:
                text = NONE_YET
            else:
                if insights is None:
                    text = NONE_YET
                else:
                    (cost,) = estimate_costs(
                        insights.input_tokens, insights.answer_tokens, [price]
                    )
                    text = dollars(cost.dollars)
            self.table.item(row, COST).setText(text)
        self.table.blockSignals(False)

    def save_prices(self) -> bool:
        """Write the table to prices.json; True when it was saved."""
        try:
            prices = self.prices()
            save_prices(self.ctx.home, prices)
        except HouseholdError as exc:
            self._price_problem(str(exc))
            return False
        self.price_error.hide()
        self.show_prices(prices)  # as saved: two decimals
        self.save_button.setEnabled(False)
        return True

    def _price_problem(self, message: str) -> None:
        self.price_error.setText(message)
        self.price_error.show()
        self.ctx.notify(message, "error")
