"""Which categories a question searches, on a real store with the real embedder."""

from __future__ import annotations

import time

import numpy as np
import pytest

from household_assistant.categories import CategoryBook
from household_assistant.chunking import chunk_text
from household_assistant.config import Settings
from household_assistant.retrieval import (
    CONFIDENT,
    FALLBACK_ALL,
    MANUAL,
    WIDENED,
    choose_scope,
    retrieve,
)
from household_assistant.router import decision_from_probs, manual_decision
from household_assistant.store import NoteStore, content_hash, open_client

# One note per category; the questions below were checked against MiniLM so
# the relevant note is far above the 0.25 floor and the others well below it.
NOTES = {
    "pool": "The Pentair SuperFlo pool pump is serviced by Blue Wave Pools every "
    "May. Keep the chlorine between 1 and 3 ppm.",
    "fountain": "The garden fountain pump has a foam filter; rinse it every spring "
    "and drain the basin before the first frost.",
    "irrigation": "Sprinkler zone 3 waters the back lawn for 20 minutes at 6 am; "
    "the backflow valve was tested in April.",
    "hvac": "The Carrier furnace takes a 16x25x1 MERV 11 filter; replace it every "
    "three months.",
    "painting": "Living room walls: Benjamin Moore Pale Oak OC-20 in eggshell; "
    "trim in Chantilly Lace semi-gloss.",
    "car": "The Honda Civic had its oil changed at 45,000 miles with 0W-20 synthetic.",
}
FURNACE = "What size filter does the furnace take?"
PUMP = "How do I look after the pump?"


@pytest.fixture
def book(home) -> CategoryBook:
    return CategoryBook.load(home)


@pytest.fixture
def store(home, embedder, book) -> NoteStore:
    store = NoteStore(open_client(home), embedder.embed)
    for name, text in NOTES.items():
        category = book.get(name)
        store.upsert_note(
            f"/house/{name}.txt",
            name,
            category.code,
            category.name,
            chunk_text(text),
            content_hash(text),
        )
    return store


def decide(book: CategoryBook, **probabilities: float):
    """A router decision with the given probabilities (the rest zero)."""
    unknown = set(probabilities) - set(book.names)
    assert not unknown, f"not categories: {unknown}"
    probs = np.array([probabilities.get(name, 0.0) for name in book.names])
    return decision_from_probs(book, probs, "knn", time.perf_counter())


def test_confident_decision_searches_only_its_category(store, book):
    decision = decide(book, hvac=0.8, pool=0.15, car=0.05)

    scope, hits = retrieve(store, FURNACE, decision, Settings())

    assert scope.reason == CONFIDENT
    assert (scope.categories, scope.codes) == (["hvac"], ["KK"])
    assert "80%" in scope.detail
    assert [h.source for h in hits] == ["/house/hvac.txt"]
    assert hits[0].score > 0.5


def test_confidence_at_the_threshold_counts_as_confident(book):
    settings = Settings(confidence_threshold=0.55)

    at = choose_scope(decide(book, pool=0.55, fountain=0.45), settings)
    below = choose_scope(decide(book, pool=0.54, fountain=0.46), settings)

    assert at.reason == CONFIDENT and at.categories == ["pool"]
    assert below.reason == WIDENED and below.categories == ["pool", "fountain"]


def test_unsure_decision_widens_until_the_mass_is_reached(store, book):
    decision = decide(book, pool=0.4, fountain=0.3, irrigation=0.2, hvac=0.1)

    scope, hits = retrieve(store, PUMP, decision, Settings(widen_mass=0.9))

    # 0.4 + 0.3 + 0.2 reaches 90 %: hvac, the fourth, is not searched.
    assert scope.reason == WIDENED
    assert scope.categories == ["pool", "fountain", "irrigation"]
    assert scope.codes == ["OO", "HH", "LL"]
    assert "40%" in scope.detail and "3 categories" in scope.detail
    assert {h.category for h in hits} == {"pool", "fountain", "irrigation"}
    assert hits[0].category in ("pool", "fountain")


@pytest.mark.parametrize(
    ("mass", "expected"),
    [
        (0.3, ["pool"]),
        (0.4, ["pool"]),
        (0.41, ["pool", "fountain"]),
        (0.7, ["pool", "fountain"]),
        (0.95, ["pool", "fountain", "irrigation", "hvac"]),
        (1.0, ["pool", "fountain", "irrigation", "hvac"]),
    ],
)
def test_widening_takes_categories_in_order_of_probability(book, mass, expected):
    decision = decide(book, irrigation=0.2, hvac=0.1, pool=0.4, fountain=0.3)

    scope = choose_scope(decision, Settings(widen_mass=mass))

    assert scope.reason == WIDENED
    assert scope.categories == expected
    assert scope.codes == [book.get(name).code for name in expected]


def test_nothing_similar_in_scope_falls_back_to_all_notes(store, book):
    # Confidently (and wrongly) routed to painting: no paint note is about filters.
    decision = decide(book, painting=0.9, hvac=0.1)

    scope, hits = retrieve(store, FURNACE, decision, Settings())

    assert scope.reason == FALLBACK_ALL
    assert scope.categories == [] and scope.codes == []
    assert "painting" in scope.detail and "0.25" in scope.detail
    assert hits[0].source == "/house/hvac.txt"
    assert len(hits) == 5  # top_k, from every category
    assert len({h.category for h in hits}) == 5


def test_widened_scope_without_similar_notes_also_falls_back(store, book):
    decision = decide(book, painting=0.5, car=0.4, cooking=0.1)

    scope, hits = retrieve(store, FURNACE, decision, Settings())

    assert scope.reason == FALLBACK_ALL
    assert "painting, car" in scope.detail
    assert hits[0].category == "hvac"


def test_an_empty_category_falls_back_to_all_notes(store, book):
    decision = decide(book, doorbell=0.95, hvac=0.05)

    scope, hits = retrieve(store, FURNACE, decision, Settings(top_k=2))

    assert scope.reason == FALLBACK_ALL
    assert [h.category for h in hits][0] == "hvac"
    assert len(hits) == 2


def test_the_similarity_floor_decides_when_to_fall_back(store, book):
    decision = decide(book, fountain=0.9, pool=0.1)

    # The fountain note mentions a filter (MiniLM puts it near 0.23).
    low, low_hits = retrieve(store, FURNACE, decision, Settings(similarity_floor=0.1))
    high, _ = retrieve(store, FURNACE, decision, Settings(similarity_floor=0.5))

    assert low.reason == CONFIDENT
    assert [h.category for h in low_hits] == ["fountain"]
    assert high.reason == FALLBACK_ALL


def test_manual_decision_searches_the_chosen_category(store, book):
    decision = manual_decision(book, "Pool")

    scope, hits = retrieve(store, PUMP, decision, Settings())

    assert decision.router == "manual" and decision.confidence == 1.0
    assert scope.reason == MANUAL
    assert (scope.categories, scope.codes) == (["pool"], ["OO"])
    assert scope.detail == "chosen by you"
    assert [h.source for h in hits] == ["/house/pool.txt"]


def test_manual_decision_is_never_widened_however_low_the_threshold(book):
    decision = manual_decision(book, "car")

    scope = choose_scope(decision, Settings(confidence_threshold=1.0))

    assert scope.reason == MANUAL and scope.categories == ["car"]


def test_a_chosen_category_is_searched_even_when_nothing_there_matches(store, book):
    decision = manual_decision(book, "car")

    scope, hits = retrieve(store, PUMP, decision, Settings(similarity_floor=0.99))

    assert scope.reason == MANUAL and scope.codes == ["CC"]
    assert all(h.code == "CC" for h in hits)


def test_scope_to_dict_is_what_the_cli_prints(book):
    decision = decide(book, pool=0.5, fountain=0.45, hvac=0.05)

    payload = choose_scope(decision, Settings()).to_dict()

    assert payload == {
        "reason": WIDENED,
        "categories": ["pool", "fountain"],
        "detail": "router only 50% sure; searched 2 categories covering 95%",
    }
