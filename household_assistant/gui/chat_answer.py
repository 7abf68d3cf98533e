"""One answer in the chat: its category chip, the quiet scope note, the
streaming Markdown, the sources it came from and the thumbs.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QPalette
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..assistant import DoneEvent, RouteEvent, SourcesEvent, TokenEvent
from ..config import Settings
from ..retrieval import FALLBACK_ALL, WIDENED, Scope, choose_scope
from ..router import RouteDecision
from ..store import Hit
from .chat_widgets import (
    ElidedLabel,
    percent,
    quiet_label,
    shrinkable,
    thumb_icon,
)

logger = logging.getLogger(__name__)

RENDER_INTERVAL_MS = 50  # re-render a streaming answer's Markdown at most this often
SNIPPET_CHARS = 240  # one line shows what fits of it
_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL)
_MARKUP = re.compile(r"[#*_`>|]+")
# A run this long with no space would be cut off at the bubble's edge; URLs
# are left whole so that links still work.
_LONG_RUN = re.compile(r"(?<!\S)(?!\S*://)\S{40,}")
_ZERO_WIDTH_SPACE = "\u200b"


def visible_answer(text: str) -> tuple[str, bool]:
    """The part of a streamed answer to show, and whether the model is still
    inside a Qwen3 <think> block (so nothing new is visible yet)."""
    text = _THINK_BLOCK.sub("", text)
    if "</think>" in text:  # the opening tag was in the prompt, not the stream
        text = text.rsplit("</think>", 1)[1]
    start = text.find("<think>")
    if start != -1:
        return text[:start].strip(), True
    return text.strip(), False


def breakable(text: str, every: int = 20) -> str:
    """`text` with invisible break points inside runs of 40 or more
    characters with no space, so that word wrap can fold them."""

    def fold(match: re.Match) -> str:
        run = match.group(0)
        return _ZERO_WIDTH_SPACE.join(
            run[i : i + every] for i in range(0, len(run), every)
        )

    return _LONG_RUN.sub(fold, text)


def chip_text(decision: RouteDecision) -> str:
    if decision.router == "manual":
        return f"{decision.category} · your choice"
    return f"{decision.category} · {percent(decision.confidence)}"


def _join(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def scope_note(decision: RouteDecision, scope: Scope, settings: Settings) -> str:
    """The quiet line under the chip when the search went beyond one category."""
    if scope.reason == WIDENED and len(scope.categories) > 1:
        others = _join(scope.categories[1:])
        return (
            f"Not sure this is about {decision.category}, so {others} "
            f"{'were' if len(scope.categories) > 2 else 'was'} searched too."
        )
    if scope.reason == FALLBACK_ALL:
        tried = _join(choose_scope(decision, settings).categories)
        return f"Nothing in {tried} matched closely, so all notes were searched."
    return ""


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """A note chunk as one short line of plain text, headings left out (the
    note's title is shown beside it)."""
    lines = text.splitlines()
    body = [line for line in lines if not line.lstrip().startswith("#")] or lines
    flat = " ".join(_MARKUP.sub(" ", " ".join(body)).split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"


def group_sources(hits: list[Hit]) -> list[tuple[list[int], Hit]]:
    """One entry per note: the numbers the answer cites it by, and its best hit."""
    groups: dict[str, tuple[list[int], Hit]] = {}
    for number, hit in enumerate(hits, 1):
        if hit.note_id in groups:
            groups[hit.note_id][0].append(number)
        else:
            groups[hit.note_id] = ([number], hit)
    return list(groups.values())


class CategoryChip(QToolButton):
    """'pool · 87 %': click for a menu that asks again in another category.

    Signals:
        chosen(str): the category name picked from the menu.
    """

    chosen = Signal(str)

    def __init__(self, names: Callable[[], list[str]], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("chip")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setMenu(QMenu(self))
        self._names = names
        self.decision: RouteDecision | None = None

    def set_decision(self, decision: RouteDecision, threshold: float) -> None:
        self.decision = decision
        self.setText(chip_text(decision) + "  ▾")
        unsure = decision.router != "manual" and decision.confidence < threshold
        self.setProperty("unsure", unsure)
        self.style().unpolish(self)
        self.style().polish(self)
        top = ", ".join(
            f"{a.category} {percent(a.probability)}" for a in decision.alternatives[:3]
        )
        routed = "You chose this category." if decision.router == "manual" else top
        self.setToolTip(f"{routed}\nClick to ask again in another category.")
        self.refresh_menu()

    def refresh_menu(self) -> None:
        """Rebuild the menu (categories may have been added or renamed)."""
        menu = self.menu()
        menu.clear()
        if self.decision is None:
            return
        header = menu.addAction("Ask again in…")
        header.setEnabled(False)
        menu.addSeparator()

        manual = self.decision.router == "manual"
        probs = {a.category: a.probability for a in self.decision.alternatives}
        for name in sorted(self._names(), key=lambda n: -probs.get(n, 0.0)):
            p = probs.get(name, 0.0)
            text = name if manual or p < 0.01 else f"{name}\t{percent(p)}"
            action = menu.addAction(text)
            action.setData(name)
            action.setCheckable(True)
            action.setChecked(name == self.decision.category)
            action.setEnabled(name != self.decision.category)
            action.triggered.connect(lambda _=False, n=name: self.chosen.emit(n))


class SourceRow(QFrame):
    """One note under an answer: its citation numbers, title and a snippet."""

    clicked = Signal()

    def __init__(self, numbers: list[int], hit: Hit, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("sourceRow")
        self.hit = hit
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.setToolTip(f"Open {hit.source}")

        cited = quiet_label(" ".join(f"[{n}]" for n in numbers), wrap=False)
        self.title = shrinkable(QLabel(hit.title or hit.source))
        font = self.title.font()
        font.setWeight(font.Weight.DemiBold)
        self.title.setFont(font)
        top = QHBoxLayout()
        top.setSpacing(8)
        top.addWidget(cited)
        top.addWidget(self.title)
        top.addWidget(quiet_label(hit.category, wrap=False))
        top.addStretch(1)

        self.snippet = ElidedLabel(snippet(hit.text))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(1)
        layout.addLayout(top)
        layout.addWidget(self.snippet)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # Qt's override
        inside = self.rect().contains(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton and inside:
            self.clicked.emit()
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # Qt's override
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.clicked.emit()
            return
        super().keyPressEvent(event)


class AnswerBubble(QFrame):
    """One answer as it streams: chip, scope note, Markdown, sources, thumbs.

    Tokens are appended to a buffer; the Markdown is re-rendered from it at
    most every RENDER_INTERVAL_MS, so a long answer costs one render per
    interval, not one per token.

    Signals:
        reask(str): ask this question again in the named category.
        thumbs(bool): thumbs up (True) or down (False).
        source_clicked(object): the Hit whose row was clicked.
        grew(int): the visible answer's length after a token arrived.
    """

    reask = Signal(str)
    thumbs = Signal(bool)
    source_clicked = Signal(object)
    grew = Signal(int)

    def __init__(
        self,
        question: str,
        category: str | None,
        settings: Settings,
        names: Callable[[], list[str]],
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setObjectName("answerBubble")
        self.question = question
        self.asked_category = category
        self.settings = settings
        self._names = names
        self.decision: RouteDecision | None = None
        self.hits: list[Hit] = []
        self.question_id: int | None = None
        self.state = "waiting"
        self.closed = False  # set when the chat is cleared while this streams
        self._parts: list[str] = []
        self._timer = QTimer(self, singleShot=True, interval=RENDER_INTERVAL_MS)
        self._timer.timeout.connect(self.render)
        self._build()
        self._set_status("Waiting for the previous answer to stop…")

    def _build(self) -> None:
        self.chip = CategoryChip(self._names)
        self.chip.chosen.connect(self.reask)
        self.chip.hide()
        self.status = quiet_label(wrap=False)
        header = QHBoxLayout()
        header.addWidget(self.chip)
        header.addStretch(1)
        header.addWidget(self.status)

        self.scope_label = quiet_label()
        self.scope_label.hide()
        self.body = shrinkable(QLabel())
        self.body.setTextFormat(Qt.TextFormat.MarkdownText)
        self.body.setWordWrap(True)
        self.body.setOpenExternalLinks(True)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.body.hide()
        self.error = shrinkable(QLabel())
        self.error.setObjectName("errorText")
        self.error.setWordWrap(True)
        self.error.hide()

        self.sources = QWidget()
        self._sources_layout = QVBoxLayout(self.sources)
        self._sources_layout.setContentsMargins(0, 4, 0, 0)
        self._sources_layout.setSpacing(0)
        self.sources.hide()

        self.footer = QWidget()
        footer = QHBoxLayout(self.footer)
        footer.setContentsMargins(0, 0, 0, 0)
        footer.setSpacing(2)
        self.thumbs_up = self._thumb_button(True)
        self.thumbs_down = self._thumb_button(False)
        self.timing = quiet_label(wrap=False)
        footer.addWidget(self.thumbs_up)
        footer.addWidget(self.thumbs_down)
        footer.addSpacing(8)
        footer.addWidget(self.timing)
        footer.addStretch(1)
        self.footer.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 10, 14, 10)
        layout.setSpacing(8)
        layout.addLayout(header)
        for widget in (self.scope_label, self.body, self.error, self.sources):
            layout.addWidget(widget)
        layout.addWidget(self.footer)

    def _thumb_button(self, up: bool) -> QToolButton:
        button = QToolButton()
        button.setCheckable(True)
        button.setAutoRaise(True)
        button.setIconSize(QSize(16, 16))
        color = self.palette().color(QPalette.ColorRole.Text)
        button.setIcon(thumb_icon(up, color))
        button.setToolTip("Good answer" if up else "Something was wrong…")
        button.clicked.connect(lambda _=False: self._thumbed(up))
        return button

    def _thumbed(self, up: bool) -> None:
        self.thumbs_up.setChecked(up)
        self.thumbs_down.setChecked(not up)
        self.thumbs.emit(up)

    # --- events from the assistant ---------------------------------------------

    def handle_event(self, event) -> None:
        """Show one event from `Assistant.ask`."""
        if isinstance(event, TokenEvent):
            self._parts.append(event.text)
            if not self._timer.isActive():
                self._timer.start()
            self.grew.emit(sum(map(len, self._parts)))
        elif isinstance(event, RouteEvent):
            self.decision = event.decision
            self.chip.set_decision(event.decision, self.settings.confidence_threshold)
            self.chip.show()
            self._set_status("Searching your notes…")
        elif isinstance(event, SourcesEvent):
            self._show_sources(event.scope, event.hits)
            self._set_status("Writing…", "writing")
        elif isinstance(event, DoneEvent):
            self.question_id = event.question_id
            self.timing.setText(f"{event.timings.get('total_ms', 0) / 1000:.1f} s")
            self.footer.setVisible(self.question_id is not None)
            self._set_status("", "done")
            self.render()

    def start(self) -> None:
        self._set_status("Finding the right notes…", "routing")

    def _show_sources(self, scope: Scope, hits: list[Hit]) -> None:
        self.hits = list(hits)
        note = scope_note(self.decision, scope, self.settings) if self.decision else ""
        self.scope_label.setText(note)
        self.scope_label.setVisible(bool(note))

        layout = self._sources_layout
        layout.addWidget(quiet_label("Sources" if hits else "No notes matched."))
        for numbers, hit in group_sources(self.hits):
            row = SourceRow(numbers, hit)
            row.clicked.connect(lambda h=hit: self.source_clicked.emit(h))
            layout.addWidget(row)
        self.sources.show()

    def text(self) -> str:
        """The answer as shown so far (without any <think> block)."""
        return visible_answer("".join(self._parts))[0]

    def render(self) -> None:
        self._timer.stop()
        shown, thinking = visible_answer("".join(self._parts))
        if thinking and self.state == "writing":
            self._set_status("Thinking…")
        elif self.state == "writing":
            self._set_status("Writing…")
        if self.state == "done" and not shown:
            shown = "*No answer was written.*"
        self.body.setText(breakable(shown))
        self.body.setVisible(bool(shown))

    def mark_stopped(self) -> None:
        self._set_status("Stopped", "stopped")
        self.render()
        if not self.text():
            self.body.setText("*Stopped before the answer began.*")
            self.body.show()

    def show_error(self, message: str) -> None:
        self._set_status("Failed", "error")
        self.render()
        self.error.setText(message)
        self.error.show()

    def status_text(self) -> str:
        return self.status.text()

    def _set_status(self, text: str, state: str | None = None) -> None:
        if state is not None:
            self.state = state
        if self.status.text() != text:
            self.status.setText(text)
