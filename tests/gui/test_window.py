"""The window's frame: pages, menus, shortcuts, the message bar, workers, state."""

from __future__ import annotations

import threading

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent, QKeySequence

from household_assistant.errors import HouseholdError
from household_assistant.gui.workers import Task, iterate


def test_ready_models_open_on_the_tabs(window):
    assert window.pages.currentWidget() is window.tabs
    assert [window.tabs.tabText(i) for i in range(window.tabs.count())] == [
        "Chat",
        "Notes",
        "Trainer",
        "Insights",
    ]


def test_missing_models_open_on_welcome_and_say_why(qtbot, home, monkeypatch):
    from household_assistant.assistant import Assistant
    from household_assistant.gui.context import AppContext
    from household_assistant.gui.window import MainWindow

    monkeypatch.setenv("HOUSEHOLD_ASSISTANT_ANSWER_MODEL", str(home / "nowhere"))
    ctx = AppContext(Assistant(home))
    ready, reason = ctx.models_ready()
    assert not ready and "answer model" in reason
    win = MainWindow(ctx)
    qtbot.addWidget(win)
    assert win.pages.currentWidget() is win.welcome


def test_mac_shortcuts_and_menu_roles(window):
    from PySide6.QtGui import QAction

    assert window.settings_action.shortcut() == QKeySequence("Ctrl+,")
    assert window.settings_action.menuRole() == QAction.MenuRole.PreferencesRole
    assert window.new_chat_action.shortcut() == QKeySequence("Ctrl+N")
    assert window.quit_action.menuRole() == QAction.MenuRole.QuitRole
    assert window.about_action.menuRole() == QAction.MenuRole.AboutRole


def test_notices_reach_the_message_bar(window, qtbot):
    window.ctx.notify("The notes store could not be opened.")
    assert window.message_bar.isVisible()
    assert window.message_bar.level == "error"
    assert "could not be opened" in window.message_bar.text()
    window.message_bar.dismiss()
    assert not window.message_bar.isVisible()


def test_a_dropped_file_goes_to_the_import(window, tmp_path, monkeypatch):
    note = tmp_path / "pool.md"
    note.write_text("# Pool\nThe pump was serviced in May.")
    asked = []
    monkeypatch.setattr(window.notes, "start_import", asked.append)

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(note)), QUrl("https://example.org/x")])
    event = QDropEvent(
        QPoint(10, 10),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    assert asked == [[note]]  # the web link is not a file to import
    assert window.tabs.currentWidget() is window.notes


def test_window_geometry_is_remembered(qtbot, ctx):
    from household_assistant.gui.window import MainWindow

    first = MainWindow(ctx)
    qtbot.addWidget(first)
    first.resize(700, 520)
    first.tabs.setCurrentIndex(2)
    first.close()

    second = MainWindow(ctx)
    qtbot.addWidget(second)
    assert (second.width(), second.height()) == (700, 520)
    assert second.tabs.currentIndex() == 2


def test_tasks_run_off_the_gui_thread_and_report(qtbot):
    gui_thread = threading.get_ident()
    seen = []

    def job(task):
        task.report(threading.get_ident())
        return "done"

    task = Task(job)
    task.progress.connect(seen.append)
    with qtbot.waitSignal(task.result, timeout=5000) as result:
        task.start()
    assert result.args == ["done"]
    qtbot.waitUntil(lambda: len(seen) == 1)
    assert seen[0] != gui_thread


def test_task_errors_and_bugs_become_messages(qtbot):
    def user_error(task):
        raise HouseholdError("The pool notes are gone; import them again.")

    def bug(task):
        return 1 / 0

    for job, expected in ((user_error, "import them again"), (bug, "ZeroDivision")):
        task = Task(job)
        with qtbot.waitSignal(task.failed, timeout=5000) as failed:
            task.start()
        assert expected in failed.args[0]


def test_cancel_stops_a_generator_between_items(qtbot):
    closed = threading.Event()
    release = threading.Event()

    def numbers():
        try:
            for n in range(1000):
                release.wait(5)
                yield n
        finally:
            closed.set()

    task = Task(iterate(numbers))
    task.progress.connect(lambda n: task.cancel())
    with qtbot.waitSignal(task.cancelled, timeout=5000):
        task.start()
        release.set()
    assert closed.is_set()


def test_a_source_clicked_in_chat_shows_its_note(window, qtbot, tmp_path):
    note = tmp_path / "furnace.md"
    note.write_text("# Furnace\nThe furnace takes a 16x25x1 filter.")
    (result,) = window.ctx.assistant.import_paths([note], category="hvac")

    window.chat.open_note.emit(result.note_id)
    assert window.tabs.currentWidget() is window.notes
    qtbot.waitUntil(
        lambda: (
            (current := window.notes.list.currentItem()) is not None
            and window.notes._items.get(result.note_id) is current
        ),
        timeout=10_000,
    )


def test_cycles_are_collected_on_the_gui_thread_only(qapp):
    import gc
    import threading
    import weakref

    from household_assistant.gui.workers import MainThreadCollector

    class Node:
        pass

    def garbage_cycle():
        a, b = Node(), Node()
        a.other, b.other = b, a
        return weakref.ref(a)

    collector = qapp.findChild(MainThreadCollector)
    assert collector is not None and not gc.isenabled()
    gc.collect()
    cycle = garbage_cycle()

    # A worker allocating far past the threshold collects nothing...
    def allocate():
        keep = [[] for _ in range(gc.get_threshold()[0] * 5)]
        assert keep

    worker = threading.Thread(target=allocate)
    worker.start()
    worker.join()
    assert cycle() is not None

    # ...the GUI thread's timer does, once enough has been allocated.
    keep = [[] for _ in range(gc.get_threshold()[0] + 1)]
    collector.collect_due()
    assert keep and cycle() is None
