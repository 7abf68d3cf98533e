"""Labelled questions: the bundled data set and the household's corrections."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from .categories import CategoryBook, normalize_name
from .errors import CategoryError, HouseholdError
from .prompts import router_instructions
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


def read_jsonl(
    path: Path, categories: CategoryBook, skip_unknown: bool = False
) -> list[LabelledQuestion]:
    """Read {"question", "category"[, "group_id"]} lines.

    Category names are matched against the household's categories first, then
    against the bundled names (so renamed categories still match). With
    `skip_unknown`, questions of categories this household doesn't have are
    left out instead of being an error.
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
            try:
                code = _code_for(name, categories, f"{path}:{number}")
            except CategoryError:
                if skip_unknown:
                    continue
                raise
            rows.append(
                LabelledQuestion(
                    question,
                    code,
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
    return read_jsonl(path, categories, skip_unknown=True)


def heldout_questions(categories: CategoryBook) -> list[LabelledQuestion]:
    """The fixed benchmark; never used for training or model selection."""
    return read_jsonl(TRAINING_DATA / HELDOUT_FILE, categories, skip_unknown=True)


# --- splits for training -------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """Train, validation and test questions; no paraphrase group spans two."""

    train: list[LabelledQuestion]
    valid: list[LabelledQuestion]
    test: list[LabelledQuestion]

    def sizes(self) -> dict[str, int]:
        return {
            "train": len(self.train),
            "valid": len(self.valid),
            "test": len(self.test),
        }


def question_key(question: str) -> str:
    """Two questions are the same question when this matches."""
    return " ".join(question.lower().split())


def _groups(questions: list[LabelledQuestion]) -> dict[str, list[LabelledQuestion]]:
    groups: dict[str, list[LabelledQuestion]] = {}
    for number, item in enumerate(questions):
        groups.setdefault(item.group_id or f"#{number}", []).append(item)
    return groups


def split_questions(
    questions: list[LabelledQuestion],
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
) -> Split:
    """A deterministic grouped, stratified split.

    Each category's paraphrase groups are shuffled by `seed`, then dealt one at
    a time to whichever split is furthest below its share of that category, so
    every category is spread 70/15/15 (by questions) and no group is cut.
    """
    by_code: dict[str, list[list[LabelledQuestion]]] = {}
    for group in _groups(questions).values():
        by_code.setdefault(group[0].code, []).append(group)

    rng = np.random.default_rng(seed)
    parts: tuple[list, list, list] = ([], [], [])
    for code in sorted(by_code):
        groups = sorted(by_code[code], key=lambda g: g[0].group_id)
        order = rng.permutation(len(groups))
        total = sum(len(g) for g in groups)
        counts = [0, 0, 0]
        for index in order:
            group = groups[index]
            # Fill the small splits first so each gets at least one group.
            empty = [i for i in (1, 2, 0) if counts[i] == 0]
            share = [counts[i] - fractions[i] * total for i in range(3)]
            target = empty[0] if empty else int(np.argmin(share))
            parts[target].extend(group)
            counts[target] += len(group)
    return Split(*parts)


def merge_household(
    split: Split, household: list[LabelledQuestion], repeat: int = 1
) -> Split:
    """Add the household's own labels to the training split.

    A household label overrides a bundled question with the same text, wherever
    that question was; each household label is repeated `repeat` times so a
    family's few corrections weigh against hundreds of bundled questions.
    """
    keys = {question_key(item.question) for item in household}

    def keep(items: list[LabelledQuestion]) -> list[LabelledQuestion]:
        return [item for item in items if question_key(item.question) not in keys]

    extra = [item for item in household for _ in range(max(repeat, 1))]
    return Split(keep(split.train) + extra, keep(split.valid), keep(split.test))


def fingerprint(split: Split) -> str:
    """A short hash of what was trained and validated on, label by label."""
    digest = hashlib.sha256()
    for name, items in (("train", split.train), ("valid", split.valid)):
        for item in sorted(items, key=lambda q: (q.question, q.code)):
            digest.update(f"{name}\t{item.code}\t{item.question}\n".encode())
    return digest.hexdigest()[:16]


def completion_rows(
    items: list[LabelledQuestion], categories: CategoryBook, mode: str = "codes"
) -> list[dict[str, str]]:
    """mlx-lm completions rows: the router's whole user turn, and its answer."""
    instructions = router_instructions(list(categories), mode)
    rows = []
    for item in items:
        answer = item.code if mode == "codes" else categories.by_code(item.code).name
        question = " ".join(item.question.split())
        rows.append({"prompt": instructions + question, "completion": answer})
    return rows


def export_completions(
    folder: Path, split: Split, categories: CategoryBook, mode: str = "codes"
) -> dict[str, Path]:
    """Write train/valid/test.jsonl that `mlx_lm.lora --data FOLDER` reads."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, items in (
        ("train", split.train),
        ("valid", split.valid),
        ("test", split.test),
    ):
        path = folder / f"{name}.jsonl"
        with open(path, "w", encoding="utf-8") as handle:
            for row in completion_rows(items, categories, mode):
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        written[name] = path
    return written
