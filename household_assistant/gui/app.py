"""Start the desktop app: `household-assistant` with no arguments lands here."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

from PySide6.QtCore import QEvent
from PySide6.QtGui import QFileOpenEvent, QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from .. import __version__
from ..config import APP_NAME, data_dir
from ..errors import HouseholdError
from ..logs import setup_logging
from ..resources import resource
from .workers import MainThreadCollector

logger = logging.getLogger(__name__)

ICON_FILE = "icon.png"


class HouseholdApp(QApplication):
    """QApplication that forwards files dropped on the Dock icon to the window.

    macOS sends them as QFileOpenEvents, one per file; they may arrive before
    the window exists, so they wait in `pending` until it does.
    """

    def __init__(self, argv: list[str]):
        super().__init__(argv)
        self.setApplicationName(APP_NAME)
        self.setApplicationDisplayName(APP_NAME)
        self.setApplicationVersion(__version__)
        self.setOrganizationName(APP_NAME)
        icon = resource(ICON_FILE)
        if icon.exists():
            self.setWindowIcon(QIcon(str(icon)))
        self.window = None
        self.pending: list[Path] = []
        self.collector = MainThreadCollector(self)

    def event(self, event: QEvent) -> bool:  # Qt's override
        if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
            path = Path(event.file())
            if self.window is None:
                self.pending.append(path)
            else:
                self.window.import_paths([path])
            return True
        return super().event(event)


def build_window(home: Path | None = None):
    """The main window over the data folder `home` (default: the usual one)."""
    from ..assistant import Assistant
    from .context import AppContext
    from .window import MainWindow

    ctx = AppContext(Assistant(home))
    return MainWindow(ctx)


def main(argv: list[str] | None = None) -> int:
    """Open the window and run until it closes; returns the exit status."""
    app = QApplication.instance() or HouseholdApp(sys.argv if argv is None else argv)
    try:
        home = data_dir()
        setup_logging(home)
        window = build_window(home)
    except HouseholdError as exc:
        # Nothing to show yet but the problem itself.
        QMessageBox.critical(None, APP_NAME, str(exc))
        return exc.exit_code

    window.show()
    if isinstance(app, HouseholdApp):
        app.window = window
        if app.pending:
            window.import_paths(app.pending)
            app.pending = []
    logger.info("%s %s started with data in %s", APP_NAME, __version__, home)
    return app.exec()
