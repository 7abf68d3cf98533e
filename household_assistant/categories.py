"""The household categories and their opaque two-letter router codes.

The router answers with a code such as ``KK`` rather than a name such as
``hvac``: a fine-tuned 0.6B model blurs and truncates names, but a single code
token can only be right or wrong. Codes are assigned once and never change, so
renaming a category keeps every adapter trained on its code valid.
"""

from __future__ import annotations

import json
import logging
import os
import re
import string
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from .errors import CategoryError
from .resources import resource

logger = logging.getLogger(__name__)

USER_FILE = "categories.json"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9 &/'-]{0,39}$")


class Tokenizer(Protocol):
    def encode(self, text: str, add_special_tokens: bool = ...) -> list[int]: ...


@dataclass(frozen=True)
class Category:
    name: str
    code: str
    description: str = ""


def normalize_name(name: str) -> str:
    """'Brick_Work ' and 'brick-work' both mean 'brick work'."""
    return " ".join(name.strip().lower().replace("_", " ").replace("-", " ").split())


def _candidate_codes() -> list[str]:
    # Doubled letters first (AA, BB, ...), then other two-letter capitals.
    letters = string.ascii_uppercase
    doubled = [c * 2 for c in letters]
    mixed = [a + b for a in letters for b in letters if a != b]
    return doubled + mixed


def code_token_ids(tokenizer: Tokenizer, codes: list[str]) -> dict[str, int | None]:
    """Each code's single token id, or None where the code is several tokens."""
    ids: dict[str, int | None] = {}
    for code in codes:
        tokens = tokenizer.encode(code, add_special_tokens=False)
        ids[code] = tokens[0] if len(tokens) == 1 else None
    return ids


def _bundled_codes() -> set[str]:
    raw = json.loads(resource("categories.json").read_text(encoding="utf-8"))
    return {item["code"] for item in raw["categories"]}


class CategoryBook:
    """The ordered category list: bundled defaults plus the household's changes."""

    def __init__(self, categories: list[Category], path: Path | None = None):
        self._categories = list(categories)
        self.path = path
        self._check_unique()

    @classmethod
    def load(cls, home: Path) -> CategoryBook:
        """The household's list if it has one, else the bundled one."""
        path = home / USER_FILE
        source = path if path.exists() else resource("categories.json")
        try:
            raw = json.loads(source.read_text(encoding="utf-8"))
            categories = [Category(**item) for item in raw["categories"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CategoryError(
                f"Could not read categories from {source}: {exc}. Delete the file to "
                "go back to the bundled categories."
            ) from exc
        return cls(categories, path)

    def _check_unique(self) -> None:
        names = [c.name for c in self._categories]
        codes = [c.code for c in self._categories]
        if len(set(names)) != len(names) or len(set(codes)) != len(codes):
            raise CategoryError("Category names and codes must be unique.")

    def __iter__(self):
        return iter(self._categories)

    def __len__(self) -> int:
        return len(self._categories)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self._categories]

    @property
    def codes(self) -> list[str]:
        return [c.code for c in self._categories]

    def get(self, name: str) -> Category:
        """The category called `name` (case and separators don't matter)."""
        wanted = normalize_name(name)
        for category in self._categories:
            if category.name == wanted:
                return category
        raise CategoryError(
            f"There is no category called {name!r}. Known categories: "
            f"{', '.join(self.names)}."
        )

    def by_code(self, code: str) -> Category:
        for category in self._categories:
            if category.code == code:
                return category
        raise CategoryError(f"No category has the code {code!r}.")

    def ensure_single_tokens(self, tokenizer: Tokenizer) -> bool:
        """Give any code that is not one token in `tokenizer` a code that is.

        Returns True when a code changed (the caller should save). Qwen3 keeps
        every doubled capital as one token, so this is a guard for other models.
        """
        ids = code_token_ids(tokenizer, self.codes)
        bad = [code for code, token in ids.items() if token is None]
        if not bad:
            return False

        taken = set(self.codes)
        spare = (c for c in _candidate_codes() if c not in taken)
        for index, category in enumerate(self._categories):
            if category.code not in bad:
                continue
            for code in spare:
                if len(tokenizer.encode(code, add_special_tokens=False)) == 1:
                    logger.warning(
                        "Code %s of %r is several tokens; using %s instead",
                        category.code,
                        category.name,
                        code,
                    )
                    self._categories[index] = Category(
                        category.name, code, category.description
                    )
                    break
            else:
                raise CategoryError("Ran out of single-token codes for categories.")
        return True

    def add(self, name: str, description: str = "") -> Category:
        """Add a category with the next unused code, and save."""
        name = self._valid_new_name(name)
        # A bundled category's code stays reserved even where this household
        # dropped it: the bundled questions would otherwise land in the new one.
        taken = set(self.codes) | _bundled_codes()
        code = next(c for c in _candidate_codes() if c not in taken)
        category = Category(name, code, description.strip())
        self._categories.append(category)
        self.save()
        return category

    def rename(self, old: str, new: str) -> Category:
        """Rename a category; its code stays the same."""
        current = self.get(old)
        name = self._valid_new_name(new)
        renamed = Category(name, current.code, current.description)
        self._categories[self._categories.index(current)] = renamed
        self.save()
        return renamed

    def _valid_new_name(self, name: str) -> str:
        normalized = normalize_name(name)
        if not _NAME_RE.match(normalized):
            raise CategoryError(
                f"{name!r} is not a usable category name: use 1-40 letters, digits, "
                "spaces or - & / ' and start with a letter or digit."
            )
        if normalized in self.names:
            raise CategoryError(f"A category called {normalized!r} already exists.")
        return normalized

    def save(self) -> None:
        if self.path is None:
            raise CategoryError("This category list has no file to save to.")
        payload = {"version": 1, "categories": [asdict(c) for c in self]}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)
