"""The main window: menu bar, message bar, the Welcome page and the four tabs.

Files and folders dropped anywhere on the window (or on the Dock icon, which
arrives as a QFileOpenEvent, see app.py) go to the Notes tab's import dialog.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from .. import __version__
from ..config import APP_NAME
from . import workers
from .chat import ChatTab
from .context import AppContext
from .insights import InsightsTab
from .notes import NotesTab
from .notifier import MessageBar
from .settings_dialog import SettingsDialog
from .trainer_tab import TrainerTab
from .welcome import WelcomeView

logger = logging.getLogger(__name__)

DEFAULT_SIZE = (1100, 760)


def dropped_paths(mime) -> list[Path]:
    """The local files and folders in a drag's data; web links are ignored."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


class MainWindow(QMainWindow):
    def __init__(self, ctx: AppContext):
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)

        self.message_bar = MessageBar()
        ctx.notice.connect(self.message_bar.show_message)

        self.chat = ChatTab(ctx)
        self.notes = NotesTab(ctx)
        self.trainer = TrainerTab(ctx)
        self.insights = InsightsTab(ctx)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        for tab, title in (
            (self.chat, "Chat"),
            (self.notes, "Notes"),
            (self.trainer, "Trainer"),
            (self.insights, "Insights"),
        ):
            self.tabs.addTab(tab, title)
        self.tabs.currentChanged.connect(self._tab_shown)
        self.chat.open_note.connect(self.show_note)

        self.welcome = WelcomeView(ctx)
        self.welcome.done.connect(self.show_tabs)
        self.pages = QStackedWidget()
        self.pages.addWidget(self.welcome)
        self.pages.addWidget(self.tabs)

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(8, 8, 8, 0)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)

        self._build_menus()
        ctx.models_changed.connect(self.update_readiness)
        self._restore_state()
        self.update_readiness()
        ready, _ = ctx.models_ready()
        if ready:
            self.show_tabs()
        else:
            self.pages.setCurrentWidget(self.welcome)

    # --- menus -----------------------------------------------------------------

    def _build_menus(self) -> None:
        bar = self.menuBar()
        app_menu = bar.addMenu("&File")
        self.about_action = self._action(
            f"About {APP_NAME}", self.show_about, role=QAction.MenuRole.AboutRole
        )
        self.settings_action = self._action(
            "Settings…",
            self.show_settings,
            QKeySequence("Ctrl+,"),
            QAction.MenuRole.PreferencesRole,
        )
        self.new_chat_action = self._action(
            "New Chat", self.new_chat, QKeySequence(QKeySequence.StandardKey.New)
        )
        self.import_action = self._action(
            "Import Notes…",
            self.choose_files,
            QKeySequence(QKeySequence.StandardKey.Open),
        )
        self.quit_action = self._action(
            "Quit",
            self.close,
            QKeySequence(QKeySequence.StandardKey.Quit),
            QAction.MenuRole.QuitRole,
        )
        for action in (self.new_chat_action, self.import_action):
            app_menu.addAction(action)
        app_menu.addSeparator()
        app_menu.addAction(self.settings_action)
        app_menu.addSeparator()
        app_menu.addAction(self.quit_action)

        view = bar.addMenu("&View")
        for index, name in enumerate(("Chat", "Notes", "Trainer", "Insights")):
            view.addAction(
                self._action(
                    name,
                    lambda i=index: self.show_tab(i),
                    QKeySequence(f"Ctrl+{index + 1}"),
                )
            )
        help_menu = bar.addMenu("&Help")
        help_menu.addAction(self.about_action)

    def _action(self, text, slot, shortcut=None, role=None) -> QAction:
        action = QAction(text, self)
        action.triggered.connect(slot)
        if shortcut is not None:
            action.setShortcut(shortcut)
        if role is not None:
            action.setMenuRole(role)
        return action

    # --- pages -------------------------------------------------------------------

    def show_tabs(self) -> None:
        self.pages.setCurrentWidget(self.tabs)

    def show_welcome(self) -> None:
        self.pages.setCurrentWidget(self.welcome)

    def show_tab(self, index: int) -> None:
        self.show_tabs()
        self.tabs.setCurrentIndex(index)

    def _tab_shown(self, index: int) -> None:
        tab = self.tabs.widget(index)
        refresh = getattr(tab, "refresh", None)
        if refresh is not None:
            refresh()

    def show_note(self, note_id: str) -> None:
        """A source clicked in Chat: show that note in the Notes tab."""
        self.show_tab(1)
        self.notes.show_note(note_id)

    def update_readiness(self) -> None:
        ready, reason = self.ctx.models_ready()
        self.chat.set_ready(ready, reason)

    def new_chat(self) -> None:
        self.show_tab(0)
        self.chat.new_chat()

    def show_settings(self) -> None:
        dialog = SettingsDialog(self.ctx, self)
        dialog.open()

    def show_about(self) -> None:
        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            f"<h3>{APP_NAME} {__version__}</h3>"
            "<p>Chat privately with your household's notes. Everything runs on "
            "this Mac with MLX; no note ever leaves it.</p>"
            f"<p>Data folder: {self.ctx.home}</p>",
        )

    # --- importing -------------------------------------------------------------

    def choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self,
            "Import Notes",
            str(Path.home()),
            "Notes (*.txt *.md *.markdown *.pdf *.docx *.html *.htm);;All files (*)",
        )
        if files:
            self.import_paths([Path(f) for f in files])

    def import_paths(self, paths: list[Path]) -> None:
        """Open the import dialog for dropped or chosen files and folders."""
        if not paths:
            return
        self.show_tab(1)
        self.notes.start_import(paths)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # Qt's override
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # Qt's override
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # Qt's override
        paths = dropped_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.import_paths(paths)

    # --- window state ------------------------------------------------------------

    def _restore_state(self) -> None:
        settings = self.ctx.qsettings()
        geometry = settings.value("window/geometry")
        restored = isinstance(geometry, QByteArray) and self.restoreGeometry(geometry)
        if not restored:
            self.resize(*DEFAULT_SIZE)
        tab = settings.value("window/tab", 0, type=int)
        self.tabs.setCurrentIndex(tab if 0 <= tab < self.tabs.count() else 0)

    def save_state(self) -> None:
        settings = self.ctx.qsettings()
        settings.setValue("window/geometry", self.saveGeometry())
        settings.setValue("window/tab", self.tabs.currentIndex())
        settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # Qt's override
        self.save_state()
        for tab in (self.welcome, self.chat, self.notes, self.trainer, self.insights):
            shutdown = getattr(tab, "shutdown", None)
            if shutdown is not None:
                shutdown()
        workers.stop_all()
        event.accept()
