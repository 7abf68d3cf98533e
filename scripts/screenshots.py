"""Run the app offscreen with tiny models and save a screenshot of every view.

    python scripts/screenshots.py            # writes docs/*.png
    python scripts/screenshots.py --out /tmp/shots

The models are tiny random-weight Qwen3s built with the real tokenizer (answers
read as gibberish), and the embedder is the real all-MiniLM-L6-v2, both from
../shared/models. Everything happens in a throwaway data folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "models"

NOTES = {
    "pool-service.md": "# Pool service\n\nBlue Wave Pools services the pump every "
    "May. Last visit 2026-05-14: replaced the Hayward SP2610 pump seal, $180. "
    "Chlorine tablets live in the shed.",
    "furnace.md": "# Furnace\n\nThe Carrier furnace takes a 16x25x1 MERV 11 "
    "filter. Change it every three months; spares are in the garage.",
    "car-maintenance.txt": "2019 Subaru Outback. Oil change at 48,200 miles on "
    "2026-09-02 (0W-20 synthetic). Tires rotated at the same visit.",
    "painter.md": "# Painting\n\nLiving room: Benjamin Moore Pale Oak OC-20, "
    "eggshell. Trim: Chantilly Lace OC-65, semi-gloss. Painted by Ortiz & Sons.",
    "gutters.txt": "Gutters cleaned 2026-10-20 by ClearFlow. Downspout at the "
    "back corner overflows in heavy rain; they suggested a larger elbow.",
}
QUESTION = "When was the pool pump last serviced?"


def _prepare(home: Path) -> None:
    """Tiny models, the real embedder, and a data folder of sample notes."""
    from household_assistant.tiny_model import make_tiny_qwen3

    models = home.parent / "models"
    router = make_tiny_qwen3(models / "router", SHARED / "qwen3-tokenizer", bits=4)
    answer = make_tiny_qwen3(models / "answer", SHARED / "qwen3-tokenizer")
    os.environ.update(
        HOUSEHOLD_ASSISTANT_HOME=str(home),
        HOUSEHOLD_ASSISTANT_ROUTER_MODEL=str(router),
        HOUSEHOLD_ASSISTANT_ANSWER_MODEL=str(answer),
        HOUSEHOLD_ASSISTANT_EMBEDDING_MODEL=str(SHARED / "all-MiniLM-L6-v2"),
    )
    notes = home.parent / "notes"
    notes.mkdir()
    for name, text in NOTES.items():
        (notes / name).write_text(text)


def _wait(condition, seconds: float = 300) -> None:
    """Turn the event loop until `condition()` holds (workers report through it)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    poll = QTimer(interval=50)
    poll.timeout.connect(lambda: condition() and loop.quit())
    poll.start()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    poll.stop()
    if not condition():
        raise TimeoutError("the app did not get there in time")


def _pause(ms: int = 300) -> None:
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def _save(widget, out: Path, name: str) -> None:
    path = out / f"{name}.png"
    widget.grab().save(str(path))
    print(f"wrote {path}")


def _shoot(window, notes: Path, out: Path) -> None:
    from household_assistant.gui.settings_dialog import SettingsDialog

    window.show_welcome()
    _pause()
    _save(window, out, "welcome")

    # Import through the dialog, as a drop would.
    window.import_paths([notes])
    dialog = window.notes.import_dialog
    _wait(lambda: not dialog.busy)
    _pause()
    _save(dialog, out, "import")
    dialog.start()
    _wait(lambda: dialog.started and not dialog.importing)
    _pause()
    _save(dialog, out, "import-report")
    dialog.accept()
    _pause(800)
    _save(window, out, "notes")

    window.ctx.assistant.settings.max_answer_tokens = 40
    window.show_tab(0)
    for question in (QUESTION, "what filter does the furnace take"):
        window.chat.ask(question)
        _wait(lambda: window.chat.task is None)
    _pause()
    _save(window, out, "chat")

    window.trainer.train_args = ["--iters", "40"]
    window.show_tab(2)
    window.trainer.start_training()
    _wait(lambda: not window.trainer.is_running(), seconds=900)
    _pause()
    _save(window, out, "trainer")

    window.show_tab(3)
    _pause(1500)
    _save(window, out, "insights")

    settings = SettingsDialog(window.ctx, window)
    settings.show()
    _pause()
    _save(settings, out, "settings")
    settings.reject()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ["HF_HUB_OFFLINE"] = "1"

    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        _prepare(home)
        from household_assistant.gui.app import HouseholdApp, build_window

        app = HouseholdApp(sys.argv[:1])
        window = build_window(home)
        window.resize(1100, 760)
        window.show()
        app.window = window  # Dock drops would go here
        _shoot(window, Path(tmp) / "notes", args.out)
        window.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
