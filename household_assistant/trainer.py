"""Fine-tune the router with LoRA (QLoRA on a quantized base) using mlx-lm's tuner.

mlx-lm does the work: `linear_to_lora_layers` adds the adapters, its
`CompletionsDataset` renders and masks the prompts, and its `train` loop runs
the optimizer. This module adds what a household needs around that loop:
validation *accuracy* measured with the real router after each evaluation, the
best checkpoint kept by that accuracy, early stopping, progress events and
cancellation between any two steps.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from .categories import CategoryBook
from .dataset import LabelledQuestion, completion_rows
from .errors import ConfigError, HouseholdError, TrainingCancelled, TrainingError

logger = logging.getLogger(__name__)

ADAPTER_WEIGHTS = "adapters.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
ROUTER_MODES = ("codes", "names")


def _help(text: str, default):
    return field(default=default, metadata={"help": text})


@dataclass
class TrainConfig:
    """LoRA hyperparameters and data options; defaults suit Qwen3-0.6B 4-bit."""

    rank: int = _help("LoRA rank.", 8)
    scale: float = _help("LoRA scale (mlx-lm's name for alpha / rank).", 20.0)
    dropout: float = _help("LoRA dropout.", 0.0)
    num_layers: int = _help("Transformer blocks to adapt, from the top; -1 = all.", 16)
    learning_rate: float = _help("Adam learning rate.", 1e-5)
    batch_size: int = _help("Questions per step.", 4)
    iters: int = _help("Most training steps; early stopping may end sooner.", 800)
    steps_per_report: int = _help("Steps between training-loss reports.", 10)
    steps_per_eval: int = _help("Steps between validation runs.", 100)
    patience: int = _help(
        "Stop after this many validation runs without a better accuracy.", 3
    )
    max_seq_length: int = _help("Longest prompt in tokens.", 1024)
    seed: int = _help("Seed for LoRA weights and batch order.", 0)
    split_seed: int = _help("Seed of the train/validation/test split.", 0)
    correction_repeat: int = _help(
        "Times each household correction is repeated in the training data.", 3
    )
    mode: str = _help(
        "What the router answers with: codes (the product) or names "
        "(the published baseline, for `experiment`).",
        "codes",
    )
    grad_checkpoint: bool = _help("Trade compute for memory on long prompts.", False)
    questions_file: str | None = _help(
        "Labelled questions to train on instead of the bundled set.", None
    )
    heldout_file: str | None = _help(
        "Held-out questions to judge with instead of the bundled set.", None
    )

    def validate(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.default is None:
                if value is not None and not isinstance(value, str):
                    raise ConfigError(f"Training option '{f.name}' should be a path.")
                continue
            expected = (int, float) if isinstance(f.default, float) else type(f.default)
            if not isinstance(value, expected) or (
                isinstance(value, bool) != isinstance(f.default, bool)
            ):
                raise ConfigError(
                    f"Training option '{f.name}' should look like {f.default!r}; "
                    f"found {value!r}."
                )
        positive = ("rank", "batch_size", "iters", "steps_per_report")
        for name in positive + ("steps_per_eval", "patience", "max_seq_length"):
            if getattr(self, name) < 1:
                raise ConfigError(f"Training option '{name}' must be at least 1.")
        if self.learning_rate <= 0 or not 0 <= self.dropout < 1:
            raise ConfigError("learning_rate must be > 0 and dropout in [0, 1).")
        if self.mode not in ROUTER_MODES:
            raise ConfigError(f"mode must be one of {', '.join(ROUTER_MODES)}.")

    def lora_parameters(self) -> dict[str, Any]:
        return {"rank": self.rank, "scale": self.scale, "dropout": self.dropout}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def load_train_config(path: Path | None = None, **overrides) -> TrainConfig:
    """Defaults, then a YAML file, then explicit overrides; validated."""
    values: dict[str, Any] = {}
    if path is not None:
        import yaml

        try:
            loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"Could not read training config {path}: {exc}") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path} should hold 'option: value' lines.")
        values.update(loaded)
    values.update({k: v for k, v in overrides.items() if v is not None})

    known = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"Unknown training option(s) {', '.join(unknown)}"
            f"{f' in {path}' if path else ''}. Known: {', '.join(sorted(known))}."
        )
    config = TrainConfig(**values)
    config.validate()
    return config


# --- progress -----------------------------------------------------------------


@dataclass
class TrainProgress:
    """One progress report; `kind` is start, train, eval or stop."""

    kind: str
    step: int
    total_steps: int
    train_loss: float | None = None
    val_loss: float | None = None
    val_accuracy: float | None = None
    best_accuracy: float | None = None
    tokens_per_second: float | None = None  # prompt and answer, in training steps
    eta_s: float | None = None
    peak_memory_gb: float | None = None
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {"event": self.kind, "step": self.step, "total_steps": self.total_steps}
        for f in dataclasses.fields(self)[3:]:
            value = getattr(self, f.name)
            if value not in (None, ""):
                out[f.name] = round(value, 4) if isinstance(value, float) else value
        return out


class _EarlyStop(Exception):
    pass


@dataclass
class TrainResult:
    best_step: int
    best_accuracy: float
    steps: int
    stopped_early: bool
    seconds: float
    trainable_parameters: int
    history: list[dict[str, Any]]


# --- the losses -----------------------------------------------------------------


def completion_window(dataset) -> int:
    """The most positions any example asks mlx-lm's default loss to predict."""
    longest = 0
    for index in range(len(dataset)):
        tokens, offset = dataset[index]
        longest = max(longest, len(tokens) - offset)
    return longest + 1


def make_window_loss(window: int) -> Callable:
    """mlx-lm's `default_loss`, computed only over the last `window` positions.

    Router examples are a long prompt and a few answer tokens. The body runs
    over the whole sequence, but the output head (150k rows) projects only the
    positions the mask keeps, so the value equals `default_loss` for a fraction
    of its compute and memory. Names mode trains with this loss.
    """

    def loss(model, batch, lengths):
        inputs, targets = batch[:, :-1], batch[:, 1:]
        hidden = model.model(inputs)  # (B, L, H)

        # default_loss counts positions offset-1 .. length-1 of each row; take
        # the `window` positions that end there, clipped at the start.
        ends = lengths[:, 1:2] - 1
        steps = mx.arange(window)[None]
        positions = mx.maximum(ends - window + 1 + steps, 0)  # (B, W)
        picked = mx.take_along_axis(hidden, positions[..., None], axis=1)
        logits = _project(model, picked)
        wanted = mx.take_along_axis(targets, positions, axis=1)

        mask = (positions + 1 >= lengths[:, 0:1]) & (positions + 1 <= lengths[:, 1:])
        # A clipped window repeats position 0; count it once.
        mask = mask & (steps >= window - 1 - ends)
        ce = nn.losses.cross_entropy(logits, wanted) * mask
        ntoks = mask.sum()
        return ce.astype(mx.float32).sum() / ntoks, ntoks

    return loss


def _project(model, hidden: mx.array) -> mx.array:
    if getattr(model.args, "tie_word_embeddings", False):
        return model.model.embed_tokens.as_linear(hidden)
    return model.lm_head(hidden)


def code_tail(dataset, code_ids: set[int]) -> int:
    """How many tokens after the code token each example ends with.

    The chat template closes every answer the same way (`<|im_end|>` and a
    newline), so the code sits at the same distance from each example's end.
    """
    tails = set()
    for index in range(len(dataset)):
        tokens, _ = dataset[index]
        found = [i for i, token in enumerate(tokens) if token in code_ids]
        if not found:
            raise HouseholdError("A training example has no category code token.")
        tails.add(len(tokens) - 1 - found[-1])
    if len(tails) != 1:
        raise HouseholdError(f"Code tokens sit at different places: {sorted(tails)}.")
    return tails.pop()


def make_code_loss(model, code_ids: list[int], tail: int) -> Callable:
    """Cross-entropy over the category codes at the answer position.

    This is the router's own softmax (it only ever reads the code rows of the
    output head), so training optimises exactly what routing measures, and the
    head costs 18 rows instead of the whole vocabulary.
    """
    from .router import output_rows

    ids = mx.array(code_ids)
    rows = mx.stop_gradient(output_rows(model, ids))  # (n_codes, H); head is frozen

    def loss(model, batch, lengths):
        inputs = batch[:, :-1]
        hidden = model.model(inputs)  # (B, L, H)

        # The code token is at length-1-tail; the position before predicts it.
        where = lengths[:, 1:2] - 2 - tail  # (B, 1)
        picked = mx.take_along_axis(hidden, where[..., None], axis=1)[:, 0]  # (B, H)
        logits = (picked @ rows.T).astype(mx.float32)  # (B, n_codes)
        code = mx.take_along_axis(batch, where + 1, axis=1)  # (B, 1)
        target = mx.argmax(code == ids[None], axis=1)
        ce = nn.losses.cross_entropy(logits, target)
        return ce.mean(), mx.array(ce.shape[0])

    return loss


# --- training -----------------------------------------------------------------


def router_datasets(
    tokenizer: Any,
    categories: CategoryBook,
    train: list[LabelledQuestion],
    valid: list[LabelledQuestion],
    mode: str = "codes",
):
    """mlx-lm datasets with the prompt masked, rendered from completions rows."""
    from mlx_lm.tuner.datasets import CacheDataset, CompletionsDataset

    def build(items):
        rows = completion_rows(items, categories, mode)
        return CacheDataset(
            CompletionsDataset(rows, tokenizer, "prompt", "completion", True)
        )

    return build(train), build(valid)


def add_lora(model, config: TrainConfig) -> int:
    """Freeze the base, add LoRA layers; returns the trainable parameter count."""
    from mlx.utils import tree_flatten
    from mlx_lm.tuner.utils import linear_to_lora_layers

    model.freeze()
    layers = len(model.layers) if config.num_layers < 0 else config.num_layers
    linear_to_lora_layers(
        model, min(layers, len(model.layers)), config.lora_parameters()
    )
    return sum(v.size for _, v in tree_flatten(model.trainable_parameters()))


def write_adapter_config(folder: Path, config: TrainConfig, model_source: str) -> None:
    """adapter_config.json in the layout `mlx_lm.load(adapter_path=...)` reads."""
    payload = {
        "fine_tune_type": "lora",
        "model": model_source,
        "num_layers": config.num_layers,
        "lora_parameters": config.lora_parameters(),
        "mode": config.mode,
    }
    (folder / ADAPTER_CONFIG).write_text(json.dumps(payload, indent=2) + "\n")


class _Monitor:
    """The mlx-lm training callback: reports, validates by accuracy, keeps the best.

    mlx-lm calls `on_val_loss_report` at step 0, every `steps_per_eval` steps
    and at the end; each time the real router scores the validation questions
    with the current weights.
    """

    def __init__(self, model, accuracy, config, folder, progress, started):
        self.model = model
        self.accuracy = accuracy
        self.config = config
        self.folder = folder
        self.progress = progress
        self.started = started
        self.best_accuracy = -1.0
        self.best_loss = math.inf
        self.best_step = 0
        self.since_best = 0
        self.step = 0  # steps taken, counted as batches are handed out
        # Tokens in the batches handed out since the last report. mlx-lm's own
        # figure counts what the loss returns: answer tokens, or (codes mode)
        # one per question, which says little about speed.
        self.tokens = 0
        self.stop = False
        self.history: list[dict[str, Any]] = []

    def on_train_loss_report(self, info: dict) -> None:
        step, rate = info["iteration"], info["iterations_per_second"]
        remaining = self.config.iters - step
        # mlx-lm divides steps_per_report by its step time, even at a last,
        # shorter report; undoing that gives the time the steps took.
        seconds = self.config.steps_per_report / rate if rate > 0 else 0.0
        tokens, self.tokens = self.tokens, 0
        self._emit(
            TrainProgress(
                "train",
                step,
                self.config.iters,
                train_loss=info["train_loss"],
                tokens_per_second=tokens / seconds if seconds else None,
                eta_s=remaining / rate if rate > 0 else None,
                peak_memory_gb=info["peak_memory"],
            )
        )

    def on_val_loss_report(self, info: dict) -> None:
        from mlx.utils import tree_flatten

        step = info["iteration"]
        self.model.eval()
        try:
            accuracy = self.accuracy()
        finally:
            self.model.train()

        val_loss = info["val_loss"]
        better = accuracy > self.best_accuracy or (
            accuracy == self.best_accuracy and val_loss < self.best_loss
        )
        # Patience counts validations without a better accuracy; a lower loss
        # at the same accuracy still takes the checkpoint, but doesn't wait.
        if accuracy > self.best_accuracy:
            self.since_best = 0
        elif step > 0:
            self.since_best += 1
            self.stop = self.since_best >= self.config.patience
        if better:
            self.best_accuracy, self.best_loss = accuracy, val_loss
            self.best_step = step
            weights = dict(tree_flatten(self.model.trainable_parameters()))
            mx.save_safetensors(str(self.folder / ADAPTER_WEIGHTS), weights)

        self._emit(
            TrainProgress(
                "eval",
                step,
                self.config.iters,
                val_loss=val_loss,
                val_accuracy=accuracy,
                best_accuracy=self.best_accuracy,
                message="best so far" if better else "",
            )
        )

    def _emit(self, event: TrainProgress) -> None:
        self.history.append(event.to_dict())
        if self.progress is not None:
            self.progress(event)


def train_adapter(
    model,
    tokenizer: Any,
    categories: CategoryBook,
    train: list[LabelledQuestion],
    valid: list[LabelledQuestion],
    config: TrainConfig,
    folder: Path,
    progress: Callable[[TrainProgress], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Train LoRA adapters on `model` in place and save the best into `folder`.

    Args:
        model: A freshly loaded mlx-lm model (it gains LoRA layers).
        tokenizer: Its tokenizer.
        categories: The categories the router chooses among.
        train: Training questions (household labels already merged in).
        valid: Validation questions; their accuracy picks the checkpoint.
        config: Hyperparameters.
        folder: Where adapters.safetensors (the best checkpoint) is written.
        progress: Called with each TrainProgress.
        should_stop: Polled before every step; True cancels the run.

    Returns:
        What happened. Raises TrainingCancelled when `should_stop` said so.
    """
    import mlx.optimizers as optim
    from mlx_lm.tuner.trainer import TrainingArgs, iterate_batches
    from mlx_lm.tuner.trainer import train as mlx_train

    if len(train) < config.batch_size or len(valid) == 0:
        raise TrainingError(
            f"Training needs at least {config.batch_size} training and 1 validation "
            f"question; found {len(train)} and {len(valid)}."
        )
    mx.random.seed(config.seed)
    trainable = add_lora(model, config)
    train_set, valid_set = router_datasets(
        tokenizer, categories, train, valid, config.mode
    )
    loss = _loss_for(model, tokenizer, categories, config.mode, train_set, valid_set)
    accuracy = _accuracy_fn(model, tokenizer, categories, valid, config.mode)

    started = time.perf_counter()
    monitor = _Monitor(model, accuracy, config, folder, progress, started)
    monitor._emit(TrainProgress("start", 0, config.iters, message=f"{trainable}"))

    def batches(*args, **kwargs):
        # mlx-lm's batches, with a stop check between steps.
        for batch in iterate_batches(*args, **kwargs):
            if should_stop is not None and should_stop():
                raise TrainingCancelled("Training was cancelled; nothing was changed.")
            if not kwargs.get("loop"):  # validation batches
                yield batch
                continue
            if monitor.stop:
                raise _EarlyStop
            # Counted before the yield: mlx-lm's loop ends on its step count
            # without resuming this generator after the last batch.
            monitor.step += 1
            monitor.tokens += int(batch[1][:, 1].sum().item())
            yield batch

    args = TrainingArgs(
        batch_size=config.batch_size,
        iters=config.iters,
        val_batches=-1,
        steps_per_report=config.steps_per_report,
        steps_per_eval=config.steps_per_eval,
        steps_per_save=config.iters + 1,  # we keep the best checkpoint ourselves
        max_seq_length=config.max_seq_length,
        adapter_file=str(folder / "last.safetensors"),
        grad_checkpoint=config.grad_checkpoint,
    )
    optimizer = optim.Adam(learning_rate=config.learning_rate)
    stopped_early = False
    # mlx-lm draws its own progress table; ours go through `progress`.
    with _quiet_mlx_console():
        try:
            mlx_train(
                model,
                optimizer,
                train_set,
                valid_set,
                args=args,
                loss=loss,
                iterate_batches=batches,
                training_callback=monitor,
            )
        except _EarlyStop:
            stopped_early = True
    (folder / "last.safetensors").unlink(missing_ok=True)

    return TrainResult(
        best_step=monitor.best_step,
        best_accuracy=monitor.best_accuracy,
        steps=monitor.step,
        stopped_early=stopped_early,
        seconds=time.perf_counter() - started,
        trainable_parameters=trainable,
        history=monitor.history,
    )


@contextlib.contextmanager
def _quiet_mlx_console():
    from mlx_lm.cli_ui import make_console

    console = make_console()
    before, console.quiet = console.quiet, True
    try:
        yield
    finally:
        console.quiet = before


def _loss_for(model, tokenizer, categories, mode, train_set, valid_set) -> Callable:
    if mode == "names":
        window = max(completion_window(train_set), completion_window(valid_set))
        return make_window_loss(window)

    from .categories import code_token_ids

    ids = list(code_token_ids(tokenizer, categories.codes).values())
    if None in ids:
        raise HouseholdError("Some category codes are not single tokens; reload them.")
    tail = code_tail(train_set, set(ids))
    if code_tail(valid_set, set(ids)) != tail:
        raise HouseholdError("Training and validation examples end differently.")
    return make_code_loss(model, ids, tail)


def _accuracy_fn(model, tokenizer, categories, valid, mode) -> Callable[[], float]:
    """Validation accuracy with the router the app would build from these weights."""

    def accuracy() -> float:
        if mode == "codes":
            from .router import LLMRouter

            router = LLMRouter(model, tokenizer, categories, "validation")
        else:
            from .names_router import NamesRouter

            router = NamesRouter(model, tokenizer, categories, "validation")
        right = sum(router.route(item.question).code == item.code for item in valid)
        return right / len(valid)

    return accuracy
