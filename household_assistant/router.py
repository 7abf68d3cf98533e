"""Route a question to one household category with a small local LLM.

The router never lets the model write free text. It runs one forward pass over
the question (the instructions and code list sit in a cached KV prefix), reads
the next-token logits of the category code tokens only, and ranks categories by
their softmax. The answer is always a valid category, with a confidence.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import mlx.core as mx
import mlx.nn as nn
import numpy as np

from .categories import CategoryBook, code_token_ids
from .errors import CategoryError
from .prompts import build_router_prompt

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alternative:
    category: str
    code: str
    probability: float


@dataclass(frozen=True)
class RouteDecision:
    """Which category a question belongs to, and how sure the router is."""

    category: str
    code: str
    confidence: float
    alternatives: list[Alternative]  # every category, most likely first
    router: str  # "knn", "llm", "lora:<version>" or "manual"
    latency_ms: float
    tokens: int = 0  # tokens the router's model processed for this question
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "category": self.category,
            "code": self.code,
            "confidence": round(self.confidence, 4),
            "alternatives": [
                {
                    "category": a.category,
                    "code": a.code,
                    "probability": round(a.probability, 4),
                }
                for a in self.alternatives
            ],
            "router": self.router,
            "latency_ms": round(self.latency_ms, 2),
            "tokens": self.tokens,
        }


def decision_from_probs(
    categories: CategoryBook,
    probs: np.ndarray,
    router: str,
    started: float,
    tokens: int = 0,
) -> RouteDecision:
    """Rank categories by probability (ties keep category order)."""
    order = np.argsort(-probs, kind="stable")
    book = list(categories)
    alternatives = [
        Alternative(book[i].name, book[i].code, float(probs[i])) for i in order
    ]
    top = alternatives[0]
    return RouteDecision(
        category=top.category,
        code=top.code,
        confidence=top.probability,
        alternatives=alternatives,
        router=router,
        latency_ms=(time.perf_counter() - started) * 1000,
        tokens=tokens,
    )


def manual_decision(categories: CategoryBook, name: str) -> RouteDecision:
    """The decision for a category the user chose themselves."""
    chosen = categories.get(name)
    probs = np.array([1.0 if c.code == chosen.code else 0.0 for c in categories])
    return decision_from_probs(categories, probs, "manual", time.perf_counter())


def output_rows(model: Any, token_ids: mx.array) -> mx.array:
    """The output head's rows for `token_ids`, dequantized: (n, hidden).

    hidden @ rows.T equals the model's logits for those tokens, so the router
    never projects onto the other ~152k tokens of the vocabulary.
    """
    if getattr(model.args, "tie_word_embeddings", False):
        return model.model.embed_tokens(token_ids)  # dequantizes just these rows

    head = model.lm_head
    if isinstance(head, nn.QuantizedLinear):
        biases = getattr(head, "biases", None)
        rows = mx.dequantize(
            head.weight[token_ids],
            head.scales[token_ids],
            None if biases is None else biases[token_ids],
            group_size=head.group_size,
            bits=head.bits,
            mode=getattr(head, "mode", "affine"),
        )
    else:
        rows = head.weight[token_ids]
    if "bias" in head:
        raise TypeError("Routers need an output head without a bias.")
    return rows


class LLMRouter:
    """Scores category codes with a Qwen3 model (optionally with a LoRA adapter).

    Args:
        model: An mlx-lm model.
        tokenizer: Its tokenizer wrapper.
        categories: The categories to choose among.
        name: How decisions name this router ("llm", "lora:v3", ...).
    """

    def __init__(
        self, model: Any, tokenizer: Any, categories: CategoryBook, name="llm"
    ):
        self.model = model
        self.tokenizer = tokenizer
        self.categories = categories
        self.name = name
        self._lock = threading.Lock()

        ids = code_token_ids(tokenizer, categories.codes)
        missing = [code for code, token in ids.items() if token is None]
        if missing:
            raise CategoryError(
                f"Category codes {missing} are not single tokens for this router "
                "model; reload the categories so new codes are chosen."
            )
        self.code_ids = mx.array([ids[code] for code in categories.codes])
        self._code_rows = output_rows(model, self.code_ids)

        prompt = build_router_prompt(tokenizer, "", list(categories))
        self.prefix_ids = tokenizer.encode(prompt.prefix, add_special_tokens=False)
        self._cache = None

    def _prefix_cache(self) -> list:
        # Built on first use; the prefix costs one pass for the router's lifetime.
        if self._cache is None:
            from mlx_lm.models.cache import make_prompt_cache

            cache = make_prompt_cache(self.model)
            self._hidden(mx.array(self.prefix_ids), cache)
            mx.eval([c.state for c in cache])
            self._cache = cache
        return self._cache

    def _hidden(self, tokens: mx.array, cache: list | None) -> mx.array:
        """The final hidden state at the last position: (1, 1, hidden)."""
        inner = getattr(self.model, "model", None)
        if inner is None:
            raise TypeError("The router needs an mlx-lm model with a .model body.")
        return inner(tokens[None], cache=cache)[:, -1:, :]

    def _code_logits(self, hidden: mx.array) -> mx.array:
        # (1, 1, H) @ (H, n_codes): 18 output rows instead of the whole vocabulary.
        return (hidden[0, -1] @ self._code_rows.T).astype(mx.float32)

    def _tokens(self, question: str) -> list[int]:
        prompt = build_router_prompt(self.tokenizer, question, list(self.categories))
        return self.tokenizer.encode(prompt.text, add_special_tokens=False)

    def probabilities(
        self, question: str, use_cache: bool = True
    ) -> tuple[np.ndarray, int]:
        """Softmax over the category codes, and the tokens processed."""
        tokens = self._tokens(question)
        n_prefix = len(self.prefix_ids)
        with self._lock:
            if use_cache and tokens[:n_prefix] == self.prefix_ids:
                cache = self._prefix_cache()
                rest = tokens[n_prefix:]
                try:
                    logits = self._code_logits(self._hidden(mx.array(rest), cache))
                    probs = mx.softmax(logits)
                    mx.eval(probs)
                finally:
                    for layer in cache:
                        layer.trim(len(rest))
                return np.array(probs), len(rest)

            if use_cache:
                logger.warning("Router prompt did not start with its prefix; no cache")
            logits = self._code_logits(self._hidden(mx.array(tokens), None))
            probs = mx.softmax(logits)
            mx.eval(probs)
            return np.array(probs), len(tokens)

    def route(self, question: str, use_cache: bool = True) -> RouteDecision:
        started = time.perf_counter()
        probs, tokens = self.probabilities(question, use_cache)
        return decision_from_probs(self.categories, probs, self.name, started, tokens)
