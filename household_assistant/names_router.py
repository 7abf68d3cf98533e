"""Route by letting the model write a category name: the published baseline.

The app's router reads code logits and cannot produce an invalid answer. This
router reproduces the approach it replaced: the model generates a name, and the
reply is parsed the way a deployment would, with no fuzzy matching. Invented,
broad or truncated names ("water" for "water heater") are invalid, and the
evaluation counts them.
"""

from __future__ import annotations

import logging
import string
import threading
import time
from dataclasses import replace
from typing import Any

import numpy as np

from .categories import Category, CategoryBook, normalize_name
from .prompts import build_router_prompt
from .router import RouteDecision, decision_from_probs

logger = logging.getLogger(__name__)

# A deployment tolerates a quoted or full-stopped reply, nothing more.
_STRIP = string.whitespace + string.punctuation + "\u201c\u201d\u2018\u2019\u00ab\u00bb"


def _clean(text: str) -> str:
    return normalize_name(text.strip(_STRIP))


def parse_category_name(text: str, categories: CategoryBook) -> Category | None:
    """The category whose name `text` is, or None when it names none exactly.

    Surrounding whitespace, punctuation and quotes are dropped and case and
    separators are ignored ("HVAC." and "Water-Heater" match); anything else,
    such as a truncated or invented name, does not match.
    """
    wanted = _clean(text)
    if not wanted:
        return None
    for category in categories:
        if _clean(category.name) == wanted:
            return category
    return None


class NamesRouter:
    """Generates a category name greedily with mlx-lm and parses it exactly.

    Replies stop at <|im_end|> (or the tokenizer's end-of-sequence token) or
    after `max_tokens`, whichever comes first; a cut-off name is invalid.

    Args:
        model: An mlx-lm model, with or without a LoRA adapter loaded.
        tokenizer: Its tokenizer wrapper.
        categories: The categories to choose among.
        name: How decisions name this router.
        max_tokens: The longest reply generated; category names are a few tokens.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        categories: CategoryBook,
        name: str = "llm-names",
        max_tokens: int = 12,
    ):
        from mlx_lm.sample_utils import make_sampler

        self.model = model
        self.tokenizer = tokenizer
        self.categories = categories
        self.name = name
        self.max_tokens = max_tokens
        self._sampler = make_sampler(temp=0.0)  # greedy
        self._lock = threading.Lock()

        # Stop at the end of the turn even if the tokenizer's eos is another token.
        self._stop_ids = set(tokenizer.eos_token_ids)
        im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
        if isinstance(im_end, int) and im_end != tokenizer.unk_token_id:
            self._stop_ids.add(im_end)

    def generate(self, question: str) -> tuple[str, int]:
        """The model's raw reply to the names prompt, and the tokens processed."""
        import mlx.core as mx
        from mlx_lm.generate import generate_step

        prompt = build_router_prompt(
            self.tokenizer, question, list(self.categories), mode="names"
        )
        tokens = self.tokenizer.encode(prompt.text, add_special_tokens=False)

        # Token ids decoded once at the end, as a deployment reads a finished
        # reply; a streaming detokenizer may hold back the last word until flushed.
        reply: list[int] = []
        with self._lock:
            for token, _ in generate_step(
                mx.array(tokens),
                self.model,
                max_tokens=self.max_tokens,
                sampler=self._sampler,
            ):
                if token in self._stop_ids:
                    break
                reply.append(token)
        text = self.tokenizer.decode(reply, skip_special_tokens=True)
        return text, len(tokens) + len(reply)

    def route(self, question: str) -> RouteDecision:
        started = time.perf_counter()
        text, tokens = self.generate(question)
        category = parse_category_name(text, self.categories)
        latency_ms = (time.perf_counter() - started) * 1000

        if category is None:
            logger.debug("Names router reply %r is not a category", text)
            return RouteDecision(
                category="",
                code="",
                confidence=0.0,
                alternatives=[],
                router=self.name,
                latency_ms=latency_ms,
                tokens=tokens,
                extra={"raw": text, "valid": False},
            )
        # Greedy generation gives no calibrated probability over categories, so a
        # valid name gets confidence 1.0; compare accuracy, not confidence.
        probs = np.array([float(c.code == category.code) for c in self.categories])
        decision = decision_from_probs(self.categories, probs, self.name, started)
        return replace(
            decision,
            latency_ms=latency_ms,
            tokens=tokens,
            extra={"raw": text, "valid": True},
        )
