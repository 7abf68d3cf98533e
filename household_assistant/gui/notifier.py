"""The one place the window shows errors and notices: a bar above the tabs.

Every worker's `failed` signal and every caught HouseholdError ends here, with
the message the core wrote. Errors stay until dismissed; notices fade.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

# Background and text colours per level; chosen to read in light and dark mode.
_LEVEL_STYLE = {
    "error": ("#fbe3e4", "#8a1c23"),
    "warning": ("#fdf1d8", "#6b4a00"),
    "info": ("#e3effb", "#123e6b"),
}
INFO_TIMEOUT_MS = 6000


class MessageBar(QFrame):
    """A dismissable one-message bar."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.level = ""
        self._label = QLabel()
        self._label.setWordWrap(True)
        self._label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.dismiss)

        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 6, 6)
        layout.addWidget(self._label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self._timer = QTimer(self, singleShot=True, timeout=self.dismiss)
        self.hide()

    def text(self) -> str:
        return self._label.text()

    def show_message(self, level: str, text: str) -> None:
        background, foreground = _LEVEL_STYLE.get(level, _LEVEL_STYLE["info"])
        self.setStyleSheet(
            f"#messageBar {{ background: {background}; border-radius: 6px; }}"
            f"#messageBar QLabel, #messageBar QToolButton {{ color: {foreground}; }}"
        )
        self.level = level
        self._label.setText(text)
        self.show()
        if level == "info":
            self._timer.start(INFO_TIMEOUT_MS)
        else:
            self._timer.stop()

    def dismiss(self) -> None:
        self._timer.stop()
        self.level = ""
        self.hide()
