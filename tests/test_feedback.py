"""The feedback store: real SQLite in each test's data folder, the real embedder."""

from __future__ import annotations

import json
import re
import sqlite3
import time

import numpy as np
import pytest

from household_assistant import assistant as assistant_module
from household_assistant.assistant import Assistant, DoneEvent
from household_assistant.categories import CategoryBook
from household_assistant.cli import main
from household_assistant.config import Settings, save_settings
from household_assistant.dataset import bundled_questions, read_jsonl
from household_assistant.errors import CategoryError, ConfigError, FeedbackError
from household_assistant.feedback import FEEDBACK_FILE, FeedbackStore
from household_assistant.router import decision_from_probs, manual_decision

from .conftest import MINILM_DIR

# The kNN router sends this to pool, unsure; a fountain has a pond pump too.
POND = "the pond pump is making a grinding noise"


@pytest.fixture
def book(home) -> CategoryBook:
    return CategoryBook.load(home)


@pytest.fixture
def store(home) -> FeedbackStore:
    return FeedbackStore(home / FEEDBACK_FILE)


def _decision(book: CategoryBook, name: str, confidence: float, router="knn"):
    probs = np.full(len(book), (1 - confidence) / (len(book) - 1))
    probs[book.codes.index(book.get(name).code)] = confidence
    return decision_from_probs(book, probs, router, time.perf_counter())


def _ask(store: FeedbackStore, book, question: str, name="pool", confidence=0.9):
    decision = _decision(book, name, confidence)
    return store.record_question(question, decision, [], "", {"total_ms": 1.0})


def _summary(store: FeedbackStore, confirm: bool = True) -> list[tuple]:
    return [(q.question, q.code, q.source) for q in store.labelled(confirm)]


def test_the_store_is_sqlite_in_wal_mode_with_a_schema_version(store):
    with sqlite3.connect(store.path) as other:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert other.execute("PRAGMA user_version").fetchone()[0] == 3


def test_a_store_from_a_newer_app_is_refused(store):
    with sqlite3.connect(store.path) as other:
        other.execute("PRAGMA user_version = 99")
    store.close()
    with pytest.raises(FeedbackError, match="newer Household Assistant"):
        FeedbackStore(store.path)


def test_record_thumbs_and_correct(store, book):
    hit = {"id": "n1:0", "title": "Pool", "source": "pool.md", "score": 0.8}
    decision = _decision(book, "pool", 0.9)
    first = store.record_question("who fixed the pump", decision, [hit], "Bob", {})
    second = _ask(store, book, "who paints the fence")
    assert second == first + 1

    store.thumbs(first, up=True)
    store.correct(second, book.get("fence").code, "  it is the fence guy ")
    newest, oldest = store.recent()
    assert (oldest.id, oldest.category, oldest.thumbs) == (first, "pool", True)
    assert oldest.corrected_code is None and oldest.confidence == pytest.approx(0.9)
    assert (newest.thumbs, newest.corrected_code) == (None, "GG")
    assert newest.comment == "it is the fence guy"

    with sqlite3.connect(store.path) as other:
        row = other.execute(
            "SELECT alternatives, sources, answer FROM questions WHERE id = ?", (first,)
        ).fetchone()
    assert len(json.loads(row[0])) == len(book)
    assert json.loads(row[1]) == [hit] and row[2] == "Bob"


def test_a_thumbs_down_keeps_what_was_wrong_and_old_stores_upgrade(home):
    # A version-1 store (before answer comments) with one question in it.
    from household_assistant.feedback import _MIGRATIONS

    path = home / "old.sqlite3"
    with sqlite3.connect(path) as old:
        old.executescript(f"{_MIGRATIONS[0]}; PRAGMA user_version = 1;")
        old.execute(
            "INSERT INTO questions (question, category, code, confidence, router,"
            " alternatives, sources, answer, timings, created_at)"
            " VALUES ('pump noise', 'pool', 'OO', 0.9, 'knn', '[]', '[]', '', '{}',"
            " '2025-05-01T00:00:00.000+00:00')"
        )

    store = FeedbackStore(path)
    store.thumbs(1, up=False, comment=" it named the wrong pump ")
    (asked,) = store.recent()
    assert (asked.thumbs, asked.thumbs_comment) == (False, "it named the wrong pump")
    assert asked.corrected_code is None and store.labelled() == []


def test_unknown_question_ids_are_feedback_errors(store, book):
    with pytest.raises(FeedbackError, match="no question 7 .* feedback list"):
        store.thumbs(7, up=True)
    with pytest.raises(FeedbackError, match="no question 7"):
        store.correct(7, "OO")


def test_the_latest_correction_wins_and_beats_a_confirmation(store, book):
    asked = _ask(store, book, "Who fixed the  pool pump")
    again = _ask(store, book, "who fixed the pool pump", confidence=0.95)
    store.thumbs(again, up=True)
    assert _summary(store) == [("who fixed the pool pump", "OO", "confirmed")]

    store.correct(asked, "HH")
    store.correct(again, "AA")
    store.correct(asked, "QQ")
    assert _summary(store) == [("Who fixed the  pool pump", "QQ", "correction")]


def test_only_thumbs_up_on_confident_routed_answers_confirm(store, book):
    unsure = _ask(store, book, "pump noise", confidence=0.3)
    sure = _ask(store, book, "pool pump noise", confidence=0.9)
    manual = store.record_question(
        "what colour", manual_decision(book, "painting"), [], "", {}
    )
    for question_id in (unsure, sure, manual):
        store.thumbs(question_id, up=True)
    assert _summary(store) == [("pool pump noise", "OO", "confirmed")]

    store.thumbs(sure, up=False)  # a change of mind withdraws the confirmation
    assert _summary(store) == []


def test_confirmations_can_be_turned_off(store, book):
    store.thumbs(_ask(store, book, "pool pump noise"), up=True)
    store.correct(_ask(store, book, "fence stain"), "GG")
    assert _summary(store, confirm=False) == [("fence stain", "GG", "correction")]

    assert Settings().confirm_on_thumbs_up is True
    with pytest.raises(ConfigError, match="confirm_on_thumbs_up"):
        Settings(confirm_on_thumbs_up="yes").validate()


def _household(store, book) -> None:
    store.thumbs(_ask(store, book, "pool pump noise"), up=True)
    store.correct(_ask(store, book, POND), "HH", "a fountain, not the pool")


def test_export_then_import_into_another_home(store, book, tmp_path):
    _household(store, book)
    path = tmp_path / "labels.jsonl"
    assert store.export_jsonl(path, book) == 2
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[1] == {
        "question": POND,
        "category": "fountain",
        "code": "HH",
        "kind": "correction",
        "comment": "a fountain, not the pool",
        "created_at": lines[1]["created_at"],
    }
    # The same file is a labelled set for `eval --data`.
    assert [q.code for q in read_jsonl(path, book)] == ["OO", "HH"]

    other_home = tmp_path / "other-mac"
    other = FeedbackStore(other_home / FEEDBACK_FILE)
    other_book = CategoryBook.load(other_home)
    assert other.import_jsonl(path, other_book) == 2
    # Group ids are local to each store; everything else travels.
    assert [
        (a.question, a.code, a.kind, a.comment, a.created_at) for a in other.labels()
    ] == [(a.question, a.code, a.kind, a.comment, a.created_at) for a in store.labels()]

    assert other.import_jsonl(path, other_book) == 0
    assert store.import_jsonl(path, book) == 0  # and nothing new back home
    assert len(other.labels()) == 2


def test_import_matches_renamed_categories_by_name_or_bundled_code(
    store, book, tmp_path
):
    book.rename("pool", "swimming pool")
    book.add("sauna")  # a household code: not trusted across Macs
    path = tmp_path / "in.jsonl"
    rows = [
        {"question": "pool salt level", "category": "pool"},
        {"question": "pool heater", "category": "piscine", "code": "OO"},
        {"question": "chlorine", "category": "swimming pool"},
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n\n")
    assert store.import_jsonl(path, book) == 3
    assert {q.code for q in store.labelled()} == {"OO"}
    assert store.import_jsonl(path, book) == 0  # no times in the file, still idempotent

    sauna = book.get("sauna").code
    path.write_text(json.dumps({"question": "x", "category": "spa", "code": sauna}))
    with pytest.raises(CategoryError, match="in.jsonl:1: unknown category 'spa'"):
        store.import_jsonl(path, book)


@pytest.mark.parametrize(
    "bad, message",
    [
        ("{not json", "expected a JSON object"),
        ('["pool"]', "found list"),
        ('{"question": "", "category": "pool"}', "'question' is missing"),
        ('{"question": "q", "category": "spa"}', "unknown category 'spa'"),
        ('{"question": "q", "category": "pool", "kind": "maybe"}', "'kind' should"),
        ('{"question": "q", "category": "pool", "created_at": "May"}', "ISO time"),
    ],
)
def test_a_bad_line_names_file_and_line_and_stores_nothing(
    store, book, tmp_path, bad, message
):
    _household(store, book)
    before = store.labels()
    path = tmp_path / "bad.jsonl"
    good = json.dumps({"question": "gutter guards", "category": "gutters"})
    path.write_text(f"{good}\n{bad}\n{good}\n")

    with pytest.raises((FeedbackError, CategoryError)) as caught:
        store.import_jsonl(path, book)
    assert f"{path}:2" in str(caught.value) and message in str(caught.value)
    assert "nothing was imported" in str(caught.value)
    assert store.labels() == before


# --- through the Assistant and the CLI -----------------------------------------


@pytest.fixture
def assistant(home, warm_knn) -> Assistant:
    return Assistant(home, Settings(embedding_model=str(MINILM_DIR)))


def test_asking_records_and_a_correction_reroutes_at_once(assistant):
    events = list(assistant.ask(POND, answer=False))
    done = events[-1]
    assert isinstance(done, DoneEvent) and done.question_id is not None
    assert assistant.route(POND).category == "pool"

    label = assistant.correct(done.question_id, "fountain", "a pond, not the pool")
    assert (label.code, label.source) == ("HH", "correction")
    assert assistant.route(POND).category == "fountain"
    assert assistant.feedback.recent(1)[0].corrected_code == "HH"

    with pytest.raises(CategoryError, match="no category called 'spa'"):
        assistant.correct(done.question_id, "spa")


def test_a_new_knn_router_reads_the_household_labels(home, assistant, monkeypatch):
    question_id = assistant.feedback.record_question(
        POND, assistant.route(POND), [], "", {}
    )
    assistant.correct(question_id, "fountain")

    # A small real slice keeps the rebuild quick (labels change the cache key).
    few = bundled_questions(assistant.categories)[:60]
    monkeypatch.setattr(assistant_module, "bundled_questions", lambda book: few)
    fresh = Assistant(home, assistant.settings)
    assert len(fresh.knn_router()) == 61
    assert fresh.route(POND).category == "fountain"


def test_answering_never_fails_because_of_feedback(home, assistant, caplog):
    (home / FEEDBACK_FILE).mkdir()  # not a database at all
    done = list(assistant.ask(POND, answer=False))[-1]
    assert done.question_id is None
    assert "Could not record the question" in caplog.text


def test_feedback_through_the_cli(home, warm_knn, tmp_path, capsys):
    save_settings(Settings(embedding_model=str(MINILM_DIR)))
    assert main(["ask", POND, "--no-answer", "--json"]) == 0
    question_id = json.loads(capsys.readouterr().out)["question_id"]
    assert isinstance(question_id, int)

    assert main(["feedback", "correct", str(question_id), "fountain"]) == 0
    assert "now counts as fountain" in capsys.readouterr().out
    assert main(["feedback", "thumbs", str(question_id), "down"]) == 0
    capsys.readouterr()
    assert main(["feedback", "list", "--json", "--limit", "5"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)
    assert listed["question"] == POND and listed["category"] == "pool"
    assert listed["thumbs"] == "down"
    assert listed["correction"] == {"category": "fountain", "code": "HH", "comment": ""}

    path = tmp_path / "family.jsonl"
    assert main(["feedback", "export", str(path)]) == 0
    assert "Exported 1 label" in capsys.readouterr().out
    assert json.loads(path.read_text())["category"] == "fountain"
    assert main(["feedback", "import", str(path)]) == 0
    assert "Imported 0 new labels" in capsys.readouterr().out

    assert main(["feedback", "list"]) == 0
    out = capsys.readouterr().out
    assert re.search(
        rf"{question_id} .* pool \d+% knn +down -> fountain +the pond", out
    )
    assert "1 household label: 1 correction, 0 confirmed." in out

    assert main(["feedback", "thumbs", "999", "up"]) == 1
    assert "error: There is no question 999" in capsys.readouterr().err


def test_ask_text_output_hints_at_feedback(home, warm_knn, capsys):
    save_settings(Settings(embedding_model=str(MINILM_DIR)))
    assert main(["ask", POND, "--no-answer"]) == 0
    assert "feedback correct 1 CATEGORY" in capsys.readouterr().out
