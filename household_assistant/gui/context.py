"""What every part of the window shares: the core, the notifier and the news.

Tabs never reach into one another. When one changes something the others show
(a correction, an import, a new adapter), it emits the matching signal here
and the others refresh.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal

from ..assistant import Assistant

logger = logging.getLogger(__name__)

WINDOW_STATE_FILE = "window.ini"


class AppContext(QObject):
    """The running app's shared state.

    Signals:
        notice(str, str): (level, text) for the message bar; level is
            "error", "warning" or "info".
        notes_changed(): notes were imported, removed or re-categorised.
        feedback_changed(): a question, thumbs or correction was recorded.
        router_changed(): the active adapter or the router setting changed.
        categories_changed(): a category was added or renamed.
        models_changed(): a model was downloaded or a model setting changed.
        assistant_replaced(): `assistant` is a new object (settings were reset,
            or the data folder moved); drop anything that held the old one.
    """

    notice = Signal(str, str)
    notes_changed = Signal()
    feedback_changed = Signal()
    router_changed = Signal()
    categories_changed = Signal()
    models_changed = Signal()
    assistant_replaced = Signal()

    def __init__(self, assistant: Assistant, parent: QObject | None = None):
        super().__init__(parent)
        self.assistant = assistant

    @property
    def home(self) -> Path:
        return self.assistant.home

    def notify(self, text: str, level: str = "error") -> None:
        """Show `text` in the window's message bar (and log it)."""
        log = logger.warning if level in ("error", "warning") else logger.info
        log("%s", text)
        self.notice.emit(level, text)

    def qsettings(self) -> QSettings:
        """Window geometry and view state, kept in the data folder."""
        return QSettings(str(self.home / WINDOW_STATE_FILE), QSettings.Format.IniFormat)

    def models_ready(self) -> tuple[bool, str]:
        """(True, "") when the router, answer and embedding models are on disk;
        otherwise False and why, in words for the chat's disabled state."""
        missing = [s for s in self.assistant.models.statuses() if not s.ready]
        if not missing:
            return True, ""
        names = ", ".join(f"the {s.role} model" for s in missing)
        return False, f"Chat needs {names}. Download it on the Welcome page."

    def replace_assistant(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.assistant_replaced.emit()
