"""The Trainer tab: the data it counts, a real (tiny) training run, cancelling,
rolling back, a crash, and adding or renaming categories."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml
from PySide6.QtCore import Qt

from household_assistant.dataset import bundled_questions, read_jsonl
from household_assistant.gui.trainer_tab import CANCELLED_TEXT, TrainerTab
from household_assistant.trainer import load_train_config
from household_assistant.training_overview import MIN_EXAMPLES

TRAINING_TIMEOUT_MS = 120_000


@pytest.fixture
def tab(qtbot, separable, ctx):
    # `separable` comes first: it writes the household's categories before the
    # assistant reads them.
    view = TrainerTab(ctx)
    qtbot.addWidget(view)
    view.resize(1100, 720)
    view.show()
    yield view
    view.shutdown()


@pytest.fixture
def notices(ctx) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    ctx.notice.connect(lambda level, text: seen.append((level, text)))
    return seen


@pytest.fixture
def quick_config(separable, tmp_path) -> Path:
    """The tiny training config, cut to 60 steps with a validation every 20."""
    config = yaml.safe_load(separable["config"].read_text())
    config.update(iters=60, steps_per_eval=20, steps_per_report=20)
    path = tmp_path / "quick.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _correct(ctx, question: str, category: str) -> None:
    events = list(ctx.assistant.ask(question, answer=False))
    ctx.assistant.correct(events[-1].question_id, category)
    ctx.feedback_changed.emit()


def _category_rows(tab) -> dict[str, tuple[str, int, bool]]:
    table = tab.categories.table
    rows = {}
    for row in range(table.rowCount()):
        name = table.item(row, 0)
        rows[name.text()] = (
            table.item(row, 1).text(),
            int(table.item(row, 2).text()),
            not name.icon().isNull(),
        )
    return rows


def _history(tab) -> list[tuple[str, str]]:
    table = tab.history_table
    return [
        (table.item(r, 0).text(), table.item(r, 4).text())
        for r in range(table.rowCount())
    ]


def _active(ctx) -> str | None:
    active = ctx.assistant.adapters.active()
    return active.version if active else None


# --- the data set ----------------------------------------------------------------


def test_counts_match_the_core_and_thin_categories_are_warned(
    tab, ctx, separable, quick_config
):
    categories = ctx.assistant.categories
    bundled = bundled_questions(categories)
    assert tab.overview.bundled == len(bundled) > 0
    assert f"{len(bundled):,}</b></td><td>bundled questions to learn from" in (
        tab.data_label.text()
    )

    # With a training config, the counts are of the questions it names.
    tab.config_path = quick_config
    tab.refresh()
    pool = read_jsonl(separable["questions"], categories)
    by_code = Counter(q.code for q in pool)
    assert tab.overview.bundled == len(pool)
    assert f"{len(pool)}</b></td><td>questions in q.jsonl to learn from" in (
        tab.data_label.text()
    )
    rows = _category_rows(tab)
    assert {name: (code, n) for name, (code, n, _) in rows.items()} == {
        c.name: (c.code, by_code[c.code]) for c in categories
    }
    assert not tab.warning_label.isVisible()

    # A correction made in Chat is counted, and is new: nothing was trained yet.
    _correct(tab.ctx, "is the gate squeaking", "fence")
    assert tab.overview.corrections == 1
    assert tab.overview.new_since_training == 1
    assert "1</b></td><td>new: never trained yet" in tab.data_label.text()
    assert _category_rows(tab)["fence"][1] == by_code[categories.get("fence").code] + 1

    # A category with too few examples is flagged, and the reason is given.
    categories.add("garden")
    ctx.categories_changed.emit()
    rows = _category_rows(tab)
    assert rows["garden"][1:] == (0, True)
    assert not any(warned for name, (_, _, warned) in rows.items() if name != "garden")
    assert tab.warning_label.isVisible()
    text = tab.warning_label.text()
    assert "garden (0) has too few examples to split and learn from" in text
    assert f"at least {MIN_EXAMPLES}" in text


# --- training ----------------------------------------------------------------------


def test_retrain_runs_shows_the_result_and_lists_the_version(
    tab, ctx, qtbot, quick_config, home, notices
):
    _correct(ctx, "is the gate squeaking", "fence")
    tab.config_path = quick_config
    tab.retrain_button.click()
    assert tab.is_running() and not tab.retrain_button.isEnabled()
    qtbot.waitUntil(lambda: not tab.is_running(), timeout=TRAINING_TIMEOUT_MS)

    kinds = [e["event"] for e in tab._run.events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert {"train", "eval", "judge"} <= set(kinds)
    assert tab.chart.train_loss.count() == kinds.count("train")
    assert tab.chart.val_accuracy.count() == kinds.count("eval")
    assert tab.status_label.text().startswith("Finished.")

    # The result agrees with the report the run wrote.
    done = tab._run.events[-1]
    report = json.loads((home / "adapters" / "v1" / "report.json").read_text())
    assert done["version"] == "v1" and tab.summary.version == "v1"
    scores = report["scores"]
    assert set(scores["new"]) == {"heldout", "corrections"}
    for name in ("heldout", "corrections"):
        before, after = tab.result.score_text[name]
        assert after == f"{scores['new'][name]:.0%}"
        assert before == f"{scores['current'][name]:.0%}"

    held = report["evaluations"]["new"]["heldout"]
    table = tab.result.category_table
    assert table.rowCount() == len([c for c in held["categories"] if c["total"]]) == 3
    shown = {table.item(r, 0).text(): table.item(r, 3).text() for r in range(3)}
    assert shown == {
        c["name"]: f"{c['correct']}/{c['total']}" for c in held["categories"]
    }

    heat = tab.result.heat_map
    cells = [
        int(heat.item(r, c).text() or 0)
        for r in range(heat.rowCount())
        for c in range(heat.columnCount())
    ]
    assert heat.rowCount() == 3 and sum(cells) == held["total"]
    for r in range(heat.rowCount()):
        for c in range(heat.columnCount()):
            item = heat.item(r, c)
            tinted = item.background().style() != Qt.BrushStyle.NoBrush
            assert tinted == bool(item.text())
    assert tab.result.mistakes_table.rowCount() == len(held["mistakes"]) + len(
        report["evaluations"]["new"]["corrections"]["mistakes"]
    )

    # The decision, and what the user may do about it.
    reason = report["promotion"]["reason"]
    assert reason.split(" (")[0] in tab.result.decision_label.text()
    if done["promoted"]:
        assert _active(ctx) == "v1" and tab.result.rollback_button.isVisible()
        assert any("is now routing" in text for _, text in notices)
    else:
        assert _active(ctx) is None and tab.result.keep_button.isVisible()
        with qtbot.waitSignal(ctx.router_changed):
            tab.result.promote_button.click()
        assert _active(ctx) == "v1"
    assert tab.result.rollback_button.isVisible()
    assert not tab.result.promote_button.isVisible()
    assert "Routing with v1" in tab.result.decision_label.text()

    assert _history(tab) == [("v1", "● Active")]
    assert tab.overview.new_since_training == 0
    assert "0</b></td><td>new since v1" in tab.data_label.text()


def test_cancel_stops_the_run_and_changes_nothing(tab, ctx, qtbot, separable, home):
    tab.config_path = separable["config"]  # 300 steps: far from done when cancelled
    tab.retrain_button.click()
    qtbot.waitUntil(lambda: bool(tab._run.events), timeout=TRAINING_TIMEOUT_MS)
    tab.cancel_button.click()
    qtbot.waitUntil(lambda: not tab.is_running(), timeout=60_000)

    assert tab.status_label.text() == CANCELLED_TEXT
    assert tab._run.events[-1]["event"] == "cancelled"
    assert ctx.assistant.adapters.versions() == [] and _active(ctx) is None
    assert not list((home / "adapters").glob(".partial-*"))
    assert tab.retrain_button.isEnabled() and not tab.cancel_button.isEnabled()
    assert _history(tab) == []


def test_a_crash_shows_the_end_of_its_output(tab, qtbot, notices):
    tab.train_args = ["--iters", "0"]  # refused before any progress line
    tab.retrain_button.click()
    qtbot.waitUntil(lambda: not tab.is_running(), timeout=60_000)

    errors = [text for level, text in notices if level == "error"]
    assert len(errors) == 1
    assert "stopped with exit code" in errors[0]
    assert "expected a whole number above 0, got '0'" in errors[0]  # its stderr
    assert "nothing was changed" in tab.status_label.text()


# --- the adapter history -------------------------------------------------------------


def test_rollback_and_activate_from_the_history(tab, ctx, qtbot, separable):
    from household_assistant.retrain import retrain

    # One real run, and a copy of it as a second version: enough to go back to.
    config = load_train_config(separable["config"], iters=2)
    retrain(ctx.assistant, config, promote="always")
    root = ctx.assistant.adapters.root
    shutil.copytree(root / "v1", root / "v2")
    ctx.assistant.adapters.activate("v2")
    ctx.router_changed.emit()
    assert _history(tab) == [("v2", "● Active"), ("v1", "")]
    assert "adapter v2" in tab.router_label.text()

    with qtbot.waitSignal(ctx.router_changed):
        tab.history_rollback_button.click()
    assert _active(ctx) == "v1"
    assert _history(tab) == [("v2", ""), ("v1", "● Active")]

    tab.history_table.selectRow(0)
    assert tab.activate_button.isEnabled()
    tab.activate_button.click()
    assert _active(ctx) == "v2"
    assert ctx.assistant.router().name == "lora:v2"

    tab.history_rollback_button.click()
    tab.history_rollback_button.click()
    assert _active(ctx) is None
    assert "kNN router" in tab.router_label.text()
    assert not tab.history_rollback_button.isEnabled()


# --- categories ---------------------------------------------------------------------


def test_add_and_rename_categories(tab, ctx, qtbot, home, notices, quick_config):
    tab.config_path = quick_config
    panel = tab.categories
    panel.name_edit.setText("Garden Beds")
    with qtbot.waitSignal(ctx.categories_changed):
        panel.add_button.click()
    added = ctx.assistant.categories.get("garden beds")
    saved = json.loads((home / "categories.json").read_text())["categories"]
    assert {"name": "garden beds", "code": added.code} in [
        {"name": c["name"], "code": c["code"]} for c in saved
    ]
    assert _category_rows(tab)["garden beds"] == (added.code, 0, True)

    panel.name_edit.setText("!!")
    panel.add_button.click()
    assert notices[-1][0] == "error" and "not a usable category name" in notices[-1][1]

    pool = ctx.assistant.categories.get("pool")
    row = next(
        r
        for r in range(panel.table.rowCount())
        if panel.table.item(r, 0).text() == "pool"
    )
    panel.table.selectRow(row)
    assert panel.name_edit.text() == "pool" and not panel.rename_button.isEnabled()
    panel.name_edit.setText("car")
    panel.rename_button.click()
    assert notices[-1][0] == "error" and "already exists" in notices[-1][1]

    panel.name_edit.setText("swimming pool")
    with qtbot.waitSignal(ctx.categories_changed):
        panel.rename_button.click()
    assert ctx.assistant.categories.get("swimming pool").code == pool.code
    rows = _category_rows(tab)
    assert "pool" not in rows and rows["swimming pool"][0] == pool.code
