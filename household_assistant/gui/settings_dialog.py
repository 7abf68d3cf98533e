"""The Settings dialog (Cmd+,): models, routing, and where the data lives.

Saving writes settings.json. A changed model means a new Assistant (models are
loaded per assistant); any other change is applied to the running one.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import sys

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..assistant import Assistant
from ..config import MODEL_ENV, Settings, load_settings, save_settings, settings_path
from ..errors import ConfigError, HouseholdError
from ..models import ROLES, ModelManager
from .context import AppContext
from .style import muted

logger = logging.getLogger(__name__)

ROLE_LABELS = {
    "router": "Router model",
    "answer": "Answer model",
    "embedding": "Embedder",
}
ROUTER_CHOICES = [
    ("auto", "Automatic: the LoRA adapter when one is active, else kNN"),
    ("knn", "kNN: the nearest labelled questions vote"),
    ("llm", "Base model: the untrained router, prompt only"),
]
REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
ENV_FOR = {field: env for env, field in MODEL_ENV.items()}
HELP = {f.name: f.metadata.get("help", "") for f in dataclasses.fields(Settings)}
ERROR_TINT = "rgba(255, 59, 48, 0.14)"
RESET_TEXT = "Reset all settings to their defaults?"
RESET_DETAIL = (
    "The models, router, confidence threshold, top-k and every other setting go "
    "back to how the app shipped. Your notes, feedback, corrections and trained "
    "router versions are not touched."
)


def check_model_source(role: str, source: str, settings: Settings, home) -> None:
    """Raise ConfigError unless `source` is a Hub repo id or a model folder.

    A repo that is not downloaded yet is fine (the Welcome page fetches it);
    a folder must exist and hold the model, since nothing can fetch it.
    """
    name = ROLE_LABELS[role].lower()
    if not source.strip():
        raise ConfigError(
            f"The {name} is empty. Enter a Hugging Face repo id (such as "
            f"{getattr(Settings(), f'{role}_model')}) or choose a folder."
        )
    manager = ModelManager(
        dataclasses.replace(settings, **{f"{role}_model": source}), home
    )
    if manager.from_hub(role):
        if role != "embedding" and not REPO_ID.match(source):
            raise ConfigError(
                f"The {name} {source!r} is neither a folder on this Mac nor a "
                "Hugging Face repo id (owner/name, such as "
                "mlx-community/Qwen3-4B-4bit). Fix it or choose a folder."
            )
        return
    if not manager.status(role).ready:
        holds = "onnx/model.onnx" if role == "embedding" else "config.json and weights"
        raise ConfigError(
            f"The {name} folder {source!r} holds no model (expected {holds} in it). "
            "Choose the folder the model was saved to"
            + (", or enter all-MiniLM-L6-v2." if role == "embedding" else ".")
        )


class SettingsDialog(QDialog):
    """Edit settings.json; opened with `.open()` from the window."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Settings")
        self.setMinimumWidth(680)

        self.model_edits: dict[str, QLineEdit] = {}
        self.folder_buttons: dict[str, QPushButton] = {}
        models = QGroupBox("Models")
        form = self._form(models)
        for role in ROLES:
            form.addRow(f"{ROLE_LABELS[role]}:", self._model_row(role))
        self.models_hint = muted(QLabel())
        form.addRow("", self.models_hint)

        routing = QGroupBox("Routing and search")
        form = self._form(routing)
        self.router_combo = QComboBox()
        for value, text in ROUTER_CHOICES:
            self.router_combo.addItem(text, value)
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(0.0, 1.0)
        self.threshold.setSingleStep(0.05)
        self.threshold.setDecimals(2)
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 50)
        form.addRow("Router:", self.router_combo)
        form.addRow(
            "Confidence threshold:",
            self._with_hint(
                self.threshold,
                "Below it, the search widens to the next likely categories.",
            ),
        )
        form.addRow(
            "Notes per answer (top-k):",
            self._with_hint(self.top_k, "Chunks of notes the answer model reads."),
        )

        folder = QGroupBox("Data folder")
        column = QVBoxLayout(folder)
        self.home_label = QLabel(str(ctx.home))
        self.home_label.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        reveal = QPushButton(
            "Show in Finder" if sys.platform == "darwin" else "Open Folder"
        )
        reveal.clicked.connect(self.show_data_folder)
        line = QHBoxLayout()
        line.addWidget(self.home_label, 1)
        line.addWidget(reveal)
        column.addLayout(line)
        column.addWidget(
            muted(
                QLabel(
                    "Notes, feedback, router versions and settings live here. To "
                    "keep them somewhere else, quit, move the folder, and start the "
                    "app with HOUSEHOLD_ASSISTANT_HOME set to the new place."
                )
            )
        )

        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(
            f"background: {ERROR_TINT}; border-radius: 6px; padding: 8px 10px;"
        )
        self.error.hide()
        self.info = muted(QLabel())
        self.info.hide()

        self.reset_button = QPushButton("Reset to Defaults…")
        self.reset_button.clicked.connect(self.ask_reset)
        cancel = QPushButton("Cancel")
        cancel.clicked.connect(self.reject)
        self.save_button = QPushButton("Save")
        self.save_button.setDefault(True)
        self.save_button.clicked.connect(self.save)
        buttons = QHBoxLayout()
        buttons.addWidget(self.reset_button)
        buttons.addStretch(1)
        buttons.addWidget(cancel)
        buttons.addWidget(self.save_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 16, 16, 16)
        layout.setSpacing(12)
        for widget in (models, routing, folder, self.error, self.info):
            layout.addWidget(widget)
        layout.addLayout(buttons)

        self.reset_box = QMessageBox(
            QMessageBox.Icon.Question,
            "Reset Settings",
            RESET_TEXT,
            QMessageBox.StandardButton.Cancel,
            self,
        )
        self.reset_box.setInformativeText(RESET_DETAIL)
        self.reset_confirm = self.reset_box.addButton(
            "Reset", QMessageBox.ButtonRole.DestructiveRole
        )
        self.reset_box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        self.reset_box.finished.connect(self._reset_answered)
        self.show_settings(ctx.assistant.settings)

    # --- building -------------------------------------------------------------

    def _form(self, box: QGroupBox) -> QFormLayout:
        form = QFormLayout(box)
        form.setHorizontalSpacing(12)
        form.setVerticalSpacing(8)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        return form

    def _with_hint(self, field: QWidget, hint: str) -> QWidget:
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(field)
        line.addWidget(muted(QLabel(hint)), 1)
        return row

    def _model_row(self, role: str) -> QWidget:
        edit = QLineEdit()
        edit.setPlaceholderText(getattr(Settings(), f"{role}_model"))
        button = QPushButton("Choose Folder…")
        button.clicked.connect(lambda: self.choose_folder(role))
        self.model_edits[role], self.folder_buttons[role] = edit, button
        row = QWidget()
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(edit, 1)
        line.addWidget(button)
        return row

    def show_settings(self, settings: Settings) -> None:
        """Fill the fields from `settings` (the running ones, env overrides too)."""
        for role, edit in self.model_edits.items():
            field = f"{role}_model"
            edit.setText(getattr(settings, field))
            env = ENV_FOR[field]
            overridden = bool(os.environ.get(env))
            edit.setReadOnly(overridden)
            edit.setEnabled(not overridden)
            self.folder_buttons[role].setEnabled(not overridden)
            edit.setToolTip(
                f"Set by {env} for this session; unset it to change it here."
                if overridden
                else HELP[field]
            )
        hint = (
            "A Hugging Face repo id, downloaded on the Welcome page, or a folder on "
            "this Mac that holds the model."
        )
        overridden = [env for env in MODEL_ENV if os.environ.get(env)]
        if overridden:
            hint += f" Greyed out: set by {', '.join(overridden)} for this session."
        self.models_hint.setText(hint)
        index = self.router_combo.findData(settings.router)
        self.router_combo.setCurrentIndex(max(index, 0))
        self.threshold.setValue(settings.confidence_threshold)
        self.top_k.setValue(settings.top_k)

    # --- actions --------------------------------------------------------------

    def choose_folder(self, role: str) -> None:
        start = self.model_edits[role].text()
        start = (
            start if os.path.isdir(os.path.expanduser(start)) else str(self.ctx.home)
        )
        chosen = QFileDialog.getExistingDirectory(
            self, f"Choose the {ROLE_LABELS[role].lower()} folder", start
        )
        if chosen:
            self.model_edits[role].setText(chosen)

    def show_data_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.ctx.home)))

    def edited(self) -> Settings:
        """The settings to save: the running ones with this dialog's edits.

        A model set by an environment variable keeps its saved value, so the
        override never ends up in settings.json.
        """
        current = self.ctx.assistant.settings
        values = {
            "router": self.router_combo.currentData(),
            "confidence_threshold": round(self.threshold.value(), 4),
            "top_k": self.top_k.value(),
        }
        for role, edit in self.model_edits.items():
            field = f"{role}_model"
            if os.environ.get(ENV_FOR[field]):
                values[field] = self._saved_value(field)
            else:
                values[field] = edit.text().strip()
        return dataclasses.replace(current, **values)

    def _saved_value(self, field: str):
        path = settings_path(self.ctx.home)
        try:
            saved = (
                json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
            )
        except (OSError, ValueError):
            saved = {}
        default = getattr(Settings(), field)
        return saved.get(field, default) if isinstance(saved, dict) else default

    def save(self) -> bool:
        """Check and save the edits; True when they were saved and applied."""
        try:
            settings = self.edited()
            settings.validate()
            for role in ROLES:
                if not os.environ.get(ENV_FOR[f"{role}_model"]):
                    source = getattr(settings, f"{role}_model")
                    check_model_source(role, source, settings, self.ctx.home)
            save_settings(settings, self.ctx.home)
            self._apply()
        except HouseholdError as exc:
            self._refuse(str(exc))
            return False
        self.error.hide()
        self.accept()
        return True

    def _refuse(self, message: str) -> None:
        self.error.setText(message)
        self.error.show()
        self.adjustSize()  # grow for the message rather than squeeze the rest
        self.ctx.notify(message, "error")

    def _apply(self) -> None:
        """Make the running app use what settings.json (and the env) now say."""
        live = load_settings(self.ctx.home)
        current = self.ctx.assistant.settings
        fields = [f.name for f in dataclasses.fields(Settings)]
        changed = {f for f in fields if getattr(live, f) != getattr(current, f)}
        if not changed:
            return

        if changed & {f"{role}_model" for role in ROLES}:
            logger.info(
                "Model settings changed (%s); starting a new assistant", changed
            )
            self.ctx.replace_assistant(Assistant(self.ctx.home))
            self.ctx.models_changed.emit()
        else:
            # Components read most settings at each call; the feedback store
            # keeps its own copy of the threshold.
            for name in changed:
                setattr(current, name, getattr(live, name))
            if "confidence_threshold" in changed:
                self.ctx.assistant.feedback.confidence_threshold = (
                    live.confidence_threshold
                )
        if "router" in changed:
            self.ctx.router_changed.emit()

    # --- reset ----------------------------------------------------------------

    def ask_reset(self) -> None:
        """Ask first (a sheet on macOS); the answer arrives in `_reset_answered`."""
        self.reset_box.open()

    def _reset_answered(self, _result: int) -> None:
        if self.reset_box.clickedButton() is self.reset_confirm:
            self.reset()

    def reset(self) -> None:
        """Write the default settings and use them; notes and feedback stay."""
        try:
            save_settings(Settings(), self.ctx.home)
            self._apply()
        except HouseholdError as exc:
            self._refuse(str(exc))
            return
        self.error.hide()
        self.show_settings(self.ctx.assistant.settings)
        self.info.setText(
            "Settings are back to their defaults. Notes and feedback are kept."
        )
        self.info.show()
        self.ctx.notify("Settings are back to their defaults.", "info")
