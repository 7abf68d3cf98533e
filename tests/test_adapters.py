"""Adapter versions, the active pointer, promotion, and the data split."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter

import pytest

from household_assistant.adapters import AdapterStore
from household_assistant.categories import CategoryBook
from household_assistant.dataset import (
    LabelledQuestion,
    bundled_questions,
    fingerprint,
    merge_household,
    question_key,
    split_questions,
)
from household_assistant.errors import AdapterError
from household_assistant.evaluation import evaluate
from household_assistant.retrain import decide
from household_assistant.router import manual_decision

# --- versions and the active pointer ---------------------------------------------


def _publish(store: AdapterStore, weights: bytes | None = None) -> str:
    """A finished version with a real (tiny) safetensors file."""
    import mlx.core as mx

    version = store.next_version()
    with store.staging() as folder:
        mx.save_safetensors(str(folder / "adapters.safetensors"), {"a": mx.ones((2,))})
        if weights is not None:
            (folder / "adapters.safetensors").write_bytes(weights)
        config = {"lora_parameters": {"rank": 8, "scale": 1.0}, "num_layers": 2}
        (folder / "adapter_config.json").write_text(json.dumps(config))
        store.finish(folder, version)
    return version


def test_versions_are_numbered_and_sorted_numerically(home):
    store = AdapterStore(home)
    names = [_publish(store) for _ in range(11)]
    assert names[-1] == "v11"
    assert [v.version for v in store.versions()] == [f"v{i}" for i in range(1, 12)]
    assert store.get("3").version == "v3"
    with pytest.raises(AdapterError, match="v1, v2"):
        store.get("v99")


def test_a_failed_run_leaves_nothing(home):
    store = AdapterStore(home)
    with pytest.raises(RuntimeError), store.staging() as folder:
        (folder / "adapters.safetensors").write_bytes(b"half")
        raise RuntimeError("crash mid-run")
    assert store.versions() == [] and list(store.root.iterdir()) == []


def test_activate_keeps_history_and_rollback_walks_it(home):
    store = AdapterStore(home)
    for _ in range(3):
        _publish(store)
    for name in ("v1", "v2", "v3"):
        store.activate(name)
    pointer = json.loads((store.root / "active.json").read_text())
    assert pointer == {"active": "v3", "history": ["v1", "v2"]}
    assert [v.version for v in store.fallbacks()] == ["v2", "v1"]

    store.activate("v1")  # re-activating moves it to the front, once
    assert store.history() == ["v2", "v3"]
    assert store.rollback().version == "v3"
    assert store.rollback().version == "v2"
    assert store.rollback() is None and store.active() is None
    with pytest.raises(AdapterError, match="nothing to undo"):
        store.rollback()


def test_rollback_skips_a_damaged_version(home):
    store = AdapterStore(home)
    _publish(store)
    _publish(store)
    _publish(store)
    for name in ("v1", "v2", "v3"):
        store.activate(name)
    (store.root / "v2" / "adapters.safetensors").write_bytes(b"\0" * 10)
    assert store.rollback().version == "v1"


def test_a_damaged_version_cannot_be_activated(home):
    store = AdapterStore(home)
    _publish(store, weights=b"not a safetensors file")
    with pytest.raises(AdapterError, match="damaged.*roll back"):
        store.activate("v1")
    assert store.active() is None


def test_an_unreadable_pointer_means_knn(home):
    store = AdapterStore(home)
    _publish(store)
    store.activate("v1")
    (store.root / "active.json").write_text("{ half written")
    assert store.active() is None


def test_clean_partials_spares_a_live_run(home):
    store = AdapterStore(home)
    store.root.mkdir(parents=True)
    with subprocess.Popen(["sleep", "30"]) as alive:
        live = store.root / f".partial-{alive.pid}-abcd"
        live.mkdir()
        dead = store.root / ".partial-999999999-abcd"
        dead.mkdir()
        assert store.clean_partials() == 1
        assert live.exists() and not dead.exists()
        alive.kill()


# --- promotion ---------------------------------------------------------------


class _Fixed:
    """Routes every question to one category (a real, if poor, router)."""

    def __init__(self, book: CategoryBook, category: str):
        self.book, self.category, self.name = book, category, f"always-{category}"

    def route(self, question: str):
        return manual_decision(self.book, self.category)


def test_promotion_needs_at_least_as_good_on_every_set(home):
    book = CategoryBook.load(home)
    heldout = [
        LabelledQuestion("a", "OO"),
        LabelledQuestion("b", "OO"),
        LabelledQuestion("c", "CC"),
    ]
    corrections = [LabelledQuestion("d", "CC")]

    def reports(category):
        router = _Fixed(book, category)
        return {
            "heldout": evaluate(router, heldout, book),
            "corrections": evaluate(router, corrections, book),
        }

    pool, car = reports("pool"), reports("car")
    assert decide(pool, pool, "same").promote  # ties promote
    verdict = decide(pool, car, "always-car")  # better held-out, worse corrections
    assert not verdict.promote
    assert "corrections: 0/1 vs 1/1 for always-car" in verdict.reason
    assert not decide(car, pool, "always-pool").promote
    assert decide(pool, {"heldout": car["heldout"]}, "knn").promote


# --- the split ------------------------------------------------------------------


@pytest.fixture(scope="module")
def pool(tmp_path_factory):
    return bundled_questions(CategoryBook.load(tmp_path_factory.mktemp("b")))


def test_split_is_deterministic_grouped_and_stratified(pool):
    split = split_questions(pool, seed=0)
    assert split == split_questions(pool, seed=0)
    assert fingerprint(split) != fingerprint(split_questions(pool, seed=1))

    groups = [
        {q.group_id for q in part} for part in (split.train, split.valid, split.test)
    ]
    assert not (groups[0] & groups[1] or groups[0] & groups[2] or groups[1] & groups[2])
    assert sum(split.sizes().values()) == len(pool)

    total = Counter(q.code for q in pool)
    for part, share in ((split.train, 0.70), (split.valid, 0.15), (split.test, 0.15)):
        counts = Counter(q.code for q in part)
        assert set(counts) == set(total)  # every category in every split
        assert abs(len(part) / len(pool) - share) < 0.03
        for code, n in counts.items():
            assert abs(n / total[code] - share) < 0.12, code


def test_household_labels_override_and_repeat(pool):
    split = split_questions(pool, seed=0)
    contradicted = split.valid[0]
    label = LabelledQuestion(
        contradicted.question.upper() + "  ",
        "GG" if contradicted.code != "GG" else "AA",
        "feedback-1",
        "correction",
    )
    merged = merge_household(split, [label], repeat=3)

    key = question_key(contradicted.question)
    everywhere = merged.train + merged.valid + merged.test
    assert [q.code for q in everywhere if question_key(q.question) == key] == [
        label.code
    ] * 3
    assert merged.train[-3:] == [label] * 3
    assert len(merged.valid) == len(split.valid) - 1


def test_only_one_training_run_at_a_time(home):
    from household_assistant.errors import TrainingError

    store = AdapterStore(home)
    with store.training_lock():
        with pytest.raises(TrainingError, match=f"pid {os.getpid()}"):
            with AdapterStore(home).training_lock():
                pass
    with store.training_lock():  # released when the first run ended
        pass
