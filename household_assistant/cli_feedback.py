"""The `feedback` commands: list, thumbs, correct, export and import feedback."""

from __future__ import annotations

import argparse
import logging
from datetime import datetime
from pathlib import Path

from .errors import CategoryError

logger = logging.getLogger(__name__)


def add_parsers(sub, common) -> None:
    """Add this module's subcommands to the `household-assistant` parser."""
    feedback = sub.add_parser(
        "feedback",
        parents=[common],
        help="list, give, export or import feedback on answers",
        description="Thumbs and category corrections for asked questions. "
        "Corrections teach the kNN router at once; export and import move them "
        "to another Mac as JSONL.",
    )
    feedback.set_defaults(handler=cmd_feedback)
    commands = feedback.add_subparsers(dest="feedback_command", required=True)

    p = commands.add_parser("list", parents=[common], help="recent questions")
    p.add_argument("--limit", type=_whole_number, default=20, metavar="N")
    p.add_argument("--json", action="store_true")

    p = commands.add_parser(
        "correct", parents=[common], help="say which category a question belongs to"
    )
    p.add_argument("question_id", type=int, metavar="QUESTION_ID")
    p.add_argument("category", metavar="CATEGORY")
    p.add_argument("--comment", default="", metavar="TEXT")

    p = commands.add_parser(
        "thumbs", parents=[common], help="rate the answer to a question"
    )
    p.add_argument("question_id", type=int, metavar="QUESTION_ID")
    p.add_argument("verdict", choices=("up", "down"))

    p = commands.add_parser(
        "export", parents=[common], help="write the household's labels as JSONL"
    )
    p.add_argument("file", metavar="FILE")

    p = commands.add_parser(
        "import", parents=[common], help="add labels from an exported JSONL file"
    )
    p.add_argument("file", metavar="FILE")


def _whole_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a whole number above 0, got {text!r}"
        )
    return value


def cmd_feedback(args, assistant) -> int:
    handlers = {
        "list": _list,
        "correct": _correct,
        "thumbs": _thumbs,
        "export": _export,
        "import": _import,
    }
    return handlers[args.feedback_command](args, assistant)


def _name(code: str, assistant, fallback: str | None = None) -> str:
    # Codes survive renames; show the category's name as it is now.
    try:
        return assistant.categories.by_code(code).name
    except CategoryError:
        return fallback or code


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _question_dict(asked, assistant) -> dict:
    correction = None
    if asked.corrected_code:
        correction = {
            "category": _name(asked.corrected_code, assistant),
            "code": asked.corrected_code,
            "comment": asked.comment,
        }
    return {
        "id": asked.id,
        "question": asked.question,
        "category": _name(asked.code, assistant, asked.category),
        "code": asked.code,
        "confidence": round(asked.confidence, 4),
        "router": asked.router,
        "created_at": asked.created_at,
        "thumbs": None if asked.thumbs is None else ("up" if asked.thumbs else "down"),
        "correction": correction,
    }


def _list(args, assistant) -> int:
    from .cli import _print_json

    asked = [
        _question_dict(q, assistant) for q in assistant.feedback.recent(args.limit)
    ]
    if args.json:
        _print_json(asked)
        return 0
    if not asked:
        print("No questions yet. Ask one with `household-assistant ask QUESTION`.")
        return 0

    for q in asked:
        route = f"{q['category']} {q['confidence']:.0%} {q['router']}"
        verdict = q["thumbs"] or ""
        if q["correction"]:
            verdict = f"{verdict} -> {q['correction']['category']}".strip()
        when = datetime.fromisoformat(q["created_at"]).astimezone()
        when = when.strftime("%Y-%m-%d %H:%M")
        print(f"{q['id']:>5}  {when}  {route:<26} {verdict:<18} {q['question']}")

    labels = assistant.feedback.labels(assistant.settings.confirm_on_thumbs_up)
    corrections = sum(label.kind == "correction" for label in labels)
    print(
        f"\n{_count(len(labels), 'household label')}: "
        f"{_count(corrections, 'correction')}, {len(labels) - corrections} confirmed."
    )
    return 0


def _correct(args, assistant) -> int:
    label = assistant.correct(args.question_id, args.category, args.comment)
    name = _name(label.code, assistant)
    print(f"Question {args.question_id} now counts as {name}: {label.question}")
    return 0


def _thumbs(args, assistant) -> int:
    assistant.thumbs(args.question_id, args.verdict == "up")
    print(f"Question {args.question_id}: thumbs {args.verdict}.")
    return 0


def _export(args, assistant) -> int:
    path = Path(args.file).expanduser()
    count = assistant.feedback.export_jsonl(
        path, assistant.categories, assistant.settings.confirm_on_thumbs_up
    )
    print(f"Exported {_count(count, 'label')} to {path}.")
    return 0


def _import(args, assistant) -> int:
    path = Path(args.file).expanduser()
    added = assistant.import_feedback(path)
    print(f"Imported {_count(added, 'new label')} from {path}.")
    return 0
