"""Splitting a document's text into overlapping chunks for search.

Chunks follow the document's own structure: a markdown heading starts a new
section, blank lines separate paragraphs, and paragraphs under one heading are
packed together up to a size limit. Each chunk repeats its heading so a search
for "boiler" finds the text under "## Boiler" even when the word is not repeated.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

MIN_MAX_CHARS = 200

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")
# Split after ., ! or ?, optionally followed by a closing quote or bracket.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"'\u201d\u2019)\]])\s+")
# Ever finer places to break an oversized paragraph, each with its joiner.
_SPLITTERS = (
    (re.compile(r"\n"), "\n"),
    (_SENTENCE_END, " "),
    (re.compile(r"\s+"), " "),
)
_PARAGRAPH_JOINER = "\n\n"


@dataclass(frozen=True)
class Chunk:
    """One searchable piece of a document; `heading` is "" before any heading."""

    index: int
    text: str
    heading: str


@dataclass
class _Section:
    heading_lines: list[str] = field(default_factory=list)
    paragraphs: list[str] = field(default_factory=list)


def chunk_text(text: str, max_chars: int = 1000, overlap: int = 150) -> list[Chunk]:
    """Split text into chunks along headings and paragraphs.

    Args:
        text: Markdown-ish text; "#" headings and blank lines guide the split.
        max_chars: Size of a chunk before overlap, heading line included.
        overlap: Up to this many characters of the previous chunk's end are
            repeated at the start of the next chunk in the same section.

    Returns:
        Chunks in document order, each at most `max_chars + overlap` long.

    Raises:
        ValueError: If `max_chars` < 200 or `overlap` is not in
            `[0, max_chars // 2)`.
    """
    _validate(max_chars, overlap)

    pieces: list[tuple[str, str]] = []
    for section in _sections(text):
        pieces.extend(_chunk_section(section, max_chars, overlap))

    logger.debug("Split %d characters into %d chunks", len(text), len(pieces))
    return [Chunk(index=i, text=t, heading=h) for i, (t, h) in enumerate(pieces)]


def _validate(max_chars: int, overlap: int) -> None:
    if max_chars < MIN_MAX_CHARS:
        raise ValueError(
            f"max_chars must be at least {MIN_MAX_CHARS}, got {max_chars}."
        )
    if not 0 <= overlap < max_chars // 2:
        raise ValueError(
            f"overlap must be at least 0 and less than half of max_chars "
            f"({max_chars // 2}), got {overlap}."
        )


def _sections(text: str) -> list[_Section]:
    # Consecutive headings with nothing between them ("# House" then
    # "## Kitchen") stay together as one section's heading block.
    sections = [_Section()]
    lines: list[str] = []
    in_fence = False

    def end_paragraph() -> None:
        if lines:
            sections[-1].paragraphs.append("\n".join(lines).strip())
            lines.clear()

    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            end_paragraph()
            if sections[-1].paragraphs:
                sections.append(_Section())
            sections[-1].heading_lines.append(line.strip())
        elif line.strip():
            in_fence ^= bool(_FENCE.match(line))
            lines.append(line.rstrip())
        else:
            end_paragraph()
    end_paragraph()

    return [s for s in sections if s.heading_lines or s.paragraphs]


def _chunk_section(
    section: _Section, max_chars: int, overlap: int
) -> list[tuple[str, str]]:
    # A heading block may use at most a quarter of the chunk; an absurdly long
    # one is cut in the prefix and kept whole as body text, so nothing is lost.
    prefix_limit = max_chars // 4
    full_prefix = "\n".join(section.heading_lines)
    prefix = _cut_at_word(full_prefix, prefix_limit)
    heading = _cut_at_word(
        " / ".join(_HEADING.match(h).group(2) for h in section.heading_lines),
        prefix_limit,
    )
    paragraphs = section.paragraphs
    if prefix != full_prefix:
        paragraphs = [full_prefix, *paragraphs]

    budget = max_chars - (len(prefix) + len(_PARAGRAPH_JOINER) if prefix else 0)
    pieces = [piece for p in paragraphs for piece in _split_long(p, budget)]
    bodies = _pack(pieces, budget, _PARAGRAPH_JOINER)
    if not bodies:
        return [(prefix, heading)] if prefix else []

    chunks = []
    previous = ""
    for body in bodies:
        # The " " joining the tail counts against the overlap allowance.
        tail = _tail(previous, overlap - 1)
        body = f"{tail} {body}" if tail else body
        previous = body
        text = f"{prefix}{_PARAGRAPH_JOINER}{body}" if prefix else body
        chunks.append((text, heading))
    return chunks


def _split_long(text: str, limit: int) -> list[str]:
    """Split text into pieces of at most `limit` characters at natural breaks."""
    if len(text) <= limit:
        return [text]

    for pattern, joiner in _SPLITTERS:
        parts = [p.strip() for p in pattern.split(text) if p.strip()]
        if len(parts) > 1:
            pieces = [piece for part in parts for piece in _split_long(part, limit)]
            return _pack(pieces, limit, joiner)

    # One unbroken run longer than a chunk (a URL, a serial-number dump).
    return [text[i : i + limit] for i in range(0, len(text), limit)]


def _pack(pieces: list[str], limit: int, joiner: str) -> list[str]:
    """Greedily join consecutive pieces while the result fits in `limit`."""
    packed: list[str] = []
    current: list[str] = []
    size = 0
    for piece in pieces:
        added = len(piece) + (len(joiner) if current else 0)
        if current and size + added > limit:
            packed.append(joiner.join(current))
            current, size, added = [], 0, len(piece)
        current.append(piece)
        size += added

    if current:
        packed.append(joiner.join(current))
    return packed


def _tail(text: str, limit: int) -> str:
    """The last at most `limit` characters of text, starting at a word."""
    if limit <= 0 or not text:
        return ""
    if len(text) <= limit:
        return text.strip()

    tail = text[-limit:]
    if not text[-limit - 1].isspace():
        # The cut landed inside a word; start after the next whitespace instead.
        match = re.search(r"\s", tail)
        tail = tail[match.end() :] if match else ""
    return tail.strip()


def _cut_at_word(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[: limit + 1]
    match = re.search(r"\s\S*$", cut)
    return (cut[: match.start()] if match else text[:limit]).rstrip()
