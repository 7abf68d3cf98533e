"""The Trainer tab: the data set, retraining, results and adapter history."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .context import AppContext


class TrainerTab(QWidget):
    # TODO: the real view (remove when its helper lands it)
    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        QVBoxLayout(self).addWidget(QLabel("TrainerTab"))

    def refresh(self) -> None:
        pass
