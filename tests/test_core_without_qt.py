"""The core must import and run with Qt absent; only gui/ may need PySide6."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import household_assistant

SCRIPT = """
import importlib, sys
sys.modules["PySide6"] = None  # any "import PySide6..." now raises ImportError
for name in {names!r}:
    importlib.import_module(name)
from household_assistant.cli import main
raise SystemExit(main(["--version"]))
"""


def test_every_core_module_imports_with_pyside6_blocked():
    names = [
        m.name
        for m in pkgutil.walk_packages(
            household_assistant.__path__, "household_assistant."
        )
        if ".gui" not in m.name and m.name != "household_assistant.__main__"
    ]
    assert "household_assistant.assistant" in names and len(names) > 15

    result = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(names=names)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == household_assistant.__version__
