"""Retraining through the CLI: train, judge, promote, roll back, cancel, crash."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from household_assistant.adapters import AdapterStore
from household_assistant.cli import main

from .conftest import MINILM_DIR


def _lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def _train(capsys, config: Path, *extra: str) -> tuple[int, list[dict]]:
    capsys.readouterr()
    code = main(["train", "--config", str(config), "--progress", "json", *extra])
    return code, _lines(capsys)


def _route(capsys, question: str) -> dict:
    capsys.readouterr()
    assert main(["route", question, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _active(capsys) -> str | None:
    capsys.readouterr()
    assert main(["adapters", "list", "--json"]) == 0
    return json.loads(capsys.readouterr().out)["active"]


def _earned(done: dict) -> bool:
    new, current = done["scores"]["new"], done["scores"]["current"]
    return all(new[name] >= current[name] for name in current)


def test_progress_is_one_json_object_per_line(separable, use_tiny_models, capsys):
    code, events = _train(capsys, separable["config"], "--iters", "40")
    assert code == 0

    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert {"train", "eval", "judge"} <= set(kinds)
    train = [e for e in events if e["event"] == "train"]
    assert [e["step"] for e in train] == [20, 40]
    for event in train:
        assert event["total_steps"] == 40
        assert event["train_loss"] > 0 and event["tokens_per_second"] > 0
        assert event["eta_s"] >= 0 and "peak_memory_gb" in event
    for event in [e for e in events if e["event"] == "eval"]:
        assert 0 <= event["val_accuracy"] <= 1 and event["val_loss"] > 0

    done = events[-1]
    assert done["version"] == "v1" and done["promoted"] == _earned(done)
    assert Path(done["report"]).exists()


def test_train_judge_promote_and_roll_back(separable, use_tiny_models, capsys, home):
    # v1: judged against the kNN router; active only if it earned it.
    code, events = _train(capsys, separable["config"], "--iters", "120")
    done = events[-1]
    assert code == 0 and done["version"] == "v1"
    assert done["scores"]["current"]["heldout"] is not None
    assert _active(capsys) == ("v1" if done["promoted"] else None)

    folder = home / "adapters" / "v1"
    for name in (
        "adapters.safetensors",
        "adapter_config.json",
        "report.json",
        "report.md",
        "training.yaml",
        "data.json",
    ):
        assert (folder / name).is_file(), name
    report = json.loads((folder / "report.json").read_text())
    assert report["compared_with"] == "knn"
    assert len(report["data"]["fingerprint"]) == 16
    assert "heldout" in (folder / "report.md").read_text()

    # The household overrides the check; routing now uses the adapter.
    assert main(["adapters", "activate", "v1"]) == 0
    assert _route(capsys, "who handles our skimmer")["router"] == "lora:v1"

    # A correction, then v2 is judged against v1 on held-out and corrections.
    capsys.readouterr()
    assert main(["ask", "is the gate squeaking", "--no-answer", "--json"]) == 0
    asked = json.loads(capsys.readouterr().out)
    assert main(["feedback", "correct", str(asked["question_id"]), "fence"]) == 0
    code, events = _train(capsys, separable["config"], "--iters", "120")
    done = events[-1]
    assert done["version"] == "v2"
    assert set(done["scores"]["new"]) == {"heldout", "corrections"}
    report = json.loads((home / "adapters/v2/report.json").read_text())
    assert report["compared_with"] == "lora:v1"
    assert done["promoted"] == _earned(done)
    assert _active(capsys) == ("v2" if done["promoted"] else "v1")

    # Forced promotion, then roll back twice: v2 -> v1 -> kNN.
    assert main(["adapters", "activate", "v2"]) == 0
    assert _route(capsys, "who handles our skimmer")["router"] == "lora:v2"
    assert main(["adapters", "rollback"]) == 0
    assert _active(capsys) == "v1"
    assert _route(capsys, "who handles our skimmer")["router"] == "lora:v1"
    assert main(["adapters", "rollback"]) == 0
    assert _active(capsys) is None
    assert _route(capsys, "who handles our skimmer")["router"] == "knn"
    assert main(["adapters", "rollback"]) == 5  # nothing left to undo


def test_never_and_always(separable, use_tiny_models, capsys):
    code, events = _train(
        capsys, separable["config"], "--iters", "4", "--promote", "never"
    )
    assert code == 0 and events[-1]["promoted"] is False
    assert "on request" in events[-1]["reason"]
    assert _active(capsys) is None
    code, events = _train(
        capsys, separable["config"], "--iters", "4", "--promote", "always"
    )
    assert events[-1]["promoted"] is True and _active(capsys) == "v2"


def test_contradicting_correction_overrides_the_bundled_label(
    separable, use_tiny_models, capsys, tmp_path
):
    question = "who handles our chlorine"  # a pool question in the training pool
    capsys.readouterr()
    assert main(["ask", question, "--no-answer", "--json"]) == 0
    asked = json.loads(capsys.readouterr().out)
    assert main(["feedback", "correct", str(asked["question_id"]), "fence"]) == 0

    out = tmp_path / "export"
    assert (
        main(["train", "--config", str(separable["config"]), "--export-data", str(out)])
        == 0
    )
    rows = {
        name: [json.loads(line) for line in (out / f"{name}.jsonl").open()]
        for name in ("train", "valid", "test")
    }
    labels = [
        (name, row["completion"])
        for name, items in rows.items()
        for row in items
        if row["prompt"].endswith("\n" + question)
    ]
    assert labels == [("train", "GG")] * 3  # fence, repeated; pool is gone


def test_a_damaged_adapter_is_refused_and_routing_falls_back(
    separable, use_tiny_models, capsys, home
):
    code, events = _train(
        capsys, separable["config"], "--iters", "4", "--promote", "always"
    )
    assert code == 0 and _active(capsys) == "v1"
    root = home / "adapters"
    subprocess.run(["cp", "-r", str(root / "v1"), str(root / "v2")], check=True)
    assert main(["adapters", "activate", "v2"]) == 0

    weights = root / "v2" / "adapters.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    decision = _route(capsys, "who handles our gate")
    assert decision["router"] == "lora:v1"  # the previous version

    (root / "v1" / "adapter_config.json").write_text("{ not json")
    assert _route(capsys, "who handles our gate")["router"] == "knn"

    capsys.readouterr()
    assert main(["adapters", "activate", "v1"]) == 5
    err = capsys.readouterr().err
    assert "damaged" in err and "Traceback" not in err


# --- the command as the app runs it: a separate process ---------------------


def _spawn(separable, tiny_models, home) -> subprocess.Popen:
    env = {
        **os.environ,
        "HOUSEHOLD_ASSISTANT_HOME": str(home),
        "HOUSEHOLD_ASSISTANT_ROUTER_MODEL": str(tiny_models["4bit"]),
        "HOUSEHOLD_ASSISTANT_EMBEDDING_MODEL": str(MINILM_DIR),
        "HF_HUB_OFFLINE": "1",
    }
    command = [
        sys.executable,
        "-m",
        "household_assistant",
        "train",
        "--config",
        str(separable["config"]),
        "--progress",
        "json",
    ]
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait_for_training(process) -> list[dict]:
    seen = []
    deadline = time.monotonic() + 120
    for line in process.stdout:
        seen.append(json.loads(line))
        if seen[-1]["event"] == "train" or time.monotonic() > deadline:
            return seen
    raise AssertionError(f"training never started: {process.stderr.read()}")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cancel_stops_cleanly_and_changes_nothing(
    separable, tiny_models, home, warm_knn, sig
):
    process = _spawn(separable, tiny_models, home)
    _wait_for_training(process)
    process.send_signal(sig)
    rest, err = process.communicate(timeout=120)

    assert process.returncode == 130, err
    last = json.loads(rest.splitlines()[-1])
    assert last["event"] == "cancelled" and "nothing was changed" in last["message"]
    assert "Traceback" not in err
    # No version and no leftovers; only the (released) lock file stays.
    left = [p.name for p in (home / "adapters").iterdir()]
    assert left == ["training.lock"]


def test_sigkill_leaves_no_version_and_the_next_run_cleans_up(
    separable, tiny_models, home, warm_knn, use_tiny_models, capsys
):
    process = _spawn(separable, tiny_models, home)
    _wait_for_training(process)
    process.kill()
    process.communicate(timeout=60)

    store = AdapterStore(home)
    assert store.versions() == [] and store.active() is None
    leftovers = list((home / "adapters").glob(".partial-*"))
    assert len(leftovers) == 1  # what a crash leaves; never listed
    assert _active(capsys) is None

    code, events = _train(capsys, separable["config"], "--iters", "2")
    assert code == 0 and events[-1]["version"] == "v1"
    assert not leftovers[0].exists()
