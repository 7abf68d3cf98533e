"""One retraining run, end to end: data, training, judging, and safe promotion.

`retrain` is what `household-assistant train` (and the GUI's Trainer tab, via
that command in a subprocess) runs. The new adapter is judged against the
router in use now, on the fixed held-out set and on the household's own
labels, and becomes active only if it is at least as good on both.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .adapters import REPORT_FILE, AdapterVersion
from .dataset import (
    Split,
    bundled_questions,
    fingerprint,
    heldout_questions,
    merge_household,
    read_jsonl,
    split_questions,
)
from .errors import TrainingError
from .evaluation import EvalReport, comparison_markdown, evaluate
from .trainer import TrainConfig, TrainProgress, train_adapter, write_adapter_config

logger = logging.getLogger(__name__)

PROMOTE_CHOICES = ("auto", "always", "never")


@dataclass
class Promotion:
    promote: bool
    reason: str


@dataclass
class RetrainResult:
    version: AdapterVersion
    promotion: Promotion
    scores: dict[str, dict[str, float | None]]  # "new"/"current" -> set -> accuracy
    report: dict[str, Any] = field(default_factory=dict)


def training_data(assistant, config: TrainConfig) -> tuple[Split, list, list]:
    """(split with household labels merged, held-out set, household labels)."""
    categories = assistant.categories
    if config.questions_file:
        pool = read_jsonl(Path(config.questions_file).expanduser(), categories)
    else:
        pool = bundled_questions(categories)
    if config.heldout_file:
        heldout = read_jsonl(Path(config.heldout_file).expanduser(), categories)
    else:
        heldout = heldout_questions(categories)

    household = assistant.feedback.labelled(assistant.settings.confirm_on_thumbs_up)
    split = split_questions(pool, config.split_seed)
    merged = merge_household(split, household, config.correction_repeat)
    return merged, heldout, household


def decide(
    new: dict[str, EvalReport], current: dict[str, EvalReport], current_name: str
) -> Promotion:
    """At least as good as the router in use, on every set both were judged on."""
    worse = [
        f"{name}: {new[name].correct}/{new[name].total} vs "
        f"{current[name].correct}/{current[name].total} for {current_name}"
        for name in new
        if name in current and new[name].accuracy < current[name].accuracy
    ]
    if worse:
        return Promotion(
            False, "Not better than the router in use (" + "; ".join(worse) + ")."
        )
    summary = ", ".join(f"{name} {new[name].correct}/{new[name].total}" for name in new)
    return Promotion(True, f"At least as good as {current_name} ({summary}).")


def retrain(
    assistant,
    config: TrainConfig,
    progress: Callable[[TrainProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    promote: str = "auto",
) -> RetrainResult:
    """Train a new router adapter, judge it, and promote it if it earns it.

    Args:
        assistant: The Assistant whose data folder, models and labels to use.
        config: Training options.
        progress: Receives TrainProgress events (training, then judging).
        should_stop: Polled between steps; True cancels with TrainingCancelled.
        promote: "auto" (only if at least as good), "always" or "never".

    Returns:
        The new version, whether it was promoted and why, and the scores.
    """
    if promote not in PROMOTE_CHOICES:
        raise TrainingError(f"promote must be one of {', '.join(PROMOTE_CHOICES)}.")
    with assistant.adapters.training_lock():
        return _retrain(assistant, config, progress, should_stop, promote)


def _retrain(assistant, config, progress, should_stop, promote) -> RetrainResult:
    store = assistant.adapters
    store.clean_partials()
    split, heldout, household = training_data(assistant, config)
    emit = progress or (lambda event: None)

    model, tokenizer = _fresh_router_model(assistant)
    version = store.next_version()
    with store.staging() as folder:
        started = time.perf_counter()
        result = train_adapter(
            model,
            tokenizer,
            assistant.categories,
            split.train,
            split.valid,
            config,
            folder,
            progress,
            should_stop,
        )
        source = assistant.models.source("router")
        write_adapter_config(folder, config, source)
        model.load_weights(str(folder / "adapters.safetensors"), strict=False)
        model.eval()

        emit(TrainProgress("judge", result.steps, config.iters, message="judging"))
        new_router = _router_for(
            model, tokenizer, assistant, f"new ({version})", config
        )
        current_router = assistant.router("active")
        sets = {"heldout": heldout}
        if household:
            sets["corrections"] = household
        new = {
            name: evaluate(
                new_router, items, assistant.categories, name=new_router.name
            )
            for name, items in sets.items()
        }
        current = {}
        if config.mode == "codes":
            current = {
                name: evaluate(current_router, items, assistant.categories)
                for name, items in sets.items()
            }
        promotion = decide(new, current, current_router.name)
        if promote != "auto":
            promotion = Promotion(
                promote == "always",
                f"{'Promoted' if promote == 'always' else 'Kept back'} on request; "
                f"the check said: {promotion.reason}",
            )

        report = _report(
            version,
            config,
            split,
            household,
            result,
            new,
            current,
            current_router.name,
            promotion,
            time.perf_counter() - started,
        )
        _write_reports(folder, report, new, current)
        finished = store.finish(folder, version)

    if promotion.promote:
        store.activate(finished.version)
        assistant.reset_routers()
    scores = report["scores"]
    return RetrainResult(finished, promotion, scores, report)


def _fresh_router_model(assistant):
    # A private copy: LoRA layers change the model in place, and the router in
    # use must stay as it is while the new one is judged against it.
    from mlx_lm import load

    path = assistant.models.resolve("router")
    try:
        model, tokenizer = load(str(path))
    except Exception as exc:
        raise TrainingError(
            f"Could not load the router model from {path}: {exc}"
        ) from exc
    if assistant.categories.ensure_single_tokens(tokenizer):
        assistant.categories.save()
    return model, tokenizer


def _router_for(model, tokenizer, assistant, name: str, config: TrainConfig):
    if config.mode == "names":
        from .names_router import NamesRouter

        return NamesRouter(model, tokenizer, assistant.categories, name)
    from .router import LLMRouter

    return LLMRouter(model, tokenizer, assistant.categories, name)


def _accuracies(reports: dict[str, EvalReport]) -> dict[str, float | None]:
    return {name: report.accuracy for name, report in reports.items()}


def _report(
    version,
    config,
    split,
    household,
    result,
    new,
    current,
    current_name,
    promotion,
    seconds,
) -> dict[str, Any]:
    return {
        "version": version,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": config.to_dict(),
        "data": {
            "fingerprint": fingerprint(split),
            **split.sizes(),
            "household_labels": len(household),
            "corrections": sum(q.source == "correction" for q in household),
        },
        "training": {
            "best_step": result.best_step,
            "best_validation_accuracy": result.best_accuracy,
            "steps": result.steps,
            "stopped_early": result.stopped_early,
            "trainable_parameters": result.trainable_parameters,
            "seconds": round(seconds, 1),
            "history": result.history,
        },
        "compared_with": current_name,
        "scores": {"new": _accuracies(new), "current": _accuracies(current)},
        "evaluations": {
            "new": {name: r.to_dict() for name, r in new.items()},
            "current": {name: r.to_dict() for name, r in current.items()},
        },
        "promotion": {"promote": promotion.promote, "reason": promotion.reason},
    }


def _write_reports(folder: Path, report: dict, new: dict, current: dict) -> None:
    import yaml

    (folder / REPORT_FILE).write_text(json.dumps(report, indent=2) + "\n")
    (folder / "training.yaml").write_text(
        yaml.safe_dump(report["config"], sort_keys=False)
    )
    (folder / "data.json").write_text(json.dumps(report["data"], indent=2) + "\n")

    data, training = report["data"], report["training"]
    decision = report["promotion"]
    lines = [
        f"# Router adapter {report['version']}",
        "",
        f"Trained {report['created_at']} on {data['train']} questions "
        f"({data['household_labels']} from this household), validated on "
        f"{data['valid']}. Best validation accuracy "
        f"{training['best_validation_accuracy']:.0%} at step "
        f"{training['best_step']} of {training['steps']}.",
        "",
        f"**{'Promoted' if decision['promote'] else 'Not promoted'}.** "
        f"{decision['reason']}",
    ]
    for name in new:
        lines += [
            "",
            f"## {name}",
            "",
            comparison_markdown(
                [new[name]] + ([current[name]] if name in current else [])
            ),
        ]
    for name, r in new.items():
        lines += ["", f"## New router on {name}, in detail", "", r.to_markdown()]
    (folder / "report.md").write_text("\n".join(lines) + "\n")
