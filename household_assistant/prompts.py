"""The prompts the router and the answering model read.

`build_router_prompt` is the one place a routing prompt is made: the router
scores with it and the trainer trains on it, so the two match token for token.
The routing instructions and the question share one user turn, which is what
mlx-lm's completions format renders: {"prompt": instructions + question,
"completion": code} trains exactly the prompt the router reads, whether our
trainer or `mlx_lm.lora` does the training.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from .categories import Category
from .resources import resource

logger = logging.getLogger(__name__)

ROUTER_MODES = ("codes", "names")
# Stands in for the question while the constant prefix is cut out of the template.
_SENTINEL = "\u2063QUESTION\u2063"


@cache
def prompt_text(name: str) -> str:
    return resource(f"prompts/{name}.txt").read_text(encoding="utf-8").strip()


def chat_prompt(tokenizer: Any, system: str, user: str) -> str:
    """A system + user chat, ready for the assistant's reply, thinking disabled."""
    messages = [
        {"role": "system", "content": system},
        {"role": "user", "content": user},
    ]
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True, enable_thinking=False
    )


def user_prompt(tokenizer: Any, user: str) -> str:
    """A single user turn, ready for the assistant's reply, thinking disabled."""
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": user}],
        tokenize=False,
        add_generation_prompt=True,
        enable_thinking=False,
    )


@dataclass(frozen=True)
class RouterPrompt:
    """A routing prompt, split where the question starts.

    `prefix` is identical for every question (instructions and category list),
    so its KV cache can be computed once; `text` is the whole prompt, ending
    exactly where the model writes its answer.
    """

    text: str
    prefix: str
    user: str  # the user turn alone: the "prompt" of a completions-format row


def router_instructions(categories: Sequence[Category], mode: str = "codes") -> str:
    """The routing instructions and category list that precede every question."""
    if mode == "codes":
        lines = [f"{c.code} = {c.name}" for c in categories]
    elif mode == "names":
        lines = [f"- {c.name}" for c in categories]
    else:
        raise ValueError(f"Router mode must be one of {ROUTER_MODES}; got {mode!r}.")
    template = prompt_text(f"router_{mode}")
    # Ends on a newline so the question's first token never merges with it,
    # which keeps the prefix's tokens a prefix of every prompt's tokens.
    return template.format(categories="\n".join(lines)) + "\n\nQuestion:\n"


def build_router_prompt(
    tokenizer: Any,
    question: str,
    categories: Sequence[Category],
    mode: str = "codes",
) -> RouterPrompt:
    """The routing prompt for `question`, using the model's chat template.

    Args:
        tokenizer: The router model's tokenizer (its chat template is used).
        question: The user's question; surrounding whitespace is dropped.
        categories: Categories in display order.
        mode: "codes" to answer with a two-letter code, "names" for the
            category name (only used to reproduce the published baseline).

    Returns:
        The prompt text and its question-independent prefix.
    """
    instructions = router_instructions(categories, mode)
    template = user_prompt(tokenizer, instructions + _SENTINEL)
    prefix, _, _ = template.partition(_SENTINEL)
    user = instructions + " ".join(question.split())
    return RouterPrompt(text=user_prompt(tokenizer, user), prefix=prefix, user=user)
