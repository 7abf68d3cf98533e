"""The grounded answer prompt and the event stream of `Assistant.ask`."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from household_assistant.answer import build_answer_prompt
from household_assistant.assistant import (
    Assistant,
    DoneEvent,
    RouteEvent,
    SourcesEvent,
    TokenEvent,
)
from household_assistant.config import Settings, save_settings
from household_assistant.store import Hit

from .conftest import TOKENIZER_DIR


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(str(TOKENIZER_DIR))


def _hit(rank: int, words: int) -> Hit:
    text = " ".join(f"fact{rank}-{i}" for i in range(words))
    return Hit(f"n{rank}:0", f"n{rank}", f"Note {rank}", f"/notes/{rank}.md", "OO",
               "pool", 0, text, 0.9 - rank / 100)  # fmt: skip


def test_prompt_is_grounded_and_names_numbered_notes(tokenizer):
    prompt = build_answer_prompt(tokenizer, "When was the pump serviced?",
                                 [_hit(1, 5), _hit(2, 5)], 4000)  # fmt: skip
    assert "using only the household notes" in prompt.text
    assert "notes don't say" in prompt.text
    assert "[1] Note 1 (pool)" in prompt.text and "[2] Note 2 (pool)" in prompt.text
    assert prompt.text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert prompt.dropped == 0 and len(prompt.used) == 2


def test_lowest_ranked_notes_are_dropped_to_fit(tokenizer):
    hits = [_hit(rank, 150) for rank in range(1, 6)]
    full = build_answer_prompt(tokenizer, "q?", hits, 100_000)
    budget = len(full.tokens) - 200
    capped = build_answer_prompt(tokenizer, "q?", hits, budget)

    assert len(capped.tokens) <= budget
    assert capped.used == hits[: len(capped.used)]  # a prefix, in rank order
    assert capped.dropped == len(hits) - len(capped.used) >= 1
    assert "fact5-0" not in capped.text and "fact1-0" in capped.text


def test_no_room_for_any_note_still_asks(tokenizer):
    prompt = build_answer_prompt(tokenizer, "q?", [_hit(1, 2000)], 120)
    assert prompt.used == [] and prompt.dropped == 1
    assert "(no notes matched this question)" in prompt.text


def test_answer_model_stops_at_the_end_of_turn_token(tiny_models):
    from mlx_lm import load

    _, tokenizer = load(str(tiny_models["plain"]))
    im_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert im_end in tokenizer.eos_token_ids


def test_ask_yields_route_sources_tokens_done_in_order(home, use_tiny_models, tmp_path):
    save_settings(Settings(max_answer_tokens=6))
    note = tmp_path / "gutters.md"
    note.write_text(
        "# Gutters\n\nCleaned by Rain Pros in October; guards on the front."
    )
    assistant = Assistant(home)
    assert [r.status for r in assistant.import_paths([note], "gutters")] == ["imported"]

    events = list(assistant.ask("who cleaned the gutters"))
    kinds = [type(e) for e in events]
    assert kinds[:2] == [RouteEvent, SourcesEvent] and kinds[-1] is DoneEvent
    assert set(kinds[2:-1]) == {TokenEvent}

    route, sources, done = events[0], events[1], events[-1]
    assert route.decision.category == "gutters"
    assert [h.title for h in sources.hits] == ["Gutters"]
    assert done.answer == "".join(e.text for e in events if isinstance(e, TokenEvent))
    assert done.usage["answer_tokens"] <= 6
    assert done.timings["total_ms"] >= done.timings["generate_ms"]
