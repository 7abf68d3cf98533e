"""build_macos.py: the plan it checks on any OS, the Info.plist, the icon, the launcher.

The .app itself can only be built on a Mac; what is tested here is everything
that decides what goes into it, and `--check`, which CI runs on Linux.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import build_macos
from household_assistant import resources
from household_assistant.readers import SUPPORTED_SUFFIXES

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HF_HUB_OFFLINE": "1"}
# Apple's ICNS chunk types for PNG data and the pixel size each must hold.
ICNS_SIZES = {
    b"icp4": 16,
    b"icp5": 32,
    b"ic11": 32,
    b"ic12": 64,
    b"ic07": 128,
    b"ic13": 256,
    b"ic08": 256,
    b"ic14": 512,
    b"ic09": 512,
    b"ic10": 1024,
}


def _run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *map(str, args)],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _fake_checkout(tmp_path: Path, with_entry_point: bool = True) -> Path:
    """A copy of what the build reads, with a stand-in GUI module."""
    root = tmp_path / "checkout"
    for folder in ("resources", "training"):
        shutil.copytree(ROOT / folder, root / folder)
    (root / "scripts").mkdir()
    shutil.copy2(ROOT / build_macos.LAUNCHER, root / build_macos.LAUNCHER)
    shutil.copy2(ROOT / "pyproject.toml", root / "pyproject.toml")
    gui = root / "household_assistant" / "gui"
    gui.mkdir(parents=True)
    if with_entry_point:
        (gui / "app.py").write_text("def main(argv=None):\n    return 0\n")
    return root


def _png_size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def _icns_chunks(data: bytes) -> dict[bytes, bytes]:
    chunks, offset = {}, 8
    while offset < len(data):
        length = int.from_bytes(data[offset + 4 : offset + 8], "big")
        chunks[data[offset : offset + 4]] = data[offset + 8 : offset + length]
        offset += length
    return chunks


# --- the command CI runs ---------------------------------------------------------


def test_check_passes_and_prints_the_plan():
    result = _run("build_macos.py", "--check")

    assert result.returncode == 0, result.stderr
    assert "Check passed." in result.stdout
    for line in (
        "resources/categories.json",
        "resources/prompts/router_codes.txt",
        "training/data/questions.jsonl",
        "training/configs/qwen3-0.6b.yaml",
        "mlx/lib/mlx.metallib",
        "public.folder",
        build_macos.BUNDLE_ID,
    ):
        assert line in result.stdout


def test_dry_run_prints_a_pyinstaller_command():
    result = _run("build_macos.py", "--dry-run")

    assert result.returncode == 0, result.stderr
    assert "-m PyInstaller" in result.stdout
    assert "--osx-bundle-identifier " + build_macos.BUNDLE_ID in result.stdout


# --- what goes where ---------------------------------------------------------------


def test_bundle_puts_data_where_the_code_looks_for_it():
    plan = build_macos.make_plan(ROOT)
    folders = {folder for _, folder in plan.data}

    # In the bundle resources.ROOT is the bundle's top, so each data folder must
    # sit at the same path relative to it as in the checkout.
    assert resources.RESOURCES.relative_to(resources.ROOT).as_posix() in folders
    assert resources.TRAINING_DATA.relative_to(resources.ROOT).as_posix() in folders
    for path, folder in plan.data:
        assert path.parent.relative_to(ROOT).as_posix() == folder


def test_pyinstaller_command_carries_every_file_and_the_dynamic_imports(tmp_path):
    plan = build_macos.make_plan(ROOT)
    command = build_macos.pyinstaller_command(plan, tmp_path)

    pairs = {command[i + 1] for i, arg in enumerate(command) if arg == "--add-data"}
    for path, folder in plan.data:
        assert f"{path}:{folder}" in pairs
    assert any(pair.endswith(":mlx/lib") for pair in pairs)
    collected = {command[i + 1] for i, a in enumerate(command) if a.startswith("--col")}
    assert {"chromadb", "mlx", "mlx_lm"} <= collected
    assert "--windowed" in command
    assert command[-1] == str(ROOT / build_macos.LAUNCHER)


def test_a_missing_resource_fails_the_check_with_its_name(tmp_path):
    root = _fake_checkout(tmp_path)
    # Complete, bar MLX's kernels on a Mac without mlx installed.
    assert [
        p for p in build_macos.make_plan(root).problems if "metallib" not in p
    ] == []

    (root / "resources" / "prompts" / "router_codes.txt").unlink()
    problems = build_macos.make_plan(root).problems

    assert any("Missing resources/prompts/router_codes.txt" in p for p in problems)


def test_a_missing_entry_point_fails_the_check(tmp_path):
    root = _fake_checkout(tmp_path, with_entry_point=False)

    problems = build_macos.make_plan(root).problems

    assert any(
        "household_assistant/gui/app.py" in p and "does not exist" in p
        for p in problems
    )


def test_main_exits_non_zero_and_says_why(tmp_path, monkeypatch, capsys):
    root = _fake_checkout(tmp_path)
    (root / "training" / "data" / "heldout.jsonl").unlink()
    monkeypatch.setattr(build_macos, "ROOT", root)

    assert build_macos.main(["--check"]) == 1
    assert "Missing training/data/heldout.jsonl" in capsys.readouterr().err


def test_a_damaged_icon_fails_the_check(tmp_path):
    root = _fake_checkout(tmp_path)
    icns = root / build_macos.ICON
    icns.write_bytes(icns.read_bytes()[:-100])

    problems = build_macos.make_plan(root).problems

    assert any("not a valid .icns" in p for p in problems)


# --- Info.plist -------------------------------------------------------------------


@pytest.fixture
def plist() -> dict:
    return build_macos.info_plist("1.2.3", SUPPORTED_SUFFIXES, "14.0")


def test_plist_has_every_required_key_and_round_trips(plist):
    for key, kind in build_macos.REQUIRED_KEYS.items():
        assert isinstance(plist[key], kind), key
    assert plistlib.loads(plistlib.dumps(plist)) == plist
    assert build_macos.validate_plist(plist, SUPPORTED_SUFFIXES) == []

    assert plist["CFBundleShortVersionString"] == "1.2.3"
    assert plist["NSRequiresAquaSystemAppearance"] is False
    assert plist["NSHighResolutionCapable"] is True


def test_document_types_cover_every_suffix_the_importer_reads(plist):
    documents = plist["CFBundleDocumentTypes"]
    extensions = {e for doc in documents for e in doc.get("CFBundleTypeExtensions", [])}
    content_types = {t for doc in documents for t in doc["LSItemContentTypes"]}

    assert {s.lstrip(".") for s in SUPPORTED_SUFFIXES} <= extensions
    assert "public.folder" in content_types
    # Never the default app for .txt or .pdf: only under Open With, and drops.
    assert {doc["LSHandlerRank"] for doc in documents} <= {"Alternate", "None"}


def test_the_markdown_type_is_declared_with_its_extensions(plist):
    declared = {t["UTTypeIdentifier"]: t for t in plist["UTImportedTypeDeclarations"]}
    markdown = [
        s for s in SUPPORTED_SUFFIXES if build_macos.SUFFIX_TYPES[s][0] in declared
    ]

    tags = declared["net.daringfireball.markdown"]["UTTypeTagSpecification"]
    assert sorted(s.lstrip(".") for s in markdown) == sorted(
        tags["public.filename-extension"]
    )


def test_validate_plist_names_what_is_wrong(plist):
    del plist["CFBundleIdentifier"]
    plist["NSHighResolutionCapable"] = "yes"
    plist["CFBundleVersion"] = "one"

    problems = build_macos.validate_plist(plist, SUPPORTED_SUFFIXES | {".rtf"})
    text = "\n".join(problems)

    assert "CFBundleIdentifier should be a str" in text
    assert "NSHighResolutionCapable should be a bool" in text
    assert "CFBundleVersion should look like 1.2.3" in text
    assert "readers.py reads .rtf files" in text


# --- the icon and the launcher ----------------------------------------------------


def test_the_shipped_icon_is_a_complete_icns_and_a_1024_png():
    data = (ROOT / build_macos.ICON).read_bytes()
    chunks = _icns_chunks(data)

    assert build_macos._valid_icns(data)
    assert {kind: _png_size(png)[0] for kind, png in chunks.items()} == ICNS_SIZES
    assert _png_size((ROOT / "resources" / "icon.png").read_bytes()) == (1024, 1024)


def test_make_icon_writes_valid_icons(tmp_path):
    result = _run("scripts/make_icon.py", "--out", tmp_path)

    assert result.returncode == 0, result.stderr
    data = (tmp_path / "icon.icns").read_bytes()
    assert build_macos._valid_icns(data)
    for kind, png in _icns_chunks(data).items():
        assert _png_size(png) == (ICNS_SIZES[kind],) * 2


def test_launcher_sends_module_arguments_to_the_cli():
    # The Trainer tab runs `sys.executable -m household_assistant train ...`;
    # in the bundle that executable is this launcher.
    result = _run(build_macos.LAUNCHER, "-m", "household_assistant", "--version")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == build_macos._read_version(ROOT, [])


def test_launcher_self_test_passes_from_the_checkout():
    result = _run(build_macos.LAUNCHER, "--self-test")

    assert result.returncode == 0, result.stderr
    assert "self-test passed" in result.stdout
