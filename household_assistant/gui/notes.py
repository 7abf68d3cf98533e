"""The notes tab: list, filter, view, re-categorise and import notes."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .context import AppContext


class NotesTab(QWidget):
    # TODO: the real view (remove when its helper lands it)
    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        QVBoxLayout(self).addWidget(QLabel("NotesTab"))

    def start_import(self, paths: list) -> None:
        pass
