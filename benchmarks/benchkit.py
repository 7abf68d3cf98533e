"""What the benchmark scripts share: model paths, questions, statistics, output.

Benchmarks compare two ways of doing one job inside a single run, so every
figure they print that matters is a ratio; absolute times only set the scale.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

# Set before mlx-lm or huggingface-hub are imported: benchmarks never download.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

ROOT = Path(__file__).resolve().parent.parent
SHARED_MODELS = ROOT.parent / "shared" / "models"
TOKENIZER_DIR = SHARED_MODELS / "qwen3-tokenizer"
MINILM_DIR = SHARED_MODELS / "all-MiniLM-L6-v2"
HELDOUT = ROOT / "training" / "data" / "heldout.jsonl"

# The random Qwen3 the model benchmarks build: bigger than the test model so a
# pass costs more than Python overhead, small enough for 2 CPU cores.
SMALL_QWEN3 = dict(
    hidden_size=256,
    num_hidden_layers=4,
    intermediate_size=768,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=64,
)


def heldout_questions(home: Path, count: int):
    """`count` held-out questions spread evenly over the file (it is grouped
    by category), as LabelledQuestion rows with their category code."""
    from household_assistant.categories import CategoryBook
    from household_assistant.dataset import read_jsonl

    rows = read_jsonl(HELDOUT, CategoryBook.load(home))
    picks = np.linspace(0, len(rows) - 1, num=min(count, len(rows)))
    return [rows[int(round(i))] for i in picks]


def timed(call: Callable, *args, **kwargs) -> tuple[float, object]:
    """Milliseconds one call took, and what it returned."""
    started = time.perf_counter()
    result = call(*args, **kwargs)
    return (time.perf_counter() - started) * 1000, result


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else float("nan")


def print_table(headers: Sequence[str], rows: Sequence[Sequence]) -> None:
    """A plain fixed-width table; floats get two decimals."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h)
        for i, h in enumerate(headers)
    ]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))
    print(line)
    print("-" * len(line))
    for row in cells:
        first, *rest = row
        right = [c.rjust(w) for c, w in zip(rest, widths[1:], strict=True)]
        print("  ".join([first.ljust(widths[0]), *right]))


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_summary(summary: dict) -> None:
    """The last line every benchmark prints: one JSON object, 4 significant
    digits per float."""
    plain = {
        k: v.item() if isinstance(v, np.generic) else v for k, v in summary.items()
    }
    rounded = {
        k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in plain.items()
    }
    print(json.dumps(rounded))
