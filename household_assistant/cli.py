"""The `household-assistant` command line.

Every user-facing failure is a HouseholdError, caught once in `main` and printed
without a traceback. `--json` output is stable: scripts and the GUI rely on it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from pathlib import Path

from . import __version__
from .config import data_dir
from .errors import HouseholdError
from .logs import setup_logging

logger = logging.getLogger(__name__)


def _print_json(payload) -> None:
    print(json.dumps(payload, indent=2, ensure_ascii=False))


def _size(n: int | None) -> str:
    if n is None:
        return "unknown size"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


# --- commands -----------------------------------------------------------------


def cmd_import(args, assistant) -> int:
    from tqdm import tqdm

    from .importer import collect_files

    files = collect_files(Path(p).expanduser() for p in args.paths)
    results = []
    with tqdm(
        total=len(files), unit="file", disable=args.json or None, file=sys.stderr
    ) as bar:
        for result in assistant.import_files(files, args.category):
            results.append(result)
            bar.set_postfix_str(Path(result.path).name[:30])
            bar.update()

    counts = Counter(r.status for r in results)
    if args.json:
        _print_json({"results": [r.to_dict() for r in results], "summary": counts})
    else:
        for r in results:
            what = r.reason or f"{r.category}, {r.chunks} chunks"
            if r.suggested and r.status in ("imported", "updated"):
                what += " (category suggested by the router)"
            print(f"{r.status:<9} {r.path}  {what}")
        print(", ".join(f"{n} {s}" for s, n in counts.items()) or "nothing to import")
    return 1 if counts.get("failed") else 0


def cmd_ask(args, assistant) -> int:
    from .assistant import DoneEvent, RouteEvent, SourcesEvent, TokenEvent

    payload: dict = {"question": args.question}
    for event in assistant.ask(args.question, args.category, not args.no_answer):
        if isinstance(event, RouteEvent):
            payload["route"] = event.decision.to_dict()
            if not args.json:
                d = event.decision
                print(
                    f"Category: {d.category} ({d.code}, {d.confidence:.0%}, {d.router})"
                )
        elif isinstance(event, SourcesEvent):
            payload["scope"] = event.scope.to_dict()
            payload["sources"] = [h.to_dict() for h in event.hits]
            if not args.json:
                print(f"Searched: {_scope_line(event.scope)}\n")
        elif isinstance(event, TokenEvent) and not args.json:
            print(event.text, end="", flush=True)
        elif isinstance(event, DoneEvent):
            payload["answer"] = event.answer if not args.no_answer else None
            payload["timings"] = event.timings
            payload["usage"] = event.usage
            payload["question_id"] = event.question_id

    if args.json:
        _print_json(payload)
        return 0
    if not args.no_answer:
        print("\n")
    if not payload["sources"]:
        print(_no_sources(assistant))
    else:
        print("Sources:")
    for number, source in enumerate(payload["sources"], 1):
        print(
            f"  [{number}] {source['title']} ({source['category']}, "
            f"{source['score']:.2f})  {source['source']}"
        )
    if payload["question_id"] is not None:
        print(
            "\nWrong category? household-assistant feedback correct "
            f"{payload['question_id']} CATEGORY"
        )
    return 0


def _no_sources(assistant) -> str:
    if assistant.store.count() == 0:
        return "No notes yet. Import some with `household-assistant import PATH`."
    return "No notes matched."


def _scope_line(scope) -> str:
    where = ", ".join(scope.categories) or "all notes"
    return f"{where} - {scope.detail}"


def cmd_route(args, assistant) -> int:
    decision = assistant.route(args.question)
    if args.json:
        _print_json(decision.to_dict())
        return 0
    d = decision
    print(f"{d.category} ({d.code}) {d.confidence:.0%} [{d.router}]")
    for alt in [a for a in d.alternatives[1:4] if a.probability >= 0.01]:
        print(f"  then {alt.category} {alt.probability:.0%}")
    return 0


def cmd_notes(args, assistant) -> int:
    store = assistant.store
    if args.notes_command == "list":
        code = assistant.categories.get(args.category).code if args.category else None
        notes = store.notes(code)
        if args.json:
            _print_json([_note_dict(n, assistant) for n in notes])
        elif not notes:
            print("No notes yet. Import some with `household-assistant import PATH`.")
        for note in [] if args.json else notes:
            category = _current_name(note.code, note.category, assistant)
            chunks = f"({note.chunks} chunks)"
            print(f"{note.note_id[:10]}  {category:<14} {note.title}  {chunks}")
        return 0

    note = store.find(args.note)
    if args.notes_command == "show":
        chunks = store.chunks(note.note_id)
        if args.json:
            _print_json(
                {**_note_dict(note, assistant), "text": [c.text for c in chunks]}
            )
            return 0
        print(f"{note.title}\n{note.source}\nCategory: {note.category}\n")
        for chunk in chunks:
            print(chunk.text.strip(), end="\n\n")
        return 0

    removed = store.remove(note.note_id)
    print(f"Removed {note.title} ({removed} chunks).")
    return 0


def _current_name(code: str, stored: str, assistant) -> str:
    try:
        return assistant.categories.by_code(code).name
    except HouseholdError:
        return stored


def _note_dict(note, assistant) -> dict:
    return {
        "id": note.note_id,
        "title": note.title,
        "source": note.source,
        "category": _current_name(note.code, note.category, assistant),
        "code": note.code,
        "chunks": note.chunks,
        "imported_at": note.imported_at,
    }


def cmd_models(args, assistant) -> int:
    models = assistant.models
    if args.models_command == "list":
        statuses = models.statuses()
        if args.json:
            _print_json(
                [
                    {
                        "role": s.role,
                        "source": s.source,
                        "ready": s.ready,
                        "path": str(s.path) if s.path else None,
                        "size_bytes": s.size_bytes,
                    }
                    for s in statuses
                ]
            )
            return 0
        for s in statuses:
            state = "ready" if s.ready else "missing"
            size = _size(s.size_bytes) if s.ready else f"about {_size(s.size_bytes)}"
            print(f"{s.role:<10} {state:<8} {size:>12}  {s.source}")
            if not s.ready:
                print(f"{'':<10} {s.detail}")
        return 0

    return _download(models, args.role)


def _download(models, roles) -> int:
    from tqdm import tqdm

    from .models import ROLES

    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise HouseholdError(
            f"Unknown model {', '.join(unknown)}; choose from {', '.join(ROLES)}."
        )
    for role in roles or ROLES:
        status = models.status(role)
        if status.ready:
            print(f"{role}: already downloaded ({status.path})")
            continue
        bars: list = []  # drawn on the first byte, so a failure shows no empty bar

        def progress(p, bars=bars, role=role):
            if not bars:
                bars.append(tqdm(desc=role, unit="B", unit_scale=True, file=sys.stderr))
            bars[0].total = p.total_bytes or None
            bars[0].n = p.done_bytes
            bars[0].refresh()

        try:
            path = models.download(role, progress)
        finally:
            for bar in bars:
                bar.close()
        print(f"{role}: ready in {path}")
    return 0


# --- parser ---------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="household-assistant",
        description="Chat privately with your household notes, on this Mac.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    # -v also works after the command (`household-assistant import -v ...`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS
    )

    p = sub.add_parser("import", parents=[common], help="import note files or folders")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--category", help="store every file in this category")
    p.add_argument("--json", action="store_true", help="print results as JSON")

    p = sub.add_parser("ask", parents=[common], help="ask a question about your notes")
    p.add_argument("question")
    p.add_argument("--category", help="search only this category")
    p.add_argument("--no-answer", action="store_true", help="stop after the sources")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser(
        "route", parents=[common], help="show which category a question goes to"
    )
    p.add_argument("question")
    p.add_argument("--json", action="store_true")

    notes = sub.add_parser(
        "notes", parents=[common], help="list, show or remove stored notes"
    )
    notes_sub = notes.add_subparsers(dest="notes_command", required=True)
    p = notes_sub.add_parser("list", parents=[common])
    p.add_argument("--category")
    p.add_argument("--json", action="store_true")
    p = notes_sub.add_parser("show", parents=[common])
    p.add_argument("note", help="note id (or its first characters) or source path")
    p.add_argument("--json", action="store_true")
    p = notes_sub.add_parser("remove", parents=[common])
    p.add_argument("note", help="note id (or its first characters) or source path")

    models = sub.add_parser(
        "models", parents=[common], help="see or download the local models"
    )
    models_sub = models.add_subparsers(dest="models_command", required=True)
    p = models_sub.add_parser("list", parents=[common])
    p.add_argument("--json", action="store_true")
    p = models_sub.add_parser("download", parents=[common])
    # No argparse `choices` here: with nargs="*" it rejects an empty list.
    p.add_argument("role", nargs="*", help="router, answer or embedding (all)")

    # Training, evaluation and feedback live in their own modules; each adds its
    # subcommands and sets `handler` on them.
    from . import cli_feedback, cli_training

    for module in (cli_training, cli_feedback):
        module.add_parsers(sub, common)
    return parser


COMMANDS = {
    "import": cmd_import,
    "ask": cmd_ask,
    "route": cmd_route,
    "notes": cmd_notes,
    "models": cmd_models,
}


def _open_window(parser: argparse.ArgumentParser) -> int:
    try:
        from .gui.app import main as gui_main
    except ImportError as exc:
        parser.print_help()
        print(
            f"\nerror: the desktop app needs PySide6, which did not load ({exc}). "
            "Install it with `pip install PySide6`, or use the commands above.",
            file=sys.stderr,
        )
        return 1
    return gui_main()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        return _open_window(parser)

    try:
        home = data_dir()
        setup_logging(home, args.verbose)
        from .assistant import Assistant

        handler = getattr(args, "handler", None) or COMMANDS[args.command]
        return handler(args, Assistant(home))
    except HouseholdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
