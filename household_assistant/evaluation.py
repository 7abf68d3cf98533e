"""Measure a router on labelled questions: accuracy, confusions, latency.

Every router is timed the same way, around its `route` call, so a router that
reports its own latency differently cannot look faster than it is. A decision
whose code is not a category code is invalid; code-scoring routers never give
one, a router that writes names does whenever its reply is not a name.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from .categories import CategoryBook
from .dataset import LabelledQuestion
from .errors import HouseholdError
from .router import RouteDecision

logger = logging.getLogger(__name__)

INVALID = "invalid"  # the predicted "code" of a decision that names no category


class Router(Protocol):
    name: str

    def route(self, question: str) -> RouteDecision: ...


@dataclass(frozen=True)
class CategoryScore:
    """How often the router was right on one category's questions."""

    name: str
    code: str
    total: int
    correct: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.total if self.total else None

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "code": self.code,
            "total": self.total,
            "correct": self.correct,
            "accuracy": _round(self.accuracy),
        }


@dataclass(frozen=True)
class Mistake:
    question: str
    truth: str  # category code
    predicted: str  # category code, or INVALID
    confidence: float
    output: str = ""  # what a name-writing router actually wrote


@dataclass
class EvalReport:
    """One router's results on one set of questions.

    `per_category` lists every category in display order (totals may be zero);
    `confusion` maps truth code -> predicted code (or "invalid") -> count.
    """

    router: str
    total: int
    correct: int
    invalid: int
    per_category: list[CategoryScore]
    confusion: dict[str, dict[str, int]]
    mean_latency_ms: float
    p95_latency_ms: float
    mistakes: list[Mistake] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)  # per question, in order

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def name_of(self, code: str) -> str:
        """The category's name when evaluated, or the code itself if unknown."""
        for score in self.per_category:
            if score.code == code:
                return score.name
        return code

    def top_confusions(self, limit: int = 10) -> list[tuple[str, str, int]]:
        """(truth code, predicted code, count) for the commonest mistakes."""
        pairs = [
            (truth, predicted, count)
            for truth, row in self.confusion.items()
            for predicted, count in row.items()
            if predicted != truth
        ]
        # Most frequent first; ties keep the order of the category list.
        pairs.sort(key=lambda pair: -pair[2])
        return pairs[:limit]

    def to_dict(self) -> dict:
        """Stable JSON: codes as keys, names as they were when evaluated."""
        return {
            "router": self.router,
            "total": self.total,
            "correct": self.correct,
            "accuracy": _round(self.accuracy),
            "invalid": self.invalid,
            "mean_latency_ms": round(self.mean_latency_ms, 2),
            "p95_latency_ms": round(self.p95_latency_ms, 2),
            "categories": [score.to_dict() for score in self.per_category],
            "confusion": self.confusion,
            "mistakes": [
                {
                    "question": m.question,
                    "truth": self.name_of(m.truth),
                    "truth_code": m.truth,
                    "predicted": self.name_of(m.predicted),
                    "predicted_code": m.predicted,
                    "confidence": round(m.confidence, 4),
                    "output": m.output,
                }
                for m in self.mistakes
            ],
        }

    def to_markdown(self, max_confusions: int = 10, max_mistakes: int = 20) -> str:
        """A readable report: headline, per-category table, confusions, mistakes."""
        lines = [
            f"## Router: {self.router}",
            "",
            f"Accuracy: **{_count(self.correct, self.total)}**, "
            f"invalid outputs: {self.invalid}",
            f"Latency: mean {self.mean_latency_ms:.1f} ms, "
            f"p95 {self.p95_latency_ms:.1f} ms",
            "",
            "| category | code | correct | accuracy |",
            "|---|---|---:|---:|",
        ]
        for score in self.per_category:
            if score.total:
                lines.append(
                    f"| {score.name} | {score.code} | {score.correct}/{score.total} "
                    f"| {score.accuracy:.0%} |"
                )

        confusions = self.top_confusions(max_confusions)
        if confusions:
            lines += ["", "### Most frequent confusions", ""]
            lines += ["| truth | predicted | count |", "|---|---|---:|"]
            for truth, predicted, count in confusions:
                lines.append(
                    f"| {self.name_of(truth)} | {self.name_of(predicted)} | {count} |"
                )

        if self.mistakes:
            lines += ["", _mistakes_heading(len(self.mistakes), max_mistakes), ""]
            lines += [self._mistake_line(m) for m in self.mistakes[:max_mistakes]]
        return "\n".join(lines) + "\n"

    def _mistake_line(self, mistake: Mistake) -> str:
        got = self.name_of(mistake.predicted)
        if mistake.predicted == INVALID:
            got = f"invalid output {mistake.output!r}"
        else:
            got = f"{got} ({mistake.confidence:.0%})"
        return (
            f"- {mistake.question!r}: expected {self.name_of(mistake.truth)}, got {got}"
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _count(correct: int, total: int) -> str:
    share = correct / total if total else 0.0
    return f"{correct}/{total} ({share:.0%})"


def _mistakes_heading(count: int, cap: int) -> str:
    if count > cap:
        return f"### Mistakes (first {cap} of {count})"
    return f"### Mistakes ({count})"


def evaluate(
    router: Router,
    questions: list[LabelledQuestion],
    categories: CategoryBook,
    progress: Callable[[int, int], None] | None = None,
    name: str | None = None,
    warmup: bool = True,
) -> EvalReport:
    """Route every question and score the decisions against their labels.

    Args:
        router: Anything with `.route(question) -> RouteDecision`.
        questions: Labelled questions; their codes must be category codes.
        categories: The categories, for names and the per-category table.
        progress: Called with (done, total) after each question.
        name: The router's name in the report; defaults to `router.name`.
        warmup: Route the first question once, untimed, before measuring, so
            one-off costs (a prefix cache, a first embedder call) stay out of
            the latency figures.

    Returns:
        The report, with latency measured around each `route` call.
    """
    _check_questions(questions, categories)
    codes = set(categories.codes)
    confusion: dict[str, Counter] = {}
    latencies: list[float] = []
    mistakes: list[Mistake] = []

    if warmup:
        router.route(questions[0].question)
    for done, item in enumerate(questions, 1):
        started = time.perf_counter()
        decision = router.route(item.question)
        latencies.append((time.perf_counter() - started) * 1000)

        predicted = decision.code if decision.code in codes else INVALID
        confusion.setdefault(item.code, Counter())[predicted] += 1
        if predicted != item.code:
            output = str(decision.extra.get("raw", ""))
            mistakes.append(
                Mistake(
                    item.question, item.code, predicted, decision.confidence, output
                )
            )
        if progress is not None:
            progress(done, len(questions))

    report = _report(
        name or getattr(router, "name", type(router).__name__),
        categories,
        confusion,
        latencies,
        mistakes,
    )
    logger.info(
        "Evaluated %s: %d/%d correct, %d invalid",
        report.router,
        report.correct,
        report.total,
        report.invalid,
    )
    return report


def _check_questions(
    questions: list[LabelledQuestion], categories: CategoryBook
) -> None:
    if not questions:
        raise HouseholdError(
            "There are no questions to evaluate; pass a JSONL file with at least "
            'one {"question": ..., "category": ...} line.'
        )
    unknown = sorted({q.code for q in questions} - set(categories.codes))
    if unknown:
        raise HouseholdError(
            f"Questions are labelled with codes {unknown} that no category has; "
            f"known codes: {', '.join(categories.codes)}."
        )


def _report(
    router: str,
    categories: CategoryBook,
    confusion: dict[str, Counter],
    latencies: list[float],
    mistakes: list[Mistake],
) -> EvalReport:
    # Rows and columns in category order, "invalid" last, so JSON diffs are stable.
    order = {code: i for i, code in enumerate([*categories.codes, INVALID])}
    table = {
        truth: dict(sorted(row.items(), key=lambda item: order[item[0]]))
        for truth, row in sorted(confusion.items(), key=lambda item: order[item[0]])
    }

    per_category = []
    for category in categories:
        row = table.get(category.code, {})
        per_category.append(
            CategoryScore(
                category.name,
                category.code,
                sum(row.values()),
                row.get(category.code, 0),
            )
        )

    return EvalReport(
        router=router,
        total=len(latencies),
        correct=sum(score.correct for score in per_category),
        invalid=sum(row.get(INVALID, 0) for row in table.values()),
        per_category=per_category,
        confusion=table,
        mean_latency_ms=float(np.mean(latencies)),
        p95_latency_ms=float(np.percentile(latencies, 95)),
        mistakes=mistakes,
        latencies_ms=latencies,
    )


def comparison_markdown(reports: list[EvalReport]) -> str:
    """One table comparing routers evaluated on the same questions."""
    lines = [
        "| router | accuracy | invalid | mean latency | p95 latency |",
        "|---|---:|---:|---:|---:|",
    ]
    for report in reports:
        lines.append(
            f"| {report.router} | {_count(report.correct, report.total)} "
            f"| {report.invalid} | {report.mean_latency_ms:.1f} ms "
            f"| {report.p95_latency_ms:.1f} ms |"
        )
    return "\n".join(lines) + "\n"
