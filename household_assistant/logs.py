"""One rotated log file in the data folder."""

from __future__ import annotations

import logging
import logging.handlers
import os
from pathlib import Path

LOG_FILE = "household-assistant.log"


def setup_logging(home: Path, verbose: bool = False) -> Path:
    """Send this package's logs to a rotated file, and warnings to stderr.

    Safe to call more than once; later calls replace the handlers.
    """
    path = home / LOG_FILE
    root = logging.getLogger("household_assistant")
    root.setLevel(logging.DEBUG)
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()

    file_handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
    )
    file_handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root.addHandler(file_handler)

    console = logging.StreamHandler()
    console.setLevel(logging.DEBUG if verbose else logging.WARNING)
    console.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    root.addHandler(console)
    root.propagate = False

    # Chroma and transformers are chatty at import; keep their noise out of the CLI.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    logging.getLogger("chromadb").setLevel(logging.WARNING)
    return path
