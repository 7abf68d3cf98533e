"""Find, download and load the three local models.

Each model setting is a Hugging Face repo id or a local folder. Repos are fetched
with huggingface-hub into the data folder's models/ and used offline afterwards;
a copy already in the Hugging Face cache (from other MLX tools) is used as is.
Loaded models stay in memory until `unload`.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

from .config import Settings
from .errors import ModelLoadError, ModelNotAvailable

logger = logging.getLogger(__name__)

ROLES = ("router", "answer", "embedding")
MINILM = "all-MiniLM-L6-v2"
MINILM_REPO = "sentence-transformers/all-MiniLM-L6-v2"
# With onnx/model.onnx, the file set Chroma's ONNX embedder expects in onnx/.
MINILM_TOKENIZER_FILES = [
    "config.json",
    "special_tokens_map.json",
    "tokenizer_config.json",
    "tokenizer.json",
    "vocab.txt",
]
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

    def download_folder(self, role: str) -> Path:
        """Where `download` puts this role's model inside the data folder."""
        source = self.source(role)
        name = MINILM if role == "embedding" else source.replace("/", "--")
        return self.home / "models" / name

    def _local_candidate(self, role: str) -> Path | None:
        """The folder the setting names or a download produced, if on disk."""
        source = self.source(role)
        folder = self.download_folder(role) if self.from_hub(role) else Path(source)
        folder = folder.expanduser()
        if role == "embedding":
            if (folder / "onnx" / "model.onnx").exists():
                return folder
            if (folder / "model.onnx").exists() and folder.name == "onnx":
                return folder.parent
            return None

        if (folder / "config.json").exists():
            return folder
        if not self.from_hub(role):
            return None
        # Also use a copy other MLX tools already fetched into the Hub cache.
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
        if not self.from_hub(role):
            return str(Path(self.source(role)).expanduser())
        looked = str(self.download_folder(role))
        if role != "embedding":
            looked += f" and the Hugging Face cache at {_hub_cache()}"
        return looked

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
        """Fetch a missing model into the data folder; a no-op when it is on disk.

        Files land in a `.partial` folder that is renamed only when complete,
        so a half download never looks ready, and the next call resumes it.
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
            return self._download(role, progress)
        except Exception as exc:  # network, disk and Hub errors all end here
            raise ModelNotAvailable(
                f"Could not download the {role} model {source!r}: "
                f"{_why_download_failed(exc)} Files already fetched are kept, and "
                f"`{DOWNLOAD_HINT}` picks up where it stopped."
            ) from exc

    def _download(self, role: str, progress: ProgressCallback | None) -> Path:
        if role == "embedding":
            repo, wanted = MINILM_REPO, ["onnx/model.onnx", *MINILM_TOKENIZER_FILES]
        else:
            repo, wanted = self.source(role), LLM_PATTERNS
        sizes = self._list_files(repo, wanted)
        if not sizes:
            raise ModelNotAvailable(f"The repo {repo!r} holds no model files.")

        final = self.download_folder(role)
        staging = final.with_name(final.name + ".partial")
        total, done = sum(sizes.values()), 0
        for filename, size in sizes.items():
            reporter = _tqdm_reporter(role, filename, done, total, progress)
            self._fetch(repo, filename, staging, reporter)
            done += size
            if progress:
                progress(DownloadProgress(role, filename, done, total))

        if role == "embedding":
            # Chroma's embedder reads the tokenizer files beside model.onnx.
            for name in MINILM_TOKENIZER_FILES:
                os.replace(staging / name, staging / "onnx" / name)
        shutil.rmtree(staging / ".cache", ignore_errors=True)
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging, final)
        return final

    @staticmethod
    def _list_files(repo: str, patterns: list[str]) -> dict[str, int]:
        """{file name: size} of the repo's files that match `patterns`."""
        from huggingface_hub import HfApi

        info = HfApi().model_info(repo, files_metadata=True)
        return {
            s.rfilename: s.size or 0
            for s in sorted(info.siblings, key=lambda s: s.rfilename)
            if any(fnmatch(s.rfilename, p) for p in patterns)
        }

    @staticmethod
    def _fetch(repo: str, filename: str, folder: Path, reporter) -> None:
        """Download one file into `folder`, resuming a partial one."""
        from huggingface_hub import hf_hub_download

        hf_hub_download(repo, filename, local_dir=folder, tqdm_class=reporter)

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
                if adapter_path:
                    raise ModelLoadError(
                        f"The adapter in {adapter_path} could not be loaded onto "
                        f"{path}: {exc}"
                    ) from exc
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

    def unload_adapter(self, adapter_path: Path) -> None:
        """Free the router loaded with this adapter."""
        with self._lock:
            self._loaded.pop(("router", str(adapter_path)), None)

    def embedding_function(self):
        """Chroma's ONNX MiniLM embedder, reading the folder this manager resolved."""
        from .embeddings import LocalMiniLM

        return LocalMiniLM(self.resolve("embedding"))


def _why_download_failed(exc: BaseException) -> str:
    """One plain sentence for the usual ways a download fails."""
    chain, seen = [], exc
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    names = {type(e).__name__ for e in chain}
    if "OfflineModeIsEnabled" in names:
        return "downloads are switched off because HF_HUB_OFFLINE is set; unset it."
    network = {"ConnectError", "ConnectTimeout", "NetworkError", "ReadTimeout"}
    if names & network or any(isinstance(e, ConnectionError) for e in chain):
        return (
            "this Mac is not connected to the internet (huggingface.co can't be "
            "reached)."
        )
    return str(exc).rstrip(". ") + "."


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
