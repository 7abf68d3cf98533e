"""The notes tab: list, filter, view, re-categorise, remove and import notes.

Every store call runs on a worker: the store may be a Chroma server on another
machine, and even the local one takes a moment to open. The list is metadata
only (no embedding model); a note's text is read when it is viewed.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QPoint, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..errors import CategoryError
from ..importer import FileResult
from ..store import NoteInfo
from .context import AppContext
from .import_dialog import ImportDialog
from .note_view import NoteView, display_path
from .workers import Task

TITLE, CATEGORY, SOURCE, CHUNKS, IMPORTED = range(5)
HEADERS = ["Title", "Category", "Source file", "Chunks", "Imported"]
NOTE_ROLE = Qt.ItemDataRole.UserRole
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_HEIGHT = 24
EMPTY_TEXT = "Drop files or folders here to import notes\n(.txt .md .pdf .docx .html)"
FILE_FILTER = "Notes (*.txt *.md *.markdown *.pdf *.docx *.html *.htm);;All files (*)"


class _NoteItem(QTreeWidgetItem):
    # Sort by the stored key (a number for chunks and dates), not the text.
    def __lt__(self, other: QTreeWidgetItem) -> bool:
        column = self.treeWidget().sortColumn() if self.treeWidget() else 0
        return self.data(column, SORT_ROLE) < other.data(column, SORT_ROLE)


class NotesTab(QWidget):
    """The household's notes, and the way in for new ones.

    Signals:
        loaded(): the list was (re)loaded from the store.
    """

    loaded = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.notes: dict[str, NoteInfo] = {}
        self.missing: set[str] = set()
        self.import_dialog: ImportDialog | None = None
        self.confirm: QMessageBox | None = None
        self._items: dict[str, _NoteItem] = {}
        self._loader: Task | None = None
        self._reload = False
        self._pending_note: str | None = None
        self._rebuilding = False
        self._build()
        ctx.notes_changed.connect(self.refresh)
        ctx.categories_changed.connect(self.refresh)
        ctx.assistant_replaced.connect(self.refresh)

    # --- layout ----------------------------------------------------------------

    def _build(self) -> None:
        self.category_filter = QComboBox()
        self.category_filter.setMinimumContentsLength(18)
        self.category_filter.addItem("All categories", None)
        self.category_filter.currentIndexChanged.connect(self._apply_filter)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search titles and files")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._apply_filter)
        self.count_label = QLabel()
        self.count_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.import_button = QPushButton("Import…")
        self.import_button.clicked.connect(self.choose_files)

        bar = QHBoxLayout()
        bar.setSpacing(8)
        bar.addWidget(self.category_filter)
        bar.addWidget(self.search, 1)
        bar.addWidget(self.count_label)
        bar.addStretch(0)  # keeps Import at its size while the others hide
        bar.addWidget(self.import_button)

        self.list = self._build_list()
        self.view = NoteView(self.ctx)
        self.view.category_chosen.connect(
            lambda name: self.move_notes(self._viewed(), name)
        )
        self.view.reimport_requested.connect(
            lambda: self.reimport_notes(self._viewed())
        )
        self.view.remove_requested.connect(lambda: self.remove_notes(self._viewed()))
        splitter = QSplitter()
        splitter.addWidget(self.list)
        splitter.addWidget(self.view)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setChildrenCollapsible(False)

        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setObjectName("notesEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet(
            "#notesEmpty { border: 2px dashed palette(mid); border-radius: 14px;"
            " color: palette(placeholder-text); font-size: 15px; padding: 24px; }"
        )
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty)
        self.pages.addWidget(splitter)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 10, 4, 8)
        layout.setSpacing(10)
        layout.addLayout(bar)
        layout.addWidget(self.pages, 1)

    def _build_list(self) -> QTreeWidget:
        tree = QTreeWidget()
        tree.setHeaderLabels(HEADERS)
        tree.setRootIsDecorated(False)
        tree.setUniformRowHeights(True)
        tree.setAlternatingRowColors(True)
        tree.setSortingEnabled(True)
        tree.sortByColumn(IMPORTED, Qt.SortOrder.DescendingOrder)
        tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        tree.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        tree.customContextMenuRequested.connect(self._context_menu)
        tree.currentItemChanged.connect(lambda item, _: self._current_changed(item))
        tree.itemActivated.connect(
            lambda item, _: self.open_files([item.data(0, NOTE_ROLE)])
        )
        header = tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(TITLE, QHeaderView.ResizeMode.Stretch)
        for column in (CATEGORY, SOURCE):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
        for column in (CHUNKS, IMPORTED):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        tree.setColumnWidth(CATEGORY, 110)
        tree.setColumnWidth(SOURCE, 160)
        for keys in (QKeySequence.StandardKey.Delete, QKeySequence("Backspace")):
            shortcut = QShortcut(keys, tree, context=Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(lambda: self.remove_notes(self.selected_ids()))
        return tree

    # --- loading ---------------------------------------------------------------

    def refresh(self) -> None:
        """Reload the list from the store (on a worker); called when shown."""
        if self._loader is not None:
            self._reload = True  # once the running load ends
            return
        assistant = self.ctx.assistant

        def load(task: Task) -> tuple[list[NoteInfo], set[str]]:
            notes = assistant.store.notes()
            return notes, {n.note_id for n in notes if not os.path.exists(n.source)}

        self._loader = Task(load)
        self._loader.result.connect(self._populate)
        self._loader.failed.connect(self.ctx.notify)
        self._loader.finished.connect(self._loaded)
        self._loader.start()

    def _loaded(self) -> None:
        self._loader = None
        if self._reload:
            self._reload = False
            self.refresh()
            return
        if self._pending_note is not None:
            note_id, self._pending_note = self._pending_note, None
            self._select(note_id)
        self.loaded.emit()

    def _populate(self, loaded: tuple[list[NoteInfo], set[str]]) -> None:
        notes, self.missing = loaded
        keep = set(self.selected_ids())
        current = self.list.currentItem()
        current_id = current.data(0, NOTE_ROLE) if current is not None else None

        # Rebuilding the list must not make the viewer re-read the same note.
        self._rebuilding = True
        self.list.setSortingEnabled(False)
        self.list.clear()
        self.notes = {n.note_id: n for n in notes}
        self._items = {n.note_id: self._item(n) for n in notes}
        self.list.addTopLevelItems(list(self._items.values()))
        self.list.setSortingEnabled(True)
        if current_id in self._items:
            self.list.setCurrentItem(
                self._items[current_id], 0, QItemSelectionModel.SelectionFlag.NoUpdate
            )
        for note_id in keep & self._items.keys():
            self._items[note_id].setSelected(True)
        self._rebuilding = False

        self._fill_filter()
        self._show(self.list.currentItem())
        self.pages.setCurrentIndex(1 if notes else 0)
        # With nothing to filter, the drop hint is all the tab needs.
        for widget in (self.category_filter, self.search, self.count_label):
            widget.setVisible(bool(notes))
        self._apply_filter()

    def _item(self, note: NoteInfo) -> _NoteItem:
        category = self.category_name(note)
        gone = note.note_id in self.missing
        when = datetime.fromtimestamp(note.imported_at)
        item = _NoteItem(
            [
                note.title,
                category,
                Path(note.source).name,
                str(note.chunks),
                _date(when),
            ]
        )
        keys = [
            note.title.lower(),
            category,
            note.source.lower(),
            note.chunks,
            note.imported_at,
        ]
        for column, key in enumerate(keys):
            item.setData(column, SORT_ROLE, key)
        item.setData(0, NOTE_ROLE, note.note_id)
        item.setToolTip(SOURCE, note.source + ("\nThe file is gone." if gone else ""))
        item.setSizeHint(TITLE, QSize(0, ROW_HEIGHT))
        item.setToolTip(IMPORTED, when.strftime("%Y-%m-%d %H:%M"))
        item.setTextAlignment(
            CHUNKS, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        if gone:
            font = item.font(SOURCE)
            font.setStrikeOut(True)
            item.setFont(SOURCE, font)
        return item

    def category_name(self, note: NoteInfo) -> str:
        """The note's category under its current name (categories can be renamed)."""
        try:
            return self.ctx.assistant.categories.by_code(note.code).name
        except CategoryError:
            return note.category

    def _fill_filter(self) -> None:
        chosen = self.category_filter.currentData()
        counts = Counter(n.code for n in self.notes.values())
        entries = [(c.code, c.name) for c in self.ctx.assistant.categories]
        known = {code for code, _ in entries}
        # Notes of a deleted category still need a way to be found.
        for note in self.notes.values():
            if note.code not in known:
                known.add(note.code)
                entries.append((note.code, note.category))

        combo = self.category_filter
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(f"All categories ({len(self.notes)})", None)
        for code, name in entries:
            combo.addItem(f"{name} ({counts[code]})", code)
        combo.setCurrentIndex(max(combo.findData(chosen), 0))
        combo.blockSignals(False)

    # --- filtering and selection -----------------------------------------------

    def _apply_filter(self) -> None:
        code = self.category_filter.currentData()
        words = self.search.text().lower().split()
        shown = 0
        for note_id, item in self._items.items():
            note = self.notes[note_id]
            haystack = f"{note.title} {note.source}".lower()
            visible = (code is None or note.code == code) and all(
                word in haystack for word in words
            )
            item.setHidden(not visible)
            shown += visible
        total = len(self._items)
        noun = "note" if total == 1 else "notes"
        self.count_label.setText(
            f"{total} {noun}" if shown == total else f"{shown} of {total} {noun}"
        )

    def visible_ids(self) -> list[str]:
        """The ids of the notes the list shows, top to bottom."""
        items = (
            self.list.topLevelItem(i) for i in range(self.list.topLevelItemCount())
        )
        return [item.data(0, NOTE_ROLE) for item in items if not item.isHidden()]

    def selected_ids(self) -> list[str]:
        return [item.data(0, NOTE_ROLE) for item in self.list.selectedItems()]

    def _viewed(self) -> list[str]:
        return [self.view.note.note_id] if self.view.note is not None else []

    def show_note(self, note_id: str) -> None:
        """Bring the tab forward and show one note (the chat's sources use this)."""
        tabs = self.parentWidget()
        while tabs is not None and not isinstance(tabs, QTabWidget):
            tabs = tabs.parentWidget()
        if tabs is not None:
            tabs.setCurrentWidget(self)
        if self._loader is not None or note_id not in self._items:
            self._pending_note = note_id
            self.refresh()
        else:
            self._select(note_id)

    def _select(self, note_id: str) -> None:
        item = self._items.get(note_id)
        if item is None:
            self.ctx.notify(
                "That note is no longer in the notes store; it may have been "
                "removed. Import its file again to bring it back.",
                "warning",
            )
            return
        if item.isHidden():
            self.search.clear()
            self.category_filter.setCurrentIndex(0)
        self.list.clearSelection()
        self.list.setCurrentItem(item)
        item.setSelected(True)
        self.list.scrollToItem(item)

    def _current_changed(self, item: QTreeWidgetItem | None) -> None:
        if not self._rebuilding:
            self._show(item)

    def _show(self, item: QTreeWidgetItem | None) -> None:
        note = self.notes.get(item.data(0, NOTE_ROLE)) if item is not None else None
        gone = note is not None and note.note_id in self.missing
        self.view.show_note(note, self.category_name(note) if note else "", gone)

    def _context_menu(self, point: QPoint) -> None:
        ids = self.selected_ids()
        if not ids:
            return
        menu = QMenu(self)
        move = menu.addMenu("Move to")
        for category in self.ctx.assistant.categories:
            move.addAction(
                category.name, lambda n=category.name: self.move_notes(ids, n)
            )
        menu.addAction("Re-import", lambda: self.reimport_notes(ids))
        menu.addAction("Open Original File", lambda: self.open_files(ids))
        menu.addSeparator()
        menu.addAction("Remove…", lambda: self.remove_notes(ids))
        menu.popup(self.list.viewport().mapToGlobal(point))

    # --- actions ---------------------------------------------------------------

    def move_notes(self, note_ids: list[str], category: str) -> None:
        """Put notes in another category (no re-embedding), then refresh."""
        notes = [self.notes[i] for i in note_ids if i in self.notes]
        target = self.ctx.assistant.categories.get(category)
        notes = [n for n in notes if n.code != target.code]
        if not notes:
            return
        store = self.ctx.assistant.store

        def move(task: Task) -> int:
            for note in notes:
                store.set_category(note.note_id, target.code, target.name)
            return len(notes)

        what = _titled(notes)
        self._run(move, lambda _: self._changed(f"Moved {what} to {target.name}."))

    def remove_notes(self, note_ids: list[str]) -> None:
        """Ask, then remove notes from the store (their files stay on disk)."""
        notes = [self.notes[i] for i in note_ids if i in self.notes]
        if not notes:
            return
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Remove Notes")
        box.setText(f"Remove {_titled(notes)} from your notes?")
        box.setInformativeText(
            "The assistant will no longer find it. The file itself stays where it "
            "is, and you can import it again later."
            if len(notes) == 1
            else "The assistant will no longer find them. The files themselves stay "
            "where they are, and you can import them again later."
        )
        remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(
            lambda button: self._remove(notes) if button is remove else None
        )
        box.finished.connect(box.deleteLater)
        self.confirm = box
        box.open()

    def _remove(self, notes: list[NoteInfo]) -> None:
        store = self.ctx.assistant.store

        def remove(task: Task) -> int:
            return sum(store.remove(note.note_id) for note in notes)

        what = _titled(notes)
        self._run(remove, lambda _: self._changed(f"Removed {what}."))

    def reimport_notes(self, note_ids: list[str]) -> None:
        """Import notes' files again, each keeping its category."""
        notes = [self.notes[i] for i in note_ids if i in self.notes]
        if not notes:
            return
        assistant = self.ctx.assistant
        categories = {n.note_id: self._known_category(n) for n in notes}

        def reimport(task: Task) -> list[tuple[NoteInfo, FileResult | None]]:
            done = []
            for note in notes:
                if not os.path.isfile(note.source):
                    done.append((note, None))
                    continue
                paths = [Path(note.source)]
                results = list(assistant.import_paths(paths, categories[note.note_id]))
                done.append((note, results[0] if results else None))
            return done

        self._run(reimport, self._reimported)

    def _known_category(self, note: NoteInfo) -> str | None:
        # None lets the core route a note whose category was deleted.
        try:
            return self.ctx.assistant.categories.by_code(note.code).name
        except CategoryError:
            return None

    def _reimported(self, done: list[tuple[NoteInfo, FileResult | None]]) -> None:
        problems, counts = [], Counter()
        for note, result in done:
            if result is None:
                problems.append(
                    f"“{note.title}” could not be re-imported: its file is gone "
                    f"({display_path(note.source)}). Import it from where it is "
                    "now, or remove the note."
                )
            elif result.status in ("skipped", "failed"):
                problems.append(f"“{note.title}” was {result.status}: {result.reason}")
            else:
                counts[result.status] += 1
        if counts:
            summary = ", ".join(f"{n} {status}" for status, n in counts.items())
            self.ctx.notify(
                f"Re-imported {_titled([n for n, _ in done])}: {summary}.", "info"
            )
        if problems:
            self.ctx.notify(" ".join(problems), "warning")
        if counts["imported"] or counts["updated"]:
            self.ctx.notes_changed.emit()

    def open_files(self, note_ids: list[str]) -> None:
        for note_id in note_ids:
            note = self.notes.get(note_id)
            if note is not None and os.path.exists(note.source):
                QDesktopServices.openUrl(QUrl.fromLocalFile(note.source))
            elif note is not None:
                where = display_path(note.source)
                self.ctx.notify(
                    f"The file of “{note.title}” is gone ({where}). Import it from "
                    "where it is now, or remove the note.",
                    "warning",
                )

    def _run(self, job, done) -> None:
        task = Task(job)
        task.result.connect(done)
        task.failed.connect(self.ctx.notify)
        task.start()

    def _changed(self, message: str) -> None:
        self.ctx.notify(message, "info")
        self.ctx.notes_changed.emit()

    # --- importing -------------------------------------------------------------

    def choose_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Import Notes", str(Path.home()), FILE_FILTER
        )
        if files:
            self.start_import([Path(f) for f in files])

    def start_import(self, paths: list[Path]) -> None:
        """Open the import dialog for files and folders (drops, Dock, menu).

        Files dropped while a dialog is still being set up join it.
        """
        dialog = self.import_dialog
        if dialog is None or dialog.started:
            dialog = ImportDialog(self.ctx, self.window())
            dialog.finished.connect(lambda _, d=dialog: self._dialog_closed(d))
            self.import_dialog = dialog
        dialog.add_paths(list(paths))
        dialog.show()
        dialog.raise_()
        dialog.activateWindow()

    def _dialog_closed(self, dialog: ImportDialog) -> None:
        if self.import_dialog is dialog:
            self.import_dialog = None

    def shutdown(self) -> None:
        if self.import_dialog is not None:
            self.import_dialog.reject()


def _titled(notes: list[NoteInfo]) -> str:
    return f"“{notes[0].title}”" if len(notes) == 1 else f"{len(notes)} notes"


def _date(when: datetime) -> str:
    today = datetime.now().date()
    if when.date() == today:
        return f"Today {when:%H:%M}"
    if when.year == today.year:
        return f"{when:%d %b}".lstrip("0")
    return f"{when:%d %b %Y}".lstrip("0")
