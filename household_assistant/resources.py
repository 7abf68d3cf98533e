"""Files the app ships in resources/ and training/."""

from __future__ import annotations

from pathlib import Path

# Source checkouts and editable installs keep resources/ beside the package;
# the macOS bundle copies it to the same relative place.
ROOT = Path(__file__).resolve().parent.parent
RESOURCES = ROOT / "resources"
TRAINING_DATA = ROOT / "training" / "data"


def resource(name: str) -> Path:
    return RESOURCES / name
