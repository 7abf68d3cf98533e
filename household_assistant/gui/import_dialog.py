"""The import dialog: the files found, a category for each, then a report.

Files are found and read on worker threads: walking a big folder, reading a PDF
and asking the router all take time. Each row's category starts as the router's
suggestion (or the note's stored category) and can be changed before import.
The import itself makes one `Assistant.import_files` call per chosen category.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..assistant import Assistant
from ..importer import FileResult, collect_files, prepare_file
from ..router import RouteDecision
from .context import AppContext
from .workers import Task, iterate

logger = logging.getLogger(__name__)

FILE, CATEGORY, STATUS = range(3)
SUGGESTING = "suggesting…"
# Files handed to the core per call; Stop takes effect between these.
SLICE_FILES = 16
# A red that stays readable on light and dark backgrounds.
FAILED_COLOUR = QColor("#d0463b")
STATUS_WORDS = {
    "imported": "Imported",
    "updated": "Updated",
    "unchanged": "Unchanged",
    "skipped": "Skipped",
    "failed": "Failed",
}


@dataclass(frozen=True)
class Suggestion:
    """What the router (or the store) says about one row's file."""

    row: int
    code: str | None = None
    confidence: float | None = None  # None: the note's stored category
    problem: FileResult | None = None  # the file will be skipped or fail


def suggest_categories(
    assistant: Assistant, files: list[tuple[int, Path]]
) -> Iterator[Suggestion]:
    """Read each file as the import will, and say which category it would get."""
    decisions: list[RouteDecision] = []

    def route(text: str) -> RouteDecision:
        decisions.append(assistant.route(text))
        return decisions[-1]

    for row, path in files:
        decisions.clear()
        outcome = prepare_file(
            path, assistant.store, assistant.categories, assistant.settings, None, route
        )
        if isinstance(outcome, FileResult):
            yield Suggestion(row, problem=outcome)
        else:
            confidence = decisions[0].confidence if decisions else None
            yield Suggestion(row, outcome.draft.code, confidence)


@dataclass
class _Row:
    index: int
    path: Path
    skip: str | None  # why collect_files already skipped it
    combo: QComboBox | None = None
    problem: FileResult | None = None
    suggested: str | None = None  # the suggested category's name
    stored: bool = False  # the suggestion is the stored note's own category
    confidence: float = 0.0
    asked: bool = False  # a suggestion task has had this row
    result: FileResult | None = None


class ImportDialog(QDialog):
    """Lists dropped files with a category each, imports them, reports per file.

    Signals:
        import_finished(list): the FileResults, once an import ends (also when
            it was stopped part way).
    """

    import_finished = Signal(list)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.rows: list[_Row] = []
        self.results: list[FileResult] = []
        self._collecting: set[Task] = set()
        self._suggester: Task | None = None
        self._importer: Task | None = None
        self._import_order: list[_Row] = []
        self._start_when_idle = False
        self._closed = False
        self.setWindowTitle("Import Notes")
        self.setAcceptDrops(True)
        self.resize(860, 500)
        self._build()

    def _build(self) -> None:
        self.summary = QLabel("Looking for files…")
        self.summary.setWordWrap(True)

        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["File", "Category", "Status"])
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(FILE, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(CATEGORY, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(STATUS, QHeaderView.ResizeMode.Stretch)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft)
        self.table.setColumnWidth(FILE, 240)
        self.table.setColumnWidth(CATEGORY, 180)
        self.table.verticalHeader().setDefaultSectionSize(34)

        self.progress = QProgressBar()
        self.progress.setFormat("%v of %m files")
        self.progress.hide()

        self.buttons = QDialogButtonBox()
        self.import_button = self.buttons.addButton(
            "Import", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.cancel_button = self.buttons.addButton(
            QDialogButtonBox.StandardButton.Cancel
        )
        self.import_button.setDefault(True)
        self.import_button.setEnabled(False)
        self.import_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 12)
        layout.setSpacing(10)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.buttons)

    # --- finding files -------------------------------------------------------

    @property
    def importing(self) -> bool:
        return self._importer is not None and self._importer.is_running()

    @property
    def busy(self) -> bool:
        """Still finding files or suggesting categories."""
        return bool(self._collecting) or self._suggester is not None

    @property
    def started(self) -> bool:
        """True once Import was pressed: no more files can join this dialog."""
        return self._importer is not None or self._start_when_idle

    def add_paths(self, paths: list[Path]) -> None:
        """Find the files in `paths` (on a worker) and list them."""
        if self.started:
            raise RuntimeError("add_paths after the import started")
        task = Task(lambda t: collect_files(paths))
        self._collecting.add(task)
        task.result.connect(self._add_files)
        task.failed.connect(self.ctx.notify)
        task.finished.connect(lambda: self._collected(task))
        self._update_summary()
        task.start()

    def _collected(self, task: Task) -> None:
        self._collecting.discard(task)
        self._update_summary()
        if not self._start_if_waiting():
            self._suggest_next()
        self._dispose_if_idle()

    def _add_files(self, files: list[tuple[Path, str | None]]) -> None:
        known = {os.path.abspath(r.path) for r in self.rows}
        root = _display_root([p for p, _ in files])
        for path, skip in files:
            if os.path.abspath(path) in known:
                continue
            known.add(os.path.abspath(path))
            self._add_row(_Row(len(self.rows), Path(path), skip), root)
        self._suggest_next()

    def _add_row(self, row: _Row, root: str) -> None:
        index = row.index
        self.table.insertRow(index)
        self.rows.append(row)
        name = QTableWidgetItem(_relative(row.path, root))
        name.setToolTip(str(row.path))
        self.table.setItem(index, FILE, name)
        self.table.setItem(index, STATUS, QTableWidgetItem())
        if row.skip is not None:
            self._set_problem(index, f"Will be skipped: {row.skip}", muted=True)
            return

        row.combo = QComboBox()
        row.combo.addItem(SUGGESTING, None)
        for category in self.ctx.assistant.categories:
            row.combo.addItem(category.name, category.name)
        row.combo.currentIndexChanged.connect(lambda _, i=index: self._chosen(i))
        cell = QWidget()
        margins = QHBoxLayout(cell)
        margins.setContentsMargins(2, 2, 10, 2)
        margins.addWidget(row.combo)
        self.table.setCellWidget(index, CATEGORY, cell)
        self._set_status(index, "Waiting for a suggestion…", muted=True)

    # --- suggestions ---------------------------------------------------------

    def _suggest_next(self) -> None:
        """Suggest categories for rows that have none yet, one task at a time."""
        if self._suggester is not None or self.started or self._closed:
            return
        waiting = [(r.index, r.path) for r in self.rows if r.combo and not r.asked]
        if not waiting:
            return
        for index, _ in waiting:
            self.rows[index].asked = True
            self._set_status(index, SUGGESTING.capitalize(), muted=True)
        assistant = self.ctx.assistant
        task = Task(iterate(lambda: suggest_categories(assistant, waiting)))
        task.progress.connect(self._suggested)
        task.failed.connect(self._suggestions_failed)
        task.finished.connect(self._suggestions_done)
        self._suggester = task
        self._update_summary()
        task.start()

    def _suggested(self, suggestion: Suggestion) -> None:
        row = self.rows[suggestion.row]
        if suggestion.problem is not None:
            row.problem = suggestion.problem
            verb = "skipped" if row.problem.status == "skipped" else "fail"
            self._drop_combo(suggestion.row)
            self._set_problem(
                suggestion.row,
                f"Will be {verb}: {row.problem.reason}",
                muted=row.problem.status == "skipped",
            )
            return

        name = self.ctx.assistant.categories.by_code(suggestion.code).name
        row.suggested = name
        row.stored = suggestion.confidence is None
        row.confidence = suggestion.confidence or 0.0
        combo = row.combo
        if combo.currentData() is None:  # the user has not picked one yet
            combo.blockSignals(True)
            combo.setCurrentIndex(combo.findData(name))
            combo.blockSignals(False)
        combo.removeItem(combo.findData(None))
        self._chosen(suggestion.row)

    def _suggestions_failed(self, message: str) -> None:
        self.ctx.notify(f"Could not suggest categories: {message}")
        for index, row in enumerate(self.rows):
            if row.combo is not None and row.suggested is None:
                row.combo.setItemText(row.combo.findData(None), "choose…")
                self._set_status(index, "No suggestion; choose a category", True)

    def _suggestions_done(self) -> None:
        self._suggester = None
        self._update_summary()
        if not self._start_if_waiting():
            self._suggest_next()
        self._dispose_if_idle()

    def _chosen(self, index: int) -> None:
        row = self.rows[index]
        chosen = row.combo.currentData()
        if row.result is not None or chosen is None:
            return
        if chosen == row.suggested and row.stored:
            self._set_status(index, "Already stored; keeps its category", True)
        elif chosen == row.suggested:
            self._set_status(index, f"Suggested ({row.confidence:.0%} sure)", True)
        elif row.suggested is None:
            self._set_status(index, "Chosen by you", muted=True)
        else:
            self._set_status(index, f"Chosen by you (suggested: {row.suggested})")

    # --- importing -----------------------------------------------------------

    def groups(self) -> list[tuple[str | None, list[_Row]]]:
        """Rows by the category they will be stored in, first seen first.

        None is for rows the core decides itself: files it will skip, and files
        nobody chose a category for (it keeps a stored note's category and asks
        the router for a new one).
        """
        grouped: dict[str | None, list[_Row]] = {}
        for row in self.rows:
            category = row.combo.currentData() if row.combo is not None else None
            grouped.setdefault(category, []).append(row)
        return list(grouped.items())

    def start(self) -> None:
        """Import every row; waits for running suggestions to stop first."""
        if self.started or not self.rows:
            return
        self._start_when_idle = True
        self.import_button.setEnabled(False)
        for row in self.rows:
            if row.combo is not None:
                row.combo.setEnabled(False)
        if self._suggester is not None:
            self._suggester.cancel()
        self._start_if_waiting()

    def _start_if_waiting(self) -> bool:
        if not self._start_when_idle or self._suggester or self._collecting:
            return False
        self._start_when_idle = False
        groups = self.groups()
        self._import_order = [row for _, rows in groups for row in rows]
        jobs = [
            (category, [(r.path, r.skip) for r in rows]) for category, rows in groups
        ]
        assistant = self.ctx.assistant

        def run(task: Task) -> None:
            # Stop only between slices: the core stores a slice's notes in one
            # write, so every result reported is a file really stored (or not).
            for category, files in jobs:
                for start in range(0, len(files), SLICE_FILES):
                    if task.is_cancelled:
                        return
                    piece = files[start : start + SLICE_FILES]
                    for result in assistant.import_files(piece, category):
                        task.report(result)

        task = Task(run)
        task.progress.connect(self._imported)
        task.failed.connect(self._import_failed)
        task.finished.connect(self._import_done)
        self._importer = task
        self.progress.setRange(0, len(self._import_order))
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.setText("Stop")
        self.summary.setText(f"Importing {_files(len(self._import_order))}…")
        task.start()
        return True

    def _imported(self, result: FileResult) -> None:
        # import_files yields one result per file, in the order it was given.
        row = self._import_order[len(self.results)]
        row.result = result
        self.results.append(result)
        self.progress.setValue(len(self.results))
        self._show_result(row.index, result)

    def _import_failed(self, message: str) -> None:
        self.ctx.notify(f"The import stopped: {message}")

    def _import_done(self) -> None:
        stopped = len(self.results) < len(self._import_order)
        for row in self._import_order[len(self.results) :]:
            self._set_status(row.index, "Not imported (stopped)", True)
        counts = Counter(r.status for r in self.results)
        parts = [f"{counts[s]} {s}" for s in STATUS_WORDS if counts[s]]
        text = ", ".join(parts) or "Nothing imported"
        if stopped:
            left = len(self._import_order) - len(self.results)
            text += f"; stopped before {_files(left)}"
        self.summary.setText(f"{text[0].upper()}{text[1:]}.")
        self.progress.hide()

        self.buttons.clear()
        self.done_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.done_button.setText("Done")
        self.done_button.setDefault(True)
        self.done_button.clicked.connect(self.accept)
        if counts["imported"] or counts["updated"]:
            self.ctx.notes_changed.emit()
        self.import_finished.emit(list(self.results))

    def _show_result(self, index: int, result: FileResult) -> None:
        # The report shows the category stored, as text: nothing left to choose.
        self._drop_combo(index)
        word = STATUS_WORDS.get(result.status, result.status)
        if result.status in ("skipped", "failed"):
            self._set_problem(
                index, f"{word}: {result.reason}", muted=result.status == "skipped"
            )
            return
        self.table.setItem(index, CATEGORY, QTableWidgetItem(result.category or ""))
        detail = f"{result.chunks} chunk{'s' if result.chunks != 1 else ''}"
        self._set_status(index, f"{word} · {detail}", result.status == "unchanged")

    # --- cells ---------------------------------------------------------------

    def status_text(self, index: int) -> str:
        return self.table.item(index, STATUS).text()

    def category_text(self, index: int) -> str:
        """The row's category: chosen (a combo box) or stored (after import)."""
        combo = self.rows[index].combo
        if combo is not None:
            return combo.currentText()
        item = self.table.item(index, CATEGORY)
        return item.text() if item is not None else ""

    def _set_status(self, index: int, text: str, muted: bool = False) -> None:
        item = self.table.item(index, STATUS)
        item.setText(text)
        item.setToolTip(text)
        role = QPalette.ColorRole.PlaceholderText if muted else QPalette.ColorRole.Text
        item.setForeground(self.palette().color(role))

    def _set_problem(self, index: int, text: str, muted: bool) -> None:
        self._set_status(index, text, muted)
        if not muted:
            self.table.item(index, STATUS).setForeground(FAILED_COLOUR)
        if self.table.item(index, CATEGORY) is None:
            dash = QTableWidgetItem("—")
            dash.setForeground(self.palette().color(QPalette.ColorRole.PlaceholderText))
            self.table.setItem(index, CATEGORY, dash)

    def _drop_combo(self, index: int) -> None:
        row = self.rows[index]
        if row.combo is not None:
            self.table.removeCellWidget(index, CATEGORY)
            row.combo = None

    def _update_summary(self) -> None:
        if self.started:
            return
        skipped = sum(1 for r in self.rows if r.skip or r.problem)
        if not self.rows and not self._collecting:
            self.summary.setText(
                "No files found. Drop files or folders of notes (.txt .md .pdf "
                ".docx .html) here."
            )
            self.import_button.setEnabled(False)
            return
        if not self.rows:
            self.summary.setText("Looking for files…")
            return
        found = _files(len(self.rows)) + " found"
        if skipped:
            found += f" ({skipped} will be skipped)"
        if self._collecting:
            found += " · looking for more…"
        elif self._suggester is not None:
            found += " · suggesting categories…"
        else:
            found += ". Check each category, then Import."
        self.summary.setText(found)
        self.import_button.setEnabled(not self._collecting)
        self.import_button.setText(f"Import {_files(len(self.rows))}")

    # --- closing and drops ---------------------------------------------------

    def reject(self) -> None:  # Qt's override
        # Closing mid-import stops it; the report stays up to show what was done.
        if self.importing:
            self._importer.cancel()
            self.cancel_button.setEnabled(False)
            self.summary.setText("Stopping after the current file…")
            return
        if self._suggester is not None:
            self._suggester.cancel()
        for task in self._collecting:
            task.cancel()
        super().reject()

    def done(self, result: int) -> None:  # Qt's override
        self._closed = True
        super().done(result)
        self._dispose_if_idle()

    def _dispose_if_idle(self) -> None:
        # Tasks still finishing hold slots here; the dialog goes once they end.
        busy = self._collecting or self._suggester is not None or self.importing
        if not self.isVisible() and not busy:
            self.deleteLater()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # Qt's override
        if not self.started and event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # Qt's override
        from .window import dropped_paths  # the window imports this module

        paths = dropped_paths(event.mimeData())
        if paths and not self.started:
            event.acceptProposedAction()
            self.add_paths(paths)


def _files(count: int) -> str:
    return f"{count} file{'s' if count != 1 else ''}"


def _display_root(paths: list[Path]) -> str:
    # Files are shown relative to the folder holding everything dropped, so
    # "manuals/boiler.pdf" and "receipts/boiler.pdf" stay apart.
    parents = [os.path.dirname(os.path.abspath(p)) for p in paths]
    try:
        return os.path.commonpath(parents) if parents else ""
    except ValueError:  # different drives
        return ""


def _relative(path: Path, root: str) -> str:
    full = os.path.abspath(path)
    if root and full.startswith(root.rstrip(os.sep) + os.sep):
        return os.path.relpath(full, root)
    return path.name
