"""The Insights tab: usage, router accuracy from feedback, and savings."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .context import AppContext


class InsightsTab(QWidget):
    # TODO: the real view (remove when its helper lands it)
    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        QVBoxLayout(self).addWidget(QLabel("InsightsTab"))

    def refresh(self) -> None:
        pass
