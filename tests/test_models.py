"""The model manager: local folders, the Hub cache, clean errors offline."""

from __future__ import annotations

import json
from pathlib import Path

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


# Downloads. The Hub can't be reached here, so the two calls that touch the
# network (listing a repo, fetching one file) serve files from a local folder
# laid out like the repo; everything around them runs for real.


class LocalHub:
    def __init__(self, repos: dict[str, Path], fail_on: str | None = None):
        self.repos = repos
        self.fail_on = fail_on
        self.fetched: list[str] = []

    def list_files(self, repo, patterns):
        from fnmatch import fnmatch

        root = self.repos[repo]
        files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*"))
        return {
            f: (root / f).stat().st_size
            for f in files
            if (root / f).is_file() and any(fnmatch(f, p) for p in patterns)
        }

    def fetch(self, repo, filename, folder, reporter):
        if filename == self.fail_on:
            self.fail_on = None  # the connection comes back for the next try
            raise ConnectionError("connection reset by peer")
        data = (self.repos[repo] / filename).read_bytes()
        bar = reporter(total=len(data))
        for start in range(0, len(data), 1 << 20):
            bar.update(len(data[start : start + (1 << 20)]))
        target = folder / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        self.fetched.append(filename)


@pytest.fixture
def hub(monkeypatch, tiny_models, tmp_path):
    import shutil

    minilm = tmp_path / "hub-minilm"  # the Hub repo's layout, not Chroma's
    (minilm / "onnx").mkdir(parents=True)
    for f in (MINILM_DIR / "onnx").iterdir():
        target = minilm / ("onnx" if f.name == "model.onnx" else "") / f.name
        shutil.copyfile(f, target)
    local = LocalHub(
        {
            "mlx-community/Qwen3-0.6B-4bit": tiny_models["4bit"],
            "sentence-transformers/all-MiniLM-L6-v2": minilm,
        }
    )
    monkeypatch.setattr(ModelManager, "_list_files", staticmethod(local.list_files))
    monkeypatch.setattr(ModelManager, "_fetch", staticmethod(local.fetch))
    return local


def test_download_reports_progress_and_then_works_offline(home, hub):
    manager = ModelManager(Settings(), home)
    assert not manager.status("router").ready

    seen = []
    path = manager.download("router", seen.append)

    assert path == home / "models" / "mlx-community--Qwen3-0.6B-4bit"
    done = [p.done_bytes for p in seen]
    assert done == sorted(done) and done[-1] == seen[-1].total_bytes > 1_000_000
    assert {p.role for p in seen} == {"router"}
    assert not (home / "models" / "mlx-community--Qwen3-0.6B-4bit.partial").exists()

    fresh = ModelManager(Settings(), home)
    assert fresh.status("router").ready and fresh.resolve("router") == path
    model, tokenizer = fresh.load_llm("router")
    assert tokenizer.encode("KK", add_special_tokens=False) == [50457]

    fetched = len(hub.fetched)
    assert fresh.download("router") == path and len(hub.fetched) == fetched


def test_an_interrupted_download_never_looks_ready_and_resumes(home, hub):
    hub.fail_on = "model.safetensors"
    manager = ModelManager(Settings(), home)
    with pytest.raises(ModelNotAvailable, match="not connected to the internet"):
        manager.download("router")
    assert not manager.status("router").ready
    assert (home / "models" / "mlx-community--Qwen3-0.6B-4bit.partial").is_dir()

    path = manager.download("router")
    assert manager.status("router").ready and (path / "model.safetensors").exists()


def test_the_embedder_download_is_laid_out_for_chroma(home, hub):
    from household_assistant.embeddings import LocalMiniLM

    manager = ModelManager(Settings(), home)
    path = manager.download("embedding")

    assert path == home / "models" / "all-MiniLM-L6-v2"
    assert sorted(f.name for f in (path / "onnx").iterdir()) == sorted(
        f.name for f in (MINILM_DIR / "onnx").iterdir()
    )
    vectors = LocalMiniLM(manager.resolve("embedding")).embed(["pool pump"])
    assert vectors.shape == (1, 384)


def test_no_network_is_said_plainly(home, monkeypatch, capsys):
    # Nothing listens on loopback port 9: a refused connection, as when offline.
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setattr("huggingface_hub.constants.ENDPOINT", "http://127.0.0.1:9")
    assert main(["models", "download"]) == 3
    err = capsys.readouterr().err
    assert "not connected to the internet" in err and "Traceback" not in err


def test_models_download_checks_role_names(home, capsys):
    assert main(["models", "download", "spa"]) == 1
    assert "choose from router, answer, embedding" in capsys.readouterr().err
