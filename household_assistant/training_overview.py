"""What the Trainer tab shows, read from the core: the data, a run, the versions.

Everything here is plain data built from the files a training run leaves
behind (the adapter folders and their report.json) and from the feedback
store, so the GUI only lays it out and the numbers can be tested without Qt.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .adapters import REPORT_FILE, AdapterStore
from .dataset import bundled_questions, heldout_questions, read_jsonl
from .errors import TrainingError
from .evaluation import INVALID
from .trainer import TrainConfig

logger = logging.getLogger(__name__)

# Below this many examples a category gets a question or two in validation and
# test, and too few in training for the router to learn it.
MIN_EXAMPLES = 10

SET_TITLES = {"heldout": "Held-out set", "corrections": "Your corrections"}
PROGRESS_EVENTS = ("start", "train", "eval", "judge", "done", "cancelled", "error")


# --- the data set ---------------------------------------------------------------


@dataclass(frozen=True)
class CategoryCount:
    """How many labelled questions one category has to learn from."""

    name: str
    code: str
    bundled: int
    household: int

    @property
    def total(self) -> int:
        return self.bundled + self.household


@dataclass(frozen=True)
class DataOverview:
    """The questions the next training run would learn from.

    `source` is "bundled" or the file the training config names instead.
    `new_since_training` counts household labels newer than the newest adapter
    version (all of them when there is no version yet).
    """

    source: str
    bundled: int
    heldout: int
    corrections: int
    confirmed: int
    new_since_training: int
    last_version: str | None
    last_trained_at: str
    categories: list[CategoryCount]
    min_examples: int = MIN_EXAMPLES

    @property
    def household(self) -> int:
        return self.corrections + self.confirmed

    def thin(self) -> list[CategoryCount]:
        """Categories with fewer examples than `min_examples`."""
        return [c for c in self.categories if c.total < self.min_examples]

    def warning(self) -> str:
        """Why training may not learn some categories, or "" when all is well."""
        thin = self.thin()
        if not thin:
            return ""
        listed = ", ".join(f"{c.name} ({c.total})" for c in thin)
        verb = "has" if len(thin) == 1 else "have"
        return (
            f"{listed} {verb} too few examples to split and learn from. Give each "
            f"category at least {self.min_examples}: correct a few of its "
            "questions in Chat, then retrain."
        )


def data_overview(
    assistant, config: TrainConfig | None = None, min_examples: int = MIN_EXAMPLES
) -> DataOverview:
    """Count what training would use: the pool, the held-out set, the labels.

    Args:
        assistant: The Assistant whose categories, feedback and adapters to read.
        config: The training config; its questions_file and heldout_file replace
            the bundled sets, as they do in training.
        min_examples: Fewer examples than this in a category earns a warning.
    """
    categories = assistant.categories
    config = config or TrainConfig()
    if config.questions_file:
        path = Path(config.questions_file).expanduser()
        pool, source = read_jsonl(path, categories, skip_unknown=True), path.name
    else:
        pool, source = bundled_questions(categories), "bundled"
    if config.heldout_file:
        held = read_jsonl(Path(config.heldout_file).expanduser(), categories, True)
    else:
        held = heldout_questions(categories)

    labels = assistant.feedback.labels(assistant.settings.confirm_on_thumbs_up)
    versions = assistant.adapters.versions()
    last = versions[-1] if versions else None
    since = _moment(last.created_at) if last else None
    new = [x for x in labels if since is None or _moment(x.created_at) > since]

    pool_counts = Counter(q.code for q in pool)
    label_counts = Counter(x.code for x in labels)
    counts = [
        CategoryCount(c.name, c.code, pool_counts[c.code], label_counts[c.code])
        for c in categories
    ]
    return DataOverview(
        source=source,
        bundled=len(pool),
        heldout=len(held),
        corrections=sum(x.kind == "correction" for x in labels),
        confirmed=sum(x.kind == "confirmed" for x in labels),
        new_since_training=len(new),
        last_version=last.version if last else None,
        last_trained_at=last.created_at if last else "",
        categories=counts,
        min_examples=min_examples,
    )


def _moment(stamp: str) -> datetime:
    # Feedback stamps carry milliseconds and reports whole seconds; compare
    # them as times, not strings. An unreadable stamp counts as very old.
    try:
        moment = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return datetime.min.replace(tzinfo=timezone.utc)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment


# --- one run's result -----------------------------------------------------------


@dataclass(frozen=True)
class SetScore:
    """Accuracy on one judging set, for the router in use and the new one."""

    name: str  # "heldout" or "corrections"
    title: str
    total: int
    before: float | None  # None when the router in use was not judged
    after: float | None


@dataclass(frozen=True)
class CategoryResult:
    name: str
    code: str
    total: int
    before: int | None  # questions the router in use got right
    after: int  # questions the new router got right


@dataclass(frozen=True)
class WrongAnswer:
    question: str
    expected: str  # category name
    got: str  # category name, or "invalid"
    confidence: float
    judged_on: str  # the set's title


@dataclass(frozen=True)
class Confusion:
    """Truth (rows) against prediction (columns), as counts."""

    rows: list[tuple[str, str]]  # (code, name)
    columns: list[tuple[str, str]]
    counts: list[list[int]]

    def count(self, truth: str, predicted: str) -> int:
        codes = [code for code, _ in self.columns]
        for (code, _), row in zip(self.rows, self.counts, strict=True):
            if code == truth and predicted in codes:
                return row[codes.index(predicted)]
        return 0

    @property
    def largest(self) -> int:
        return max((max(row, default=0) for row in self.counts), default=0)


@dataclass
class RunSummary:
    """What a finished training run found, from its report.json."""

    version: str
    created_at: str
    compared_with: str
    promoted: bool | None  # what the check (or the request) decided
    reason: str
    scores: list[SetScore]
    categories: list[CategoryResult]  # on the held-out set
    confusion: Confusion  # the new router on the held-out set
    mistakes: list[WrongAnswer]
    best_step: int = 0
    best_accuracy: float | None = None  # on the validation questions
    steps: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    history: list[dict[str, Any]] = field(default_factory=list)

    def score(self, name: str) -> SetScore | None:
        return next((s for s in self.scores if s.name == name), None)


def read_run_summary(folder: Path) -> RunSummary:
    """The result of the run that wrote `folder` (an adapter version's folder).

    Raises:
        TrainingError: The report is missing or is not what a run writes.
    """
    path = Path(folder) / REPORT_FILE
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        return _summary(report)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TrainingError(
            f"Could not read the training report {path} ({exc}). Expected the "
            "report.json a training run writes; train again to get a new one."
        ) from exc


def _summary(report: dict) -> RunSummary:
    new = report["evaluations"]["new"]
    current = report["evaluations"].get("current", {})
    # "scores" holds the unrounded accuracies; the evaluations, the details.
    exact = report.get("scores", {})
    scores = [
        SetScore(
            name,
            SET_TITLES.get(name, name),
            result["total"],
            exact.get("current", {}).get(name),
            exact.get("new", {}).get(name, result["accuracy"]),
        )
        for name, result in new.items()
    ]

    held_new = new.get("heldout", {"categories": [], "confusion": {}})
    held_current = current.get("heldout", {})
    before = {c["code"]: c["correct"] for c in held_current.get("categories", [])}
    categories = [
        CategoryResult(
            c["name"], c["code"], c["total"], before.get(c["code"]), c["correct"]
        )
        for c in held_new["categories"]
        if c["total"]
    ]

    mistakes = [
        WrongAnswer(
            m["question"],
            m["truth"],
            m["predicted"],
            m["confidence"],
            SET_TITLES.get(name, name),
        )
        for name, result in new.items()
        for m in result.get("mistakes", [])
    ]
    training, decision = report.get("training", {}), report.get("promotion", {})
    return RunSummary(
        version=report["version"],
        created_at=report.get("created_at", ""),
        compared_with=report.get("compared_with", ""),
        promoted=decision.get("promote"),
        reason=decision.get("reason", ""),
        scores=scores,
        categories=categories,
        confusion=_confusion(held_new),
        mistakes=mistakes,
        best_step=training.get("best_step", 0),
        best_accuracy=training.get("best_validation_accuracy"),
        steps=training.get("steps", 0),
        stopped_early=bool(training.get("stopped_early", False)),
        seconds=training.get("seconds", 0.0),
        history=training.get("history", []),
    )


def _confusion(result: dict) -> Confusion:
    # Only categories that appear as a truth or a prediction: a household with
    # 18 categories and a short held-out set should not get an empty grid.
    names = {c["code"]: c["name"] for c in result["categories"]}
    table: dict[str, dict[str, int]] = result["confusion"]
    seen = set(table) | {p for row in table.values() for p in row}
    order = [code for code in names if code in seen]
    columns = order + ([INVALID] if INVALID in seen else [])
    return Confusion(
        rows=[(code, names[code]) for code in order],
        columns=[(code, names.get(code, code)) for code in columns],
        counts=[[table.get(t, {}).get(p, 0) for p in columns] for t in order],
    )


# --- the versions ---------------------------------------------------------------


@dataclass(frozen=True)
class VersionRow:
    version: str
    created_at: str
    heldout: float | None
    corrections: float | None
    active: bool
    promoted: bool | None
    reason: str


def version_rows(store: AdapterStore) -> list[VersionRow]:
    """Every finished version, newest first, with the active one marked."""
    active = store.active()
    return [
        VersionRow(
            v.version,
            v.created_at,
            v.heldout_accuracy,
            v.corrections_accuracy,
            active is not None and v.version == active.version,
            v.promoted,
            v.reason,
        )
        for v in reversed(store.versions())
    ]


# --- the progress stream --------------------------------------------------------


def parse_progress(line: str) -> dict[str, Any] | None:
    """One line of `train --progress json`, or None if it is not an event.

    Anything else on stdout (a stray print from a library) is logged and
    skipped rather than stopping the run's display.
    """
    text = line.strip()
    if not text:
        return None
    try:
        event = json.loads(text)
    except ValueError:
        logger.warning("Ignoring a training output line that is not JSON: %.200s", text)
        return None
    if not isinstance(event, dict) or event.get("event") not in PROGRESS_EVENTS:
        logger.warning("Ignoring an unknown training event: %.200s", text)
        return None
    return event


def format_duration(seconds: float) -> str:
    """'45 s', '3 min 05 s', '1 h 02 min'."""
    seconds = max(int(round(seconds)), 0)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
