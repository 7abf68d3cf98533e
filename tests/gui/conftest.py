"""GUI fixtures: the real window over a private data folder and tiny models."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")


@pytest.fixture(scope="session", autouse=True)
def collect_on_the_gui_thread(qapp):
    """As in the app: cycles holding widgets are collected on the GUI thread."""
    from household_assistant.gui.workers import MainThreadCollector

    collector = MainThreadCollector(qapp)
    yield collector
    collector.stop()


@pytest.fixture
def ctx(use_tiny_models, home):
    """The app's shared context over the test's data folder, models ready."""
    from household_assistant.assistant import Assistant
    from household_assistant.gui.context import AppContext

    return AppContext(Assistant(home))


@pytest.fixture
def window(qtbot, ctx):
    """The main window, shown offscreen; its workers are stopped at the end."""
    from household_assistant.gui import workers
    from household_assistant.gui.window import MainWindow

    win = MainWindow(ctx)
    qtbot.addWidget(win)
    win.show()
    yield win
    workers.stop_all()
