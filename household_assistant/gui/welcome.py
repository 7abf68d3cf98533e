"""First run: what will be downloaded, then the downloads with progress."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .context import AppContext


class WelcomeView(QWidget):
    done = Signal()

    # TODO: the real view (remove when its helper lands it)
    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        QVBoxLayout(self).addWidget(QLabel("WelcomeView"))
