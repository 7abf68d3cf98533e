"""The categories the router chooses among: their codes, examples, add and rename.

A category's two-letter code never changes, so renaming keeps every trained
adapter valid; a new category gets the next free code and needs examples (its
corrections) before training can learn it.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..errors import CategoryError
from ..training_overview import DataOverview
from .context import AppContext

logger = logging.getLogger(__name__)

COLUMNS = ("Category", "Code", "Examples")


class CategoriesPanel(QWidget):
    """A table of categories and their example counts, with Add and Rename."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._selection_changed)

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("New or changed category name")
        self.name_edit.setClearButtonEnabled(True)
        self.name_edit.returnPressed.connect(self.add_category)
        self.name_edit.textChanged.connect(self._update_buttons)
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("Add a category with this name")
        self.add_button.clicked.connect(self.add_category)
        self.rename_button = QPushButton("Rename")
        self.rename_button.setToolTip(
            "Give the selected category this name; its code stays the same"
        )
        self.rename_button.clicked.connect(self.rename_category)

        row = QHBoxLayout()
        row.setSpacing(6)
        row.addStretch(1)
        row.addWidget(self.add_button)
        row.addWidget(self.rename_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.name_edit)
        layout.addLayout(row)
        self._update_buttons()

    # --- showing ---------------------------------------------------------------

    def show_counts(self, overview: DataOverview) -> None:
        """One row per category: name, code and how many examples it has."""
        selected = self.selected_name()
        warn = self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        self.table.setRowCount(len(overview.categories))
        mono = QFont("Menlo")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        for row, count in enumerate(overview.categories):
            name = QTableWidgetItem(count.name)
            code = QTableWidgetItem(count.code)
            code.setFont(mono)
            examples = QTableWidgetItem(str(count.total))
            examples.setTextAlignment(
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
            )
            detail = f"{count.bundled} bundled, {count.household} from your household"
            if count.total < overview.min_examples:
                name.setIcon(warn)
                detail += (
                    f". Fewer than {overview.min_examples}: too few to split and "
                    "learn from."
                )
            for item in (name, code, examples):
                item.setToolTip(detail)
            self.table.setItem(row, 0, name)
            self.table.setItem(row, 1, code)
            self.table.setItem(row, 2, examples)
            if count.name == selected:
                self.table.selectRow(row)
        self._update_buttons()

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return item.text() if item else None

    def _selection_changed(self) -> None:
        name = self.selected_name()
        if name:
            self.name_edit.setText(name)
            self.name_edit.selectAll()
        self._update_buttons()

    def _update_buttons(self) -> None:
        text = self.name_edit.text().strip()
        self.add_button.setEnabled(bool(text))
        selected = self.selected_name()
        self.rename_button.setEnabled(bool(text) and selected not in (None, text))

    # --- changing ----------------------------------------------------------------

    def add_category(self) -> None:
        name = self.name_edit.text()
        try:
            added = self.ctx.assistant.categories.add(name)
        except CategoryError as exc:
            self.ctx.notify(str(exc))
            return
        self.name_edit.clear()
        self._changed(
            f"Added the category {added.name} (code {added.code}). Correct a few "
            "questions to it in Chat, then retrain so the router learns it."
        )

    def rename_category(self) -> None:
        old, new = self.selected_name(), self.name_edit.text()
        if old is None:
            self.ctx.notify("Select the category to rename in the list first.")
            return
        try:
            renamed = self.ctx.assistant.categories.rename(old, new)
        except CategoryError as exc:
            self.ctx.notify(str(exc))
            return
        self._changed(
            f"Renamed {old} to {renamed.name}; its code {renamed.code} stays, so "
            "trained adapters still know it."
        )

    def _changed(self, message: str) -> None:
        # Routers hold the category list; the next question rebuilds them.
        self.ctx.assistant.forget_routers()
        self.ctx.notify(message, "info")
        self.ctx.categories_changed.emit()
