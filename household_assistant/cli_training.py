"""The `train`, `eval`, `experiment` and `adapters` commands."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import threading
from pathlib import Path

from .errors import HouseholdError

logger = logging.getLogger(__name__)


def add_parsers(sub, common) -> None:
    """Add this module's subcommands to the `household-assistant` parser."""
    _add_train_parser(sub, common)
    _add_eval_parser(sub, common)
    _add_experiment_parser(sub, common)
    _add_adapters_parser(sub, common)


# --- train ----------------------------------------------------------------------


def _add_train_parser(sub, common) -> None:
    from .retrain import PROMOTE_CHOICES

    p = sub.add_parser(
        "train",
        parents=[common],
        help="retrain the router on the bundled questions and your corrections",
        description="Fine-tune the router model with LoRA, judge the new adapter "
        "against the router in use, and activate it only if it is at least as "
        "good. Ctrl-C (or SIGTERM) cancels cleanly and changes nothing.",
    )
    _add_training_options(
        p, "json prints one JSON object per line (for the app's Trainer tab)"
    )
    p.add_argument(
        "--promote",
        choices=PROMOTE_CHOICES,
        default="auto",
        help="auto activates the new adapter only if it is at least as good",
    )
    p.add_argument(
        "--export-data",
        metavar="DIR",
        help="write the split in mlx-lm's completions format to DIR and stop",
    )
    p.set_defaults(handler=cmd_train)


def _add_training_options(p, progress_help: str) -> None:
    """--config, --iters and --progress: what train and experiment share."""
    p.add_argument("--config", metavar="FILE", help="a YAML file of training options")
    p.add_argument("--iters", type=_positive_int, help="override the step count")
    p.add_argument(
        "--progress", choices=("text", "json"), default="text", help=progress_help
    )


def cmd_train(args, assistant) -> int:
    from .trainer import load_train_config

    config = load_train_config(
        Path(args.config).expanduser() if args.config else None, iters=args.iters
    )
    if args.export_data:
        return _export_data(args, assistant, config)

    show = _json_line if args.progress == "json" else _text_progress
    try:
        with _cancel_on_signals() as cancelled:
            result = _run_training(assistant, config, show, cancelled, args.promote)
    except HouseholdError as exc:
        if args.progress == "json":
            kind = "cancelled" if exc.exit_code == 130 else "error"
            _json_line({"event": kind, "message": str(exc)})
        raise

    done = {
        "event": "done",
        "version": result.version.version,
        "promoted": result.promotion.promote,
        "reason": result.promotion.reason,
        "scores": result.scores,
        "report": str(result.version.path / "report.md"),
    }
    if args.progress == "json":
        _json_line(done)
    else:
        verdict = "Activated" if done["promoted"] else "Saved but not activated"
        print(f"\n{verdict}: adapter {done['version']}. {done['reason']}")
        print(f"Report: {done['report']}")
    return 0


def _run_training(assistant, config, show, cancelled, promote):
    from .retrain import retrain

    def progress(event):
        show(event.to_dict())

    return retrain(assistant, config, progress, cancelled.is_set, promote)


@contextlib.contextmanager
def _cancel_on_signals():
    """SIGINT or SIGTERM asks the run to stop after the current step."""
    event = threading.Event()

    def handler(signum, frame):
        if event.is_set():  # a second Ctrl-C: stop now
            raise KeyboardInterrupt
        event.set()
        print("Stopping after this step...", file=sys.stderr, flush=True)

    previous = {sig: signal.signal(sig, handler) for sig in _SIGNALS}
    try:
        yield event
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _json_line(payload: dict) -> None:
    print(json.dumps(payload, ensure_ascii=False), flush=True)


def _text_progress(event: dict) -> None:
    kind, step, total = event["event"], event["step"], event["total_steps"]
    if kind == "start":
        print(f"Training {event['message']} LoRA weights for up to {total} steps.")
    elif kind == "train":
        eta = f", about {_duration(event['eta_s'])} left" if "eta_s" in event else ""
        print(
            f"step {step:>5}/{total}  loss {event['train_loss']:.3f}  "
            f"{event['tokens_per_second']:.0f} tok/s{eta}",
            flush=True,
        )
    elif kind == "eval":
        note = "  (best so far)" if event.get("message") else ""
        print(
            f"step {step:>5}/{total}  validation accuracy "
            f"{event['val_accuracy']:.1%}, loss {event['val_loss']:.3f}{note}",
            flush=True,
        )
    elif kind == "judge":
        print("Judging the new router against the one in use...", flush=True)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 90:
        return f"{seconds}s"
    return f"{seconds // 60}m{seconds % 60:02d}s"


def _export_data(args, assistant, config) -> int:
    from .dataset import export_completions
    from .retrain import training_data

    split, _, household = training_data(assistant, config)
    folder = Path(args.export_data).expanduser()
    written = export_completions(folder, split, assistant.categories, config.mode)
    sizes = split.sizes()
    print(
        f"Wrote {sizes['train']} training ({len(household)} from this household), "
        f"{sizes['valid']} validation and {sizes['test']} test questions to "
        f"{folder}.\nTrain with mlx-lm directly: mlx_lm.lora --model "
        f"{assistant.models.source('router')} --train --mask-prompt --data {folder}"
    )
    logger.info("Exported %s", written)
    return 0


# --- experiment -----------------------------------------------------------------


def _add_experiment_parser(sub, common) -> None:
    from .experiment import EVALUATE_ON

    p = sub.add_parser(
        "experiment",
        parents=[common],
        help="reproduce the published routing table for the configured model",
        description="Measure five routers on the same questions: the base model "
        "prompted for names, the base model scoring codes, LoRA on names, LoRA on "
        "codes, and kNN. LoRA trains on the bundled split (household corrections "
        "are left out) in a temporary folder; no adapter version is created and "
        "the active router is not changed. Results go to experiments/ in the data "
        "folder as JSON and Markdown.",
    )
    _add_training_options(p, "json prints one JSON object per line")
    p.add_argument(
        "--on",
        choices=EVALUATE_ON,
        default="heldout",
        help="judge on the held-out file (default) or the split's 15%% test part",
    )
    p.add_argument(
        "--limit",
        type=_positive_int,
        metavar="N",
        help="evaluate only the first N questions (a quick look)",
    )
    p.add_argument(
        "--out", metavar="DIR", help="write the results here instead of experiments/"
    )
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(handler=cmd_experiment)


def cmd_experiment(args, assistant) -> int:
    from .experiment import experiment_folder, run_experiment, write_experiment
    from .trainer import load_train_config

    config = load_train_config(
        Path(args.config).expanduser() if args.config else None, iters=args.iters
    )
    if args.progress == "json":
        show = _json_line
    elif args.json:
        show = None
    else:
        show = _text_experiment_progress
    with _cancel_on_signals() as cancelled:
        result = run_experiment(
            assistant,
            config,
            evaluate_on=args.on,
            limit=args.limit,
            progress=(lambda event: show(event.to_dict())) if show else None,
            should_stop=cancelled.is_set,
        )
    folder = Path(args.out).expanduser() if args.out else None
    json_path, md_path = write_experiment(
        result, folder or experiment_folder(assistant.home)
    )
    if args.progress == "json":
        _json_line({"event": "done", "json": str(json_path), "markdown": str(md_path)})
    elif args.json:
        from .cli import _print_json

        _print_json({**result.to_dict(), "json": str(json_path)})
    else:
        print(f"\n{result.describe()}\n")
        print(result.table())
        print(f"Written to {md_path} and {json_path.name}.")
    return 0


def _text_experiment_progress(event: dict) -> None:
    kind, where = event["event"], f"[{event['stage_index']}/{event['stages']}]"
    if kind == "stage":
        print(f"{where} {event['stage']}: {event['message']}", file=sys.stderr)
    elif kind == "result":
        row = event["row"]
        print(
            f"{where} {row['router']}: {row['correct']}/{row['total']} correct, "
            f"{row['invalid']} invalid, mean {row['mean_latency_ms']:.0f} ms",
            file=sys.stderr,
            flush=True,
        )
    elif kind in ("train", "eval"):
        # Progress goes to stderr, so that stdout holds only the table.
        with contextlib.redirect_stdout(sys.stderr):
            _text_progress(event)


# --- adapters -------------------------------------------------------------------


def _add_adapters_parser(sub, common) -> None:
    adapters = sub.add_parser(
        "adapters", parents=[common], help="list, activate or roll back router adapters"
    )
    adapters_sub = adapters.add_subparsers(dest="adapters_command", required=True)
    p = adapters_sub.add_parser("list", parents=[common])
    p.add_argument("--json", action="store_true")
    p = adapters_sub.add_parser(
        "activate", parents=[common], help="route with this version from now on"
    )
    p.add_argument("version", help="a version such as v3")
    adapters_sub.add_parser(
        "rollback",
        parents=[common],
        help="go back to the previously active version (or to kNN)",
    )
    adapters.set_defaults(handler=cmd_adapters)


def cmd_adapters(args, assistant) -> int:
    from .cli import _print_json

    store = assistant.adapters
    if args.adapters_command == "activate":
        chosen = store.activate(args.version)
        print(f"Routing with adapter {chosen.version} from now on.")
        return 0
    if args.adapters_command == "rollback":
        now = store.rollback()
        where = f"adapter {now.version}" if now else "the kNN router (no adapter)"
        print(f"Rolled back; routing with {where}.")
        return 0

    active = store.active()
    versions = store.versions()
    if args.json:
        _print_json(
            {
                "active": active.version if active else None,
                "versions": [v.to_dict() for v in versions],
            }
        )
        return 0
    if not versions:
        print(
            "No adapters yet; the kNN router routes. Train one with "
            "`household-assistant train`."
        )
        return 0
    for v in versions:
        mark = "*" if active and v.version == active.version else " "
        print(
            f"{mark} {v.version:<5} {v.created_at[:16]:<16}  held-out "
            f"{_percent(v.heldout_accuracy)}  corrections "
            f"{_percent(v.corrections_accuracy)}  {v.reason}"
        )
    if active is None:
        print("No adapter is active; the kNN router routes.")
    return 0


def _percent(value: float | None) -> str:
    return f"{value:>4.0%}" if value is not None else "   -"


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
