"""Answer from retrieved notes with the local Qwen3 model, streaming tokens."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .prompts import chat_prompt, prompt_text
from .store import Hit

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AnswerPrompt:
    text: str
    tokens: list[int]
    used: list[Hit]  # the hits that fit, in rank order
    dropped: int  # hits left out to fit the context


def _notes_block(hits: Sequence[Hit]) -> str:
    if not hits:
        return "(no notes matched this question)"
    parts = []
    for number, hit in enumerate(hits, 1):
        parts.append(f"[{number}] {hit.title} ({hit.category})\n{hit.text.strip()}")
    return "\n\n".join(parts)


def build_answer_prompt(
    tokenizer: Any, question: str, hits: Sequence[Hit], budget_tokens: int
) -> AnswerPrompt:
    """A grounded prompt that fits `budget_tokens`.

    The lowest-ranked notes are dropped first until the prompt fits; with no
    room for any note, the prompt still asks the question (and the model is
    told there are no notes).
    """
    system = prompt_text("answer_system")
    kept = list(hits)
    while True:
        user = f"Notes:\n{_notes_block(kept)}\n\nQuestion: {question.strip()}"
        text = chat_prompt(tokenizer, system, user)
        tokens = tokenizer.encode(text, add_special_tokens=False)
        if len(tokens) <= budget_tokens or not kept:
            return AnswerPrompt(text, tokens, kept, len(hits) - len(kept))
        kept.pop()


def stream_answer(
    model: Any, tokenizer: Any, prompt: AnswerPrompt, max_tokens: int
) -> Iterator[tuple[str, int, float]]:
    """Yield (text, generated_tokens, tokens_per_second) as the model writes.

    mlx-lm stops at the end-of-turn token (<|im_end|> for Qwen3).
    """
    from mlx_lm import stream_generate

    for response in stream_generate(
        model, tokenizer, prompt.tokens, max_tokens=max_tokens
    ):
        yield response.text, response.generation_tokens, response.generation_tps
