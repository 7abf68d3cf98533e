"""Decide which categories to search, then search them.

A confident route searches one category, and so does a category the user
picked (never widened). An unsure one widens to the top
categories until their probabilities add up to `widen_mass`. When the chosen
categories hold nothing above the similarity floor, every note is searched.
The result always says which of these happened.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .config import Settings
from .router import RouteDecision
from .store import Hit, NoteStore

logger = logging.getLogger(__name__)

CONFIDENT = "confident"
WIDENED = "widened"
FALLBACK_ALL = "all_notes"
MANUAL = "manual"
# Sums such as 0.4 + 0.3 + 0.2 (or a float32 softmax) land a hair under the mass
# they mean to reach; without slack the next, unneeded category would be added.
_MASS_SLACK = 1e-6


@dataclass(frozen=True)
class Scope:
    """What was searched, and why."""

    reason: str  # confident, widened, all_notes or manual
    categories: list[str]  # searched categories; empty when all notes were
    codes: list[str]
    detail: str

    def to_dict(self) -> dict:
        return {
            "reason": self.reason,
            "categories": self.categories,
            "detail": self.detail,
        }


def choose_scope(decision: RouteDecision, settings: Settings) -> Scope:
    """The categories to search for a routing decision."""
    if decision.router == "manual":
        return Scope(MANUAL, [decision.category], [decision.code], "chosen by you")
    if decision.confidence >= settings.confidence_threshold:
        detail = f"router {decision.confidence:.0%} sure"
        return Scope(CONFIDENT, [decision.category], [decision.code], detail)

    chosen, mass = [], 0.0
    for alternative in decision.alternatives:
        chosen.append(alternative)
        mass += alternative.probability
        if mass >= settings.widen_mass - _MASS_SLACK:
            break
    detail = (
        f"router only {decision.confidence:.0%} sure; searched {len(chosen)} "
        f"categories covering {mass:.0%}"
    )
    return Scope(
        WIDENED, [a.category for a in chosen], [a.code for a in chosen], detail
    )


def retrieve(
    store: NoteStore, question: str, decision: RouteDecision, settings: Settings
) -> tuple[Scope, list[Hit]]:
    """Search the notes for `question` within the scope the decision allows."""
    scope = choose_scope(decision, settings)
    hits = store.query(question, scope.codes, settings.top_k)
    # A category the user chose is respected even when it holds nothing useful.
    if scope.reason == MANUAL or any(
        hit.score >= settings.similarity_floor for hit in hits
    ):
        return scope, hits

    hits = store.query(question, None, settings.top_k)
    detail = (
        f"nothing in {', '.join(scope.categories)} scored above the "
        f"{settings.similarity_floor:.2f} similarity floor"
    )
    logger.info("Widening to all notes for %r: %s", question, detail)
    return Scope(FALLBACK_ALL, [], [], detail), hits
