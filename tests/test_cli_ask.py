"""`ask`, `route` and friends end to end through the CLI, with tiny real models."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from household_assistant.cli import main
from household_assistant.config import Settings, save_settings

NOTES = {
    "pool.md": "# Pool\n\nThe Pentair pool pump was serviced by Blue Wave Pools on "
    "12 May 2025; they replaced the shaft seal.\n",
    "furnace.txt": "Furnace\n\nThe Trane furnace takes a 16x25x1 MERV 11 filter. "
    "Change it every 90 days.\n",
    "paint.md": "# Paint colours\n\nThe hallway is Benjamin Moore Pale Oak OC-20 in "
    "eggshell.\n",
}


@pytest.fixture
def notes_home(home, use_tiny_models, tmp_path):
    save_settings(Settings(max_answer_tokens=12))
    folder = tmp_path / "notes"
    folder.mkdir()
    for name, text in NOTES.items():
        (folder / name).write_text(text)
    categories = {"pool.md": "pool", "furnace.txt": "hvac", "paint.md": "painting"}
    for name, category in categories.items():
        assert main(["import", str(folder / name), "--category", category]) == 0
    return home


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_ask_json_end_to_end(notes_home, capsys):
    capsys.readouterr()
    assert main(["ask", "What size filter does the furnace take?", "--json"]) == 0
    payload = _json(capsys)

    route = payload["route"]
    assert route["category"] == "hvac" and route["code"] == "KK"
    assert route["router"] == "knn"
    assert 0 < route["confidence"] <= 1
    assert len(route["alternatives"]) == 18

    assert payload["sources"][0]["title"] == "Furnace"
    assert {s["category"] for s in payload["sources"]} == {"hvac"}
    assert payload["scope"]["reason"] == "confident"
    assert payload["scope"]["categories"] == ["hvac"]

    # The tiny model's weights are random, so its words are noise, but they
    # were streamed from the real answering path and counted.
    assert isinstance(payload["answer"], str) and payload["answer"]
    assert 0 < payload["usage"]["answer_tokens"] <= 12
    assert payload["usage"]["prompt_tokens"] > 50
    for key in ("route_ms", "retrieve_ms", "generate_ms", "total_ms"):
        assert payload["timings"][key] >= 0


def test_ask_streams_text_and_lists_sources(notes_home, capsys):
    capsys.readouterr()
    assert main(["ask", "who serviced the pool pump"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Category: pool (OO, ")
    assert "Searched: pool" in out
    assert "Sources:\n  [1] Pool (pool, " in out


def test_ask_with_a_category_skips_the_router(notes_home, capsys):
    capsys.readouterr()
    assert main(["ask", "what colour", "--category", "painting", "--json"]) == 0
    payload = _json(capsys)
    assert payload["route"]["router"] == "manual"
    assert payload["scope"]["reason"] == "manual"
    assert [s["title"] for s in payload["sources"]] == ["Paint colours"]


def test_no_answer_never_loads_the_answer_model(notes_home, monkeypatch, capsys):
    monkeypatch.setenv("HOUSEHOLD_ASSISTANT_ANSWER_MODEL", "/nowhere/qwen")
    capsys.readouterr()
    assert main(["ask", "pool pump service", "--no-answer", "--json"]) == 0
    payload = _json(capsys)
    assert payload["answer"] is None
    assert payload["sources"][0]["category"] == "pool"


def test_a_missing_model_is_a_clean_error(notes_home, monkeypatch, capsys):
    monkeypatch.setenv("HOUSEHOLD_ASSISTANT_ANSWER_MODEL", "/nowhere/qwen")
    capsys.readouterr()
    assert main(["ask", "pool pump service"]) == 3
    err = capsys.readouterr().err
    assert "error: The answer model '/nowhere/qwen' is not on this Mac" in err
    assert "Traceback" not in err


def test_llm_router_through_the_cli(notes_home, capsys):
    save_settings(Settings(router="llm", max_answer_tokens=12))
    capsys.readouterr()
    assert main(["route", "who serviced the pool pump", "--json"]) == 0
    decision = _json(capsys)
    assert decision["router"] == "llm"
    assert decision["code"] in {a["code"] for a in decision["alternatives"]}
    assert 0 < decision["tokens"] < 60  # only the question, not the prefix


def test_route_text_output(notes_home, capsys):
    capsys.readouterr()
    assert main(["route", "the water heater pilot keeps going out"]) == 0
    assert capsys.readouterr().out.startswith("water heater (QQ) ")


def test_an_unknown_category_lists_the_known_ones(notes_home, capsys):
    assert main(["ask", "x", "--category", "spa"]) == 1
    err = capsys.readouterr().err
    assert "no category called 'spa'" in err and "window service" in err


def test_no_arguments_opens_the_window(monkeypatch):
    pytest.importorskip("PySide6")
    from household_assistant.gui import app

    opened = []
    monkeypatch.setattr(app, "main", lambda: opened.append(True) or 0)
    assert main([]) == 0 and opened == [True]


def test_no_arguments_without_pyside6_prints_help_and_how_to_fix():
    script = (
        "import sys; sys.modules['PySide6'] = None\n"
        "from household_assistant.cli import main\n"
        "raise SystemExit(main([]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "usage: household-assistant" in result.stdout
    assert "pip install PySide6" in result.stderr and "Traceback" not in result.stderr


def test_python_dash_m_entry_point():
    result = subprocess.run(
        [sys.executable, "-m", "household_assistant", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0
    for command in ("import", "ask", "route", "notes", "models"):
        assert command in result.stdout
