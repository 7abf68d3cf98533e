"""The first Python code the frozen Household Assistant.app runs.

With no arguments it opens the window (`household_assistant.gui.app:main`).
The Trainer tab starts training as `sys.executable -m household_assistant
train ...`; in the bundle `sys.executable` is the app itself, so arguments that
begin with `-m household_assistant` go to the command line interface instead.
`--self-test` loads what the bundle must carry (MLX's Metal kernels, Chroma's
native store, QtCharts, the shipped data); build_macos.py runs it after a build.

It also runs from a checkout: `python scripts/macos_launcher.py --self-test`.
"""

from __future__ import annotations

import multiprocessing
import sys
import tempfile
from pathlib import Path

CLI_PREFIX = ["-m", "household_assistant"]
SELF_TEST = "--self-test"


class SelfTestFailed(Exception):
    pass


def _check(ok: bool, what: str) -> None:
    if not ok:
        raise SelfTestFailed(what)


def _test_mlx() -> None:
    import mlx.core as mx

    if sys.platform == "darwin":
        _check(mx.metal.is_available(), "MLX sees no Metal GPU.")
        mx.set_default_device(mx.gpu)
    # The first GPU kernel loads mlx.metallib; a missing one fails right here.
    total = mx.sum(mx.arange(10) * 2).item()
    _check(total == 90, f"MLX computed {total} for a sum that is 90.")


def _test_chroma() -> None:
    from household_assistant.store import open_client

    with tempfile.TemporaryDirectory() as home:
        client = open_client(Path(home))
        collection = client.get_or_create_collection("self-test")
        collection.add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]])
        found = collection.query(query_embeddings=[[0.1, 0.9]], n_results=1)
        _check(found["ids"] == [["b"]], f"Chroma returned {found['ids']}, not b.")
    import onnxruntime  # noqa: F401  (the embedder runs on it)


def _test_data() -> None:
    from household_assistant.prompts import prompt_text
    from household_assistant.resources import TRAINING_DATA, resource

    for path in (resource("categories.json"), TRAINING_DATA / "questions.jsonl"):
        _check(path.is_file(), f"{path} is missing from the bundle.")
    _check(bool(prompt_text("answer_system")), "The answer prompt is empty.")


def self_test() -> int:
    """Exercise the bundle's native parts and data; 0 when all of it works."""
    try:
        from PySide6 import QtCharts  # noqa: F401  (the Trainer tab's charts)

        for test in (_test_mlx, _test_chroma, _test_data):
            test()
    except SelfTestFailed as exc:
        print(f"self-test failed: {exc}", file=sys.stderr)
        return 1
    except ImportError as exc:
        # A module the bundle should carry is missing: name it, with its cause.
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        print(f"self-test failed: {exc}{cause}", file=sys.stderr)
        return 1
    print("self-test passed")
    return 0


def main(argv: list[str]) -> int:
    args = argv[1:]
    if args[: len(CLI_PREFIX)] == CLI_PREFIX:
        from household_assistant.cli import main as cli_main

        return cli_main(args[len(CLI_PREFIX) :])
    if args == [SELF_TEST]:
        return self_test()

    from household_assistant.gui.app import main as gui_main

    return gui_main()


if __name__ == "__main__":
    # A frozen app that (or whose libraries) use multiprocessing needs this first.
    multiprocessing.freeze_support()
    sys.exit(main(sys.argv))
