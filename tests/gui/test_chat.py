"""The chat tab over the real core: tiny models, real kNN, Chroma and SQLite."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt, QTimer, QUrl, Slot
from PySide6.QtGui import QDesktopServices

from household_assistant.gui.chat_answer import SourceRow, breakable, visible_answer

TIMEOUT = 60_000  # ms; a first answer loads the tiny models
NOTES = {
    "pool.md": "# Pool pump\nBlue Water Pools services the pool pump every May.",
    "spa.md": "# Spa\nThe spa jets trip the breaker when the GFCI outlet is wet.",
}


@pytest.fixture
def chat(window, ctx, tmp_path):
    """The window's chat tab, over two imported pool notes."""
    for name, text in NOTES.items():
        (tmp_path / name).write_text(text)
    results = list(ctx.assistant.import_paths([tmp_path], category="pool"))
    assert [r.status for r in results] == ["imported", "imported"]
    ctx.assistant.settings.max_answer_tokens = 16
    return window.chat


def ask(qtbot, chat, question: str, category: str | None = None):
    """Ask and wait until the answer has stopped streaming."""
    with qtbot.waitSignal(chat.answer_finished, timeout=TIMEOUT) as finished:
        bubble = chat.ask(question, category)
    assert finished.args == [bubble]
    return bubble


def test_an_answer_streams_in_then_shows_its_route_sources_and_thumbs(qtbot, chat, ctx):
    question = "Who services the pool pump?"
    lengths = []
    with qtbot.waitSignal(chat.answer_finished, timeout=TIMEOUT):
        bubble = chat.ask(question)
        bubble.grew.connect(lengths.append)
        assert not chat.input.isEnabled() and chat.stop_button.isVisibleTo(chat)

    assert len(lengths) > 1, "tokens should arrive one by one"
    assert all(b > a for a, b in zip(lengths, lengths[1:], strict=False))
    # The tiny model's random weights write blank lines; blank answers say so.
    assert bubble.state == "done" and bubble.body.isVisible()
    assert bubble.body.text() == (bubble.text() or "*No answer was written.*")

    decision = bubble.decision
    assert decision.category == ctx.assistant.route(question).category
    assert bubble.chip.isVisible()
    assert bubble.chip.text().startswith(
        f"{decision.category} · {round(decision.confidence * 100)} %"
    )
    rows = bubble.findChildren(SourceRow)
    assert rows and all(row.isVisible() for row in rows)
    assert {row.title.text() for row in rows} <= {"Pool pump", "Spa"}
    assert rows[0].snippet.full_text in {
        text.split("\n", 1)[1] for text in NOTES.values()
    }

    assert bubble.thumbs_up.isVisible() and bubble.thumbs_down.isVisible()
    assert ctx.assistant.feedback.recent(1)[0].id == bubble.question_id
    assert chat.input.isEnabled() and not chat.stop_button.isVisibleTo(chat)


def test_markdown_renders_at_most_every_interval_and_hides_thinking(qtbot, ctx):
    from household_assistant.assistant import RouteEvent, SourcesEvent, TokenEvent
    from household_assistant.gui.chat_answer import RENDER_INTERVAL_MS, AnswerBubble
    from household_assistant.retrieval import MANUAL, Scope
    from household_assistant.router import manual_decision

    assistant = ctx.assistant
    bubble = AnswerBubble("pump?", "pool", assistant.settings, lambda: [])
    qtbot.addWidget(bubble)
    bubble.show()
    bubble.handle_event(RouteEvent(manual_decision(assistant.categories, "pool")))
    bubble.handle_event(SourcesEvent(Scope(MANUAL, ["pool"], ["OO"], ""), []))
    for piece in ("<think>", "who is it", "</think>", "**Blue", " Water**"):
        bubble.handle_event(TokenEvent(piece))
    assert bubble.body.text() == ""  # not re-rendered per token
    assert bubble.text() == "**Blue Water**"

    qtbot.wait(RENDER_INTERVAL_MS * 3)
    assert bubble.body.text() == "**Blue Water**" and bubble.body.isVisible()
    bubble.handle_event(TokenEvent(" <think>hm"))
    qtbot.wait(RENDER_INTERVAL_MS * 3)
    assert bubble.status_text() == "Thinking…" and "hm" not in bubble.body.text()
    assert visible_answer("</think>\n\nThe pump.") == ("The pump.", False)


class _UrlCatcher(QObject):
    def __init__(self):
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def catch(self, url: QUrl) -> None:
        self.urls.append(url)


def test_a_source_opens_in_the_notes_tab_or_else_as_its_file(qtbot, chat, window):
    bubble = ask(qtbot, chat, "Who services the pool pump?", "pool")
    row = bubble.findChildren(SourceRow)[0]

    # A chat tab outside the window: nothing listens to open_note, so the
    # note's own file opens (test_window covers the window's Notes tab).
    chat.open_note.disconnect(window.show_note)
    catcher = _UrlCatcher()
    QDesktopServices.setUrlHandler("file", catcher, "catch")
    try:
        qtbot.mouseClick(row, Qt.MouseButton.LeftButton)
    finally:
        QDesktopServices.unsetUrlHandler("file")
    assert [Path(url.toLocalFile()) for url in catcher.urls] == [Path(row.hit.source)]

    with qtbot.waitSignal(chat.open_note) as opened:
        qtbot.mouseClick(row, Qt.MouseButton.LeftButton)
    assert opened.args == [row.hit.note_id]
    assert len(catcher.urls) == 1  # a listener replaces the file fallback


def test_thumbs_down_on_the_category_corrects_it_and_reroutes_a_paraphrase(
    qtbot, chat, ctx
):
    ctx.assistant.settings.max_answer_tokens = 4
    paraphrase = "why do the jets in the spa keep tripping?"
    before = ctx.assistant.route(paraphrase)
    assert before.router == "knn"
    bubble = ask(qtbot, chat, "the spa jets keep tripping")
    # The least likely category: clearly not what kNN said before.
    target = next(
        a.category
        for a in reversed(before.alternatives)
        if a.category != bubble.decision.category
    )

    with qtbot.waitSignal(ctx.feedback_changed, timeout=TIMEOUT):
        qtbot.mouseClick(bubble.thumbs_down, Qt.MouseButton.LeftButton)
    dialog = chat.feedback_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.mouseClick(dialog.category_option, Qt.MouseButton.LeftButton)
    dialog.category_box.setCurrentText(target)
    with qtbot.waitSignal(chat.answer_finished, timeout=TIMEOUT):
        qtbot.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)

    code = ctx.assistant.categories.get(target).code
    qtbot.waitUntil(
        lambda: (
            ("the spa jets keep tripping", code)
            in [
                (label.question, label.code)
                for label in ctx.assistant.feedback.labels()
            ]
        )
    )
    again = chat.answers()[-1]
    assert again is not bubble and again.decision.router == "manual"
    assert again.decision.category == target and again.question == bubble.question
    asked = {q.id: q for q in ctx.assistant.feedback.recent(5)}[bubble.question_id]
    assert asked.thumbs is False and asked.corrected_code == code

    after = ctx.assistant.route(paraphrase)
    assert after.router == "knn" and after.category == target != before.category


def test_the_chip_menu_asks_again_in_another_category_and_records_it(qtbot, chat, ctx):
    ctx.assistant.settings.max_answer_tokens = 4
    bubble = ask(qtbot, chat, "Who services the pool pump?")
    actions = {a.data(): a for a in bubble.chip.menu().actions() if a.data()}
    assert sorted(actions) == sorted(ctx.assistant.categories.names)
    assert not actions[bubble.decision.category].isEnabled()
    target = "fence" if bubble.decision.category != "fence" else "car"

    with qtbot.waitSignal(chat.answer_finished, timeout=TIMEOUT):
        actions[target].trigger()
    again = chat.answers()[-1]
    assert again.decision.category == target and again.chip.text().startswith(target)
    code = ctx.assistant.categories.get(target).code
    qtbot.waitUntil(lambda: ctx.assistant.feedback.recent(5)[1].corrected_code == code)


def test_a_wrong_answer_keeps_the_comment_and_no_label(qtbot, chat, ctx):
    ctx.assistant.settings.max_answer_tokens = 4
    bubble = ask(qtbot, chat, "Who services the pool pump?", "pool")
    qtbot.mouseClick(bubble.thumbs_down, Qt.MouseButton.LeftButton)
    dialog = chat.feedback_dialog
    assert dialog.answer_option.isChecked()  # the user chose the category
    qtbot.keyClicks(dialog.comment, "It should name Blue Water Pools")
    with qtbot.waitSignal(ctx.feedback_changed, timeout=TIMEOUT):
        qtbot.mouseClick(dialog.send_button, Qt.MouseButton.LeftButton)

    qtbot.waitUntil(lambda: ctx.assistant.feedback.recent(1)[0].thumbs_comment != "")
    asked = ctx.assistant.feedback.recent(1)[0]
    assert (asked.id, asked.thumbs) == (bubble.question_id, False)
    assert asked.thumbs_comment == "It should name Blue Water Pools"
    assert ctx.assistant.feedback.labels() == [] and len(chat.answers()) == 1


def test_the_window_stays_responsive_while_an_answer_streams(qtbot, chat, ctx):
    ctx.assistant.settings.max_answer_tokens = 64
    ask(qtbot, chat, "warm up the models", "pool")

    ticks, tokens = [], []
    timer = QTimer(interval=10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    with qtbot.waitSignal(chat.answer_finished, timeout=TIMEOUT):
        bubble = chat.ask("Who services the pool pump?", "pool")
        bubble.grew.connect(lambda _n: tokens.append(time.perf_counter()))
    timer.stop()

    assert len(tokens) > 20, "the stream should take a while"
    during = [t for t in ticks if tokens[0] <= t <= tokens[-1]]
    assert len(during) >= 5, f"{len(during)} ticks over {len(tokens)} tokens"


def test_stop_keeps_the_partial_answer_and_frees_the_input(qtbot, chat, ctx):
    ctx.assistant.settings.max_answer_tokens = 400
    seen = []

    def grew(length: int) -> None:
        seen.append(length)
        if len(seen) == 3:
            chat.stop_button.click()

    with qtbot.waitSignal(chat.answer_finished, timeout=TIMEOUT):
        bubble = chat.ask("Who services the pool pump?", "pool")
        bubble.grew.connect(grew)

    assert bubble.state == "stopped" and bubble.status_text() == "Stopped"
    assert 3 <= len(seen) < 400 and bubble.body.isVisible()
    assert bubble.body.text() == (bubble.text() or "*Stopped before the answer began.*")
    assert not bubble.footer.isVisible()  # nothing was recorded to thumb
    assert chat.input.isEnabled() and chat.send_button.isVisibleTo(chat)
    assert not chat.stop_button.isVisibleTo(chat)


def test_return_sends_and_shift_return_adds_a_line(qtbot, chat):
    chat.ctx.assistant.settings.max_answer_tokens = 4
    qtbot.keyClicks(chat.input, "who fixed the fence")
    qtbot.keyClick(chat.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert chat.input.toPlainText() == "who fixed the fence\n"
    assert chat.answers() == []

    qtbot.keyClicks(chat.input, "and when?")
    with qtbot.waitSignal(chat.answer_finished, timeout=TIMEOUT):
        qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    assert chat.input.toPlainText() == ""
    assert [a.question for a in chat.answers()] == ["who fixed the fence\nand when?"]


def test_new_chat_clears_the_view_back_to_the_examples(qtbot, chat, window):
    chat.ctx.assistant.settings.max_answer_tokens = 4
    ask(qtbot, chat, "Who services the pool pump?", "pool")
    assert chat.scroll.isVisible() and not chat.empty.isVisible()

    window.new_chat_action.trigger()
    assert chat.answers() == [] and chat.empty.isVisible()
    qtbot.mouseClick(chat.empty.examples[0], Qt.MouseButton.LeftButton)
    assert chat.input.toPlainText() == chat.empty.EXAMPLES[0]


def test_an_empty_store_gets_an_import_hint_until_notes_arrive(
    qtbot, window, ctx, tmp_path
):
    chat = window.chat
    qtbot.waitUntil(lambda: chat.empty.no_notes.isVisible())
    (tmp_path / "pool.md").write_text(NOTES["pool.md"])
    list(ctx.assistant.import_paths([tmp_path], category="pool"))
    ctx.notes_changed.emit()
    qtbot.waitUntil(lambda: not chat.empty.no_notes.isVisible())


def test_not_ready_disables_asking_and_says_why(qtbot, chat):
    reason = "Chat needs the answer model. Download it on the Welcome page."
    chat.set_ready(False, reason)
    assert not chat.input.isEnabled() and chat.input.placeholderText() == reason
    assert chat.ask("Who services the pool pump?") is None and chat.answers() == []

    chat.set_ready(True)
    assert chat.input.isEnabled() and chat.input.placeholderText() != reason


def test_an_error_shows_in_the_answer_and_the_message_bar(
    qtbot, chat, ctx, window, tmp_path
):
    ctx.assistant.settings.answer_model = str(tmp_path / "no-such-model")
    bubble = ask(qtbot, chat, "Who services the pool pump?")

    assert bubble.state == "error" and bubble.error.isVisible()
    assert "answer model" in bubble.error.text() and "not on this Mac" in (
        bubble.error.text()
    )
    assert window.message_bar.level == "error"
    assert window.message_bar.text() == bubble.error.text()
    assert chat.input.isEnabled()


def test_long_runs_get_break_points_and_links_stay_whole():
    run = "_prediction" * 8
    folded = breakable(f"See {run} and https://example.com/{'a' * 60} now")
    assert folded.replace("\u200b", "") == (
        f"See {run} and https://example.com/{'a' * 60} now"
    )
    pieces = folded.split()[1].split("\u200b")
    assert len(pieces) == 5 and all(len(p) <= 20 for p in pieces)
    assert "\u200b" not in folded.split()[3]
    assert breakable("short words only") == "short words only"
