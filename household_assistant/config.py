"""Where the app keeps its data, and the settings a household can change.

The data folder comes from platformdirs unless `HOUSEHOLD_ASSISTANT_HOME` moves
it (tests always do). Settings are a dataclass saved as `settings.json` in that
folder; each model can also be overridden by an environment variable.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError

logger = logging.getLogger(__name__)

APP_NAME = "Household Assistant"
HOME_ENV = "HOUSEHOLD_ASSISTANT_HOME"
SETTINGS_FILE = "settings.json"

# Environment variables that override a model setting: name -> field.
MODEL_ENV = {
    "HOUSEHOLD_ASSISTANT_ROUTER_MODEL": "router_model",
    "HOUSEHOLD_ASSISTANT_ANSWER_MODEL": "answer_model",
    "HOUSEHOLD_ASSISTANT_EMBEDDING_MODEL": "embedding_model",
}
ROUTER_KINDS = ("auto", "knn", "llm")


def data_dir() -> Path:
    """The data folder, created on first use."""
    override = os.environ.get(HOME_ENV)
    if override:
        path = Path(override).expanduser()
    else:
        import platformdirs

        path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _help(text: str, default):
    return field(default=default, metadata={"help": text})


@dataclass
class Settings:
    """Everything a household can tune. Saved as JSON in the data folder."""

    router_model: str = _help(
        "Router LLM: a Hugging Face repo id or a local folder.",
        "mlx-community/Qwen3-0.6B-4bit",
    )
    answer_model: str = _help(
        "Answering LLM: a Hugging Face repo id or a local folder.",
        "mlx-community/Qwen3-4B-4bit",
    )
    embedding_model: str = _help(
        "Sentence embedder: 'all-MiniLM-L6-v2' or a local folder holding onnx/.",
        "all-MiniLM-L6-v2",
    )
    router: str = _help(
        "Which router decides: auto (LoRA when an adapter is active, else kNN), "
        "knn, or llm.",
        "auto",
    )
    confidence_threshold: float = _help(
        "Below this router confidence, retrieval widens to more categories.", 0.55
    )
    widen_mass: float = _help(
        "When widening, take top categories until their probabilities reach this.",
        0.9,
    )
    similarity_floor: float = _help(
        "Notes less similar than this (cosine) don't count as relevant.", 0.25
    )
    top_k: int = _help("Note chunks given to the answering model.", 5)
    knn_k: int = _help("Labelled questions the kNN router votes among.", 7)
    confirm_on_thumbs_up: bool = _help(
        "A thumbs-up on a confident route (at least confidence_threshold) counts "
        "as a confirmed label for the kNN router and training.",
        True,
    )
    chunk_chars: int = _help("Largest chunk of a note, in characters.", 800)
    chunk_overlap: int = _help("Characters repeated between chunks.", 120)
    max_file_mb: float = _help("Files larger than this are skipped on import.", 20.0)
    max_answer_tokens: int = _help("Longest answer, in tokens.", 512)
    context_tokens: int = _help("Prompt budget for the answering model.", 6144)
    chroma_url: str | None = _help(
        "A Chroma server (http://host:8000) shared by several Macs; "
        "None keeps the store in the data folder.",
        None,
    )

    def validate(self) -> None:
        """Raise ConfigError for values the app can't work with."""
        for f in dataclasses.fields(self):
            value, default = getattr(self, f.name), f.default
            expected = (int, float) if isinstance(default, float) else type(default)
            if default is None:
                expected = (str, type(None))
            if not isinstance(value, expected) or isinstance(value, bool) != isinstance(
                default, bool
            ):
                raise ConfigError(
                    f"Setting '{f.name}' should look like {default!r}; found {value!r}."
                )
        if self.router not in ROUTER_KINDS:
            raise ConfigError(
                f"Setting 'router' must be one of {', '.join(ROUTER_KINDS)}; "
                f"found {self.router!r}."
            )
        for name in ("confidence_threshold", "widen_mass", "similarity_floor"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(
                    f"Setting '{name}' must be between 0 and 1; found {value}."
                )
        for name in ("top_k", "knn_k", "max_answer_tokens", "context_tokens"):
            if getattr(self, name) < 1:
                raise ConfigError(f"Setting '{name}' must be at least 1.")
        if (
            self.chunk_chars < 200
            or not 0 <= self.chunk_overlap < self.chunk_chars // 2
        ):
            raise ConfigError(
                "Settings 'chunk_chars' must be at least 200 and 'chunk_overlap' "
                "between 0 and half of it; found "
                f"{self.chunk_chars} and {self.chunk_overlap}."
            )


def settings_path(home: Path | None = None) -> Path:
    return (home or data_dir()) / SETTINGS_FILE


def load_settings(home: Path | None = None) -> Settings:
    """Read settings.json (if any), then apply environment overrides."""
    path = settings_path(home)
    values: dict = {}
    if path.exists():
        try:
            values = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(
                f"Could not read the settings file {path}: {exc}. Fix or delete it "
                "to go back to the defaults."
            ) from exc

    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(values) - known)
    if unknown:
        logger.warning("Ignoring unknown settings in %s: %s", path, unknown)
    if not isinstance(values, dict):
        raise ConfigError(f"The settings file {path} must hold a JSON object.")
    settings = Settings(**{k: v for k, v in values.items() if k in known})

    for env, name in MODEL_ENV.items():
        if os.environ.get(env):
            setattr(settings, name, os.environ[env])
    settings.validate()
    return settings


def save_settings(settings: Settings, home: Path | None = None) -> Path:
    """Write settings.json atomically, so a crash never leaves half a file."""
    settings.validate()
    path = settings_path(home)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(dataclasses.asdict(settings), indent=2) + "\n")
    os.replace(tmp, path)
    return path
