"""Insights: definitions over a real feedback store, prices, what ask records."""

from __future__ import annotations

import json
import sqlite3
import time

import numpy as np
import pytest

from household_assistant.assistant import Assistant, DoneEvent, SourcesEvent
from household_assistant.categories import CategoryBook
from household_assistant.errors import ConfigError
from household_assistant.feedback import _MIGRATIONS, FEEDBACK_FILE, FeedbackStore
from household_assistant.insights import (
    Price,
    compute,
    estimate_costs,
    load_prices,
    prices_path,
    save_prices,
)
from household_assistant.router import decision_from_probs, manual_decision


def _decision(book: CategoryBook, name: str, confidence: float = 0.9):
    probs = np.full(len(book), (1 - confidence) / (len(book) - 1))
    probs[book.codes.index(book.get(name).code)] = confidence
    return decision_from_probs(book, probs, "knn", time.perf_counter())


def test_the_numbers_follow_their_definitions(home):
    book = CategoryBook.load(home)
    store = FeedbackStore(home / FEEDBACK_FILE)
    fence = book.get("fence").code

    def ask(decision, route_ms, usage=None, answer_ms=None):
        timings = {"route_ms": route_ms}
        if answer_ms is not None:
            timings |= {"generate_ms": answer_ms, "first_token_ms": answer_ms / 10}
        return store.record_question("q", decision, [], "", timings, usage)

    usage = {"router_tokens": 40, "prompt_tokens": 300, "answer_tokens": 20}
    up = ask(_decision(book, "pool"), 10, usage | {"off_topic_tokens": 70}, 1000)
    wrong = ask(_decision(book, "pool"), 30, usage | {"off_topic_tokens": 0})
    down = ask(_decision(book, "pool", 0.4), 20, usage, 3000)
    same = ask(_decision(book, "pool"), 40, usage)
    ask(_decision(book, "pool"), 50)  # unrated, asked before tokens were kept
    manual = ask(manual_decision(book, "pool"), 0.1, {"prompt_tokens": 100}, 2000)
    store.thumbs(up, True)
    store.correct(wrong, fence)
    store.thumbs(down, False)  # the answer was bad; the category stood
    store.correct(same, book.get("pool").code)  # "corrected" to what it had
    store.thumbs(manual, True)

    insights = compute(store, [Price("Cheap", 0.5, 2.0), Price("Dear", 3.0, 15.0)])
    assert (insights.questions, insights.routed) == (6, 5)
    assert (insights.rated, insights.right, insights.corrected) == (4, 3, 1)
    assert insights.accuracy == 0.75 and insights.correction_rate == 0.2
    assert insights.median_route_ms == 30  # of 10, 20, 30, 40, 50: manual is left out
    assert insights.median_answer_ms == 2000  # of 1000, 2000, 3000
    assert insights.median_first_token_ms == 200
    assert insights.counted == 5
    assert (insights.router_tokens, insights.prompt_tokens) == (160, 1300)
    assert (insights.answer_tokens, insights.total_tokens) == (80, 1540)
    assert (insights.off_topic_counted, insights.off_topic_tokens) == (2, 70)
    cheap, dear = insights.costs
    assert cheap.dollars == pytest.approx((1460 * 0.5 + 80 * 2.0) / 1e6)
    assert dear.dollars == pytest.approx((1460 * 3.0 + 80 * 15.0) / 1e6)


def test_an_empty_store_has_no_rates_to_show(home):
    insights = compute(FeedbackStore(home / FEEDBACK_FILE), [])
    assert insights.questions == 0 and insights.accuracy is None
    assert insights.correction_rate is None and insights.median_route_ms is None
    assert insights.costs == []


def test_the_price_table_starts_from_list_prices_and_keeps_edits(home):
    prices = load_prices(home)
    assert [(p.name, p.input, p.output) for p in prices] == [
        ("Gemini 2.5 Flash-Lite", 0.10, 0.40),
        ("GPT-5.4 nano", 0.20, 1.25),
        ("Claude Haiku 4.5", 1.00, 5.00),
    ]
    assert prices_path(home).exists()

    save_prices(home, [prices[0], Price("Claude Haiku 4.5", 0.8, 4.0)])
    assert load_prices(home)[1] == Price("Claude Haiku 4.5", 0.8, 4.0)
    (cost,) = estimate_costs(2_000_000, 500_000, [Price("x", 0.8, 4.0)])
    assert cost.dollars == pytest.approx(1.6 + 2.0)


def test_a_bad_price_table_says_what_and_how_to_fix(home):
    prices_path(home).write_text(
        json.dumps({"prices": [{"name": "Haiku", "input": "cheap", "output": 5}]})
    )
    with pytest.raises(ConfigError, match=r"Haiku.*'input' should be dollars") as bad:
        load_prices(home)
    assert "delete it" in str(bad.value)

    with pytest.raises(ConfigError, match="0 or more; found -1"):
        save_prices(home, [Price("Haiku", -1, 5)])
    prices_path(home).write_text("{not json")
    with pytest.raises(ConfigError, match="Could not read the price table"):
        load_prices(home)


def test_older_stores_gain_a_usage_column_and_keep_their_questions(home):
    path = home / "old.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(f"{_MIGRATIONS[0]}; PRAGMA user_version = 1;")
        old.execute(
            "INSERT INTO questions (question, category, code, confidence, router,"
            " alternatives, sources, answer, timings, created_at) VALUES ('pump',"
            " 'pool', 'OO', 0.9, 'knn', '[]', '[]', '', '{\"route_ms\": 5}',"
            " '2025-05-01T00:00:00.000+00:00')"
        )

    store = FeedbackStore(path)
    with sqlite3.connect(path) as other:
        assert other.execute("PRAGMA user_version").fetchone()[0] == len(_MIGRATIONS)
    (row,) = store.question_stats()
    assert (row.code, row.timings, row.usage) == ("OO", {"route_ms": 5}, None)


def test_ask_keeps_its_token_counts_and_measures_the_filter(
    home, use_tiny_models, tmp_path
):
    assistant = Assistant(home)
    assistant.settings.max_answer_tokens = 8
    notes = {
        "furnace.txt": ("hvac", "The Trane furnace takes a 16x25x1 MERV 11 filter."),
        "pool.md": ("pool", "# Pool\nBlue Wave Pools serviced the pump in May."),
    }
    for name, (category, text) in notes.items():
        (tmp_path / name).write_text(text)
        list(assistant.import_paths([tmp_path / name], category=category))

    events = list(assistant.ask("what filter does the furnace take?"))
    scope = next(e for e in events if isinstance(e, SourcesEvent)).scope
    done = events[-1]
    assert isinstance(done, DoneEvent)
    (row,) = assistant.feedback.question_stats()
    assert row.usage == done.usage and row.id == done.question_id
    assert done.usage["prompt_tokens"] > 0 and done.usage["answer_tokens"] > 0

    # Both notes fit in top-k, so an unfiltered search returns every chunk; the
    # ones outside the searched categories are the off-topic tokens.
    _, tokenizer = assistant.models.load_llm("answer")
    outside = [
        chunk.text
        for note in assistant.store.notes()
        for chunk in assistant.store.chunks(note.note_id)
        if chunk.code not in scope.codes
    ]
    expected = sum(len(tokenizer.encode(t, add_special_tokens=False)) for t in outside)
    assert scope.codes and outside and expected > 0
    assert done.usage["off_topic_tokens"] == expected

    # Without an answer there is no prompt to keep anything out of.
    list(assistant.ask("who serviced the pool pump?", answer=False))
    assert "off_topic_tokens" not in assistant.feedback.question_stats()[-1].usage
