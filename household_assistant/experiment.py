"""Reproduce the published routing table for the configured router model.

Five routers are measured on the same questions: the base model prompted to
write a category name (parsed exactly, as a deployment would), the base model
scoring codes, LoRA trained to write names, LoRA trained on codes, and the kNN
router. Both LoRA runs train on the same split into a temporary folder: an
experiment never creates an adapter version or changes the active one.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .dataset import (
    HELDOUT_FILE,
    QUESTIONS_FILE,
    LabelledQuestion,
    Split,
    bundled_questions,
    heldout_questions,
    read_jsonl,
    split_questions,
)
from .errors import HouseholdError, TrainingCancelled
from .evaluation import EvalReport, comparison_markdown, evaluate
from .trainer import TrainConfig, TrainProgress, train_adapter

logger = logging.getLogger(__name__)

EVALUATE_ON = ("heldout", "test")
EXPERIMENTS_DIR = "experiments"
JSON_FILE = "experiment.json"
MARKDOWN_FILE = "experiment.md"

# (key, router name in the table), in the order they run and are listed.
STAGES = (
    ("prompt-names", "prompt-only, names"),
    ("prompt-codes", "prompt-only, codes"),
    ("lora-names", "LoRA, names"),
    ("lora-codes", "LoRA, codes"),
    ("knn", "kNN"),
)
PUBLISHED = (
    "The published experiment (Qwen3-0.6B 4-bit, judged on its own 15 % test "
    "split) found prompt-only 10 %, LoRA with names 79 % and LoRA with codes 92 %."
)


@dataclass
class ExperimentRow:
    """One router's line of the table."""

    key: str
    router: str
    report: EvalReport
    training: dict[str, Any] | None = None  # LoRA rows only

    def to_dict(self) -> dict[str, Any]:
        r = self.report
        return {
            "key": self.key,
            "router": self.router,
            "correct": r.correct,
            "total": r.total,
            "accuracy": round(r.accuracy, 4),
            "invalid": r.invalid,
            "mean_latency_ms": round(r.mean_latency_ms, 2),
            "p95_latency_ms": round(r.p95_latency_ms, 2),
            "training": self.training,
            "evaluation": r.to_dict(),
        }


@dataclass
class ExperimentEvent:
    """Progress: `kind` is stage, routed or result, or a trainer event's kind
    (start, train, eval) with the trainer's figures in `training`."""

    kind: str
    stage: str
    index: int  # 1-based position of the stage
    message: str = ""
    done: int | None = None  # questions routed so far (routed events)
    total: int | None = None
    training: TrainProgress | None = None
    row: ExperimentRow | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.kind, "stage": self.stage}
        out.update(stage_index=self.index, stages=len(STAGES))
        if self.training is not None:
            out.update(
                {k: v for k, v in self.training.to_dict().items() if k != "event"}
            )
        if self.message:
            out["message"] = self.message
        if self.done is not None:
            out.update(done=self.done, total=self.total)
        if self.row is not None:
            row = self.row.to_dict()
            out["row"] = {k: v for k, v in row.items() if k != "evaluation"}
        return out


@dataclass
class ExperimentResult:
    router_model: str
    evaluated_on: str  # "heldout" or "test"
    source: str  # where the evaluation questions came from
    split: dict[str, int]
    config: dict[str, Any]
    rows: list[ExperimentRow]
    seconds: float
    created_at: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )

    @property
    def questions(self) -> int:
        return self.rows[0].report.total if self.rows else 0

    def row(self, key: str) -> ExperimentRow:
        return next(row for row in self.rows if row.key == key)

    def describe(self) -> str:
        """One sentence: what was evaluated, and on what."""
        where = "held-out" if self.evaluated_on == "heldout" else "test-split"
        return (
            f"Router model {self.router_model}, evaluated on {self.questions} "
            f"{where} questions ({self.source}). LoRA trained on "
            f"{self.split['train']} questions and validated on {self.split['valid']} "
            f"(split seed {self.config['split_seed']}); household corrections are "
            "not used."
        )

    def table(self) -> str:
        return comparison_markdown([row.report for row in self.rows])

    def to_dict(self) -> dict[str, Any]:
        return {
            "created_at": self.created_at,
            "router_model": self.router_model,
            "evaluated_on": self.evaluated_on,
            "source": self.source,
            "questions": self.questions,
            "split": self.split,
            "config": self.config,
            "seconds": round(self.seconds, 1),
            "rows": [row.to_dict() for row in self.rows],
        }

    def to_markdown(self) -> str:
        lines = [f"# Router experiment, {self.created_at}", "", self.describe()]
        lines += ["", self.table(), PUBLISHED, "", "## LoRA training", ""]
        lines += ["| run | steps | best step | best validation accuracy | seconds |"]
        lines += ["|---|---:|---:|---:|---:|"]
        for row in self.rows:
            if row.training:
                t = row.training
                lines.append(
                    f"| {row.router} | {t['steps']} | {t['best_step']} "
                    f"| {t['best_validation_accuracy']:.0%} | {t['seconds']:.0f} |"
                )
        for row in self.rows:
            lines += ["", row.report.to_markdown()]
        return "\n".join(lines) + "\n"


Progress = Callable[[ExperimentEvent], None]


def experiment_data(
    assistant, config: TrainConfig, evaluate_on: str = "heldout"
) -> tuple[Split, list[LabelledQuestion], str]:
    """The split to train on, the questions to judge with, and their source.

    The published table is about the data set, so household labels stay out.
    """
    if evaluate_on not in EVALUATE_ON:
        raise HouseholdError(
            f"Experiments evaluate on one of {', '.join(EVALUATE_ON)}; "
            f"got {evaluate_on!r}."
        )
    categories = assistant.categories
    if config.questions_file:
        pool_path = Path(config.questions_file).expanduser()
        pool = read_jsonl(pool_path, categories)
    else:
        pool_path = Path("training/data") / QUESTIONS_FILE
        pool = bundled_questions(categories)
    split = split_questions(pool, config.split_seed)
    if evaluate_on == "test":
        return split, split.test, f"the 15 % test part of {pool_path}"
    if config.heldout_file:
        path = Path(config.heldout_file).expanduser()
        return split, read_jsonl(path, categories), str(path)
    return split, heldout_questions(categories), f"training/data/{HELDOUT_FILE}"


def run_experiment(
    assistant,
    config: TrainConfig,
    evaluate_on: str = "heldout",
    limit: int | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> ExperimentResult:
    """Train and measure the five routers of the published table.

    Args:
        assistant: The Assistant whose router model, categories and data to use.
        config: Training options for both LoRA runs (their `mode` is set per run).
        evaluate_on: "heldout" (the held-out file) or "test" (the split's test part).
        limit: Evaluate on the first `limit` questions only.
        progress: Receives an ExperimentEvent for each step of the way.
        should_stop: Polled between training steps and between questions; True
            cancels with TrainingCancelled, and nothing is written.

    Returns:
        The five rows, in the order of STAGES. Nothing is saved; see
        `write_experiment`.
    """
    split, questions, source = experiment_data(assistant, config, evaluate_on)
    questions = questions[:limit] if limit else questions
    if not questions or not split.valid:
        raise HouseholdError(
            f"The experiment needs questions to train, validate and evaluate on; "
            f"found {split.sizes()} and {len(questions)} to evaluate on."
        )
    run = _Run(assistant, config, split, questions, progress, should_stop)
    started = time.perf_counter()
    rows = run.prompt_only() + [run.lora("names"), run.lora("codes"), run.knn()]
    return ExperimentResult(
        router_model=assistant.models.source("router"),
        evaluated_on=evaluate_on,
        source=source + (f", first {limit}" if limit else ""),
        split=split.sizes(),
        config=config.to_dict(),
        rows=rows,
        seconds=time.perf_counter() - started,
    )


class _Run:
    """The stages of one experiment, sharing its data and progress reporting."""

    def __init__(self, assistant, config, split, questions, progress, should_stop):
        self.assistant = assistant
        self.config = config
        self.split = split
        self.questions = questions
        self.progress = progress or (lambda event: None)
        self.should_stop = should_stop or (lambda: False)
        self.index = {key: i for i, (key, _) in enumerate(STAGES, 1)}
        self.names = dict(STAGES)

    def _emit(self, kind: str, key: str, **values) -> None:
        self.progress(ExperimentEvent(kind, key, self.index[key], **values))

    def _measure(self, key: str, router, training: dict | None = None):
        self._emit("stage", key, message=f"routing {len(self.questions)} questions")

        def routed(done: int, total: int) -> None:
            if self.should_stop():
                raise TrainingCancelled(
                    "The experiment was cancelled; nothing was written."
                )
            self._emit("routed", key, done=done, total=total)

        report = evaluate(
            router, self.questions, self.assistant.categories, routed, self.names[key]
        )
        row = ExperimentRow(key, self.names[key], report, training)
        self._emit("result", key, row=row)
        return row

    def prompt_only(self) -> list[ExperimentRow]:
        from .names_router import NamesRouter
        from .retrain import _fresh_router_model
        from .router import LLMRouter

        model, tokenizer = _fresh_router_model(self.assistant)
        categories = self.assistant.categories
        return [
            self._measure("prompt-names", NamesRouter(model, tokenizer, categories)),
            self._measure("prompt-codes", LLMRouter(model, tokenizer, categories)),
        ]

    def lora(self, mode: str) -> ExperimentRow:
        from .retrain import _fresh_router_model, _router_for

        key = f"lora-{mode}"
        self._emit("stage", key, message=f"training LoRA on {mode}")
        config = dataclasses.replace(self.config, mode=mode)
        model, tokenizer = _fresh_router_model(self.assistant)

        def relay(event: TrainProgress) -> None:
            self._emit(event.kind, key, training=event)

        # A throwaway folder: experiments are never promoted, nor even listed.
        with tempfile.TemporaryDirectory(prefix="experiment-") as folder:
            result = train_adapter(
                model,
                tokenizer,
                self.assistant.categories,
                self.split.train,
                self.split.valid,
                config,
                Path(folder),
                relay,
                self.should_stop,
            )
            model.load_weights(str(Path(folder) / "adapters.safetensors"), strict=False)
        model.eval()

        training = {
            "steps": result.steps,
            "best_step": result.best_step,
            "best_validation_accuracy": round(result.best_accuracy, 4),
            "stopped_early": result.stopped_early,
            "trainable_parameters": result.trainable_parameters,
            "seconds": round(result.seconds, 1),
        }
        router = _router_for(model, tokenizer, self.assistant, key, config)
        return self._measure(key, router, training)

    def knn(self) -> ExperimentRow:
        from .knn import KnnRouter

        settings = self.assistant.settings
        # What the LoRA runs saw, no more; its own cache folder, so the app's
        # cache of every bundled question is not replaced by this subset.
        router = KnnRouter(
            self.assistant.embed,
            self.assistant.categories,
            self.split.train + self.split.valid,
            k=settings.knn_k,
            cache_dir=self.assistant.home / "cache" / "experiment",
            cache_tag=settings.embedding_model,
        )
        return self._measure("knn", router)


def experiment_folder(home: Path) -> Path:
    """A new folder under the data folder's experiments/, named for now."""
    root = home / EXPERIMENTS_DIR
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    folder, number = root / stamp, 1
    while folder.exists():
        number += 1
        folder = root / f"{stamp}-{number}"
    return folder


def write_experiment(result: ExperimentResult, folder: Path) -> tuple[Path, Path]:
    """Write experiment.json and experiment.md into `folder`; returns both paths."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        json_path, md_path = folder / JSON_FILE, folder / MARKDOWN_FILE
        payload = json.dumps(result.to_dict(), indent=2, ensure_ascii=False)
        json_path.write_text(payload + "\n", encoding="utf-8")
        md_path.write_text(result.to_markdown(), encoding="utf-8")
    except OSError as exc:
        raise HouseholdError(
            f"Could not write the experiment's results to {folder}: "
            f"{exc.strerror or exc}. Pass --out with a folder you can write to."
        ) from exc
    logger.info("Experiment results written to %s", folder)
    return json_path, md_path
