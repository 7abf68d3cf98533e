"""The chat tab: ask, watch the answer stream in, correct the route."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .context import AppContext


class ChatTab(QWidget):
    # TODO: the real view (remove when its helper lands it)
    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        QVBoxLayout(self).addWidget(QLabel("ChatTab"))

    def new_chat(self) -> None:
        pass

    def set_ready(self, ready: bool, reason: str = "") -> None:
        self.setEnabled(ready)
