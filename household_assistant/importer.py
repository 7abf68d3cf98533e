"""Import files and folders into the notes store, one result per file.

Nothing here raises for a bad file: every file ends as imported, updated,
unchanged, skipped or failed, with a reason. A failure never touches the chunks
already stored for that file. Without a given category, a note that is already
stored keeps its category; only new notes ask the router.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .categories import Category, CategoryBook
from .chunking import chunk_text
from .config import Settings
from .errors import CategoryError, HouseholdError, ReadFailed, SkipFile
from .readers import Document, iter_files, read_document
from .router import RouteDecision
from .store import NoteDraft, NoteStore, content_hash, note_id_for

logger = logging.getLogger(__name__)

STATUSES = ("imported", "updated", "unchanged", "skipped", "failed")
# How much of a note the router reads to suggest its category.
SUGGEST_CHARS = 400
# Chunks embedded and written together; Chroma's cost is mostly per write call.
BATCH_CHUNKS = 128

Suggest = Callable[[str], RouteDecision]


@dataclass(frozen=True)
class FileResult:
    path: str
    status: str  # one of STATUSES
    reason: str = ""
    category: str | None = None
    note_id: str | None = None
    chunks: int = 0
    suggested: bool = False  # the category came from the router

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "status": self.status,
            "reason": self.reason,
            "category": self.category,
            "note_id": self.note_id,
            "chunks": self.chunks,
            "suggested": self.suggested,
        }


@dataclass(frozen=True)
class Prepared:
    """A file read and categorised, waiting to be stored with its batch."""

    draft: NoteDraft
    suggested: bool  # the category came from the router

    def result(self, status: str) -> FileResult:
        draft = self.draft
        return FileResult(
            draft.source,
            status,
            "",
            draft.category,
            note_id_for(draft.source),
            len(draft.chunks),
            self.suggested,
        )


def suggestion_text(document: Document) -> str:
    """What the router reads to suggest a category: title and opening text."""
    return f"{document.title}. {document.text[:SUGGEST_CHARS]}"


def collect_files(paths: Iterable[Path]) -> list[tuple[Path, str | None]]:
    """Every file the paths name (folders walked), with a skip reason or None."""
    return list(iter_files(Path(p) for p in paths))


def prepare_file(
    path: Path,
    store: NoteStore,
    categories: CategoryBook,
    settings: Settings,
    category: Category | None = None,
    suggest: Suggest | None = None,
) -> Prepared | FileResult:
    """Read, chunk and categorise one file: a note to store, or a final result."""
    source = str(path.resolve())
    try:
        document = read_document(path, max_bytes=int(settings.max_file_mb * 1e6))
    except SkipFile as exc:
        return FileResult(source, "skipped", str(exc))
    except ReadFailed as exc:
        return FileResult(source, "failed", str(exc))

    chunks = chunk_text(document.text, settings.chunk_chars, settings.chunk_overlap)
    if not chunks:
        return FileResult(source, "skipped", "no text found")

    suggested = False
    if category is None:
        category = _stored_category(store, categories, source)
    if category is None:
        if suggest is None:
            return FileResult(source, "failed", "no category given and no router")
        category = categories.by_code(suggest(suggestion_text(document)).code)
        suggested = True

    draft = NoteDraft(
        source,
        document.title,
        category.code,
        category.name,
        chunks,
        content_hash(document.text),
    )
    return Prepared(draft, suggested)


def _stored_category(
    store: NoteStore, categories: CategoryBook, source: str
) -> Category | None:
    # Re-importing a folder must not undo a category the household chose.
    code = store.note_code(note_id_for(source))
    if code is None:
        return None
    try:
        return categories.by_code(code)
    except CategoryError:
        return None  # its category was deleted; let the router pick again


def import_files(
    files: Iterable[tuple[Path, str | None]],
    store: NoteStore,
    categories: CategoryBook,
    settings: Settings,
    category: Category | None = None,
    suggest: Suggest | None = None,
) -> Iterator[FileResult]:
    """Import files found by `collect_files`, yielding each result in file order.

    Notes are embedded and written in batches of about BATCH_CHUNKS chunks:
    Chroma's cost per write call, not per chunk, dominates small notes.
    """
    pending: list[Prepared | FileResult] = []
    for path, problem in files:
        if problem is not None:
            pending.append(FileResult(str(path), "skipped", problem))
        else:
            pending.append(
                prepare_file(path, store, categories, settings, category, suggest)
            )
        if _chunk_count(pending) >= BATCH_CHUNKS:
            yield from _flush(store, pending)
            pending = []
    yield from _flush(store, pending)


def _chunk_count(pending: list[Prepared | FileResult]) -> int:
    return sum(len(p.draft.chunks) for p in pending if isinstance(p, Prepared))


def _flush(
    store: NoteStore, pending: list[Prepared | FileResult]
) -> Iterator[FileResult]:
    prepared = [p for p in pending if isinstance(p, Prepared)]
    stored = iter(_store(store, prepared))
    for item in pending:
        result = next(stored) if isinstance(item, Prepared) else item
        logger.info("Import %s: %s %s", result.path, result.status, result.reason)
        yield result


def _store(store: NoteStore, prepared: list[Prepared]) -> list[FileResult]:
    if not prepared:
        return []
    try:
        statuses = store.upsert_notes([p.draft for p in prepared])
    except Exception as exc:
        if len(prepared) > 1:
            # One bad note must not fail its neighbours: store them one by one.
            logger.warning("A batch of %d notes failed; retrying singly", len(prepared))
            return [r for p in prepared for r in _store(store, [p])]
        source = prepared[0].draft.source
        logger.exception("Storing %s failed", source)
        reason = (
            exc if isinstance(exc, HouseholdError) else f"could not store it: {exc}"
        )
        return [FileResult(source, "failed", str(reason))]
    return [p.result(status) for p, status in zip(prepared, statuses, strict=True)]
