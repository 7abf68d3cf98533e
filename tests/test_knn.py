"""The embedding nearest-neighbour router, with the real MiniLM embedder."""

from __future__ import annotations

import numpy as np
import pytest

from household_assistant.categories import CategoryBook
from household_assistant.dataset import (
    LabelledQuestion,
    bundled_questions,
    heldout_questions,
)
from household_assistant.knn import KnnRouter


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    return CategoryBook.load(tmp_path_factory.mktemp("knn-home"))


@pytest.fixture(scope="module")
def knn(book, embedder, tmp_path_factory):
    cache = tmp_path_factory.mktemp("knn-cache")
    return KnnRouter(embedder.embed, book, bundled_questions(book), cache_dir=cache)


def test_held_out_questions_route_correctly(knn, book):
    heldout = heldout_questions(book)
    assert len(heldout) >= 130
    train_groups = {q.group_id for q in bundled_questions(book)}
    assert not train_groups & {q.group_id for q in heldout}

    correct = sum(knn.route(q.question).code == q.code for q in heldout)
    # Prompt-only Qwen3-0.6B managed 10% in the published experiment; the kNN
    # router has to be useful from the first run.
    assert correct / len(heldout) >= 0.8, f"{correct}/{len(heldout)}"


@pytest.mark.parametrize(
    "question, category",
    [
        ("what psi should the tires on the honda be", "car"),
        ("the chlorinator says low salt again", "pool"),
        ("who pruned the big oak by the driveway", "tree service"),
        ("the tankless heater shows error code 11", "water heater"),
        ("which breaker is the garage outlets on", "electric"),
    ],
)
def test_paraphrases_of_known_intents(knn, question, category):
    assert knn.route(question).category == category


def test_decision_shape(knn, book):
    decision = knn.route("when is the mosquito spray guy coming back")
    assert decision.router == "knn"
    assert decision.code in book.codes
    probs = [a.probability for a in decision.alternatives]
    assert sum(probs) == pytest.approx(1.0)
    assert probs == sorted(probs, reverse=True)
    assert {a.code for a in decision.alternatives} == set(book.codes)


def test_a_correction_counts_immediately(book, embedder):
    examples = [
        LabelledQuestion("how often do we flush the water heater", "QQ"),
        LabelledQuestion("when was the water heater anode replaced", "QQ"),
        LabelledQuestion("pool pump schedule in summer", "OO"),
    ]
    knn = KnnRouter(embedder.embed, book, examples, k=3)
    question = "how often should the koi pond fountain pump be cleaned"
    assert knn.route(question).category != "fountain"

    knn.add(
        LabelledQuestion(
            "how often do we clean the fountain pump", "HH", "", "correction"
        )
    )
    assert knn.route(question).category == "fountain"


def test_later_labels_override_earlier_ones_for_the_same_question(book, embedder):
    examples = [
        LabelledQuestion("who installed the outdoor lights", "FF"),
        LabelledQuestion("Who installed the  outdoor lights", "II", "", "correction"),
    ]
    knn = KnnRouter(embedder.embed, book, examples, k=1)
    assert len(knn) == 1
    assert knn.route("who installed the outdoor lights").category == "garden lights"


def test_example_embeddings_are_cached_between_runs(book, embedder, tmp_path):
    calls = []

    def counting(texts):
        calls.append(len(texts))
        return embedder.embed(texts)

    examples = bundled_questions(book)[:50]
    first = KnnRouter(counting, book, examples, cache_dir=tmp_path)
    assert calls == [50]
    second = KnnRouter(counting, book, examples, cache_dir=tmp_path)
    assert calls == [50]
    np.testing.assert_array_equal(first.vectors, second.vectors)

    # One new correction embeds one question; another embedding model, all.
    correction = LabelledQuestion("the pond pump grinds", "HH", "", "correction")
    third = KnnRouter(counting, book, [*examples, correction], cache_dir=tmp_path)
    assert calls == [50, 1]
    np.testing.assert_array_equal(third.vectors[:50], first.vectors)
    KnnRouter(counting, book, examples, cache_dir=tmp_path, cache_tag="other")
    assert calls == [50, 1, 50]


def test_no_examples_gives_a_uniform_but_valid_decision(book, embedder):
    knn = KnnRouter(embedder.embed, book, [])
    decision = knn.route("anything")
    assert decision.code in book.codes
    assert decision.confidence == pytest.approx(1 / 18)
