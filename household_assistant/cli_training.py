"""The `train`, `eval`, `experiment` and `adapters` commands."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .errors import HouseholdError

logger = logging.getLogger(__name__)


def add_parsers(sub, common) -> None:
    """Add this module's subcommands to the `household-assistant` parser."""
    _add_eval_parser(sub, common)


# --- eval -----------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a whole number above 0, got {text!r}"
        )
    return value


def _add_eval_parser(sub, common) -> None:
    p = sub.add_parser(
        "eval",
        parents=[common],
        help="measure a router's accuracy on labelled questions",
        description="Route labelled questions and report accuracy, the commonest "
        "confusions and latency. Uses the bundled held-out questions by default.",
    )
    p.add_argument(
        "--data",
        metavar="FILE",
        help='a JSONL file of {"question": ..., "category": ...} lines '
        "(default: the bundled held-out set)",
    )
    p.add_argument(
        "--router",
        choices=("knn", "llm", "active", "auto"),
        help="which router to measure (default: the one the app uses)",
    )
    p.add_argument(
        "--limit",
        type=_positive_int,
        metavar="N",
        help="evaluate only the first N questions",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(handler=cmd_eval)


def _eval_questions(args, categories) -> tuple[list, str]:
    """The labelled questions to evaluate on, and where they came from."""
    from .dataset import HELDOUT_FILE, heldout_questions, read_jsonl

    if args.data is None:
        questions, source = heldout_questions(categories), HELDOUT_FILE
    else:
        path = Path(args.data).expanduser()
        try:
            questions = read_jsonl(path, categories)
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or exc
            raise HouseholdError(
                f"Could not read {path}: {reason}. Pass a UTF-8 JSONL file of "
                '{"question": ..., "category": ...} lines.'
            ) from exc
        if not questions:
            raise HouseholdError(
                f"{path} holds no questions; expected JSONL lines such as "
                '{"question": "furnace filter size?", "category": "hvac"}.'
            )
        source = str(path)
    return questions[: args.limit] if args.limit else questions, source


def cmd_eval(args, assistant) -> int:
    from tqdm import tqdm

    from .cli import _print_json
    from .evaluation import evaluate

    questions, source = _eval_questions(args, assistant.categories)
    router = assistant.router(args.router)
    with tqdm(
        total=len(questions),
        unit="question",
        desc=router.name,
        disable=args.json or None,
        file=sys.stderr,
    ) as bar:
        report = evaluate(
            router,
            questions,
            assistant.categories,
            progress=lambda done, total: bar.update(),
        )

    if args.json:
        _print_json({"data": source, **report.to_dict()})
    else:
        print(f"{report.total} questions from {source}\n")
        print(report.to_markdown(), end="")
    return 0
