"""The one object the CLI and the GUI drive: route, retrieve, answer, import.

`Assistant.ask` is a generator of events, so a terminal can print tokens as
they arrive and the GUI can forward them from a worker thread as signals.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .adapters import AdapterStore, AdapterVersion
from .answer import build_answer_prompt, stream_answer
from .categories import CategoryBook
from .config import Settings, data_dir, load_settings
from .dataset import LabelledQuestion, bundled_questions
from .errors import AdapterError, HouseholdError, ModelLoadError, ModelNotAvailable
from .feedback import FEEDBACK_FILE, FeedbackStore
from .importer import FileResult, collect_files, import_files
from .insights import off_topic_tokens
from .knn import KnnRouter
from .models import ModelManager
from .retrieval import Scope, retrieve
from .router import LLMRouter, RouteDecision, manual_decision
from .store import Hit, NoteStore, open_client

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RouteEvent:
    decision: RouteDecision


@dataclass(frozen=True)
class SourcesEvent:
    scope: Scope
    hits: list[Hit]


@dataclass(frozen=True)
class TokenEvent:
    text: str


@dataclass(frozen=True)
class DoneEvent:
    answer: str
    timings: dict[str, float]  # milliseconds per stage, and the total
    usage: dict[str, int] = field(default_factory=dict)  # tokens per stage
    question_id: int | None = None  # for feedback; None if it was not recorded


Event = RouteEvent | SourcesEvent | TokenEvent | DoneEvent


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)


class Assistant:
    """Household Assistant's core, for one data folder.

    Args:
        home: The data folder; defaults to `data_dir()`.
        settings: Settings to use instead of the saved ones.
    """

    def __init__(self, home: Path | None = None, settings: Settings | None = None):
        self.home = home or data_dir()
        self.settings = settings or load_settings(self.home)
        self.categories = CategoryBook.load(self.home)
        self.models = ModelManager(self.settings, self.home)
        self._store: NoteStore | None = None
        self._embedder = None
        self._knn: KnnRouter | None = None
        self._llm: LLMRouter | None = None
        self._feedback: FeedbackStore | None = None
        self._lora: dict[str, LLMRouter] = {}
        self.adapters = AdapterStore(self.home)
        # Why the router in use is not the one asked for (a damaged adapter).
        self.router_notice = ""
        self._lock = threading.RLock()

    # --- components, built on first use -------------------------------------

    def embed(self, texts: list[str]):
        """Unit vectors for `texts`; the embedder loads on the first call."""
        with self._lock:
            if self._embedder is None:
                self._embedder = self.models.embedding_function()
        return self._embedder.embed(texts)

    @property
    def store(self) -> NoteStore:
        # Listing or removing notes works without the embedding model.
        with self._lock:
            if self._store is None:
                client = open_client(self.home, self.settings.chroma_url)
                self._store = NoteStore(client, self.embed)
            return self._store

    @property
    def feedback(self) -> FeedbackStore:
        with self._lock:
            if self._feedback is None:
                self._feedback = FeedbackStore(
                    self.home / FEEDBACK_FILE, self.settings.confidence_threshold
                )
            return self._feedback

    def _household_labels(self) -> list[LabelledQuestion]:
        # Routing still works, on the bundled questions alone, without feedback.
        try:
            return self.feedback.labelled(self.settings.confirm_on_thumbs_up)
        except (HouseholdError, sqlite3.Error) as exc:
            logger.warning("Routing without the household's labels: %s", exc)
            return []

    def knn_router(self) -> KnnRouter:
        with self._lock:
            if self._knn is None:
                # Household labels come last, so they override bundled questions
                # with the same text.
                self._knn = KnnRouter(
                    self.embed,
                    self.categories,
                    bundled_questions(self.categories) + self._household_labels(),
                    k=self.settings.knn_k,
                    cache_dir=self.home / "cache",
                    cache_tag=self.settings.embedding_model,
                )
            return self._knn

    def llm_router(self) -> LLMRouter:
        with self._lock:
            if self._llm is None:
                model, tokenizer = self.models.load_llm("router")
                if self.categories.ensure_single_tokens(tokenizer):
                    self.categories.save()
                self._llm = LLMRouter(model, tokenizer, self.categories, "llm")
            return self._llm

    def lora_router(self, version: AdapterVersion) -> LLMRouter:
        """The router model with `version`'s adapter (files checked first)."""
        with self._lock:
            if version.version not in self._lora:
                self.adapters.check(version)
                try:
                    model, tokenizer = self.models.load_llm("router", version.path)
                except ModelLoadError as exc:
                    raise AdapterError(
                        f"Adapter {version.version} does not fit the router model "
                        f"({exc}). Activate another version or train again."
                    ) from exc
                name = f"lora:{version.version}"
                self._lora[version.version] = LLMRouter(
                    model, tokenizer, self.categories, name
                )
            return self._lora[version.version]

    def active_router(self):
        """The active adapter's router; if it fails to load, the previous
        version's, and kNN when no adapter works. `router_notice` says why.
        """
        active = self.adapters.active()
        if active is None:
            return self.knn_router()
        for version in [active, *self.adapters.fallbacks()]:
            try:
                router = self.lora_router(version)
            except (AdapterError, ModelNotAvailable) as exc:
                logger.warning("Router adapter %s unusable: %s", version.version, exc)
                self.router_notice = str(exc)
                continue
            if version is not active:
                self.router_notice += f" Routing with {version.version} instead."
            return router
        if self.router_notice:
            self.router_notice += " Routing with the kNN router instead."
        return self.knn_router()

    def router(self, kind: str | None = None):
        """A router by kind: "knn", "llm" (the base model, prompt only), "active"
        (the active LoRA adapter, else kNN) or "auto"; None uses the setting.
        """
        kind = kind or self.settings.router
        if kind == "llm":
            return self.llm_router()
        if kind == "knn":
            return self.knn_router()
        if kind not in ("active", "auto"):
            raise HouseholdError(
                f"Unknown router {kind!r}; choose knn, llm, active or auto."
            )
        return self.active_router()

    def reset_routers(self) -> None:
        """Forget loaded adapter routers, e.g. after the active one changed."""
        with self._lock:
            for version in self._lora:
                self.models.unload_adapter(self.adapters.root / version)
            self._lora.clear()
            self.router_notice = ""

    def forget_routers(self) -> None:
        """Drop every loaded router, so the next route sees the categories as
        they are now (after an add or a rename). Model weights stay loaded."""
        self.reset_routers()
        with self._lock:
            self._knn = None
            self._llm = None

    # --- the three jobs ------------------------------------------------------

    def route(self, question: str) -> RouteDecision:
        return self.router().route(question)

    def ask(
        self, question: str, category: str | None = None, answer: bool = True
    ) -> Iterator[Event]:
        """Route, retrieve and (optionally) answer, yielding events as they happen.

        Args:
            question: What the user asked.
            category: Search only this category, skipping the router.
            answer: False stops after the sources (no answering model needed).
        """
        started = time.perf_counter()
        timings: dict[str, float] = {}

        step = time.perf_counter()
        if category:
            decision = manual_decision(self.categories, category)
        else:
            decision = self.route(question)
        timings["route_ms"] = _ms(step)
        yield RouteEvent(decision)

        step = time.perf_counter()
        scope, hits = retrieve(self.store, question, decision, self.settings)
        timings["retrieve_ms"] = _ms(step)
        yield SourcesEvent(scope, hits)

        text, usage = "", {"router_tokens": decision.tokens}
        if answer:
            text, answer_timings, answer_usage = yield from self._answer(question, hits)
            timings.update(answer_timings)
            usage.update(answer_usage)
            usage["off_topic_tokens"] = self._off_topic_tokens(question, scope)
        timings["total_ms"] = _ms(started)
        question_id = self._record(question, decision, hits, text, timings, usage)
        yield DoneEvent(text, timings, usage, question_id)

    def _record(
        self,
        question: str,
        decision: RouteDecision,
        hits: list[Hit],
        text: str,
        timings: dict[str, float],
        usage: dict[str, int] | None = None,
    ) -> int | None:
        # Manual routes are recorded too: the answer can still get feedback.
        try:
            sources = [hit.to_dict() for hit in hits]
            return self.feedback.record_question(
                question, decision, sources, text, timings, usage
            )
        except (HouseholdError, sqlite3.Error) as exc:
            logger.warning("Could not record the question for feedback: %s", exc)
            return None

    def _off_topic_tokens(self, question: str, scope: Scope) -> int | None:
        # For the Insights tab: what an unfiltered search would have put in the
        # prompt from other categories (see insights.py). Runs after the answer,
        # so it never delays it; a failure only leaves the number unmeasured.
        if not scope.codes:
            return 0
        try:
            _model, tokenizer = self.models.load_llm("answer")
            unfiltered = self.store.query(question, None, self.settings.top_k)
            return off_topic_tokens(tokenizer, unfiltered, scope.codes)
        except Exception as exc:  # noqa: BLE001 - a statistic, never a failure
            logger.warning("Could not measure the category filter: %s", exc)
            return None

    # --- feedback ------------------------------------------------------------

    def correct(
        self, question_id: int, category: str, comment: str = ""
    ) -> LabelledQuestion:
        """Store the category a question should have gone to.

        The kNN router learns it at once if it is running; otherwise it reads
        the label from the feedback store when it is built.
        """
        code = self.categories.get(category).code
        label = self.feedback.correct(question_id, code, comment)
        with self._lock:
            knn = self._knn
        if knn is not None:
            knn.add(label)
        return label

    def thumbs(self, question_id: int, up: bool, comment: str = "") -> None:
        """Thumbs up or down on an answer, with what was wrong if it was.

        A confirmation agrees with what the router already said, so the kNN
        router picks it up on its next build rather than now.
        """
        self.feedback.thumbs(question_id, up, comment)

    def import_feedback(self, path: Path) -> int:
        """Import exported labels; returns how many were new."""
        added = self.feedback.import_jsonl(path, self.categories)
        with self._lock:
            knn = self._knn
        if knn is not None and added:
            for label in self._household_labels():
                knn.add(label)
        return added

    def _answer(self, question: str, hits: list[Hit]):
        step = time.perf_counter()
        model, tokenizer = self.models.load_llm("answer")
        timings = {"load_ms": _ms(step)}

        budget = self.settings.context_tokens - self.settings.max_answer_tokens
        prompt = build_answer_prompt(tokenizer, question, hits, max(budget, 256))
        step = time.perf_counter()
        first_token_ms = None
        parts: list[str] = []
        generated = 0
        for piece, count, _tps in stream_answer(
            model, tokenizer, prompt, self.settings.max_answer_tokens
        ):
            generated = count
            if first_token_ms is None:
                first_token_ms = _ms(step)
            if piece:
                parts.append(piece)
                yield TokenEvent(piece)

        timings["first_token_ms"] = first_token_ms or 0.0
        timings["generate_ms"] = _ms(step)
        usage = {
            "prompt_tokens": len(prompt.tokens),
            "answer_tokens": generated,
            "sources_dropped": prompt.dropped,
        }
        return "".join(parts), timings, usage

    def import_paths(
        self, paths: Iterable[Path], category: str | None = None
    ) -> Iterator[FileResult]:
        """Import files and folders, yielding one result per file."""
        yield from self.import_files(collect_files(paths), category)

    def import_files(
        self, files: Iterable[tuple[Path, str | None]], category: str | None = None
    ) -> Iterator[FileResult]:
        """Import what `importer.collect_files` found (so a caller can count it).

        Args:
            files: (path, skip reason or None) pairs.
            category: Store every file in this category; None lets the router
                suggest one per file from its title and opening text.
        """
        chosen = self.categories.get(category) if category else None
        suggest = None if chosen else self.route
        yield from import_files(
            files, self.store, self.categories, self.settings, chosen, suggest
        )
