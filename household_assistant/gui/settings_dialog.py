"""The Settings dialog (Cmd+,)."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QWidget

from .context import AppContext


class SettingsDialog(QDialog):
    # TODO: the real dialog (remove when its helper lands it)
    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
