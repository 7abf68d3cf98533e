"""Labelled questions: the bundled data set and the household's corrections."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .categories import CategoryBook, normalize_name
from .errors import CategoryError, HouseholdError
from .resources import TRAINING_DATA, resource

logger = logging.getLogger(__name__)

QUESTIONS_FILE = "questions.jsonl"
HELDOUT_FILE = "heldout.jsonl"


@dataclass(frozen=True)
class LabelledQuestion:
    question: str
    code: str  # category code; stable across renames
    group_id: str = ""
    source: str = "bundled"  # "bundled", "correction" or a file name


@cache
def _bundled_codes() -> dict[str, str]:
    # Bundled files name categories as shipped; renames only change the display.
    raw = json.loads(resource("categories.json").read_text(encoding="utf-8"))
    return {c["name"]: c["code"] for c in raw["categories"]}


def read_jsonl(path: Path, categories: CategoryBook) -> list[LabelledQuestion]:
    """Read {"question", "category"[, "group_id"]} lines.

    Category names are matched against the household's categories first, then
    against the bundled names (so renamed categories still match).
    """
    rows: list[LabelledQuestion] = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                question, name = str(item["question"]).strip(), item["category"]
            except (ValueError, KeyError, TypeError) as exc:
                raise HouseholdError(
                    f"{path}:{number} is not a JSON object with 'question' and "
                    f"'category': {exc}"
                ) from exc
            rows.append(
                LabelledQuestion(
                    question,
                    _code_for(name, categories, f"{path}:{number}"),
                    str(item.get("group_id", "")),
                    path.name,
                )
            )
    return rows


def _code_for(name: str, categories: CategoryBook, where: str) -> str:
    try:
        return categories.get(name).code
    except CategoryError:
        code = _bundled_codes().get(normalize_name(name))
        if code and code in categories.codes:
            return code
        raise CategoryError(
            f"{where}: unknown category {name!r}. Known: {', '.join(categories.names)}."
        ) from None


def bundled_questions(categories: CategoryBook) -> list[LabelledQuestion]:
    """The training pool shipped with the app (empty if it is missing)."""
    path = TRAINING_DATA / QUESTIONS_FILE
    if not path.exists():
        logger.warning("Bundled questions are missing from %s", path)
        return []
    return read_jsonl(path, categories)


def heldout_questions(categories: CategoryBook) -> list[LabelledQuestion]:
    """The fixed benchmark; never used for training or model selection."""
    return read_jsonl(TRAINING_DATA / HELDOUT_FILE, categories)
