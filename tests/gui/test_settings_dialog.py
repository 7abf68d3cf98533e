"""The Settings dialog: save and load, refusals, model changes, reset."""

from __future__ import annotations

import dataclasses
import json

from PySide6.QtWidgets import QFileDialog

from household_assistant.assistant import Assistant
from household_assistant.config import Settings, settings_path
from household_assistant.gui.settings_dialog import SettingsDialog


def _dialog(qtbot, ctx) -> SettingsDialog:
    dialog = SettingsDialog(ctx)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def _saved(home) -> dict:
    return json.loads(settings_path(home).read_text())


def test_threshold_top_k_and_router_are_saved_and_loaded(qtbot, ctx, home):
    before = ctx.assistant
    dialog = _dialog(qtbot, ctx)
    assert dialog.threshold.value() == Settings().confidence_threshold
    # The test's models come from environment variables: shown, not editable.
    assert not dialog.model_edits["router"].isEnabled()

    dialog.threshold.setValue(0.7)
    dialog.top_k.setValue(8)
    dialog.router_combo.setCurrentIndex(dialog.router_combo.findData("knn"))
    with qtbot.waitSignal(ctx.router_changed, timeout=1000):
        assert dialog.save()

    saved = _saved(home)
    assert (saved["confidence_threshold"], saved["top_k"], saved["router"]) == (
        0.7,
        8,
        "knn",
    )
    # The environment's model folders stay overrides; the file keeps its own.
    assert saved["router_model"] == Settings().router_model
    fresh = Assistant(home).settings
    assert (fresh.confidence_threshold, fresh.top_k, fresh.router) == (0.7, 8, "knn")
    # No model changed, so the running assistant was updated, not replaced.
    assert ctx.assistant is before and ctx.assistant.settings.top_k == 8
    assert ctx.assistant.feedback.confidence_threshold == 0.7
    assert not dialog.isVisible()


def test_bad_model_settings_are_refused_with_the_reason(
    qtbot, ctx, home, monkeypatch, tmp_path
):
    monkeypatch.delenv("HOUSEHOLD_ASSISTANT_ANSWER_MODEL")
    notices = []
    ctx.notice.connect(lambda level, text: notices.append((level, text)))
    dialog = _dialog(qtbot, ctx)
    answer = dialog.model_edits["answer"]
    assert answer.isEnabled()

    for value, expected in (
        ("", "answer model is empty"),
        (str(tmp_path), "holds no model"),
        ("not a repo", "neither a folder on this Mac nor a Hugging Face repo id"),
    ):
        answer.setText(value)
        assert not dialog.save()
        assert dialog.error.isVisible() and expected in dialog.error.text()
        assert notices[-1] == ("error", dialog.error.text())
    assert not settings_path(home).exists() and dialog.isVisible()

    answer.setText("mlx-community/Qwen3-4B-4bit")  # a repo not downloaded yet is fine
    assert dialog.save()
    assert _saved(home)["answer_model"] == "mlx-community/Qwen3-4B-4bit"


def test_a_new_model_folder_replaces_the_assistant(
    qtbot, ctx, home, monkeypatch, tiny_models
):
    monkeypatch.delenv("HOUSEHOLD_ASSISTANT_ANSWER_MODEL")
    before = ctx.assistant
    dialog = _dialog(qtbot, ctx)
    chosen = str(tiny_models["4bit"])
    monkeypatch.setattr(
        QFileDialog, "getExistingDirectory", staticmethod(lambda *args: chosen)
    )
    dialog.folder_buttons["answer"].click()
    assert dialog.model_edits["answer"].text() == chosen

    with qtbot.waitSignals([ctx.assistant_replaced, ctx.models_changed], timeout=2000):
        assert dialog.save()
    assert ctx.assistant is not before
    assert ctx.assistant.settings.answer_model == chosen
    assert _saved(home)["answer_model"] == chosen
    assert ctx.models_ready() == (True, "")


def test_reset_asks_first_then_restores_defaults_and_keeps_notes(
    qtbot, ctx, home, tmp_path
):
    note = tmp_path / "pool.md"
    note.write_text("# Pool\nThe pump was serviced by Blue Wave Pools in May.")
    list(ctx.assistant.import_paths([note], category="pool"))
    list(ctx.assistant.ask("who serviced the pool pump", answer=False))
    chunks, asked = ctx.assistant.store.count(), len(ctx.assistant.feedback.recent())
    assert chunks >= 1 and asked == 1

    first = _dialog(qtbot, ctx)
    first.top_k.setValue(9)
    assert first.save() and ctx.assistant.settings.top_k == 9

    dialog = _dialog(qtbot, ctx)
    dialog.reset_button.click()
    assert dialog.reset_box.isVisible()
    assert "notes, feedback" in dialog.reset_box.informativeText()
    dialog.reset_box.button(dialog.reset_box.StandardButton.Cancel).click()
    qtbot.waitUntil(lambda: not dialog.reset_box.isVisible(), timeout=1000)
    assert _saved(home)["top_k"] == 9  # cancelled: nothing changed

    dialog.reset_button.click()
    dialog.reset_confirm.click()
    qtbot.waitUntil(lambda: _saved(home)["top_k"] == Settings().top_k, timeout=1000)
    assert _saved(home) == dataclasses.asdict(Settings())
    assert ctx.assistant.settings.top_k == Settings().top_k
    assert dialog.top_k.value() == Settings().top_k and dialog.info.isVisible()
    assert ctx.assistant.store.count() == chunks
    assert len(ctx.assistant.feedback.recent()) == asked
