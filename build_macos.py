"""Build Household Assistant.app and a .dmg on a Mac; check the plan anywhere.

    python build_macos.py --check     # any OS: validate the plan, print it
    python build_macos.py --dry-run   # also print the PyInstaller command
    python build_macos.py             # macOS: dist/Household Assistant.app + .dmg

The bundler is PyInstaller (`pip install -e '.[build]'`). Signing is optional:
HOUSEHOLD_ASSISTANT_SIGN_IDENTITY="Developer ID Application: ..." signs with the
hardened runtime (otherwise the app is signed ad hoc, for this Mac only), and
HOUSEHOLD_ASSISTANT_NOTARY_PROFILE=<a `xcrun notarytool store-credentials`
profile> also notarizes and staples the .dmg.

Where the data goes: household_assistant/resources.py looks for resources/ and
training/ two folders above its own file. PyInstaller sets a frozen module's
__file__ to <bundle>/household_assistant/<module>.pyc, so the bundle keeps the
checkout's layout at its top (Contents/Frameworks, linked to Contents/Resources).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.metadata
import importlib.util
import os
import plistlib
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent
APP_NAME = "Household Assistant"
BUNDLE_ID = "app.householdassistant.HouseholdAssistant"
ENTRY_POINT = "household_assistant.gui.app:main"
LAUNCHER = "scripts/macos_launcher.py"  # calls ENTRY_POINT; see its docstring
ICON = "resources/icon.icns"
# MLX's wheels need macOS 14 (ml-explore.github.io/mlx, "Build and Install");
# a newer wheel raises this floor, see _mlx_macos_floor.
MIN_MACOS = "14.0"
SIGN_ENV = "HOUSEHOLD_ASSISTANT_SIGN_IDENTITY"
NOTARY_ENV = "HOUSEHOLD_ASSISTANT_NOTARY_PROFILE"

# (pattern under the root, folder in the bundle): the same relative places.
DATA = (
    ("resources/**/*", "resources"),
    ("training/data/*.jsonl", "training/data"),
    ("training/configs/*.yaml", "training/configs"),
)
# Files the code opens by name (resources.resource(...), dataset.py, gui/app.py).
REQUIRED = (
    "resources/categories.json",
    "resources/prices.json",
    "resources/prompts/answer_system.txt",
    "resources/prompts/router_codes.txt",
    "resources/prompts/router_names.txt",
    "resources/icon.png",
    ICON,
    "training/data/questions.jsonl",
    "training/data/heldout.jsonl",
)

# The note types readers.py reads: suffix -> (Uniform Type Identifier, name).
_MARKDOWN = ("net.daringfireball.markdown", "Markdown Document")
SUFFIX_TYPES = {
    ".txt": ("public.plain-text", "Plain Text"),
    ".md": _MARKDOWN,
    ".markdown": _MARKDOWN,
    ".pdf": ("com.adobe.pdf", "PDF Document"),
    ".docx": ("org.openxmlformats.wordprocessingml.document", "Word Document"),
    ".html": ("public.html", "Web Page"),
    ".htm": ("public.html", "Web Page"),
}
# Markdown is not declared by every macOS release, so the app declares it too.
IMPORTED_TYPES = [
    {
        "UTTypeIdentifier": "net.daringfireball.markdown",
        "UTTypeDescription": "Markdown Document",
        "UTTypeConformsTo": ["public.plain-text"],
        "UTTypeTagSpecification": {
            "public.filename-extension": ["md", "markdown"],
            "public.mime-type": ["text/markdown"],
        },
    }
]

# chromadb picks its API, segment and telemetry modules by name at run time and
# reads migrations/*.sql; mlx_lm imports mlx_lm.models.<model_type> by name, and
# mlx.core's native code imports mlx._reprlib_fix, which no Python import shows.
COLLECT_ALL = ("chromadb",)
COLLECT_SUBMODULES = ("mlx", "mlx_lm")
HIDDEN_IMPORTS = ("chromadb_rust_bindings", "onnxruntime", "PySide6.QtCharts")
EXCLUDES = ("tkinter", "torch", "pytest", "IPython", "chromadb.test")

# Every key the Info.plist must hold, by the type it must have.
_KEYS_BY_TYPE = {
    str: "CFBundleName CFBundleDisplayName CFBundleIdentifier CFBundleExecutable "
    "CFBundleIconFile CFBundlePackageType CFBundleShortVersionString CFBundleVersion "
    "CFBundleInfoDictionaryVersion LSMinimumSystemVersion LSApplicationCategoryType "
    "NSPrincipalClass NSHumanReadableCopyright",
    list: "CFBundleDocumentTypes UTImportedTypeDeclarations LSArchitecturePriority",
    bool: "NSHighResolutionCapable NSRequiresAquaSystemAppearance",
}
REQUIRED_KEYS = {
    key: kind for kind, keys in _KEYS_BY_TYPE.items() for key in keys.split()
}
VERSION_KEYS = "CFBundleShortVersionString CFBundleVersion LSMinimumSystemVersion"


@dataclass
class Plan:
    """What goes where in the bundle, and what is wrong with it."""

    root: Path
    version: str = "0.0.0"
    data: list[tuple[Path, str]] = field(default_factory=list)
    metallib: Path | None = None
    info_plist: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def make_plan(root: Path) -> Plan:
    """Gather and check everything the build needs from the checkout at `root`."""
    plan = Plan(root=root)
    plan.version = _read_version(root, plan.problems)
    _check_entry_point(root, plan)
    _collect_data(root, plan)
    plan.metallib = _find_metallib(plan)
    try:
        from household_assistant.readers import SUPPORTED_SUFFIXES as suffixes
    except ImportError as exc:
        plan.problems.append(
            f"Could not import the note readers ({exc}); run `pip install -e .` first."
        )
        suffixes = frozenset()

    min_macos = max(MIN_MACOS, _mlx_macos_floor(), key=_version_key)
    plan.info_plist = info_plist(plan.version, suffixes, min_macos)
    plan.problems += validate_plist(plan.info_plist, suffixes)
    return plan


def _read_version(root: Path, problems: list[str]) -> str:
    path = root / "pyproject.toml"
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    match = re.search(r'(?m)^\[project\][^\[]*?^version\s*=\s*"([^"]+)"', text)
    if not match:
        problems.append('pyproject.toml has no [project] version = "X.Y.Z" line.')
        return "0.0.0"
    return match[1]


def _check_entry_point(root: Path, plan: Plan) -> None:
    module, func = ENTRY_POINT.split(":")
    path = root.joinpath(*module.split(".")).with_suffix(".py")
    if not path.is_file():
        plan.problems.append(
            f"The entry point {ENTRY_POINT} needs {path.relative_to(root)}, which "
            "does not exist. Create it with a main(argv=None) -> int function."
        )
        return
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except SyntaxError as exc:
        plan.problems.append(f"{path.relative_to(root)} does not parse: {exc}")
        return
    if not any(isinstance(n, ast.FunctionDef) and n.name == func for n in tree.body):
        plan.problems.append(f"{path.relative_to(root)} defines no {func}() function.")
    if not (root / LAUNCHER).is_file():
        plan.problems.append(f"The bundle's launcher {LAUNCHER} is missing.")

    # Importing proves the module loads, where Qt exists and it is this checkout.
    spec = importlib.util.find_spec("household_assistant")
    origin = Path(spec.origin or "") if spec else Path()
    if importlib.util.find_spec("PySide6") is None:
        plan.notes.append(f"Entry point {ENTRY_POINT}: found, not imported (no Qt).")
        return
    if not origin.resolve().is_relative_to(root.resolve()):
        plan.notes.append(f"Entry point {ENTRY_POINT}: found in {root}, not imported.")
        return
    try:
        importlib.import_module(module)
        plan.notes.append(f"Entry point {ENTRY_POINT}: imported.")
    except Exception as exc:
        plan.problems.append(f"Importing {module} failed: {type(exc).__name__}: {exc}")


def _collect_data(root: Path, plan: Plan) -> None:
    for pattern, folder in DATA:
        base = root / pattern.split("/*")[0]
        files = sorted(
            p for p in root.glob(pattern) if p.is_file() and not p.name.startswith(".")
        )
        if not files:
            plan.problems.append(f"No files match {pattern}; the bundle needs them.")
        for path in files:
            parent = path.parent.relative_to(base).as_posix()
            plan.data.append((path, folder if parent == "." else f"{folder}/{parent}"))
    for name in REQUIRED:
        if not (root / name).is_file():
            plan.problems.append(
                f"Missing {name}: the app opens it at run time. Restore it from git "
                "(icons: python scripts/make_icon.py)."
            )
    icns = root / ICON
    if icns.is_file() and not _valid_icns(icns.read_bytes()):
        plan.problems.append(f"{ICON} is not a valid .icns file with a 1024 px PNG.")


def _valid_icns(data: bytes) -> bool:
    if data[:4] != b"icns" or int.from_bytes(data[4:8], "big") != len(data):
        return False
    kinds, offset = {}, 8
    while offset + 8 <= len(data):
        length = int.from_bytes(data[offset + 4 : offset + 8], "big")
        if length < 8:
            return False
        kinds[data[offset : offset + 4]] = data[offset + 8 : offset + 16]
        offset += length
    return offset == len(data) and kinds.get(b"ic10", b"")[:4] == b"\x89PNG"


def _find_metallib(plan: Plan) -> Path | None:
    # mlx is a namespace package (mlx + mlx-metal or mlx-cpu); search every part.
    spec = importlib.util.find_spec("mlx")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "lib" / "mlx.metallib"
        if path.is_file():
            return path
    message = "mlx/lib/mlx.metallib (MLX's Metal kernels) is not installed here"
    if sys.platform == "darwin":
        plan.problems.append(f"{message}; pip install 'mlx>=0.29' on this Mac.")
    else:
        plan.notes.append(f"{message}: macOS only, found at build time.")
    return None


def _mlx_macos_floor() -> str:
    # A wheel tagged macosx_15_0 ships kernels older macOS versions cannot load.
    floor = "0"
    for name in ("mlx-metal", "mlx"):
        try:
            wheel = importlib.metadata.distribution(name).read_text("WHEEL") or ""
        except importlib.metadata.PackageNotFoundError:
            continue
        for major, minor in re.findall(r"macosx_(\d+)_(\d+)", wheel):
            floor = max(floor, f"{major}.{minor}", key=_version_key)
    return floor


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def info_plist(version: str, suffixes: frozenset[str], min_macos: str) -> dict:
    """The app's Info.plist: identity, document types for drops, dark mode."""
    by_type: dict[tuple[str, str], list[str]] = {}
    for suffix in sorted(suffixes & SUFFIX_TYPES.keys()):
        by_type.setdefault(SUFFIX_TYPES[suffix], []).append(suffix.lstrip("."))
    # Alternate: listed under Open With but never the default app for a type.
    documents = [
        {
            "CFBundleTypeName": name,
            "CFBundleTypeRole": "Viewer",
            "LSHandlerRank": "Alternate",
            "LSItemContentTypes": [uti],
            "CFBundleTypeExtensions": extensions,
        }
        for (uti, name), extensions in by_type.items()
    ]
    # Folders can be dropped on the Dock icon; the app never opens them itself.
    documents.append(
        {
            "CFBundleTypeName": "Folder",
            "CFBundleTypeRole": "Viewer",
            "LSHandlerRank": "None",
            "LSItemContentTypes": ["public.folder"],
        }
    )
    return {
        "CFBundleName": APP_NAME,
        "CFBundleDisplayName": APP_NAME,
        "CFBundleIdentifier": BUNDLE_ID,
        "CFBundleExecutable": APP_NAME,
        "CFBundleIconFile": Path(ICON).name,
        "CFBundlePackageType": "APPL",
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "CFBundleInfoDictionaryVersion": "6.0",
        "CFBundleDocumentTypes": documents,
        "UTImportedTypeDeclarations": IMPORTED_TYPES,
        "LSMinimumSystemVersion": min_macos,
        "LSArchitecturePriority": ["arm64"],
        "LSApplicationCategoryType": "public.app-category.productivity",
        "NSHighResolutionCapable": True,
        "NSRequiresAquaSystemAppearance": False,
        "NSPrincipalClass": "NSApplication",
        "NSHumanReadableCopyright": "MIT License",
    }


def validate_plist(plist: dict, suffixes: frozenset[str]) -> list[str]:
    """Problems with `plist`: missing or mistyped keys, uncovered note types."""
    problems = [
        f"Info.plist key {key} should be a {kind.__name__}, found {plist.get(key)!r}."
        for key, kind in REQUIRED_KEYS.items()
        if not isinstance(plist.get(key), kind)
    ]
    problems += [
        f"Info.plist {key} should look like 1.2.3, found {plist.get(key)!r}."
        for key in VERSION_KEYS.split()
        if not re.fullmatch(r"\d+(\.\d+){0,2}", str(plist.get(key)))
    ]
    try:
        if plistlib.loads(plistlib.dumps(plist)) != plist:
            problems.append("Info.plist changes when written and read back.")
    except (TypeError, ValueError, OverflowError) as exc:
        problems.append(f"Info.plist cannot be written as a plist: {exc}")

    for suffix in sorted(suffixes - SUFFIX_TYPES.keys()):
        problems.append(
            f"readers.py reads {suffix} files, but build_macos.py has no type for "
            "them; add the suffix and its type to SUFFIX_TYPES."
        )
    extensions = {
        ext
        for doc in plist.get("CFBundleDocumentTypes", [])
        for ext in doc.get("CFBundleTypeExtensions", [])
    }
    for suffix in sorted(s for s in suffixes if s.lstrip(".") not in extensions):
        problems.append(f"No document type in Info.plist covers {suffix} files.")
    return problems


def pyinstaller_command(plan: Plan, work: Path) -> list[str]:
    """The PyInstaller call that makes dist/<APP_NAME>.app (one folder, windowed)."""
    root = plan.root
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--clean"]
    command += ["--windowed", "--name", APP_NAME, "--target-arch", "arm64"]
    command += ["--osx-bundle-identifier", BUNDLE_ID, "--icon", str(root / ICON)]
    command += ["--distpath", str(root / "dist"), "--workpath", str(work)]
    command += ["--specpath", str(work), "--paths", str(root), "--noupx"]
    for path, folder in plan.data:
        command += ["--add-data", f"{path}:{folder}"]
    metallib = str(plan.metallib or "<mlx/lib/mlx.metallib, found on a Mac>")
    command += ["--add-data", f"{metallib}:mlx/lib"]
    for name in COLLECT_ALL:
        command += ["--collect-all", name]
    for name in COLLECT_SUBMODULES:
        command += ["--collect-submodules", name]
    for name in HIDDEN_IMPORTS:
        command += ["--hidden-import", name]
    for name in EXCLUDES:
        command += ["--exclude-module", name]
    return [*command, str(root / LAUNCHER)]


def print_plan(plan: Plan) -> None:
    plist = plan.info_plist
    print(f"{APP_NAME} {plan.version} ({BUNDLE_ID})")
    print(f"  macOS {plist.get('LSMinimumSystemVersion')}+ on Apple silicon (arm64)")
    for note in plan.notes:
        print(f"  {note}")
    print(f"  Launcher: {LAUNCHER}; icon: {ICON}")
    print("Bundle data (top of the bundle, where household_assistant/resources.py")
    print("looks; PyInstaller keeps it in Contents/Resources, linked from Frameworks):")
    for path, folder in plan.data:
        print(f"  {folder}/{path.name}")
    where = plan.metallib or "(not installed here)"
    print(f"  mlx/lib/mlx.metallib  <- {where}; linked beside every libmlx.dylib")
    print(f"Collected whole: {', '.join(COLLECT_ALL)}; submodules: ", end="")
    print(f"{', '.join(COLLECT_SUBMODULES)}; hidden: {', '.join(HIDDEN_IMPORTS)}")
    print("Document types (drops on the Dock icon):")
    for doc in plist.get("CFBundleDocumentTypes", []):
        types = doc["LSItemContentTypes"] + doc.get("CFBundleTypeExtensions", [])
        print(f"  {doc['CFBundleTypeName']}: {' '.join(types)}")
    signing = os.environ.get(SIGN_ENV) or "ad hoc"
    print(f"Info.plist: {len(plist)} keys, valid; signing: {signing}")


def build(plan: Plan) -> Path:
    """Run PyInstaller, finish the .app (plist, kernels, signature), make the .dmg."""
    if sys.platform != "darwin":
        raise SystemExit("Building needs macOS (codesign, hdiutil); use --check here.")
    if importlib.util.find_spec("PyInstaller") is None:
        raise SystemExit("PyInstaller is not installed: pip install -e '.[build]'.")
    work = plan.root / "build" / "macos"
    subprocess.run(pyinstaller_command(plan, work), check=True)
    app = plan.root / "dist" / f"{APP_NAME}.app"

    # PyInstaller writes a minimal plist; ours adds document types, dark mode...
    plist_path = app / "Contents" / "Info.plist"
    merged = plistlib.loads(plist_path.read_bytes()) | plan.info_plist
    plist_path.write_bytes(plistlib.dumps(merged))
    icon = app / "Contents" / "Resources" / Path(ICON).name
    if not icon.exists():
        shutil.copy2(plan.root / ICON, icon)
    _link_metallib(app)
    _sign(app, work)
    subprocess.run(
        [str(app / "Contents" / "MacOS" / APP_NAME), "--self-test"], check=True
    )
    return _make_dmg(plan, app, work)


def _link_metallib(app: Path) -> None:
    # MLX looks for mlx.metallib beside the libmlx.dylib it was loaded from, and
    # PyInstaller may load it from the top-level link rather than mlx/lib/.
    frameworks = app / "Contents" / "Frameworks"
    kernels = (frameworks / "mlx" / "lib" / "mlx.metallib").resolve()
    for lib in frameworks.rglob("libmlx.dylib"):
        beside = lib.parent / "mlx.metallib"
        if not beside.exists():
            beside.symlink_to(os.path.relpath(kernels, lib.parent))


def _sign(app: Path, work: Path) -> None:
    identity = os.environ.get(SIGN_ENV, "")
    command = ["codesign", "--force", "--deep", "--sign", identity or "-"]
    if identity:
        # Python's ctypes/cffi callbacks need writable code pages at run time.
        entitlements = work / "entitlements.plist"
        key = "com.apple.security.cs.allow-unsigned-executable-memory"
        entitlements.write_bytes(plistlib.dumps({key: True}))
        command += ["--options", "runtime", "--timestamp"]
        command += ["--entitlements", str(entitlements)]
    subprocess.run([*command, str(app)], check=True)
    subprocess.run(["codesign", "--verify", "--deep", "--strict", str(app)], check=True)


def _make_dmg(plan: Plan, app: Path, work: Path) -> Path:
    stage = work / "dmg"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    shutil.copytree(app, stage / app.name, symlinks=True)
    (stage / "Applications").symlink_to("/Applications")
    dmg = plan.root / "dist" / f"{APP_NAME.replace(' ', '-')}-{plan.version}.dmg"
    subprocess.run(
        ["hdiutil", "create", "-volname", APP_NAME, "-srcfolder", str(stage)]
        + ["-ov", "-format", "UDZO", str(dmg)],
        check=True,
    )
    identity, profile = os.environ.get(SIGN_ENV), os.environ.get(NOTARY_ENV)
    if identity:
        subprocess.run(["codesign", "--sign", identity, str(dmg)], check=True)
    if identity and profile:
        notarize = ["xcrun", "notarytool", "submit", str(dmg), "--wait"]
        subprocess.run([*notarize, "--keychain-profile", profile], check=True)
        subprocess.run(["xcrun", "stapler", "staple", str(dmg)], check=True)
    return dmg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="validate, print the plan")
    mode.add_argument("--dry-run", action="store_true", help="also print the command")
    args = parser.parse_args(argv)

    plan = make_plan(ROOT)
    print_plan(plan)
    if args.dry_run:
        print(shlex.join(pyinstaller_command(plan, ROOT / "build" / "macos")))
    if plan.problems:
        print(f"\nThe build plan has {len(plan.problems)} problem(s):", file=sys.stderr)
        for problem in plan.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    if args.check or args.dry_run:
        print("\nCheck passed.")
        return 0
    print(f"\nBuilt {build(plan)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
