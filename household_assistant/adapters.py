"""Versioned router adapters in the data folder, and which one is active.

Layout, under `<data folder>/adapters/`:

    v1/, v2/, ...        one folder per finished training run: mlx-lm's
                         adapters.safetensors and adapter_config.json, the
                         reports, the training config and the data fingerprint
    .partial-<pid>-<id>/ a run in progress; renamed to vN only when complete
    active.json          {"active": "v2", "history": ["v1"]}, replaced atomically
    training.lock        held (flock) by the run in progress

A run that is cancelled, crashes or is killed leaves only a `.partial-*`
folder, which is never listed and is removed by the next run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import AdapterError, TrainingError

logger = logging.getLogger(__name__)

ADAPTERS_DIR = "adapters"
ACTIVE_FILE = "active.json"
LOCK_FILE = "training.lock"
WEIGHTS_FILE = "adapters.safetensors"
CONFIG_FILE = "adapter_config.json"
REPORT_FILE = "report.json"
PARTIAL_PREFIX = ".partial-"
_VERSION_RE = re.compile(r"^v(\d+)$")


@dataclass(frozen=True)
class AdapterVersion:
    """One finished training run."""

    version: str
    path: Path
    created_at: str = ""
    heldout_accuracy: float | None = None
    corrections_accuracy: float | None = None
    promoted: bool | None = None  # what the automatic check decided
    reason: str = ""

    @property
    def number(self) -> int:
        return int(self.version[1:])

    def to_dict(self) -> dict:
        return {
            "version": self.version,
            "path": str(self.path),
            "created_at": self.created_at,
            "heldout_accuracy": self.heldout_accuracy,
            "corrections_accuracy": self.corrections_accuracy,
            "promoted": self.promoted,
            "reason": self.reason,
        }


def _write_json_atomic(path: Path, payload: dict) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class AdapterStore:
    """The adapter versions of one data folder.

    Args:
        home: The data folder.
    """

    def __init__(self, home: Path):
        self.root = home / ADAPTERS_DIR

    # --- versions ------------------------------------------------------------

    def versions(self) -> list[AdapterVersion]:
        """Finished versions, oldest first."""
        if not self.root.is_dir():
            return []
        found = [
            self._describe(path)
            for path in self.root.iterdir()
            if path.is_dir() and _VERSION_RE.match(path.name)
        ]
        return sorted(found, key=lambda v: v.number)

    def get(self, version: str) -> AdapterVersion:
        name = version if version.startswith("v") else f"v{version}"
        path = self.root / name
        if not _VERSION_RE.match(name) or not path.is_dir():
            known = ", ".join(v.version for v in self.versions()) or "none yet"
            raise AdapterError(
                f"There is no adapter {version!r}. Versions: {known}. "
                "Train one with `household-assistant train`."
            )
        return self._describe(path)

    def _describe(self, path: Path) -> AdapterVersion:
        try:
            report = json.loads((path / REPORT_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            report = {}
        scores = report.get("scores", {}).get("new", {})
        decision = report.get("promotion", {})
        return AdapterVersion(
            version=path.name,
            path=path,
            created_at=report.get("created_at", ""),
            heldout_accuracy=scores.get("heldout"),
            corrections_accuracy=scores.get("corrections"),
            promoted=decision.get("promote"),
            reason=decision.get("reason", ""),
        )

    def check(self, version: AdapterVersion) -> None:
        """Raise AdapterError unless the version's files can be read."""
        import mlx.core as mx

        try:
            config = json.loads((version.path / CONFIG_FILE).read_text("utf-8"))
            if not isinstance(config.get("lora_parameters"), dict):
                raise ValueError("adapter_config.json has no lora_parameters")
            weights = mx.load(str(version.path / WEIGHTS_FILE))
            if not weights:
                raise ValueError("adapters.safetensors holds no weights")
        except Exception as exc:
            raise AdapterError(
                f"Adapter {version.version} in {version.path} is damaged ({exc}). "
                "Activate another version, roll back, or train again."
            ) from exc

    # --- the active pointer ----------------------------------------------------

    def _pointer(self) -> dict:
        path = self.root / ACTIVE_FILE
        if not path.exists():
            return {"active": None, "history": []}
        try:
            pointer = json.loads(path.read_text(encoding="utf-8"))
            return {
                "active": pointer.get("active"),
                "history": list(pointer.get("history", [])),
            }
        except (OSError, ValueError, AttributeError) as exc:
            logger.warning("Ignoring unreadable %s: %s", path, exc)
            return {"active": None, "history": []}

    def active(self) -> AdapterVersion | None:
        """The active version, or None when the kNN router should route."""
        name = self._pointer()["active"]
        if not name:
            return None
        try:
            return self.get(name)
        except AdapterError:
            logger.warning("The active adapter %s no longer exists", name)
            return None

    def history(self) -> list[str]:
        """Previously active versions, most recent last."""
        return self._pointer()["history"]

    def activate(self, version: str) -> AdapterVersion:
        """Make `version` the active router, after checking its files."""
        chosen = self.get(version)
        self.check(chosen)
        pointer = self._pointer()
        if pointer["active"] == chosen.version:
            return chosen
        history = [v for v in pointer["history"] if v != chosen.version]
        if pointer["active"]:
            history.append(pointer["active"])
        self.root.mkdir(parents=True, exist_ok=True)
        _write_json_atomic(
            self.root / ACTIVE_FILE, {"active": chosen.version, "history": history}
        )
        logger.info("Active adapter is now %s", chosen.version)
        return chosen

    def rollback(self) -> AdapterVersion | None:
        """Go back to the previously active version (or to kNN when none is left).

        Returns:
            The version now active, or None for kNN.
        """
        pointer = self._pointer()
        if not pointer["active"]:
            raise AdapterError("No adapter is active, so there is nothing to undo.")
        history = pointer["history"]
        while history:
            name = history.pop()
            try:
                candidate = self.get(name)
                self.check(candidate)
            except AdapterError as exc:
                logger.warning("Skipping %s while rolling back: %s", name, exc)
                continue
            _write_json_atomic(
                self.root / ACTIVE_FILE, {"active": name, "history": history}
            )
            return candidate
        _write_json_atomic(self.root / ACTIVE_FILE, {"active": None, "history": []})
        return None

    def fallbacks(self) -> list[AdapterVersion]:
        """Versions to try, in order, if the active one fails to load."""
        out = []
        for name in reversed(self.history()):
            with contextlib.suppress(AdapterError):
                out.append(self.get(name))
        return out

    # --- writing a new version -----------------------------------------------

    def clean_partials(self) -> int:
        """Remove folders left by runs that were killed; returns how many."""
        removed = 0
        if not self.root.is_dir():
            return 0
        for path in self.root.glob(f"{PARTIAL_PREFIX}*"):
            try:
                pid = int(path.name[len(PARTIAL_PREFIX) :].split("-")[0])
            except ValueError:
                pid = -1
            if pid != os.getpid() and pid > 0 and _pid_alive(pid):
                continue  # another run is still writing it
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
        if removed:
            logger.info("Removed %d unfinished adapter folder(s)", removed)
        return removed

    @contextlib.contextmanager
    def training_lock(self) -> Iterator[None]:
        """Held for a whole training run, so two runs never race for a version."""
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / LOCK_FILE, "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                holder = handle.read().strip() or "another process"
                raise TrainingError(
                    f"Another training run is in progress (pid {holder}). Wait for "
                    "it to finish, or cancel it, then try again."
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def next_version(self) -> str:
        numbers = [v.number for v in self.versions()]
        return f"v{max(numbers, default=0) + 1}"

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A private folder for a run; removed unless `finish` renamed it."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"{PARTIAL_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        path.mkdir()
        try:
            yield path
        finally:
            if path.exists():
                shutil.rmtree(path, ignore_errors=True)

    def finish(self, staged: Path, version: str) -> AdapterVersion:
        """Publish a staged folder as `version` with one rename."""
        target = self.root / version
        if target.exists():
            raise AdapterError(f"Adapter {version} already exists; not replacing it.")
        os.replace(staged, target)
        return self._describe(target)
