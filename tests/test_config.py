from __future__ import annotations

import json

import pytest

from household_assistant.config import (
    Settings,
    data_dir,
    load_settings,
    save_settings,
)
from household_assistant.errors import ConfigError


def test_data_dir_follows_the_environment(home):
    assert data_dir() == home


def test_defaults_name_the_real_models(home):
    settings = load_settings()
    assert settings.router_model == "mlx-community/Qwen3-0.6B-4bit"
    assert settings.answer_model == "mlx-community/Qwen3-4B-4bit"
    assert settings.embedding_model == "all-MiniLM-L6-v2"


def test_save_and_load_round_trip(home):
    settings = Settings(top_k=3, confidence_threshold=0.7, router="knn")
    path = save_settings(settings)
    assert path == home / "settings.json"
    assert load_settings() == settings


def test_environment_overrides_each_model(home, monkeypatch):
    save_settings(Settings(router_model="saved/router"))
    monkeypatch.setenv("HOUSEHOLD_ASSISTANT_ROUTER_MODEL", "/models/router")
    monkeypatch.setenv("HOUSEHOLD_ASSISTANT_ANSWER_MODEL", "me/answer")
    monkeypatch.setenv("HOUSEHOLD_ASSISTANT_EMBEDDING_MODEL", "/models/minilm")
    settings = load_settings()
    assert settings.router_model == "/models/router"
    assert settings.answer_model == "me/answer"
    assert settings.embedding_model == "/models/minilm"


@pytest.mark.parametrize(
    "values, message",
    [
        ({"router": "magic"}, "router"),
        ({"confidence_threshold": 1.5}, "between 0 and 1"),
        ({"top_k": 0}, "at least 1"),
        ({"top_k": "5"}, "should look like 5"),
        ({"chunk_chars": 50}, "chunk_chars"),
        ([1, 2], "JSON object"),
    ],
)
def test_bad_settings_files_are_explained(home, values, message):
    (home / "settings.json").write_text(json.dumps(values))
    with pytest.raises(ConfigError, match=message):
        load_settings()


def test_unreadable_settings_file(home):
    (home / "settings.json").write_text("{oops")
    with pytest.raises(ConfigError, match="Fix or delete it"):
        load_settings()


def test_unknown_keys_are_ignored_not_fatal(home):
    (home / "settings.json").write_text(json.dumps({"top_k": 4, "old_key": 1}))
    assert load_settings().top_k == 4
