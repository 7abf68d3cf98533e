"""The chat's smaller pieces: the input box, the question bubble, the empty
state, the what-went-wrong dialog, the thumb icons and the stylesheet.

Colours come from the palette (tints of the highlight colour, text at reduced
alpha), so the same stylesheet reads in light and dark mode.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QByteArray, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QIcon,
    QKeyEvent,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from ..router import RouteDecision
from .style import emphasized

logger = logging.getLogger(__name__)

INPUT_MAX_LINES = 6

# A thumb outline on a 24 px grid; thumbs-down is the same shape flipped.
_THUMB_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24">'
    '<g transform="{transform}" fill="{fill}" stroke="{stroke}" stroke-width="1.6"'
    ' stroke-linejoin="round">'
    '<rect x="3" y="10" width="4" height="10.5" rx="1"/>'
    '<path d="M9.5 20.5h7.9c.9 0 1.7-.6 1.9-1.5l1.5-6c.3-1.2-.6-2.4-1.9-2.4h-4.6'
    'l.8-3.6c.2-1-.4-2-1.4-2.3l-.6-.2-3.6 6z"/></g></svg>'
)


def percent(probability: float) -> str:
    return f"{round(probability * 100)} %"


def _rgba(color: QColor, alpha: float) -> str:
    return f"rgba({color.red()}, {color.green()}, {color.blue()}, {alpha:.2f})"


def chat_style(palette: QPalette) -> str:
    """The chat's stylesheet, derived from `palette`."""
    text = palette.color(QPalette.ColorRole.Text)
    base = palette.color(QPalette.ColorRole.Base)
    accent = palette.color(QPalette.ColorRole.Highlight)
    dark = palette.color(QPalette.ColorRole.Window).lightness() < 128
    warn = QColor("#e0a030")
    error = QColor("#ff8a80" if dark else "#b3261e")
    return f"""
    #answerBubble {{ background: {base.name()};
        border: 1px solid {_rgba(text, 0.10)}; border-radius: 12px; }}
    #questionBubble {{ background: {_rgba(accent, 0.16)}; border-radius: 12px; }}
    QToolButton#chip {{ background: {_rgba(accent, 0.14)}; border: none;
        border-radius: 10px; padding: 2px 10px; }}
    QToolButton#chip[unsure="true"] {{ background: {_rgba(warn, 0.20)}; }}
    QToolButton#chip:hover {{ background: {_rgba(accent, 0.26)}; }}
    QToolButton#chip::menu-indicator {{ image: none; width: 0; }}
    QLabel[quiet="true"] {{ color: {_rgba(text, 0.58)}; }}
    QLabel#errorText {{ color: {error.name()}; }}
    #sourceRow {{ border-radius: 6px; }}
    #sourceRow:hover {{ background: {_rgba(accent, 0.10)}; }}
    #inputFrame {{ background: {base.name()};
        border: 1px solid {_rgba(text, 0.14)}; border-radius: 10px; }}
    QPlainTextEdit#chatInput {{ background: transparent; border: none; }}
    QPushButton#example {{ background: {_rgba(text, 0.04)};
        border: 1px solid {_rgba(text, 0.14)}; border-radius: 14px;
        padding: 6px 14px; }}
    QPushButton#example:hover {{ background: {_rgba(accent, 0.14)}; }}
    """


def shrinkable(label: QLabel) -> QLabel:
    """Let `label` be narrower than its longest word (a long path or a
    run-on token would otherwise widen the whole conversation)."""
    label.setMinimumWidth(1)
    return label


def quiet_label(text: str = "", wrap: bool = True) -> QLabel:
    label = shrinkable(QLabel(text))
    label.setProperty("quiet", True)
    label.setWordWrap(wrap)
    return label


def thumb_icon(up: bool, color: QColor, size: int = 16, ratio: float = 2.0) -> QIcon:
    """A thumbs-up or -down icon in `color`: outline when off, filled when on."""
    icon = QIcon()
    transform = "" if up else "matrix(1 0 0 -1 0 24)"
    for state, fill in ((QIcon.State.Off, "none"), (QIcon.State.On, color.name())):
        svg = _THUMB_SVG.format(transform=transform, fill=fill, stroke=color.name())
        pixmap = QPixmap(int(size * ratio), int(size * ratio))
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        QSvgRenderer(QByteArray(svg.encode())).render(painter, QRectF(pixmap.rect()))
        painter.end()
        pixmap.setDevicePixelRatio(ratio)
        icon.addPixmap(pixmap, QIcon.Mode.Normal, state)
    return icon


class ElidedLabel(QLabel):
    """One line of quiet text, cut with … to fit; the whole text is its tooltip."""

    def __init__(self, text: str = "", parent: QWidget | None = None):
        super().__init__(parent)
        self.setProperty("quiet", True)
        self.setMinimumWidth(1)
        self.full_text = text
        self.setToolTip(text)
        self.setText(text)

    def resizeEvent(self, event) -> None:  # Qt's override
        elided = self.fontMetrics().elidedText(
            self.full_text, Qt.TextElideMode.ElideRight, self.width()
        )
        if elided != self.text():
            self.setText(elided)
        super().resizeEvent(event)


class ChatInput(QPlainTextEdit):
    """The question box: Return sends, Shift+Return starts a new line.

    It grows with its text up to a few lines, then scrolls.
    """

    submitted = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("chatInput")
        self.setTabChangesFocus(True)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.document().setDocumentMargin(6)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self._fit()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # Qt's override
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.insertPlainText("\n")
            else:
                self.submitted.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def _fit(self, *_args) -> None:
        # QPlainTextEdit's document height is counted in lines, not pixels.
        lines = max(1, min(INPUT_MAX_LINES, int(self.document().size().height())))
        margins = self.contentsMargins()
        height = (
            lines * self.fontMetrics().lineSpacing()
            + 2 * self.document().documentMargin()
            + margins.top()
            + margins.bottom()
        )
        self.setFixedHeight(int(height))


class QuestionBubble(QFrame):
    """What the user asked, on the right: as wide as its text, up to the
    bubble's maximum width, then wrapped."""

    def __init__(self, question: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("questionBubble")
        self.label = shrinkable(QLabel(question))
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addWidget(self.label)

    def sizeHint(self) -> QSize:  # Qt's override
        metrics = self.label.fontMetrics()
        lines = self.label.text().splitlines() or [""]
        margins = self.layout().contentsMargins()
        natural = max(metrics.horizontalAdvance(line) for line in lines) + 4
        width = min(natural + margins.left() + margins.right(), self.maximumWidth())
        return QSize(width, self.heightForWidth(width))


class EmptyState(QWidget):
    """What a new chat shows: what to ask, and a few examples to click."""

    example_chosen = Signal(str)

    EXAMPLES = (
        "When was the furnace filter last changed?",
        "Who services the pool pump, and how do I reach them?",
        "What paint colour did we use in the living room?",
    )

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        title = emphasized(QLabel("Ask about your home"), 1.5)
        intro = quiet_label(
            "Answers come from your household notes, and nothing leaves this Mac."
        )
        self.no_notes = quiet_label(
            "There are no notes yet: drop files on this window, or choose "
            "File › Import Notes…"
        )
        self.no_notes.hide()

        layout = QVBoxLayout(self)
        layout.setSpacing(10)
        layout.addStretch(2)
        for widget in (title, intro, self.no_notes):
            widget.setAlignment(Qt.AlignmentFlag.AlignCenter)
            layout.addWidget(widget)
        layout.addSpacing(8)
        self.examples: list[QPushButton] = []
        for text in self.EXAMPLES:
            button = QPushButton(text)
            button.setObjectName("example")
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.clicked.connect(lambda _=False, t=text: self.example_chosen.emit(t))
            self.examples.append(button)
            layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(3)

    def set_has_notes(self, has_notes: bool) -> None:
        self.no_notes.setVisible(not has_notes)


class FeedbackDialog(QDialog):
    """What went wrong with an answer: the category, or the answer itself.

    Non-modal to the app (opened with `open()`); the tab hears the verdict
    through its signals.

    Signals:
        category_wrong(str, str): the right category's name, and a comment.
        answer_wrong(str): the comment (may be empty).
    """

    category_wrong = Signal(str, str)
    answer_wrong = Signal(str)

    def __init__(
        self,
        decision: RouteDecision,
        names: list[str],
        threshold: float,
        parent: QWidget | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("What went wrong?")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.category_option = QRadioButton(
            f"The category was wrong (not {decision.category}). It should be:"
        )
        self.category_box = QComboBox()
        probs = {a.category: a.probability for a in decision.alternatives}
        others = [n for n in names if n != decision.category]
        self.category_box.addItems(sorted(others, key=lambda n: -probs.get(n, 0.0)))
        self.answer_option = QRadioButton("The answer was wrong")
        self.comment = QLineEdit()
        self.comment.setPlaceholderText("What was wrong? (optional)")

        unsure = decision.router != "manual" and decision.confidence < threshold
        (self.category_option if unsure else self.answer_option).setChecked(True)
        self.category_option.toggled.connect(self._update)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.send_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.send_button.setText("Send")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.setSpacing(8)
        layout.addWidget(self.category_option)
        indented = QHBoxLayout()
        indented.setContentsMargins(24, 0, 0, 4)
        indented.addWidget(self.category_box, 1)
        layout.addLayout(indented)
        layout.addWidget(self.answer_option)
        layout.addWidget(self.comment)
        layout.addSpacing(4)
        layout.addWidget(buttons)
        self.setMinimumWidth(380)
        self._update()

    def _update(self) -> None:
        self.category_box.setEnabled(self.category_option.isChecked())

    def accept(self) -> None:  # Qt's override
        comment = self.comment.text().strip()
        if self.category_option.isChecked() and self.category_box.currentText():
            self.category_wrong.emit(self.category_box.currentText(), comment)
        else:
            self.answer_wrong.emit(comment)
        super().accept()
