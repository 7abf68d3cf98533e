"""Tests for household_assistant.chunking."""

from __future__ import annotations

import random

import pytest

from household_assistant.chunking import Chunk, chunk_text

WORDS = (
    "boiler pressure valve radiator bleed thermostat fuse breaker gutter lawn "
    "mower warranty receipt plumber appliance filter dishwasher insurance"
).split()


def random_document(seed: int, sections: int = 6) -> str:
    """Markdown-ish text with headings, short and very long paragraphs."""
    rng = random.Random(seed)
    blocks = ["Preamble before any heading."]
    for number in range(sections):
        blocks.append(f"{'#' * rng.randint(1, 3)} Section {number} {rng.choice(WORDS)}")
        for _ in range(rng.randint(0, 6)):
            sentences = [
                " ".join(rng.choices(WORDS, k=rng.randint(3, 25))).capitalize() + "."
                for _ in range(rng.randint(1, 40))
            ]
            blocks.append(" ".join(sentences))
        if rng.random() < 0.3:
            blocks.append("x" * rng.randint(100, 3000))
    return "\n\n".join(blocks)


def body(chunk: Chunk) -> str:
    """The chunk text without its heading block."""
    if not chunk.heading:
        return chunk.text
    return chunk.text.split("\n\n", 1)[1] if "\n\n" in chunk.text else ""


@pytest.mark.parametrize(
    ("max_chars", "overlap"),
    [(199, 0), (200, -1), (200, 100), (1000, 500), (1000, 10_000)],
)
def test_invalid_arguments_are_rejected(max_chars: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="max_chars|overlap"):
        chunk_text("text", max_chars=max_chars, overlap=overlap)


@pytest.mark.parametrize("text", ["", "   ", "\n\n\t\r\n"])
def test_blank_input_gives_no_chunks(text: str) -> None:
    assert chunk_text(text) == []


def test_short_text_is_one_chunk() -> None:
    assert chunk_text("Bleed the radiators in October.\n") == [
        Chunk(index=0, text="Bleed the radiators in October.", heading="")
    ]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize(("max_chars", "overlap"), [(200, 0), (300, 99), (1000, 150)])
def test_bounds_hold_on_long_text(seed: int, max_chars: int, overlap: int) -> None:
    chunks = chunk_text(random_document(seed), max_chars=max_chars, overlap=overlap)

    assert [c.index for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.text.strip() == chunk.text != ""
        assert len(chunk.text) <= max_chars + overlap


@pytest.mark.parametrize("seed", range(4))
def test_no_words_are_lost_without_overlap(seed: int) -> None:
    text = random_document(seed, sections=0)

    chunks = chunk_text(text, max_chars=250, overlap=0)

    joined = " ".join(c.text for c in chunks)
    assert "".join(joined.split()) == "".join(text.split())


def test_headings_start_sections_and_prefix_each_chunk() -> None:
    kitchen = " ".join(f"Kitchen fact {i}." for i in range(80))
    text = f"Intro line.\n\n# Garden\n\nMow weekly.\n\n## Kitchen\n\n{kitchen}"

    chunks = chunk_text(text, max_chars=300, overlap=50)

    assert chunks[0] == Chunk(0, "Intro line.", "")
    assert chunks[1] == Chunk(1, "# Garden\n\nMow weekly.", "Garden")
    assert len(chunks) > 3
    for chunk in chunks[2:]:
        assert chunk.heading == "Kitchen"
        assert chunk.text.startswith("## Kitchen\n\n")
        assert "Mow" not in chunk.text


def test_consecutive_headings_form_one_heading_block() -> None:
    chunks = chunk_text("# House\n## Kitchen\nThe fridge hums.\n\n# Attic\n")

    assert chunks == [
        Chunk(0, "# House\n## Kitchen\n\nThe fridge hums.", "House / Kitchen"),
        Chunk(1, "# Attic", "Attic"),
    ]


def test_hash_lines_in_code_fences_are_not_headings() -> None:
    text = "# Script\n\n```\n# restart the pump\nsystemctl restart pump\n```"

    chunks = chunk_text(text)

    assert [c.heading for c in chunks] == ["Script"]
    assert "# restart the pump" in chunks[0].text


def test_huge_heading_line_still_fits() -> None:
    heading = "# " + " ".join(["enormous"] * 200)

    chunks = chunk_text(f"{heading}\n\nBody text.", max_chars=400, overlap=0)

    assert all(len(c.text) <= 400 for c in chunks)
    assert len(chunks[0].heading) <= 100
    assert "Body text." in chunks[-1].text


def test_overlap_repeats_tail_of_previous_chunk_in_same_section() -> None:
    text = "## Notes\n\n" + " ".join(f"Note {i} about the boiler." for i in range(120))

    chunks = chunk_text(text, max_chars=400, overlap=100)

    assert len(chunks) > 3
    for previous, current in zip(chunks, chunks[1:], strict=False):
        shared = max(
            k for k in range(1, 101) if previous.text.endswith(body(current)[:k])
        )
        # The tail is cut at a word boundary, so it loses at most one word.
        assert 100 - 12 <= shared + 1 <= 100


def test_no_overlap_across_sections() -> None:
    first = " ".join(f"Alpha {i}." for i in range(100))
    text = f"# One\n\n{first}\n\n# Two\n\nBeta starts here."

    chunks = chunk_text(text, max_chars=300, overlap=100)

    assert chunks[-1] == Chunk(len(chunks) - 1, "# Two\n\nBeta starts here.", "Two")


def test_long_paragraph_splits_at_sentence_ends() -> None:
    sentences = [f"Sentence {i} explains the valve in some detail." for i in range(50)]

    chunks = chunk_text(" ".join(sentences), max_chars=300, overlap=0)

    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.text.startswith("Sentence ") and chunk.text.endswith("detail.")


def test_unbroken_run_is_hard_split() -> None:
    token = "".join(random.Random(1).choices("abcdef0123456789", k=2500))

    chunks = chunk_text(token, max_chars=200, overlap=20)

    # No word boundary to cut the overlap at, so the pieces simply follow on.
    assert [len(c.text) for c in chunks] == [200] * 12 + [100]
    assert "".join(c.text for c in chunks) == token


def test_chunking_is_deterministic() -> None:
    text = random_document(42)

    assert chunk_text(text, 500, 80) == chunk_text(text, 500, 80)


def test_windows_newlines_are_handled() -> None:
    chunks = chunk_text("# Title\r\n\r\nFirst.\r\n\r\nSecond.")

    assert chunks == [Chunk(0, "# Title\n\nFirst.\n\nSecond.", "Title")]
