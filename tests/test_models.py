"""The model manager: local folders, the Hub cache, clean errors offline."""

from __future__ import annotations

import json

import pytest

from household_assistant.cli import main
from household_assistant.config import Settings
from household_assistant.errors import ModelNotAvailable
from household_assistant.models import ModelManager, _tqdm_reporter

from .conftest import MINILM_DIR


def test_local_folders_resolve(home, tiny_models):
    settings = Settings(
        router_model=str(tiny_models["4bit"]),
        answer_model=str(tiny_models["plain"]),
        embedding_model=str(MINILM_DIR),
    )
    manager = ModelManager(settings, home)
    assert manager.resolve("router") == tiny_models["4bit"]
    assert manager.resolve("embedding") == MINILM_DIR
    assert all(s.ready for s in manager.statuses())
    assert manager.status("router").size_bytes > 1_000_000


def test_the_onnx_folder_itself_is_accepted(home):
    manager = ModelManager(Settings(embedding_model=str(MINILM_DIR / "onnx")), home)
    assert manager.resolve("embedding") == MINILM_DIR


def test_models_stay_loaded_until_unloaded(home, tiny_models):
    manager = ModelManager(Settings(answer_model=str(tiny_models["plain"])), home)
    first = manager.load_llm("answer")
    assert manager.load_llm("answer") is first
    manager.unload("answer")
    assert manager.load_llm("answer") is not first


def test_missing_hub_model_offline_says_where_and_what_to_run(home):
    manager = ModelManager(Settings(router_model="mlx-community/Nope-0.1B"), home)
    status = manager.status("router")
    assert not status.ready and "Hugging Face cache" in status.detail
    with pytest.raises(ModelNotAvailable) as caught:
        manager.resolve("router")
    message = str(caught.value)
    assert "'mlx-community/Nope-0.1B'" in message
    assert "Hugging Face cache" in message
    assert "household-assistant models download" in message


def test_download_offline_fails_cleanly(home):
    manager = ModelManager(Settings(router_model="mlx-community/Nope-0.1B"), home)
    with pytest.raises(ModelNotAvailable, match="Could not download the router"):
        manager.download("router")


def test_a_missing_local_folder_has_nothing_to_download(home, tmp_path):
    manager = ModelManager(Settings(answer_model=str(tmp_path / "gone")), home)
    with pytest.raises(ModelNotAvailable, match="nothing to download"):
        manager.download("answer")


def test_a_broken_model_folder_is_a_load_error(home, tmp_path):
    from household_assistant.errors import ModelLoadError

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text(json.dumps({"model_type": "qwen3"}))
    manager = ModelManager(Settings(answer_model=str(broken)), home)
    with pytest.raises(ModelLoadError, match="could not be loaded"):
        manager.load_llm("answer")


def test_download_progress_is_forwarded(home):
    seen = []
    reporter = _tqdm_reporter("router", "model.safetensors", 100, 1000, seen.append)
    bar = reporter(total=900)
    bar.update(300)
    bar.update(200)
    bar.close()
    assert [p.done_bytes for p in seen] == [400, 600]
    assert seen[-1].total_bytes == 1000 and seen[-1].role == "router"


def test_models_list_cli(home, use_tiny_models, monkeypatch, capsys):
    monkeypatch.setenv(
        "HOUSEHOLD_ASSISTANT_ANSWER_MODEL", "mlx-community/Qwen3-4B-4bit"
    )
    assert main(["models", "list", "--json"]) == 0
    rows = {r["role"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["router"]["ready"] and rows["embedding"]["ready"]
    assert not rows["answer"]["ready"]
    assert rows["answer"]["size_bytes"] == 2_280_000_000  # the known size, offline

    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "answer     missing" in out and "about 2.3 GB" in out


def test_models_download_cli_offline(home, monkeypatch, capsys):
    monkeypatch.setenv("HOUSEHOLD_ASSISTANT_ROUTER_MODEL", "mlx-community/Nope-0.1B")
    assert main(["models", "download", "router"]) == 3
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1].startswith("error: Could not download")
