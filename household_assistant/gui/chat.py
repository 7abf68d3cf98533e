"""The chat tab: ask, watch the answer stream in, correct the route.

Each question runs `Assistant.ask` in a worker task and an AnswerBubble shows
its events as they arrive. One answer streams at a time: asking again while
one streams (say, from a category chip) stops it first, then starts the next.
Thumbs and corrections are written by small worker tasks too, and announced
with `ctx.feedback_changed` so the other tabs can refresh.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QMetaMethod, Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..assistant import DoneEvent
from ..store import Hit
from .chat_answer import AnswerBubble
from .chat_widgets import (
    ChatInput,
    EmptyState,
    FeedbackDialog,
    QuestionBubble,
    chat_style,
    quiet_label,
)
from .context import AppContext
from .workers import Task, iterate

logger = logging.getLogger(__name__)

COLUMN_WIDTH = 780  # the conversation's widest line, for readable answers
PLACEHOLDER = "Ask about your home…   (Shift+Return for a new line)"


class ChatTab(QWidget):
    """The conversation, the question box and the Send/Stop buttons.

    Signals:
        open_note(str): the id of a source note the user clicked; when nothing
            listens, the note's file opens in its own app instead.
        answer_finished(object): an AnswerBubble stopped streaming (done,
            stopped or failed).
    """

    open_note = Signal(str)
    answer_finished = Signal(object)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.task: Task | None = None
        self.feedback_dialog: FeedbackDialog | None = None
        self._streaming: AnswerBubble | None = None
        self._pending: list[AnswerBubble] = []
        self._writes: list[Callable[[], object]] = []  # feedback, oldest first
        self._writer: Task | None = None
        self._ready, self._reason = True, ""
        self._follow = True  # keep the newest text in view until the user scrolls
        self._notes_checked = False
        self._styling = False

        self._build()
        self._apply_style()
        ctx.assistant_replaced.connect(self.new_chat)
        ctx.categories_changed.connect(self._refresh_menus)
        ctx.notes_changed.connect(self._check_notes)
        stop = QShortcut(QKeySequence(Qt.Key.Key_Escape), self, self.stop)
        stop.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)

    def _build(self) -> None:
        self.new_chat_button = QToolButton()
        self.new_chat_button.setText("New Chat")
        self.new_chat_button.setAutoRaise(True)
        self.new_chat_button.setToolTip("Clear the conversation (⌘N)")
        self.new_chat_button.clicked.connect(self.new_chat)
        top = QHBoxLayout()
        top.addStretch(1)
        top.addWidget(self.new_chat_button)

        self.empty = EmptyState()
        self.empty.example_chosen.connect(self._fill_input)
        self.scroll = self._build_conversation()

        self.input = ChatInput()
        self.input.setPlaceholderText(PLACEHOLDER)
        self.input.submitted.connect(self.send)
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.send)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the answer (Esc)")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.hide()
        frame = QFrame()
        frame.setObjectName("inputFrame")
        framed = QHBoxLayout(frame)
        framed.setContentsMargins(4, 3, 6, 3)
        framed.setSpacing(6)
        framed.addWidget(self.input, 1)
        for button in (self.send_button, self.stop_button):
            framed.addWidget(button, 0, Qt.AlignmentFlag.AlignBottom)
        frame.setMaximumWidth(COLUMN_WIDTH + 16)
        bottom = QHBoxLayout()
        bottom.addStretch(1)
        bottom.addWidget(frame, 100)
        bottom.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 4, 12, 12)
        layout.setSpacing(8)
        layout.addLayout(top)
        layout.addWidget(self.empty, 1)
        layout.addWidget(self.scroll, 1)
        layout.addLayout(bottom)
        self.scroll.hide()

    def _build_conversation(self) -> QScrollArea:
        self.column = QWidget()
        self.column.setMaximumWidth(COLUMN_WIDTH)
        self._column = QVBoxLayout(self.column)
        self._column.setContentsMargins(0, 4, 0, 8)
        self._column.setSpacing(12)
        self._column.addStretch(1)

        page = QWidget()
        row = QHBoxLayout(page)
        row.setContentsMargins(8, 0, 8, 0)
        row.addStretch(1)
        row.addWidget(self.column, 100)
        row.addStretch(1)

        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(page)
        bar = scroll.verticalScrollBar()
        bar.rangeChanged.connect(self._range_changed)
        bar.valueChanged.connect(self._scrolled)
        return scroll

    # --- what the window calls ---------------------------------------------------

    def new_chat(self) -> None:
        """Clear the conversation; an answer still streaming is stopped."""
        if self.task is not None:
            self.task.cancel()
        if self.feedback_dialog is not None:
            self.feedback_dialog.close()
        self._pending.clear()
        self._streaming = None
        while self._column.count() > 1:
            item = self._column.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.scroll.hide()
        self.empty.show()
        self.input.setFocus()

    def set_ready(self, ready: bool, reason: str = "") -> None:
        """Enable asking, or disable it and say why in the question box."""
        self._ready, self._reason = ready, reason
        self._update_controls()

    def refresh(self) -> None:
        self._check_notes()

    def shutdown(self) -> None:
        self._pending.clear()
        if self.task is not None:
            self.task.cancel()
            self.task.wait(10_000)

    def answers(self) -> list[AnswerBubble]:
        """The conversation's answers, oldest first."""
        items = (self._column.itemAt(i) for i in range(self._column.count()))
        return [i.widget() for i in items if isinstance(i.widget(), AnswerBubble)]

    # --- asking --------------------------------------------------------------------

    def send(self) -> None:
        """Ask what is in the question box (Return or the Send button)."""
        if self.task is not None or not self._ready:
            return
        question = self.input.toPlainText().strip()
        if question and self.ask(question) is not None:
            self.input.clear()

    def ask(self, question: str, category: str | None = None) -> AnswerBubble | None:
        """Ask `question` (in `category` when given, skipping the router).

        Returns:
            The answer's bubble, or None when asking is not possible now.
        """
        question = question.strip()
        if not question or not self._ready:
            return None
        self.empty.hide()
        self.scroll.show()
        if category:
            note = quiet_label(f"↻  Asked again in {category}", wrap=False)
            self._add(note, Qt.AlignmentFlag.AlignHCenter)
        else:
            bubble = QuestionBubble(question)
            bubble.setMaximumWidth(int(COLUMN_WIDTH * 0.75))
            self._add(bubble, Qt.AlignmentFlag.AlignRight)

        answer = AnswerBubble(
            question, category, self.ctx.assistant.settings, self.category_names
        )
        answer.reask.connect(lambda name, b=answer: self.reask(b, name))
        answer.thumbs.connect(lambda up, b=answer: self._thumbs(b, up))
        answer.source_clicked.connect(self.open_source)
        self._add(answer)
        self._follow = True

        self._pending.append(answer)
        if self.task is None:
            self._start_next()
        else:
            self.task.cancel()  # the next one starts when this one has stopped
        return answer

    def stop(self) -> None:
        """Stop the streaming answer (what it wrote so far stays)."""
        for bubble in self._pending:
            bubble.mark_stopped()
        self._pending.clear()
        if self.task is not None:
            self.task.cancel()

    def _start_next(self) -> None:
        bubble = self._pending.pop(0)
        self._streaming = bubble
        bubble.start()
        assistant = self.ctx.assistant
        question, category = bubble.question, bubble.asked_category
        task = Task(iterate(lambda: assistant.ask(question, category)))
        task.progress.connect(self._on_event)
        task.failed.connect(self._on_failed)
        task.cancelled.connect(self._on_cancelled)
        task.finished.connect(self._on_finished)
        self.task = task
        self._update_controls()
        task.start()

    def _on_event(self, event) -> None:
        if self._streaming is None:
            return  # the chat was cleared while this answer streamed
        self._streaming.handle_event(event)
        if isinstance(event, DoneEvent) and event.question_id is not None:
            self.ctx.feedback_changed.emit()  # one more question in the history

    def _on_failed(self, message: str) -> None:
        if self._streaming is not None:
            self._streaming.show_error(message)
        self.ctx.notify(message)

    def _on_cancelled(self) -> None:
        if self._streaming is not None and self._streaming.state != "done":
            self._streaming.mark_stopped()

    def _on_finished(self) -> None:
        bubble, self._streaming, self.task = self._streaming, None, None
        if bubble is not None:
            self.answer_finished.emit(bubble)
        if self._pending:
            self._start_next()
            return
        self._update_controls()
        self.input.setFocus()

    def _update_controls(self) -> None:
        busy = self.task is not None
        self.send_button.setVisible(not busy)
        self.stop_button.setVisible(busy)
        self.send_button.setEnabled(self._ready)
        self.input.setEnabled(self._ready and not busy)
        self.input.setPlaceholderText(PLACEHOLDER if self._ready else self._reason)
        self.input.setToolTip("" if self._ready else self._reason)
        for button in self.empty.examples:
            button.setEnabled(self._ready)

    # --- feedback --------------------------------------------------------------------

    def category_names(self) -> list[str]:
        return self.ctx.assistant.categories.names

    def reask(self, bubble: AnswerBubble, category: str, comment: str = "") -> None:
        """Record that `bubble`'s question belongs in `category`, and ask again
        there."""
        question_id = bubble.question_id
        if question_id is not None:
            assistant = self.ctx.assistant
            self._record(lambda: assistant.correct(question_id, category, comment))
        self.ask(bubble.question, category)

    def _thumbs(self, bubble: AnswerBubble, up: bool) -> None:
        question_id, assistant = bubble.question_id, self.ctx.assistant
        if question_id is None:
            return
        self._record(lambda: assistant.thumbs(question_id, up))
        if not up and bubble.decision is not None:
            self._ask_what_went_wrong(bubble)

    def _ask_what_went_wrong(self, bubble: AnswerBubble) -> None:
        if self.feedback_dialog is not None:
            self.feedback_dialog.close()
        threshold = self.ctx.assistant.settings.confidence_threshold
        dialog = FeedbackDialog(bubble.decision, self.category_names(), threshold, self)
        dialog.category_wrong.connect(lambda name, text: self.reask(bubble, name, text))
        dialog.answer_wrong.connect(lambda text: self._answer_wrong(bubble, text))
        dialog.finished.connect(self._dialog_closed)
        self.feedback_dialog = dialog
        dialog.open()

    def _dialog_closed(self) -> None:
        self.feedback_dialog = None

    def _answer_wrong(self, bubble: AnswerBubble, comment: str) -> None:
        question_id, assistant = bubble.question_id, self.ctx.assistant
        if question_id is not None and comment:
            self._record(lambda: assistant.thumbs(question_id, False, comment))

    def _record(self, write: Callable[[], object]) -> None:
        # One write at a time, in order: a thumbs-down and the comment that
        # follows it touch the same row, and the later one must win.
        self._writes.append(write)
        if self._writer is None:
            self._next_write()

    def _next_write(self) -> None:
        self._writer = None
        if not self._writes:
            return
        write = self._writes.pop(0)
        task = Task(lambda _task: write())
        task.result.connect(self._recorded)
        task.failed.connect(self.ctx.notify)
        task.finished.connect(self._next_write)
        self._writer = task
        task.start()

    def _recorded(self) -> None:
        self.ctx.feedback_changed.emit()

    def _refresh_menus(self) -> None:
        for bubble in self.findChildren(AnswerBubble):
            bubble.chip.refresh_menu()

    # --- sources, notes, the view --------------------------------------------------

    def open_source(self, hit: Hit) -> None:
        """Show a source note: in the Notes tab when it listens, else its file."""
        if self.isSignalConnected(QMetaMethod.fromSignal(self.open_note)):
            self.open_note.emit(hit.note_id)
            return
        path = Path(hit.source)
        if not path.is_file():
            self.ctx.notify(
                f"“{hit.title}” was imported from {hit.source}, which is no longer "
                "there. Import the note again from where it is now.",
                "warning",
            )
        elif not QDesktopServices.openUrl(QUrl.fromLocalFile(str(path))):
            self.ctx.notify(
                f"Could not open {path}: no app on this Mac opens that kind of file.",
                "warning",
            )

    def _check_notes(self) -> None:
        # An empty store gets a hint on how to import; counting opens Chroma,
        # which can take a moment, so it runs on a worker.
        self._notes_checked = True
        assistant = self.ctx.assistant
        task = Task(lambda _task: assistant.store.count())
        task.result.connect(self._notes_counted)
        task.failed.connect(self._count_failed)
        task.start()

    def _notes_counted(self, count: int) -> None:
        self.empty.set_has_notes(count > 0)

    def _count_failed(self, message: str) -> None:
        # Asking reports a broken store where it matters; the hint just stays off.
        logger.warning("Could not count the notes: %s", message)

    def _fill_input(self, text: str) -> None:
        self.input.setPlainText(text)
        self.input.moveCursor(self.input.textCursor().MoveOperation.End)
        self.input.setFocus()

    def _add(self, widget: QWidget, align: Qt.AlignmentFlag | None = None) -> None:
        index = self._column.count() - 1  # before the stretch
        if align is None:
            self._column.insertWidget(index, widget)
        else:
            self._column.insertWidget(index, widget, 0, align)

    def _scrolled(self, value: int) -> None:
        self._follow = value >= self.scroll.verticalScrollBar().maximum() - 24

    def _range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow:
            self.scroll.verticalScrollBar().setValue(maximum)

    def _apply_style(self) -> None:
        self._styling = True
        self.setStyleSheet(chat_style(self.palette()))
        self._styling = False

    def changeEvent(self, event: QEvent) -> None:  # Qt's override
        # Light/dark mode switches arrive as palette changes.
        if event.type() == QEvent.Type.PaletteChange and not self._styling:
            self._apply_style()
        super().changeEvent(event)

    def showEvent(self, event: QShowEvent) -> None:  # Qt's override
        if not self._notes_checked:
            self._check_notes()
        super().showEvent(event)
