"""The Notes tab and the import dialog, driven the way a person would.

Files are dropped on the real window, categories suggested by the real kNN
router, notes stored in a real Chroma store in the test's data folder.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from household_assistant.chunking import chunk_text
from household_assistant.gui import import_dialog as import_module
from household_assistant.gui.import_dialog import FILE, SUGGESTING, ImportDialog
from household_assistant.gui.note_view import note_text
from household_assistant.importer import suggestion_text
from household_assistant.readers import read_document
from household_assistant.store import note_id_for
from tests.test_import import FURNACE, GUTTERS, POOL

WAIT_MS = 30_000


def drop(window, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(
        QPoint(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)


def dropped_dialog(qtbot, window, paths: list[Path]) -> ImportDialog:
    """Drop files on the window; the dialog, once its suggestions are in."""
    drop(window, paths)
    dialog = window.notes.import_dialog
    assert dialog is not None and dialog.isVisible() and not dialog.isModal()
    qtbot.waitUntil(lambda: bool(dialog.rows) and not dialog.busy, timeout=WAIT_MS)
    return dialog


def rows_by_name(dialog: ImportDialog) -> dict[str, int]:
    names = [dialog.table.item(i, FILE).text() for i in range(len(dialog.rows))]
    assert len(names) == len(set(names)), names
    return {name: i for i, name in enumerate(names)}


def import_all(qtbot, dialog: ImportDialog) -> list:
    with qtbot.waitSignal(dialog.import_finished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    return finished.args[0]


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def stored(ctx) -> dict[str, str]:
    """Each stored note's file name and category name."""
    return {Path(n.source).name: n.category for n in ctx.assistant.store.notes()}


def loaded_tab(qtbot, window):
    """The Notes tab, shown and with its list freshly loaded."""
    tab = window.notes
    with qtbot.waitSignal(tab.loaded, timeout=WAIT_MS):
        window.show_tab(1)
        tab.refresh()
    return tab


@pytest.fixture
def seeded(ctx, tmp_path):
    """Three notes imported through the core, in known categories."""
    files = {
        "pool": write(tmp_path / "notes" / "pool-service.txt", POOL),
        "hvac": write(tmp_path / "notes" / "furnace.md", FURNACE),
        "gutters": write(tmp_path / "notes" / "gutters.html", GUTTERS),
    }
    for category, path in files.items():
        [result] = ctx.assistant.import_paths([path], category)
        assert result.status == "imported", result
    return files


def test_dropped_files_are_suggested_imported_listed_and_reported(
    qtbot, window, ctx, tmp_path
):
    folder = tmp_path / "house"
    pool = write(folder / "pool-service.txt", POOL)
    furnace = write(folder / "hvac" / "furnace.md", FURNACE)
    empty = write(tmp_path / "empty.txt", "")
    picture = write(tmp_path / "photo.png", b"\x89PNG\r\n\x1a\n" + bytes(64))

    dialog = dropped_dialog(qtbot, window, [folder, empty, picture])
    rows = rows_by_name(dialog)
    assert set(rows) == {"house/pool-service.txt", "house/hvac/furnace.md"} | {
        "empty.txt",
        "photo.png",
    }
    # Each suggestion is what the router says about the file's opening text.
    for path in (pool, furnace):
        combo = dialog.rows[rows[f"house/{path.relative_to(folder)}"]].combo
        expected = ctx.assistant.route(suggestion_text(read_document(path)))
        assert combo.currentText() == expected.category
        assert combo.findText(SUGGESTING) == -1
    assert dialog.rows[rows["house/pool-service.txt"]].combo.currentText() == "pool"
    assert dialog.status_text(rows["empty.txt"]).startswith("Will be skipped: The file")
    assert "empty" in dialog.status_text(rows["empty.txt"])
    assert ".png" in dialog.status_text(rows["photo.png"])

    suggested = {name: dialog.category_text(i) for name, i in rows.items()}
    results = import_all(qtbot, dialog)
    statuses = {Path(r.path).name: (r.status, r.reason) for r in results}
    assert statuses["pool-service.txt"] == ("imported", "")
    assert statuses["furnace.md"][0] == "imported"
    assert statuses["empty.txt"][0] == "skipped" and "empty" in statuses["empty.txt"][1]
    assert statuses["photo.png"][0] == "skipped" and ".png" in statuses["photo.png"][1]
    assert dialog.status_text(rows["house/pool-service.txt"]) == "Imported · 1 chunk"
    assert (
        dialog.status_text(rows["empty.txt"]) == f"Skipped: {statuses['empty.txt'][1]}"
    )
    assert dialog.summary.text() == "2 imported, 2 skipped."
    assert not dialog.progress.isVisible()

    assert stored(ctx) == {
        "pool-service.txt": "pool",
        "furnace.md": suggested["house/hvac/furnace.md"],
    }
    # The report shows the category each note was stored in.
    assert {name: dialog.category_text(i) for name, i in rows.items()} == suggested
    tab = window.notes
    qtbot.waitUntil(lambda: len(tab.visible_ids()) == 2, timeout=WAIT_MS)
    titles = {tab.notes[i].title for i in tab.visible_ids()}
    assert titles == {"pool service", "Furnace"}
    assert tab.pages.currentIndex() == 1


def test_suggesting_shows_until_the_router_answers(qtbot, window, ctx, tmp_path):
    pool = write(tmp_path / "pool.txt", POOL)
    release = threading.Event()
    route = ctx.assistant.route

    def slow_route(text):
        release.wait(10)
        return route(text)

    ctx.assistant.route = slow_route
    drop(window, [pool])
    dialog = window.notes.import_dialog
    qtbot.waitUntil(lambda: bool(dialog.rows), timeout=WAIT_MS)
    combo = dialog.rows[0].combo
    assert combo.currentText() == SUGGESTING
    assert dialog.status_text(0) == "Suggesting…"
    release.set()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)
    assert combo.currentText() == "pool"
    assert dialog.status_text(0).startswith("Suggested (")


def test_a_category_changed_before_import_is_the_one_stored(
    qtbot, window, ctx, tmp_path, monkeypatch
):
    pool = write(tmp_path / "pool.txt", POOL)
    furnace = write(tmp_path / "furnace.md", FURNACE)
    calls = []
    real_import = ctx.assistant.import_files

    def spy(files, category=None):
        calls.append((category, [Path(p).name for p, _ in files]))
        return real_import(files, category)

    monkeypatch.setattr(ctx.assistant, "import_files", spy)
    dialog = dropped_dialog(qtbot, window, [pool, furnace])
    rows = rows_by_name(dialog)
    furnace_choice = dialog.rows[rows["furnace.md"]].combo.currentText()
    combo = dialog.rows[rows["pool.txt"]].combo
    assert combo.currentText() == "pool"
    combo.setCurrentIndex(combo.findText("fountain"))
    assert dialog.status_text(rows["pool.txt"]) == "Chosen by you (suggested: pool)"

    results = import_all(qtbot, dialog)
    assert [r.status for r in results] == ["imported", "imported"]
    assert stored(ctx) == {"pool.txt": "fountain", "furnace.md": furnace_choice}
    # One import call per chosen category.
    assert sorted(calls) == sorted(
        [("fountain", ["pool.txt"]), (furnace_choice, ["furnace.md"])]
    )


def test_stop_ends_the_import_between_files_and_says_what_was_done(
    qtbot, window, ctx, tmp_path
):
    folder = tmp_path / "many"
    for n in range(3 * import_module.SLICE_FILES):
        write(folder / f"pool-{n:02}.txt", f"{POOL} Visit number {n}.")
    dialog = dropped_dialog(qtbot, window, [folder])
    assert len(dialog.rows) == 3 * import_module.SLICE_FILES

    def stop(done: int) -> None:
        if done == 1:  # the first file is in; press Stop
            qtbot.mouseClick(dialog.cancel_button, Qt.MouseButton.LeftButton)

    dialog.progress.valueChanged.connect(stop)
    results = import_all(qtbot, dialog)
    assert 0 < len(results) < len(dialog.rows)
    assert len(ctx.assistant.store.notes()) == len(results)
    left = [i for i, row in enumerate(dialog.rows) if row.result is None]
    assert left and all(dialog.status_text(i) == "Not imported (stopped)" for i in left)
    assert "stopped before" in dialog.summary.text()


def test_filter_and_search_narrow_the_list(qtbot, window, seeded):
    tab = loaded_tab(qtbot, window)
    assert len(tab.visible_ids()) == 3
    combo = tab.category_filter
    assert combo.itemText(0) == "All categories (3)"
    assert combo.itemText(combo.findData("OO")) == "pool (1)"
    assert combo.itemText(combo.findData("AA")) == "appliances (0)"

    combo.setCurrentIndex(combo.findData("OO"))
    assert [tab.notes[i].title for i in tab.visible_ids()] == ["pool service"]
    assert tab.count_label.text() == "1 of 3 notes"

    combo.setCurrentIndex(0)
    qtbot.keyClicks(tab.search, "FURN")
    assert [tab.notes[i].title for i in tab.visible_ids()] == ["Furnace"]
    tab.search.setText("gutters.html")  # the source file matches too
    assert [tab.notes[i].title for i in tab.visible_ids()] == ["Gutter cleaning"]
    tab.search.setText("gutters nothing-like-this")
    assert tab.visible_ids() == []
    tab.search.clear()
    assert len(tab.visible_ids()) == 3


def test_view_move_remove_and_reimport_a_note(qtbot, window, ctx, seeded):
    tab = loaded_tab(qtbot, window)
    pool_id = note_id_for(str(seeded["pool"].resolve()))
    with qtbot.waitSignal(tab.view.text_shown, timeout=WAIT_MS):
        tab.show_note(pool_id)
    assert tab.view.shown_text().split() == POOL.split()
    assert tab.view.category.currentText() == "pool"

    # Move it with the viewer's category box.
    with qtbot.waitSignal(tab.loaded, timeout=WAIT_MS):
        tab.view.category.activated.emit(tab.view.category.findText("hvac"))
    assert ctx.assistant.store.find(pool_id).code == "KK"
    assert tab._items[pool_id].text(1) == "hvac"
    assert tab.category_filter.itemText(tab.category_filter.findData("KK")) == (
        "hvac (2)"
    )

    # Remove asks first; Cancel keeps the note, Remove removes it.
    gutters_id = note_id_for(str(seeded["gutters"].resolve()))
    tab.remove_notes([gutters_id])
    assert tab.confirm.isVisible() and "Gutter cleaning" in tab.confirm.text()
    tab.confirm.button(QMessageBox.StandardButton.Cancel).click()
    assert gutters_id in {n.note_id for n in ctx.assistant.store.notes()}
    tab.remove_notes([gutters_id])
    remove = next(
        b
        for b in tab.confirm.buttons()
        if tab.confirm.buttonRole(b) == QMessageBox.ButtonRole.DestructiveRole
    )
    with qtbot.waitSignal(tab.loaded, timeout=WAIT_MS):
        remove.click()
    assert gutters_id not in {n.note_id for n in ctx.assistant.store.notes()}
    assert gutters_id not in tab.visible_ids() and len(tab.visible_ids()) == 2

    # Re-import reads the changed file and keeps the category it was moved to.
    seeded["pool"].write_text(POOL + " The skimmer basket was replaced in June.")
    with qtbot.waitSignal(tab.loaded, timeout=WAIT_MS):
        tab.view.reimport_button.click()
    assert ctx.assistant.store.find(pool_id).code == "KK"
    text = " ".join(h.text for h in ctx.assistant.store.chunks(pool_id))
    assert "skimmer basket was replaced" in text
    assert window.message_bar.level == "info"
    assert "1 updated" in window.message_bar.text()

    # A file that is gone is reported, not re-imported.
    seeded["pool"].unlink()
    tab.refresh()
    qtbot.waitUntil(lambda: pool_id in tab.missing, timeout=WAIT_MS)
    tab.reimport_notes([pool_id])
    qtbot.waitUntil(lambda: window.message_bar.level == "warning", timeout=WAIT_MS)
    assert "its file is gone" in window.message_bar.text()
    assert ctx.assistant.store.find(pool_id).code == "KK"


def test_show_note_clears_a_filter_that_hides_it(qtbot, window, ctx, seeded):
    tab = loaded_tab(qtbot, window)
    window.show_tab(0)
    tab.search.setText("gutters")
    furnace_id = note_id_for(str(seeded["hvac"].resolve()))
    with qtbot.waitSignal(tab.view.text_shown, timeout=WAIT_MS):
        tab.show_note(furnace_id)
    assert window.tabs.currentWidget() is tab
    assert tab.search.text() == "" and furnace_id in tab.visible_ids()
    assert tab.selected_ids() == [furnace_id]
    assert tab.view.title.text() == "Furnace"
    assert "MERV 11" in tab.view.shown_text()

    tab.show_note("0123456789abcdef")
    qtbot.waitUntil(lambda: window.message_bar.level == "warning", timeout=WAIT_MS)
    assert "no longer in the notes store" in window.message_bar.text()


def test_no_notes_shows_where_to_drop_them(qtbot, window):
    tab = loaded_tab(qtbot, window)
    assert tab.pages.currentWidget() is tab.empty
    assert "Drop files or folders here" in tab.empty.text()
    assert ".pdf .docx" in tab.empty.text()


def test_note_text_undoes_chunk_headings_and_overlaps():
    paragraphs = [
        f"Paragraph {n} says the filter {n} was changed on day {n} by the crew."
        for n in range(30)
    ]
    text = "# Furnace\n\n" + "\n\n".join(paragraphs[:15])
    text += "\n\n## Pool\n\n" + "\n\n".join(paragraphs[15:])
    chunks = chunk_text(text, max_chars=240, overlap=80)
    assert len(chunks) > 6  # headings and overlaps really were repeated
    assert sum(c.text.count("# Furnace") for c in chunks) > 1
    assert note_text([c.text for c in chunks], 80).split() == text.split()


def test_more_drops_join_the_open_dialog_and_empty_folders_say_so(
    qtbot, window, tmp_path
):
    nothing = tmp_path / "nothing"
    nothing.mkdir()
    window.notes.start_import([nothing])
    dialog = window.notes.import_dialog
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)
    assert dialog.summary.text().startswith("No files found")
    assert not dialog.import_button.isEnabled()

    pool = write(tmp_path / "pool.txt", POOL)
    furnace = write(tmp_path / "furnace.md", FURNACE)
    drop(window, [pool])
    drop(window, [furnace, pool])  # the pool file is listed once
    assert window.notes.import_dialog is dialog
    qtbot.waitUntil(lambda: len(dialog.rows) == 2 and not dialog.busy, timeout=WAIT_MS)
    assert set(rows_by_name(dialog)) == {"pool.txt", "furnace.md"}
    assert dialog.import_button.isEnabled()
    assert dialog.import_button.text() == "Import 2 files"
