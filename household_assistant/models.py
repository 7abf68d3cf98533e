"""Find, download and load the three local models.

Each model setting is a Hugging Face repo id or a local folder. Repos are fetched
with huggingface-hub into its usual cache (so other MLX tools share them) and
are used offline afterwards. Loaded models stay in memory until `unload`.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import Settings
from .errors import ModelLoadError, ModelNotAvailable

logger = logging.getLogger(__name__)

ROLES = ("router", "answer", "embedding")
MINILM = "all-MiniLM-L6-v2"
MINILM_REPO = "sentence-transformers/all-MiniLM-L6-v2"
# The file set Chroma's ONNX embedder expects in its onnx/ folder.
MINILM_FILES = (
    "config.json",
    "model.onnx",
    "special_tokens_map.json",
    "tokenizer_config.json",
    "tokenizer.json",
    "vocab.txt",
)
LLM_PATTERNS = ["*.json", "model*.safetensors", "*.py", "tokenizer.model", "*.jinja"]
# Shown before a first download, when the Hub can't be asked.
KNOWN_SIZES = {
    "mlx-community/Qwen3-0.6B-4bit": 351_000_000,
    "mlx-community/Qwen3-4B-4bit": 2_280_000_000,
    MINILM: 91_000_000,
}
DOWNLOAD_HINT = "household-assistant models download"


@dataclass(frozen=True)
class DownloadProgress:
    role: str
    filename: str
    done_bytes: int
    total_bytes: int


ProgressCallback = Callable[[DownloadProgress], None]


@dataclass(frozen=True)
class ModelStatus:
    role: str
    source: str
    ready: bool
    path: Path | None
    size_bytes: int | None
    detail: str


def _looks_like_path(source: str) -> bool:
    return source.startswith(("/", "~", ".")) or Path(source).expanduser().exists()


def _folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _hub_cache() -> str:
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


class ModelManager:
    """Resolves model settings to folders, downloads them, and keeps them loaded."""

    def __init__(self, settings: Settings, home: Path):
        self.settings = settings
        self.home = home
        self._loaded: dict[tuple[str, str | None], tuple[Any, Any]] = {}
        self._lock = threading.Lock()

    def source(self, role: str) -> str:
        if role not in ROLES:
            raise ValueError(f"Unknown model role {role!r}; expected one of {ROLES}.")
        return getattr(self.settings, f"{role}_model")

    def from_hub(self, role: str) -> bool:
        """Whether the setting names something to download (not a local folder)."""
        source = self.source(role)
        if role == "embedding":
            return source == MINILM
        return not _looks_like_path(source)

    # --- where a model lives -------------------------------------------------

    def _minilm_folder(self) -> Path:
        return self.home / "models" / MINILM

    def _local_candidate(self, role: str) -> Path | None:
        """The folder the setting names or the download produced, if on disk."""
        source = self.source(role)
        if role == "embedding":
            folder = self._minilm_folder() if source == MINILM else Path(source)
            folder = folder.expanduser()
            if (folder / "onnx" / "model.onnx").exists():
                return folder
            if (folder / "model.onnx").exists() and folder.name == "onnx":
                return folder.parent
            return None

        if _looks_like_path(source):
            folder = Path(source).expanduser()
            return folder if (folder / "config.json").exists() else None
        try:
            from huggingface_hub import snapshot_download

            return Path(
                snapshot_download(
                    source, local_files_only=True, allow_patterns=LLM_PATTERNS
                )
            )
        except Exception:  # noqa: BLE001 - any miss in the cache means "not here"
            return None

    def _where_looked(self, role: str) -> str:
        source = self.source(role)
        if role == "embedding" and source == MINILM:
            return str(self._minilm_folder())
        if not self.from_hub(role):
            return str(Path(source).expanduser())
        return f"the Hugging Face cache at {_hub_cache()}"

    def status(self, role: str) -> ModelStatus:
        source = self.source(role)
        path = self._local_candidate(role)
        if path is not None:
            return ModelStatus(role, source, True, path, _folder_size(path), "ready")
        return ModelStatus(
            role,
            source,
            False,
            None,
            KNOWN_SIZES.get(source),
            f"not downloaded (looked in {self._where_looked(role)})",
        )

    def statuses(self) -> list[ModelStatus]:
        return [self.status(role) for role in ROLES]

    def resolve(self, role: str) -> Path:
        """The model's local folder, or a ModelNotAvailable that says what to do."""
        path = self._local_candidate(role)
        if path is not None:
            return path

        source = self.source(role)
        if self.from_hub(role):
            how = f"Run `{DOWNLOAD_HINT}` while connected to the internet."
        else:
            how = "Point the setting at a folder that holds the model."
        raise ModelNotAvailable(
            f"The {role} model {source!r} is not on this Mac (looked in "
            f"{self._where_looked(role)}). {how}"
        )

    # --- downloading ---------------------------------------------------------

    def download(self, role: str, progress: ProgressCallback | None = None) -> Path:
        """Fetch a missing model; a no-op when it is already on disk.

        Interrupted downloads resume where they stopped on the next call.
        """
        path = self._local_candidate(role)
        if path is not None:
            return path
        source = self.source(role)
        if not self.from_hub(role):
            raise ModelNotAvailable(
                f"The {role} model folder {source} does not exist or holds no model; "
                "there is nothing to download for a local folder."
            )

        try:
            if role == "embedding":
                return self._download_minilm(progress)
            return self._download_repo(role, source, progress)
        except ModelNotAvailable:
            raise
        except Exception as exc:  # network, disk and Hub errors all end here
            raise ModelNotAvailable(
                f"Could not download the {role} model {source!r}: {exc}. Check the "
                f"internet connection and run `{DOWNLOAD_HINT}` again; finished "
                "files are kept."
            ) from exc

    def _download_files(
        self,
        role: str,
        repo: str,
        filenames: list[str],
        sizes: dict[str, int],
        progress: ProgressCallback | None,
        local_dir: Path | None = None,
    ) -> None:
        from huggingface_hub import hf_hub_download

        total = sum(sizes.values())
        done = 0
        for filename in filenames:
            reporter = _tqdm_reporter(role, filename, done, total, progress)
            hf_hub_download(repo, filename, local_dir=local_dir, tqdm_class=reporter)
            done += sizes.get(filename, 0)
            if progress:
                progress(DownloadProgress(role, filename, done, total))

    def _download_repo(
        self, role: str, repo: str, progress: ProgressCallback | None
    ) -> Path:
        from huggingface_hub import snapshot_download

        plan = snapshot_download(repo, allow_patterns=LLM_PATTERNS, dry_run=True)
        sizes = {item.filename: item.file_size or 0 for item in plan}
        self._download_files(role, repo, sorted(sizes), sizes, progress)
        return Path(
            snapshot_download(repo, local_files_only=True, allow_patterns=LLM_PATTERNS)
        )

    def _download_minilm(self, progress: ProgressCallback | None) -> Path:
        from huggingface_hub import HfApi

        wanted = ["onnx/model.onnx", *[f for f in MINILM_FILES if f != "model.onnx"]]
        info = HfApi().model_info(MINILM_REPO, files_metadata=True)
        sizes = {
            s.rfilename: s.size or 0 for s in info.siblings if s.rfilename in wanted
        }

        # Stage in a sibling folder and rename, so a half download never looks ready.
        final = self._minilm_folder()
        staging = final.with_name(final.name + ".partial")
        self._download_files("embedding", MINILM_REPO, wanted, sizes, progress, staging)
        onnx = staging / "onnx"
        for name in MINILM_FILES:
            if name != "model.onnx":
                shutil.copyfile(staging / name, onnx / name)
        final.mkdir(parents=True, exist_ok=True)
        os.replace(onnx, final / "onnx")
        shutil.rmtree(staging, ignore_errors=True)
        return final

    # --- loading -------------------------------------------------------------

    def load_llm(self, role: str, adapter_path: Path | None = None) -> tuple[Any, Any]:
        """(model, tokenizer) for the router or answer model, loaded once."""
        key = (role, str(adapter_path) if adapter_path else None)
        with self._lock:
            if key in self._loaded:
                return self._loaded[key]
            path = self.resolve(role)
            logger.info(
                "Loading %s model from %s (adapter %s)", role, path, adapter_path
            )
            try:
                from mlx_lm import load

                loaded = load(
                    str(path), adapter_path=str(adapter_path) if adapter_path else None
                )
            except Exception as exc:
                raise ModelLoadError(
                    f"The {role} model in {path} could not be loaded: {exc}. Delete "
                    f"the folder and run `{DOWNLOAD_HINT}` to fetch it again."
                ) from exc
            self._loaded[key] = loaded
            return loaded

    def unload(self, role: str | None = None) -> None:
        """Free loaded models (all of them when role is None)."""
        with self._lock:
            for key in [k for k in self._loaded if role in (None, k[0])]:
                del self._loaded[key]

    def embedding_function(self):
        """Chroma's ONNX MiniLM embedder, reading the folder this manager resolved."""
        from .embeddings import LocalMiniLM

        return LocalMiniLM(self.resolve("embedding"))


def _tqdm_reporter(
    role: str,
    filename: str,
    offset: int,
    total: int,
    progress: ProgressCallback | None,
):
    """A tqdm class that forwards byte counts to `progress` instead of drawing."""
    from tqdm.auto import tqdm

    class Reporter(tqdm):
        def __init__(self, *args, **kwargs):
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            self._bytes = 0

        def update(self, n=1):
            self._bytes += int(n or 0)
            if progress:
                progress(DownloadProgress(role, filename, offset + self._bytes, total))

    return Reporter
