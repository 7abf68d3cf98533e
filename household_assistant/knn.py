"""Route by the most similar labelled questions: works before any training.

The kNN router embeds every labelled question the app knows (the bundled data
set plus the household's corrections) and lets the k nearest vote, weighted by
similarity. A correction counts the moment it is added; no retraining needed.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .categories import CategoryBook
from .dataset import LabelledQuestion
from .router import RouteDecision, decision_from_probs

logger = logging.getLogger(__name__)


def _key(text: str) -> str:
    return " ".join(text.lower().split())


class KnnRouter:
    """Similarity-weighted vote among the k nearest labelled questions.

    Args:
        embed: A function from a list of texts to unit vectors (n, d).
        categories: The categories to choose among.
        examples: Labelled questions; later ones override earlier ones with the
            same text, so pass corrections after the bundled set.
        k: How many neighbours vote.
        cache_dir: Where to keep the example embeddings between runs.
        sharpness: Votes are exp(sharpness * similarity); higher trusts the
            closest neighbours more.
        cache_tag: Names the embedding model, so another model's cached
            vectors are never reused.
    """

    name = "knn"

    def __init__(
        self,
        embed,
        categories: CategoryBook,
        examples: Iterable[LabelledQuestion],
        k: int = 7,
        cache_dir: Path | None = None,
        sharpness: float = 10.0,
        cache_tag: str = "",
    ):
        self.embed = embed
        self.categories = categories
        self.k = k
        self.sharpness = sharpness
        self.cache_tag = cache_tag  # the embedding model; its vectors are cached apart
        self._lock = threading.Lock()
        self._index = {code: i for i, code in enumerate(categories.codes)}

        latest: dict[str, LabelledQuestion] = {}
        for example in examples:
            if example.code in self._index:
                latest[_key(example.question)] = example
        self.examples = list(latest.values())
        self.vectors = self._embed_cached(
            [e.question for e in self.examples], cache_dir
        )

    def _embed_cached(self, texts: list[str], cache_dir: Path | None) -> np.ndarray:
        # One vector per text, cached by the text's hash: a new correction
        # embeds one question, not the whole bundled set again.
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        keys = [hashlib.sha256(t.encode()).hexdigest()[:20] for t in texts]
        tag = hashlib.sha256(self.cache_tag.encode()).hexdigest()[:8]
        path = cache_dir / f"knn-{tag}.npz" if cache_dir else None
        known: dict[str, np.ndarray] = {}
        if path is not None and path.exists():
            try:
                with np.load(path) as saved:
                    known = dict(
                        zip(saved["keys"].tolist(), saved["vectors"], strict=True)
                    )
            except (OSError, ValueError, KeyError) as exc:
                logger.warning("Ignoring an unreadable kNN cache %s: %s", path, exc)

        missing = sorted(
            {k: t for k, t in zip(keys, texts, strict=True) if k not in known}.items()
        )
        if missing:
            vectors = np.asarray(self.embed([t for _, t in missing]), np.float32)
            known.update(zip([k for k, _ in missing], vectors, strict=True))
        out = np.stack([known[k] for k in keys]).astype(np.float32)
        if missing and path is not None:
            self._save_cache(path, keys, out)
        return out

    @staticmethod
    def _save_cache(path: Path, keys: list[str], vectors: np.ndarray) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, keys=np.array(keys), vectors=vectors)
        os.replace(tmp, path)
        for old in path.parent.glob("knn-*.np[yz]"):
            if old != path:
                old.unlink(missing_ok=True)

    def __len__(self) -> int:
        return len(self.examples)

    def add(self, example: LabelledQuestion) -> None:
        """Learn one more labelled question (a correction) right away."""
        if example.code not in self._index:
            return
        vector = np.asarray(self.embed([example.question]), dtype=np.float32)
        with self._lock:
            key = _key(example.question)
            keep = [i for i, e in enumerate(self.examples) if _key(e.question) != key]
            self.examples = [self.examples[i] for i in keep] + [example]
            self.vectors = np.concatenate([self.vectors[keep], vector])

    def probabilities(self, question: str) -> np.ndarray:
        probs = np.zeros(len(self._index), dtype=np.float64)
        with self._lock:
            if not self.examples:
                probs[:] = 1.0 / len(probs)
                return probs
            query = np.asarray(self.embed([question]), dtype=np.float32)[0]
            sims = self.vectors @ query
            nearest = np.argsort(-sims, kind="stable")[: self.k]
            for i in nearest:
                code = self.examples[i].code
                probs[self._index[code]] += np.exp(self.sharpness * float(sims[i]))
        return probs / probs.sum()

    def route(self, question: str) -> RouteDecision:
        started = time.perf_counter()
        probs = self.probabilities(question)
        return decision_from_probs(self.categories, probs, self.name, started)
