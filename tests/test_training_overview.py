"""The Trainer tab's numbers, from the core: data counts, a run's result, versions,
and the progress lines of `train --progress json`."""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime, timedelta

import pytest

from household_assistant.dataset import read_jsonl
from household_assistant.errors import TrainingError
from household_assistant.trainer import load_train_config
from household_assistant.training_overview import (
    data_overview,
    format_duration,
    parse_progress,
    read_run_summary,
    version_rows,
)


@pytest.fixture
def assistant(separable, use_tiny_models, home):
    from household_assistant.assistant import Assistant

    return Assistant(home)


def _import_labels(assistant, tmp_path, labels: list[dict]) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_text("".join(json.dumps(label) + "\n" for label in labels))
    assert assistant.import_feedback(path) == len(labels)


def _stamp(moment: datetime) -> str:
    return moment.isoformat()


def test_counts_are_of_what_training_would_use(assistant, separable):
    config = load_train_config(separable["config"])
    overview = data_overview(assistant, config)

    pool = read_jsonl(separable["questions"], assistant.categories)
    held = read_jsonl(separable["heldout"], assistant.categories)
    assert overview.source == "q.jsonl"
    assert (overview.bundled, overview.heldout) == (len(pool), len(held))
    by_code = Counter(q.code for q in pool)
    assert [(c.code, c.bundled, c.household) for c in overview.categories] == [
        (c.code, by_code[c.code], 0) for c in assistant.categories
    ]
    assert overview.household == overview.new_since_training == 0
    assert overview.last_version is None and overview.warning() == ""

    # Without a config, the bundled questions of this household's categories.
    bundled = data_overview(assistant)
    assert bundled.source == "bundled" and bundled.bundled > 0
    assert {c.code for c in bundled.categories} == set(assistant.categories.codes)


def test_thin_categories_are_named_with_the_reason(assistant, separable):
    config = load_train_config(separable["config"])
    assistant.categories.add("garden")
    overview = data_overview(assistant, config)
    assert [c.name for c in overview.thin()] == ["garden"]
    assert "garden (0) has too few examples to split and learn from" in (
        overview.warning()
    )

    strict = data_overview(assistant, config, min_examples=25)
    expected = [c.name for c in strict.categories if c.total < 25]
    assert [c.name for c in strict.thin()] == expected and len(expected) > 1
    assert "have too few examples" in strict.warning()


def test_labels_newer_than_the_last_version_are_new(assistant, separable, tmp_path):
    from household_assistant.retrain import retrain

    config = load_train_config(separable["config"], iters=2)
    before = datetime.now().astimezone() - timedelta(hours=1)
    _import_labels(
        assistant,
        tmp_path,
        [
            {
                "question": "is the gate squeaking",
                "category": "fence",
                "created_at": _stamp(before),
            }
        ],
    )
    result = retrain(assistant, config, promote="always")
    created = datetime.fromisoformat(result.version.created_at)

    later = created + timedelta(milliseconds=500)  # stamps carry milliseconds
    (tmp_path / "labels.jsonl").unlink()
    _import_labels(
        assistant,
        tmp_path,
        [
            {
                "question": "who fixes the skimmer",
                "category": "pool",
                "created_at": _stamp(later),
            },
            {
                "question": "tire pressure?",
                "category": "car",
                "kind": "confirmed",
                "created_at": _stamp(later),
            },
        ],
    )
    overview = data_overview(assistant, config)
    assert overview.last_version == "v1"
    assert overview.last_trained_at == result.version.created_at
    assert (overview.corrections, overview.confirmed) == (2, 1)
    assert overview.new_since_training == 2
    household = {c.name: c.household for c in overview.categories}
    assert household == {"pool": 1, "car": 1, "fence": 1}

    # The run's result, as its report.json has it.
    summary = read_run_summary(result.version.path)
    report = json.loads((result.version.path / "report.json").read_text())
    assert summary.version == "v1" and summary.promoted is True
    assert summary.compared_with == report["compared_with"] == "knn"
    assert {s.name: (s.before, s.after) for s in summary.scores} == {
        name: (report["scores"]["current"][name], report["scores"]["new"][name])
        for name in report["scores"]["new"]
    }
    held = report["evaluations"]["new"]["heldout"]
    assert sum(c.total for c in summary.categories) == held["total"]
    assert sum(map(sum, summary.confusion.counts)) == held["total"]
    for truth, row in held["confusion"].items():
        for predicted, count in row.items():
            assert summary.confusion.count(truth, predicted) == count
    assert len(summary.mistakes) == sum(
        len(r["mistakes"]) for r in report["evaluations"]["new"].values()
    )
    assert summary.history == report["training"]["history"]

    rows = version_rows(assistant.adapters)
    assert [(r.version, r.active) for r in rows] == [("v1", True)]
    assert rows[0].heldout == report["scores"]["new"]["heldout"]


def test_a_missing_report_is_explained(tmp_path):
    with pytest.raises(TrainingError, match="report.json a training run writes"):
        read_run_summary(tmp_path)


def test_progress_lines_that_are_not_events_are_skipped(caplog):
    line = json.dumps({"event": "train", "step": 20, "total_steps": 60})
    assert parse_progress(line + "\n") == {
        "event": "train",
        "step": 20,
        "total_steps": 60,
    }
    with caplog.at_level(logging.WARNING):
        for junk in ("Fetching 4 files", "[1, 2]", '{"event": "party"}', '{"step": 1}'):
            assert parse_progress(junk) is None
    assert len(caplog.records) == 4
    assert parse_progress("   ") is None


def test_durations_read_as_people_say_them():
    assert format_duration(4.4) == "4 s"
    assert format_duration(185) == "3 min 05 s"
    assert format_duration(3720) == "1 h 02 min"
    assert format_duration(-3) == "0 s"
