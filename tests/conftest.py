"""Shared fixtures: a private data folder, real tiny models, the real embedder.

Nothing here touches the network: HF_HUB_OFFLINE is set before any test runs,
and every model is built locally or read from ../shared/models.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "models"
TOKENIZER_DIR = SHARED / "qwen3-tokenizer"
MINILM_DIR = SHARED / "all-MiniLM-L6-v2"
MODEL_ENV = (
    "HOUSEHOLD_ASSISTANT_ROUTER_MODEL",
    "HOUSEHOLD_ASSISTANT_ANSWER_MODEL",
    "HOUSEHOLD_ASSISTANT_EMBEDDING_MODEL",
)


@pytest.fixture(autouse=True)
def home(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own data folder and no model overrides of its own."""
    path = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOUSEHOLD_ASSISTANT_HOME", str(path))
    for name in MODEL_ENV:
        monkeypatch.delenv(name, raising=False)
    return path


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Random-weight Qwen3 models with the real tokenizer: plain and 4-bit."""
    from household_assistant.tiny_model import make_tiny_qwen3

    root = tmp_path_factory.mktemp("models")
    return {
        "plain": make_tiny_qwen3(root / "tiny-qwen3", TOKENIZER_DIR),
        "4bit": make_tiny_qwen3(root / "tiny-qwen3-4bit", TOKENIZER_DIR, bits=4),
    }


@pytest.fixture(scope="session")
def loaded_4bit(tiny_models):
    from mlx_lm import load

    return load(str(tiny_models["4bit"]))


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2 ONNX model from ../shared/models."""
    from household_assistant.embeddings import LocalMiniLM

    return LocalMiniLM(MINILM_DIR)


@pytest.fixture(scope="session")
def knn_cache(tmp_path_factory, embedder) -> Path:
    """The kNN router's cached example embeddings, computed once per run."""
    from household_assistant.assistant import Assistant
    from household_assistant.config import Settings

    folder = tmp_path_factory.mktemp("knn-home")
    Assistant(folder, Settings(embedding_model=str(MINILM_DIR))).knn_router()
    return folder / "cache"


@pytest.fixture
def warm_knn(home, knn_cache) -> None:
    """Give this data folder the cache a first run would have left behind."""
    shutil.copytree(knn_cache, home / "cache", dirs_exist_ok=True)


@pytest.fixture
def use_tiny_models(monkeypatch, tiny_models, warm_knn) -> dict[str, Path]:
    """Point the app's three model settings at local test models."""
    monkeypatch.setenv("HOUSEHOLD_ASSISTANT_ROUTER_MODEL", str(tiny_models["4bit"]))
    monkeypatch.setenv("HOUSEHOLD_ASSISTANT_ANSWER_MODEL", str(tiny_models["plain"]))
    monkeypatch.setenv("HOUSEHOLD_ASSISTANT_EMBEDDING_MODEL", str(MINILM_DIR))
    return tiny_models


# --- a small, clearly separable routing task for training tests ---------------

SEPARABLE_WORDS = {
    "pool": ["pool", "chlorine", "skimmer", "pool pump"],
    "car": ["car", "oil change", "tires", "brakes"],
    "fence": ["fence", "gate", "fence post", "pickets"],
}
SEPARABLE_TEMPLATES = [
    "when was the {} last fixed",
    "who handles our {}",
    "what did we pay for the {}",
    "is the {} due for service",
    "any notes on the {}",
    "remind me about the {}",
    "how old is the {}",
    "where are the receipts for the {}",
]
# Settings that let a ~10M-weight random Qwen3 learn the task in seconds.
TINY_TRAINING = {
    "rank": 8,
    "scale": 1.0,
    "num_layers": -1,
    "learning_rate": 1.0e-3,
    "batch_size": 4,
    "iters": 300,
    "steps_per_eval": 60,
    "steps_per_report": 20,
    "patience": 3,
}


@pytest.fixture
def separable(home, tmp_path) -> dict[str, Path]:
    """A household with three categories, questions that keywords separate,
    and a training config for the tiny models.

    Every (keyword, template) pair is its own group, so each split sees every
    keyword and every phrasing, but never the same question.
    """
    import json

    import yaml

    book = json.loads((ROOT / "resources" / "categories.json").read_text())
    book["categories"] = [c for c in book["categories"] if c["name"] in SEPARABLE_WORDS]
    (home / "categories.json").write_text(json.dumps(book))

    paths = {"questions": tmp_path / "q.jsonl", "heldout": tmp_path / "h.jsonl"}
    with open(paths["questions"], "w") as pool, open(paths["heldout"], "w") as held:
        for category, words in SEPARABLE_WORDS.items():
            for i, word in enumerate(words):
                for j, template in enumerate(SEPARABLE_TEMPLATES):
                    row = {
                        "question": template.format(word),
                        "category": category,
                        "group_id": f"{category}-{i}-{j}",
                    }
                    (held if (i + j) % 4 == 0 else pool).write(json.dumps(row) + "\n")

    config = {
        **TINY_TRAINING,
        "questions_file": str(paths["questions"]),
        "heldout_file": str(paths["heldout"]),
    }
    paths["config"] = tmp_path / "tiny.yaml"
    paths["config"].write_text(yaml.safe_dump(config))
    return paths
