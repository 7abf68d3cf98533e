"""The notes store: Chroma, embedded in the data folder or on a shared server.

Each note is stored as chunks. A chunk's id is the note id plus its index, and
the note id comes from the file's path, so importing a file again updates it
in place. Chunks carry the category *code* (stable across renames) and name.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from .chunking import Chunk
from .errors import NoteNotFound, StoreError

logger = logging.getLogger(__name__)

COLLECTION = "household-notes"
Embed = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk."""

    id: str
    note_id: str
    title: str
    source: str
    code: str
    category: str
    chunk_index: int
    text: str
    score: float  # cosine similarity, 1 = identical

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "category": self.category,
            "score": round(self.score, 4),
        }


@dataclass(frozen=True)
class NoteDraft:
    """A note ready to store: chunked and categorised, not yet embedded."""

    source: str
    title: str
    code: str
    category: str
    chunks: list[Chunk]
    text_hash: str


@dataclass(frozen=True)
class NoteInfo:
    note_id: str
    title: str
    source: str
    code: str
    category: str
    chunks: int
    content_hash: str
    imported_at: float


def note_id_for(source: str) -> str:
    """Deterministic id of the note imported from `source`."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def open_client(home: Path, url: str | None = None):
    """A Chroma client: persistent in `home`, or HTTP when a URL is given."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    if not url:
        return chromadb.PersistentClient(path=str(home / "chroma"), settings=settings)

    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise StoreError(
            f"The Chroma server URL must look like http://host:8000; got {url!r}."
        )
    try:
        return chromadb.HttpClient(
            host=parsed.hostname,
            port=parsed.port or (443 if parsed.scheme == "https" else 8000),
            ssl=parsed.scheme == "https",
            settings=settings,
        )
    except Exception as exc:
        raise StoreError(
            f"Could not reach the Chroma server at {url} ({str(exc).rstrip('.?')}). "
            "Check that it is running, or clear the chroma_url setting to use the "
            "local store."
        ) from exc


class NoteStore:
    """Chunks of household notes in one Chroma collection (cosine space).

    Args:
        client: A Chroma client (see `open_client`).
        embed: Texts to unit vectors; the same function for notes and queries.
            The store embeds everything itself, so Chroma never loads (or
            downloads) an embedding model of its own.
    """

    def __init__(self, client, embed: Embed):
        self.embed = embed
        try:
            self.collection = client.get_or_create_collection(
                COLLECTION,
                configuration={"hnsw": {"space": "cosine"}},
                embedding_function=None,
            )
        except Exception as exc:
            raise StoreError(f"Could not open the notes collection: {exc}") from exc

    def count(self) -> int:
        return self.collection.count()

    def _note_rows(self, note_id: str) -> dict:
        return self.collection.get(where={"note_id": note_id}, include=["metadatas"])

    def note_code(self, note_id: str) -> str | None:
        """The category code of a stored note, or None when it is not stored."""
        rows = self.collection.get(
            where={"note_id": note_id}, limit=1, include=["metadatas"]
        )
        return rows["metadatas"][0]["code"] if rows["metadatas"] else None

    def upsert_note(
        self,
        source: str,
        title: str,
        code: str,
        category: str,
        chunks: Sequence[Chunk],
        text_hash: str,
    ) -> str:
        """Store one note's chunks; returns "imported", "updated" or "unchanged"."""
        draft = NoteDraft(source, title, code, category, list(chunks), text_hash)
        return self.upsert_notes([draft])[0]

    def upsert_notes(self, drafts: Sequence[NoteDraft]) -> list[str]:
        """Store several notes with one embedding call and one Chroma write.

        Returns each note's status: "imported", "updated" or "unchanged". New
        chunks are written before stale ones are deleted, so a failure part way
        never leaves a note with fewer chunks than before.
        """
        note_ids = [note_id_for(d.source) for d in drafts]
        old = self.collection.get(
            where={"note_id": {"$in": note_ids}}, include=["metadatas"]
        )
        old_rows: dict[str, list[tuple[str, dict]]] = {}
        for id_, meta in zip(old["ids"], old["metadatas"] or [], strict=True):
            old_rows.setdefault(meta["note_id"], []).append((id_, meta))

        statuses, ids, documents, metadatas, stale = [], [], [], [], []
        now = time.time()
        for note_id, draft in zip(note_ids, drafts, strict=True):
            previous = old_rows.get(note_id, [])
            if _unchanged(previous, draft):
                statuses.append("unchanged")
                continue
            statuses.append("updated" if previous else "imported")
            new_ids = [f"{note_id}:{c.index}" for c in draft.chunks]
            ids += new_ids
            documents += [c.text for c in draft.chunks]
            metadatas += [_metadata(note_id, draft, c, now) for c in draft.chunks]
            stale += sorted({i for i, _ in previous} - set(new_ids))

        if ids:
            vectors = np.asarray(self.embed(documents), dtype=np.float32)
            self.collection.upsert(
                ids=ids, documents=documents, embeddings=vectors, metadatas=metadatas
            )
        if stale:
            self.collection.delete(ids=stale)
        return statuses

    def query(
        self, text: str, codes: Sequence[str] | None = None, k: int = 5
    ) -> list[Hit]:
        """The k chunks most similar to `text`, only in `codes` when given."""
        if k < 1:
            return []
        where = None
        if codes:
            codes = list(codes)
            where = {"code": codes[0]} if len(codes) == 1 else {"code": {"$in": codes}}
        vector = np.asarray(self.embed([text]), dtype=np.float32)
        result = self.collection.query(
            query_embeddings=vector,
            n_results=k,
            where=where,
            include=["metadatas", "documents", "distances"],
        )
        hits = []
        for id_, meta, doc, distance in zip(
            result["ids"][0],
            result["metadatas"][0],
            result["documents"][0],
            result["distances"][0],
            strict=True,
        ):
            hits.append(_hit(id_, meta, doc, 1.0 - float(distance)))
        return hits

    def notes(self, code: str | None = None) -> list[NoteInfo]:
        """Every stored note (one entry per source), newest first."""
        where = {"code": code} if code else None
        rows = self.collection.get(where=where, include=["metadatas"])
        grouped: dict[str, list[dict]] = {}
        for meta in rows["metadatas"] or []:
            grouped.setdefault(meta["note_id"], []).append(meta)
        infos = [_info(metas) for metas in grouped.values()]
        return sorted(infos, key=lambda n: (-n.imported_at, n.title))

    def find(self, key: str) -> NoteInfo:
        """A note by id, id prefix or source path (relative or with ~)."""
        # Sources are stored resolved, so `notes show ./pool.txt` must be too.
        sources = {key, os.path.realpath(os.path.expanduser(key))}
        notes = self.notes()
        for note in notes:
            if key == note.note_id or note.source in sources:
                return note

        matches = [n for n in notes if len(key) >= 6 and n.note_id.startswith(key)]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise NoteNotFound(
                f"{key!r} starts the ids of {len(matches)} notes; give more of the id."
            )
        raise NoteNotFound(
            f"No stored note matches {key!r}. `household-assistant notes list` shows "
            "the ids and sources."
        )

    def chunks(self, note_id: str) -> list[Hit]:
        rows = self.collection.get(
            where={"note_id": note_id}, include=["metadatas", "documents"]
        )
        hits = [
            _hit(i, m, d, 1.0)
            for i, m, d in zip(
                rows["ids"], rows["metadatas"], rows["documents"], strict=True
            )
        ]
        return sorted(hits, key=lambda h: h.chunk_index)

    def remove(self, note_id: str) -> int:
        """Delete a note's chunks; returns how many were removed."""
        ids = self._note_rows(note_id)["ids"]
        if ids:
            self.collection.delete(ids=ids)
        return len(ids)

    def set_category(self, note_id: str, code: str, category: str) -> int:
        """Move a note to another category without re-embedding it."""
        rows = self._note_rows(note_id)
        if not rows["ids"]:
            raise NoteNotFound(f"No stored note has the id {note_id!r}.")
        metadatas = [
            {**m, "code": code, "category": category} for m in rows["metadatas"]
        ]
        self.collection.update(ids=rows["ids"], metadatas=metadatas)
        return len(rows["ids"])


def _unchanged(previous: list[tuple[str, dict]], draft: NoteDraft) -> bool:
    return len(previous) == len(draft.chunks) and all(
        m.get("content_hash") == draft.text_hash and m.get("code") == draft.code
        for _, m in previous
    )


def _metadata(note_id: str, draft: NoteDraft, chunk: Chunk, now: float) -> dict:
    return {
        "note_id": note_id,
        "source": draft.source,
        "title": draft.title,
        "code": draft.code,
        "category": draft.category,
        "chunk_index": chunk.index,
        "heading": chunk.heading,
        "content_hash": draft.text_hash,
        "imported_at": now,
    }


def _hit(id_: str, meta: dict, doc: str, score: float) -> Hit:
    return Hit(
        id=id_,
        note_id=meta["note_id"],
        title=meta.get("title", ""),
        source=meta.get("source", ""),
        code=meta.get("code", ""),
        category=meta.get("category", ""),
        chunk_index=int(meta.get("chunk_index", 0)),
        text=doc or "",
        score=score,
    )


def _info(metas: list[dict]) -> NoteInfo:
    first = metas[0]
    return NoteInfo(
        note_id=first["note_id"],
        title=first.get("title", ""),
        source=first.get("source", ""),
        code=first.get("code", ""),
        category=first.get("category", ""),
        chunks=len(metas),
        content_hash=first.get("content_hash", ""),
        imported_at=max(float(m.get("imported_at", 0)) for m in metas),
    )
