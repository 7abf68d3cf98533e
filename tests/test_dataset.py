"""The bundled labelled questions: valid, distinct, and never leaking into held-out."""

from __future__ import annotations

import json
from collections import Counter, defaultdict

import pytest

from household_assistant.categories import CategoryBook
from household_assistant.resources import TRAINING_DATA

from .test_categories import EXPECTED


def _rows(name: str) -> list[dict]:
    lines = (TRAINING_DATA / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def _norm(question: str) -> str:
    return " ".join(question.lower().split())


@pytest.fixture(scope="module")
def train():
    return _rows("questions.jsonl")


@pytest.fixture(scope="module")
def heldout():
    return _rows("heldout.jsonl")


def test_every_row_is_well_formed(train, heldout, home):
    book = CategoryBook.load(home)
    for row in train + heldout:
        assert set(row) == {"question", "category", "group_id"}
        assert row["category"] in book.names
        assert row["question"].strip() and row["group_id"].strip()


def test_sizes_and_category_balance(train, heldout):
    assert len(train) >= 900 and len(heldout) >= 130
    train_counts = Counter(r["category"] for r in train)
    heldout_counts = Counter(r["category"] for r in heldout)
    assert sorted(train_counts) == sorted(heldout_counts) == sorted(EXPECTED)
    assert min(train_counts.values()) >= 40
    assert min(heldout_counts.values()) >= 5


def test_no_question_appears_twice_or_in_both_files(train, heldout):
    train_keys = [_norm(r["question"]) for r in train]
    heldout_keys = [_norm(r["question"]) for r in heldout]
    assert len(set(train_keys)) == len(train_keys)
    assert len(set(heldout_keys)) == len(heldout_keys)
    assert not set(train_keys) & set(heldout_keys)


def test_paraphrase_groups_stay_in_one_category_and_one_file(train, heldout):
    categories = defaultdict(set)
    for row in train + heldout:
        categories[row["group_id"]].add(row["category"])
    assert all(len(c) == 1 for c in categories.values())
    assert not {r["group_id"] for r in train} & {r["group_id"] for r in heldout}


def test_each_category_has_enough_groups_for_a_grouped_70_15_15_split(train):
    groups = defaultdict(set)
    for row in train:
        groups[row["category"]].add(row["group_id"])
    # At least one whole group each for validation and test, most for training.
    assert min(len(g) for g in groups.values()) >= 8
