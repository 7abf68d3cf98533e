"""`household-assistant experiment`: the published table, measured for real."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from household_assistant.cli import main
from household_assistant.names_router import parse_category_name


def test_the_five_routers_are_measured_and_nothing_is_promoted(
    separable, use_tiny_models, capsys, home, tmp_path
):
    out = tmp_path / "experiment"
    capsys.readouterr()
    code = main(
        [
            "experiment",
            "--config",
            str(separable["config"]),
            "--iters",
            "60",
            "--json",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)

    heldout = len(separable["heldout"].read_text().splitlines())
    rows = {row["key"]: row for row in result["rows"]}
    assert list(rows) == [
        "prompt-names",
        "prompt-codes",
        "lora-names",
        "lora-codes",
        "knn",
    ]
    for row in rows.values():
        assert row["total"] == heldout
        assert 0 <= row["correct"] + row["invalid"] <= heldout
        assert row["mean_latency_ms"] > 0 and row["p95_latency_ms"] > 0

    # Code scoring can only ever pick a code; generated names are parsed
    # exactly, and an untrained random model writes none of them.
    assert rows["prompt-codes"]["invalid"] == rows["lora-codes"]["invalid"] == 0
    assert rows["prompt-names"]["invalid"] > heldout // 2

    # Both LoRA runs trained, each judged by validation accuracy; kNN needs
    # no training and separates keywords.
    for key in ("lora-names", "lora-codes"):
        training = rows[key]["training"]
        assert training["steps"] == 60 and 0 <= training["best_step"] <= 60
        assert 0 <= training["best_validation_accuracy"] <= 1
    assert rows["prompt-codes"]["training"] is None
    assert rows["knn"]["accuracy"] >= 0.9

    # Both reports are written; no adapter version exists and none is active.
    saved = json.loads((out / "experiment.json").read_text())
    assert [row["key"] for row in saved["rows"]] == list(rows)
    markdown = (out / "experiment.md").read_text()
    assert "LoRA, codes" in markdown and "published experiment" in markdown
    assert saved["split"]["train"] > 0 and saved["evaluated_on"] == "heldout"
    adapters = home / "adapters"
    assert not adapters.exists() or not [
        p for p in adapters.iterdir() if p.name.startswith("v")
    ]
    capsys.readouterr()
    assert main(["adapters", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["active"] is None


def test_progress_lines_the_test_split_and_the_default_folder(
    separable, use_tiny_models, capsys, home
):
    capsys.readouterr()
    args = ["experiment", "--config", str(separable["config"]), "--iters", "4"]
    assert main([*args, "--on", "test", "--progress", "json"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    results = [e for e in events if e["event"] == "result"]
    assert [e["stage_index"] for e in results] == [1, 2, 3, 4, 5]
    assert {"stage", "routed", "train", "eval"} <= {e["event"] for e in events}
    done = events[-1]
    assert done["event"] == "done"
    assert Path(done["json"]).parent.parent == home / "experiments"

    # Judged on the split's own test part, which training never saw.
    saved = json.loads(Path(done["json"]).read_text())
    assert saved["evaluated_on"] == "test"
    assert all(e["row"]["total"] == saved["split"]["test"] for e in results)
    assert "15 % test part" in Path(done["markdown"]).read_text()


def test_names_are_parsed_as_a_deployment_would(home):
    from household_assistant.categories import CategoryBook

    book = CategoryBook.load(home)
    assert parse_category_name("water heater", book).name == "water heater"
    assert parse_category_name(" Water Heater.\n", book).name == "water heater"
    # Invented, broad and truncated names are invalid, never guessed at.
    for text in ("plumbing", "water", "water heat", "pool and fountain", ""):
        assert parse_category_name(text, book) is None, text


@pytest.mark.parametrize("value", ["sometimes", "0"])
def test_bad_options_are_refused(value, capsys):
    with pytest.raises(SystemExit):
        main(["experiment", "--on" if value == "sometimes" else "--iters", value])
    assert "experiment" in capsys.readouterr().err
