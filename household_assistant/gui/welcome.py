"""First run: what the app is, what it will download, then the downloads.

Downloads run in a worker, one model after another, each with its own progress
bar. The core stages files in a `.partial` folder and resumes it, so Stop and
Retry lose nothing.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ..errors import ModelNotAvailable
from ..models import ROLES, DownloadProgress, ModelStatus
from .context import AppContext
from .style import emphasized, muted
from .workers import Task

logger = logging.getLogger(__name__)

# role -> (title, what it does, the default model's short name)
ROLE_INFO = {
    "router": ("Router", "picks a question's category", "Qwen3-0.6B, 4-bit"),
    "answer": ("Answer model", "writes the answers", "Qwen3-4B, 4-bit"),
    "embedding": ("Embedder", "finds the matching notes", "MiniLM-L6"),
}
DEFAULT_SOURCES = {
    "router": "mlx-community/Qwen3-0.6B-4bit",
    "answer": "mlx-community/Qwen3-4B-4bit",
    "embedding": "all-MiniLM-L6-v2",
}
MESSAGE_TINTS = {
    "error": "rgba(255, 59, 48, 0.14)",
    "warning": "rgba(255, 159, 10, 0.16)",
    "info": "rgba(10, 132, 255, 0.12)",
}
SOURCE_WIDTH = 330  # pixels; longer folder paths are elided in the middle
BAR_STEPS = 1000  # QProgressBar holds ints; a 2.3 GB byte count would overflow
SPEED_WINDOW_S = 0.5  # measure speed over at least this long
SPEED_SMOOTHING = 0.3  # weight of the newest measurement


class _Stop(Exception):
    """Raised from the progress callback to end a download the user stopped."""


@dataclass(frozen=True)
class _ModelDone:
    role: str


def format_bytes(count: int | None) -> str:
    if count is None:
        return "size unknown"
    for unit, size, digits in (("GB", 1e9, 1), ("MB", 1e6, 0), ("kB", 1e3, 0)):
        if count >= size:
            return f"{count / size:.{digits}f} {unit}"
    return f"{count} bytes"


def offline_mode() -> bool:
    """Whether HF_HUB_OFFLINE turns Hugging Face downloads off."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {
        "1",
        "true",
        "yes",
        "on",
    }


def plain_failure(message: str) -> str:
    """The core's download error, said plainly for the Welcome page."""
    # The core names these two causes in its message (models._why_download_failed).
    if "HF_HUB_OFFLINE" in message:
        return (
            "Downloads are turned off (HF_HUB_OFFLINE is set). Unset it and open "
            "the app again to download the models."
        )
    if "not connected to the internet" in message:
        return (
            "No network: huggingface.co can't be reached from this Mac. Connect to "
            "the internet and press Retry; what was already downloaded is kept."
        )
    return f"The download stopped. {message}"


class _Speed:
    """Download speed in bytes per second, smoothed so the number doesn't jump."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.rate: float | None = None
        self._since: float | None = None
        self._bytes = 0

    def add(self, count: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if self._since is None:
            self._since = now
        self._bytes += count
        elapsed = now - self._since
        if elapsed < SPEED_WINDOW_S:
            return
        measured = self._bytes / elapsed
        if self.rate is None:
            self.rate = measured
        else:
            self.rate += SPEED_SMOOTHING * (measured - self.rate)
        self._since, self._bytes = now, 0


class ModelRow:
    """One model's line: name, size, state and progress bar."""

    def __init__(self, role: str, grid: QGridLayout, row: int):
        self.role = role
        title, purpose, _ = ROLE_INFO[role]
        self.title = QLabel(f"<b>{title}</b> · {purpose}")
        self.source = muted(QLabel(), wrap=False)
        self.source.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.size = QLabel()
        self.size.setAlignment(
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        self.size.setMinimumWidth(
            self.size.fontMetrics().horizontalAdvance("000 MB / 0.0 GB") + 4
        )
        self.state = QLabel()
        self.state.setMinimumWidth(
            self.state.fontMetrics().horizontalAdvance("Not downloaded") + 4
        )
        self.bar = QProgressBar()
        self.bar.setRange(0, BAR_STEPS)
        self.bar.setTextVisible(False)
        self.bar.setFixedHeight(6)
        self.bar.setMinimumWidth(160)

        names = QVBoxLayout()
        names.setSpacing(2)
        names.addWidget(self.title)
        names.addWidget(self.source)
        grid.addLayout(names, row, 0)
        grid.addWidget(self.size, row, 1, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.bar, row, 2)
        grid.addWidget(self.state, row, 3)
        self.done_bytes = 0
        self.total_bytes: int | None = None

    def show_status(self, status: ModelStatus, from_hub: bool) -> None:
        short = ROLE_INFO[self.role][2]
        name = short if status.source == DEFAULT_SOURCES[self.role] else status.source
        metrics = self.source.fontMetrics()
        elide = Qt.TextElideMode.ElideMiddle
        self.source.setText(metrics.elidedText(name, elide, SOURCE_WIDTH))
        self.source.setToolTip(str(status.path) if status.path else status.detail)
        self.total_bytes = status.size_bytes
        if status.ready:
            self.size.setText(format_bytes(status.size_bytes))
            self.state.setText("✓ Ready")
            self.bar.setValue(BAR_STEPS)
        elif from_hub:
            self.size.setText(f"about {format_bytes(status.size_bytes)}")
            self.state.setText("Not downloaded")
            self.bar.setValue(0)
        else:
            self.size.setText("")
            self.state.setText("Folder not found")
            self.bar.setValue(0)
        self.state.setToolTip(status.detail)

    def show_progress(self, done: int, total: int) -> None:
        self.done_bytes, self.total_bytes = done, total
        self.bar.setValue(int(BAR_STEPS * done / total) if total else 0)
        self.size.setText(f"{format_bytes(done)} / {format_bytes(total)}")
        self.state.setText("Downloading…")


class WelcomeView(QWidget):
    """The first-run page.

    Signals:
        done(): Continue or "Look around first" was pressed.
    """

    done = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.task: Task | None = None
        self.speed = _Speed()
        self._queue: list[str] = []

        heading = emphasized(QLabel("Welcome to Household Assistant"), 1.7)
        intro = QLabel(
            "Chat with your house notes: the furnace filter, the paint colours, who "
            "fixed the pool pump.\nEverything runs on this Mac. Three local models "
            "read your notes, and no note ever leaves it."
        )
        intro.setWordWrap(True)

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        card = QFrame()
        card.setObjectName("modelsCard")
        card.setStyleSheet(
            "#modelsCard { background: palette(base); border: 1px solid "
            "palette(mid); border-radius: 8px; }"
        )
        grid = QGridLayout(card)
        grid.setContentsMargins(16, 14, 16, 14)
        grid.setHorizontalSpacing(16)
        grid.setVerticalSpacing(14)
        grid.setColumnStretch(0, 1)
        self.rows = {role: ModelRow(role, grid, n) for n, role in enumerate(ROLES)}

        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.speed_label = muted(QLabel(), wrap=False)

        self.download_button = QPushButton("Download")
        self.download_button.clicked.connect(self.start_download)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip(
            "Pause the download; Retry picks up where it stopped."
        )
        self.stop_button.clicked.connect(self.stop_download)
        self.look_button = QPushButton("Look around first")
        self.look_button.setToolTip(
            "Open the app now; chat stays off until the models are here."
        )
        self.look_button.clicked.connect(self.done)
        self.continue_button = QPushButton("Continue")
        self.continue_button.setDefault(True)
        self.continue_button.clicked.connect(self.done)

        buttons = QHBoxLayout()
        buttons.setSpacing(8)
        buttons.addWidget(self.download_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.speed_label, 1)
        buttons.addWidget(self.look_button)
        buttons.addWidget(self.continue_button)

        column = QVBoxLayout()
        column.setSpacing(12)
        column.addStretch(1)
        column.addWidget(heading)
        column.addWidget(intro)
        column.addSpacing(8)
        column.addWidget(self.summary)
        column.addWidget(card)
        column.addWidget(self.message)
        column.addSpacing(4)
        column.addLayout(buttons)
        column.addStretch(2)
        page = QWidget()
        page.setLayout(column)
        page.setMaximumWidth(760)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(24, 32, 24, 24)
        outer.addWidget(page)

        ctx.models_changed.connect(self.refresh)
        ctx.assistant_replaced.connect(self.refresh)
        self._say("")
        self.refresh()

    # --- what is here ---------------------------------------------------------

    def statuses(self) -> dict[str, ModelStatus]:
        return {s.role: s for s in self.ctx.assistant.models.statuses()}

    def missing(self) -> list[str]:
        """Roles that are not on disk and can be downloaded."""
        models = self.ctx.assistant.models
        return [
            role
            for role, status in self.statuses().items()
            if not status.ready and models.from_hub(role)
        ]

    def refresh(self) -> None:
        """Show what is on disk (not while a download is changing it)."""
        if self.downloading():
            return
        models = self.ctx.assistant.models
        statuses = self.statuses()
        for role, status in statuses.items():
            self.rows[role].show_status(status, models.from_hub(role))
        self._update_controls(statuses)

    def _update_controls(self, statuses: dict[str, ModelStatus]) -> None:
        models = self.ctx.assistant.models
        ready = all(s.ready for s in statuses.values())
        missing = [r for r, s in statuses.items() if not s.ready and models.from_hub(r)]
        unfound = [r for r, s in statuses.items() if not s.ready and r not in missing]
        size = sum(statuses[r].size_bytes or 0 for r in missing)

        if ready:
            self.summary.setText("All three models are on this Mac. You're set.")
        elif missing:
            self.summary.setText(
                f"To start, the app downloads {len(missing)} model"
                f"{'s' if len(missing) > 1 else ''} from Hugging Face (about "
                f"{format_bytes(size)}), once. After that it works offline."
            )
        else:
            self.summary.setText("Some model folders are missing.")
        if unfound:
            names = " and ".join(ROLE_INFO[r][0].lower() for r in unfound)
            self._say(
                f"The {names} setting points to a folder that holds no model. Choose "
                "another folder in Settings (⌘,).",
                "warning",
            )
        elif missing and offline_mode() and not self.message.text():
            self._say(plain_failure("HF_HUB_OFFLINE"), "warning")

        self.download_button.setVisible(bool(missing))
        self.download_button.setEnabled(bool(missing))
        self.stop_button.hide()
        self.continue_button.setEnabled(ready)
        self.look_button.setVisible(not ready)
        if ready:
            self.speed_label.clear()
            self._say("")

    def _say(self, text: str, level: str = "info") -> None:
        # A light tint of the level's colour; the text keeps the palette's.
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.message.setProperty("level", level)
        self.message.setStyleSheet(
            f"background: {MESSAGE_TINTS.get(level, MESSAGE_TINTS['info'])};"
            " border-radius: 6px; padding: 8px 10px;"
        )

    # --- downloading ----------------------------------------------------------

    def downloading(self) -> bool:
        return self.task is not None and self.task.is_running()

    def start_download(self) -> None:
        """Download every missing Hub model, one after another, in a worker."""
        if self.downloading():
            return
        self._queue = self.missing()
        if not self._queue:
            self.refresh()
            return
        models, roles = self.ctx.assistant.models, list(self._queue)

        def job(task: Task) -> list[str]:
            def report(progress: DownloadProgress) -> None:
                if task.is_cancelled:
                    raise _Stop()
                task.report(progress)

            for role in roles:
                if task.is_cancelled:
                    break
                try:
                    models.download(role, report)
                except ModelNotAvailable:
                    if task.is_cancelled:
                        break
                    raise
                task.report(_ModelDone(role))
            return roles

        self.speed.reset()
        self._last_done = {role: self.rows[role].done_bytes for role in roles}
        self._say("")
        self.task = Task(job, self)
        self.task.progress.connect(self._on_progress)
        self.task.failed.connect(self._on_failed)
        self.task.cancelled.connect(self._on_stopped)
        self.task.finished.connect(self._on_finished)
        self.download_button.hide()
        self.stop_button.show()
        self.speed_label.setText("Starting…")
        self.task.start()

    def stop_download(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.stop_button.setEnabled(False)
            self.speed_label.setText("Stopping…")

    def _on_progress(self, item) -> None:
        if isinstance(item, _ModelDone):
            row = self.rows[item.role]
            row.state.setText("✓ Ready")
            row.bar.setValue(BAR_STEPS)
            row.size.setText(format_bytes(row.total_bytes))
            return
        row = self.rows[item.role]
        last = self._last_done.get(item.role, 0)
        self.speed.add(max(item.done_bytes - last, 0))
        self._last_done[item.role] = item.done_bytes
        row.show_progress(item.done_bytes, item.total_bytes)
        self.speed_label.setText(self._speed_text())

    def _speed_text(self) -> str:
        rate = self.speed.rate
        if not rate:
            return "Downloading…"
        left = sum(
            max((self.rows[r].total_bytes or 0) - self.rows[r].done_bytes, 0)
            for r in self._queue
            if self.rows[r].state.text() != "✓ Ready"
        )
        minutes = left / rate / 60
        eta = "under a minute left" if minutes < 1 else f"about {minutes:.0f} min left"
        return f"{rate / 1e6:.1f} MB/s · {eta}"

    def _on_failed(self, message: str) -> None:
        text = plain_failure(message)
        logger.info("Download failed: %s", message)
        self._say(text, "error")
        self.ctx.notify(text, "error")

    def _on_stopped(self) -> None:
        self._say("Download stopped. Retry picks up where it left off.", "info")

    def _on_finished(self) -> None:
        self.task = None
        self.stop_button.setEnabled(True)
        interrupted = self.message.text()
        self.refresh()
        if interrupted and self.missing():
            self._say(interrupted, self.message.property("level") or "error")
            self.download_button.setText("Retry")
            self.speed_label.clear()
        ready, _ = self.ctx.models_ready()
        if ready:
            self.ctx.models_changed.emit()

    def shutdown(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task.wait()
