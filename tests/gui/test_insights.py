"""The Insights tab over questions asked through the real assistant."""

from __future__ import annotations

import json

import pytest

from household_assistant.assistant import DoneEvent
from household_assistant.gui.insights import InsightsTab, dollars
from household_assistant.insights import prices_path

NOTES = {
    "furnace.txt": ("hvac", "The Trane furnace takes a 16x25x1 MERV 11 filter."),
    "pool.md": ("pool", "# Pool\nBlue Wave Pools serviced the pump in May 2025."),
}


@pytest.fixture
def asked(ctx, tmp_path) -> list[DoneEvent]:
    """Three questions through ctx.assistant.ask: two routed, one by category;
    a thumbs-up on the first and a correction on the second."""
    assistant = ctx.assistant
    assistant.settings.max_answer_tokens = 8
    for name, (category, text) in NOTES.items():
        (tmp_path / name).write_text(text)
        list(assistant.import_paths([tmp_path / name], category=category))

    done = []
    for question, category in (
        ("what filter does the furnace take?", None),
        ("who serviced the pool pump?", None),
        ("when was the pump serviced?", "pool"),
    ):
        done.append(list(assistant.ask(question, category=category))[-1])
    assistant.thumbs(done[0].question_id, up=True)
    assistant.correct(done[1].question_id, "fence")
    return done


def _tab(qtbot, ctx) -> InsightsTab:
    tab = InsightsTab(ctx)
    qtbot.addWidget(tab)
    tab.resize(1000, 720)
    tab.show()
    return tab


def _refresh(qtbot, tab: InsightsTab):
    with qtbot.waitSignal(tab.refreshed, timeout=10000) as shown:
        tab.refresh()
    return shown.args[0]


def _row(tab: InsightsTab, name: str) -> int:
    names = [tab.table.item(r, 0).text() for r in range(tab.table.rowCount())]
    return names.index(name)


def test_the_cards_count_what_was_asked(qtbot, ctx, asked):
    tab = _tab(qtbot, ctx)
    insights = _refresh(qtbot, tab)

    assert (insights.questions, insights.routed) == (3, 2)
    assert (insights.rated, insights.right, insights.corrected) == (2, 1, 1)
    usage = [event.usage for event in asked]
    assert insights.router_tokens == sum(u["router_tokens"] for u in usage)
    assert insights.prompt_tokens == sum(u["prompt_tokens"] for u in usage) > 0
    assert insights.answer_tokens == sum(u["answer_tokens"] for u in usage) > 0
    assert insights.off_topic_tokens == sum(u["off_topic_tokens"] for u in usage)

    cards = tab.cards
    assert cards["questions"].value.text() == "3"
    assert "2 routed by the router, 1 in a category you chose" in (
        cards["questions"].detail.text()
    )
    assert cards["accuracy"].value.text() == "50%"
    assert "From 2 rated questions" in cards["accuracy"].detail.text()
    assert cards["corrections"].value.text() == "50%"
    assert cards["tokens"].value.text() == f"{insights.total_tokens:,}"
    assert cards["speed"].value.text().endswith(("ms", "s"))


def test_an_edited_price_changes_the_estimate_and_is_saved(qtbot, ctx, asked, home):
    tab = _tab(qtbot, ctx)
    insights = _refresh(qtbot, tab)
    haiku = _row(tab, "Claude Haiku 4.5")
    assert tab.table.item(haiku, 1).text() == "1.00"

    tab.table.item(haiku, 1).setText("2.5")
    assert tab.save_button.isEnabled()
    expected = (insights.input_tokens * 2.5 + insights.answer_tokens * 5.0) / 1e6
    assert tab.table.item(haiku, 3).text() == dollars(expected)
    assert tab.save_prices()

    saved = json.loads(prices_path(home).read_text())["prices"]
    assert {"name": "Claude Haiku 4.5", "input": 2.5, "output": 5.0} in saved
    again = _refresh(qtbot, _tab(qtbot, ctx))
    (cost,) = [c for c in again.costs if c.price.name == "Claude Haiku 4.5"]
    assert cost.dollars == pytest.approx(expected)


def test_a_bad_price_is_refused_in_the_tab_and_the_notifier(qtbot, ctx, home):
    notices = []
    ctx.notice.connect(lambda level, text: notices.append((level, text)))
    tab = _tab(qtbot, ctx)
    _refresh(qtbot, tab)
    assert tab.cards["accuracy"].value.text() == "—"  # nothing rated yet
    before = prices_path(home).read_text()

    tab.table.item(_row(tab, "GPT-5.4 nano"), 2).setText("a lot")
    assert not tab.save_prices()
    assert "output price of GPT-5.4 nano" in tab.price_error.text()
    assert notices[-1] == ("error", tab.price_error.text())
    assert prices_path(home).read_text() == before


def test_new_feedback_refreshes_a_visible_tab(qtbot, ctx, asked):
    tab = _tab(qtbot, ctx)
    _refresh(qtbot, tab)
    ctx.assistant.thumbs(asked[2].question_id, up=False)
    ctx.assistant.correct(asked[0].question_id, "fence")
    with qtbot.waitSignal(tab.refreshed, timeout=10000) as shown:
        ctx.feedback_changed.emit()
    assert (
        shown.args[0].corrected == 2 and tab.cards["corrections"].value.text() == "100%"
    )
