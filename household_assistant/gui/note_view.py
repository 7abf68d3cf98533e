"""One note, read back from its chunks: the Notes tab's side panel."""

from __future__ import annotations

import os
import re
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ..store import Hit, NoteInfo
from .context import AppContext
from .style import emphasized
from .workers import Task

# Formats whose text the readers give back as markdown (headings as "#").
MARKDOWN_SUFFIXES = {".md", ".markdown", ".docx", ".html", ".htm"}
# A repeat shorter than this is more likely chance than chunk overlap.
MIN_OVERLAP = 3
_HEADING_LINE = re.compile(r"^ {0,3}#{1,6}[ \t]")


def display_path(source: str) -> str:
    """A source path as a person reads it: the home folder as ~."""
    home = str(Path.home())
    if source == home or source.startswith(home + os.sep):
        return "~" + source[len(home) :]
    return source


def note_text(chunks: list[str], overlap: int) -> str:
    """A note's text from its chunks in order, without what chunking repeated.

    Each chunk of a section starts with the section's heading lines, and
    all but its first also with up to `overlap` characters of the one before.
    """
    parts: list[str] = []
    previous = ""
    for text in chunks:
        body = text
        head, joiner, rest = text.partition("\n\n")
        if previous and joiner and _is_heading(head):
            if previous.partition("\n\n")[0] == head:
                body = rest
        parts.append(_drop_overlap(previous, body, overlap))
        previous = text
    return "\n\n".join(p for p in parts if p)


def _is_heading(block: str) -> bool:
    return all(_HEADING_LINE.match(line) for line in block.split("\n"))


def _drop_overlap(previous: str, body: str, overlap: int) -> str:
    # The chunker starts a chunk with the previous one's tail and a space.
    longest = min(overlap, len(previous), len(body) - 1)
    for size in range(longest, MIN_OVERLAP - 1, -1):
        if body[size] == " " and previous.endswith(body[:size]):
            return body[size + 1 :]
    return body


class NoteView(QWidget):
    """Shows one note: title, where it came from, its category and its text.

    Signals:
        category_chosen(str): the user picked another category for this note.
        reimport_requested(), remove_requested(): the buttons under the title.
    """

    category_chosen = Signal(str)
    reimport_requested = Signal()
    remove_requested = Signal()
    text_shown = Signal(str)  # the note id whose text is now on screen

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.note: NoteInfo | None = None
        self._reader: Task | None = None

        self.placeholder = QLabel("Select a note to read it.")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setForegroundRole(QPalette.ColorRole.PlaceholderText)

        self.pages = QStackedWidget()
        self.pages.addWidget(self.placeholder)
        self.pages.addWidget(self._build_page())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 0, 0, 0)
        layout.addWidget(self.pages)

    def _build_page(self) -> QWidget:
        self.title = emphasized(QLabel(), 1.35)
        self.title.setWordWrap(True)
        self.details = QLabel()
        self.details.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.source = QLabel()
        self.source.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.source.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )

        self.category = QComboBox()
        self.category.activated.connect(self._category_activated)
        self.reimport_button = QPushButton("Re-import")
        self.reimport_button.setToolTip("Read the file again, keeping the category")
        self.reimport_button.clicked.connect(self.reimport_requested)
        self.remove_button = QPushButton("Remove…")
        self.remove_button.clicked.connect(self.remove_requested)
        actions = QHBoxLayout()
        actions.setSpacing(8)
        actions.addWidget(QLabel("Category:"))
        actions.addWidget(self.category)
        actions.addStretch(1)
        actions.addWidget(self.reimport_button)
        actions.addWidget(self.remove_button)

        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(True)
        self.text.document().setDocumentMargin(10)

        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.title)
        layout.addWidget(self.details)
        layout.addWidget(self.source)
        layout.addSpacing(4)
        layout.addLayout(actions)
        layout.addWidget(self.text, 1)
        return page

    def show_note(self, note: NoteInfo | None, category: str, gone: bool) -> None:
        """Show `note` (None: nothing selected) and read its text on a worker."""
        changed = note is None or self.note is None or note != self.note
        self.note = note
        if note is None:
            self.pages.setCurrentIndex(0)
            return
        self.pages.setCurrentIndex(1)
        self.title.setText(note.title)
        when = datetime.fromtimestamp(note.imported_at)
        chunks = f"{note.chunks} chunk{'s' if note.chunks != 1 else ''}"
        self.details.setText(f"{chunks} · imported {when:%d %B %Y, %H:%M}")
        where = display_path(note.source)
        self.source.setText(f"{where} — the file is gone" if gone else where)
        self.source.setToolTip(note.source)
        self._fill_categories(category)
        if changed:
            self._read(note)

    def _fill_categories(self, current: str) -> None:
        combo = self.category
        combo.blockSignals(True)
        combo.clear()
        for category in self.ctx.assistant.categories:
            combo.addItem(category.name, category.name)
        index = combo.findData(current)
        if index < 0:
            combo.addItem(current, None)  # a deleted category: shown, not chosen
            index = combo.count() - 1
        combo.setCurrentIndex(index)
        combo.blockSignals(False)

    def _category_activated(self, index: int) -> None:
        name = self.category.itemData(index)
        if name is not None:
            self.category_chosen.emit(name)

    def _read(self, note: NoteInfo) -> None:
        self.text.setPlainText("Loading…")
        store = self.ctx.assistant.store
        task = Task(lambda t: store.chunks(note.note_id))
        task.result.connect(lambda hits: self._show_text(note, hits))
        task.failed.connect(self.ctx.notify)
        self._reader = task
        task.start()

    def _show_text(self, note: NoteInfo, hits: list[Hit]) -> None:
        if self.note is None or self.note.note_id != note.note_id:
            return  # another note was chosen while this one loaded
        overlap = self.ctx.assistant.settings.chunk_overlap
        text = note_text([h.text for h in hits], overlap)
        if Path(note.source).suffix.lower() in MARKDOWN_SUFFIXES:
            self.text.setMarkdown(text)
        else:
            self.text.setPlainText(text)
        self.text_shown.emit(note.note_id)

    def shown_text(self) -> str:
        return self.text.toPlainText()
