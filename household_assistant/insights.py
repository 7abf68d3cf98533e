"""What the household's questions add up to: usage, router accuracy, savings.

Everything is computed from the feedback store (one row per question asked, with
its route, thumbs, corrections, timings and token counts) and an editable price
table, `prices.json` in the data folder.

How the numbers are defined:

- Router accuracy counts only questions a router decided (not a category the
  user picked) that were *rated*: they got a thumbs-up or -down, or a
  correction. A rated question is wrong when its latest correction names
  another category, and right otherwise: the app asks "which category should
  it have been?" through a correction, so a thumbs-down without one judges the
  answer, not the route.
- The correction rate is corrected questions out of all router-decided ones,
  rated or not.
- Tokens are counted on this Mac: the router's prompt (zero for the kNN
  router, which runs no language model), the answer prompt and the answer. The
  API estimate prices router and prompt tokens as input and answer tokens as
  output, at the table's dollars per million tokens.
- The category filter does not make prompts shorter: searched or not, the
  answer model reads the top-k chunks. What it changes is which chunks those
  are. After each answer, the same question is also searched across every
  note; the tokens of the chunks in that unfiltered top-k that come from
  categories outside the searched ones are the "off-topic tokens kept out" of
  that prompt.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .feedback import FeedbackStore, QuestionStats
from .resources import resource
from .store import Hit

logger = logging.getLogger(__name__)

PRICES_FILE = "prices.json"
PER_TOKENS = 1_000_000  # prices are per million tokens
_FIX = "Fix it, or delete it to get the list prices back."


@dataclass(frozen=True)
class Price:
    """A hosted API's list price, in dollars per million tokens."""

    name: str
    input: float
    output: float


@dataclass(frozen=True)
class ApiCost:
    """What the counted tokens would have cost on one API."""

    price: Price
    dollars: float


@dataclass(frozen=True)
class Insights:
    """The numbers the Insights tab shows; None where nothing was measured."""

    questions: int  # every question asked, chosen categories included
    routed: int  # questions a router decided
    rated: int  # routed questions with a thumbs or a correction
    right: int  # rated questions without a correction to another category
    corrected: int  # routed questions corrected to another category
    median_route_ms: float | None
    median_answer_ms: float | None  # from the first answer token to the last
    median_first_token_ms: float | None
    counted: int  # questions whose tokens were recorded
    router_tokens: int
    prompt_tokens: int
    answer_tokens: int
    off_topic_counted: int  # questions where the unfiltered search was run
    off_topic_tokens: int
    costs: list[ApiCost]

    @property
    def accuracy(self) -> float | None:
        return self.right / self.rated if self.rated else None

    @property
    def correction_rate(self) -> float | None:
        return self.corrected / self.routed if self.routed else None

    @property
    def input_tokens(self) -> int:
        return self.router_tokens + self.prompt_tokens

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.answer_tokens


# --- the price table ---------------------------------------------------------


def default_prices() -> list[Price]:
    path = resource(PRICES_FILE)
    return _parse_prices(_read_json(path), path)


def prices_path(home: Path) -> Path:
    return home / PRICES_FILE


def load_prices(home: Path) -> list[Price]:
    """The data folder's price table, created from the shipped defaults."""
    path = prices_path(home)
    if not path.exists():
        save_prices(home, default_prices())
    return _parse_prices(_read_json(path), path)


def save_prices(home: Path, prices: Sequence[Price]) -> Path:
    """Check and write the price table atomically; returns its path."""
    path = prices_path(home)
    data = {
        "about": _read_json(resource(PRICES_FILE)).get("about", ""),
        "prices": [
            {"name": p.name, "input": p.input, "output": p.output} for p in prices
        ],
    }
    _parse_prices(data, path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"Could not read the price table {path}: {exc}. {_FIX}"
        ) from exc


def _parse_prices(data: Any, path: Path) -> list[Price]:
    rows = data.get("prices") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        raise ConfigError(
            f'The price table {path} should be an object with a "prices" list; '
            f"found {type(data).__name__}. {_FIX}"
        )
    return [_price(row, n, path) for n, row in enumerate(rows, 1)]


def _price(row: Any, number: int, path: Path) -> Price:
    where = f"Row {number} of the price table {path}"
    if not isinstance(row, dict):
        raise ConfigError(f"{where} should be an object; found {row!r}. {_FIX}")
    name = row.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where} needs a name; found {name!r}. {_FIX}")
    values = []
    for key in ("input", "output"):
        value = row.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(
                f"{where} ({name}): '{key}' should be dollars per million tokens, "
                f"0 or more; found {value!r}. {_FIX}"
            )
        values.append(float(value))
    return Price(name.strip(), *values)


def estimate_costs(
    input_tokens: int, output_tokens: int, prices: Iterable[Price]
) -> list[ApiCost]:
    """Dollars the tokens would cost at each price."""
    return [
        ApiCost(p, (input_tokens * p.input + output_tokens * p.output) / PER_TOKENS)
        for p in prices
    ]


# --- the numbers ---------------------------------------------------------------


def compute(feedback: FeedbackStore, prices: Sequence[Price]) -> Insights:
    """Insights over every question in the feedback store."""
    return summarise(feedback.question_stats(), prices)


def summarise(rows: Sequence[QuestionStats], prices: Sequence[Price]) -> Insights:
    """Insights over recorded questions (see the module docstring)."""
    routed = [r for r in rows if r.router != "manual"]
    rated = [r for r in routed if r.thumbs is not None or r.corrected_code]
    wrong = [r for r in rated if _corrected(r)]
    with_usage = [r.usage for r in rows if r.usage is not None]
    off_topic = [
        u["off_topic_tokens"]
        for u in with_usage
        if u.get("off_topic_tokens") is not None
    ]

    tokens = {
        key: sum(int(u.get(key) or 0) for u in with_usage)
        for key in ("router_tokens", "prompt_tokens", "answer_tokens")
    }
    return Insights(
        questions=len(rows),
        routed=len(routed),
        rated=len(rated),
        right=len(rated) - len(wrong),
        corrected=sum(1 for r in routed if _corrected(r)),
        median_route_ms=_median(r.timings.get("route_ms") for r in routed),
        median_answer_ms=_median(r.timings.get("generate_ms") for r in rows),
        median_first_token_ms=_median(r.timings.get("first_token_ms") for r in rows),
        counted=len(with_usage),
        off_topic_counted=len(off_topic),
        off_topic_tokens=sum(off_topic),
        costs=estimate_costs(
            tokens["router_tokens"] + tokens["prompt_tokens"],
            tokens["answer_tokens"],
            prices,
        ),
        **tokens,
    )


def _corrected(row: QuestionStats) -> bool:
    # A "correction" to the category it already had confirms the route.
    return row.corrected_code is not None and row.corrected_code != row.code


def _median(values: Iterable[float | None]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return statistics.median(present) if present else None


def off_topic_tokens(
    tokenizer: Any, unfiltered: Sequence[Hit], codes: Sequence[str]
) -> int:
    """Tokens of the chunks in an unfiltered search's top-k that come from
    categories outside `codes` (the ones actually searched).

    Args:
        tokenizer: The answering model's tokenizer, which counted the prompt.
        unfiltered: The top-k chunks of the same question over every note.
        codes: The searched categories; empty means every note was searched.
    """
    if not codes:
        return 0
    outside = [hit.text for hit in unfiltered if hit.code not in set(codes)]
    return sum(len(tokenizer.encode(t, add_special_tokens=False)) for t in outside)
