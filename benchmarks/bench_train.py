"""Trainer throughput: `train_adapter` against a bare mlx-lm tuner `train` call.

Two bare runs, on the same model and the same batches as ours:
- same loss: mlx-lm's `train` with our exported data, its loader and loop, and
  our loss. What is left between the two is our trainer's own work (a stop
  check and a token count per step, progress events): the goal is >= 0.9x.
- default loss: what `mlx_lm.lora --train --mask-prompt --data DIR` runs on our
  exported completions, projecting every position onto the whole vocabulary.
  Our losses read 18 code rows at one position (codes mode) or the answer
  positions only (names mode); this shows what that buys.
Then a sweep: time per step and peak memory of our trainer against batch size
and sequence length.

    python benchmarks/bench_train.py [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import benchkit
import mlx.core as mx
import numpy as np

from household_assistant.tiny_model import TinyQwen3Config, make_tiny_qwen3

# The tests' model (hidden 64, 2 layers): a bare default-loss step, over the
# whole 151,936-row vocabulary, already takes seconds on 2 CPU cores.
SHAPE: dict = {}
GOAL = 0.9  # our tokens/s over the bare same-loss call's, on the same batches
BATCH = 2
SEED = 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps, no sweep")
    parser.add_argument("--steps", type=int, help="steps timed per run (10; --quick 4)")
    args = parser.parse_args()
    args.steps = args.steps or (2 if args.quick else 3)
    return args


@dataclass
class Timing:
    """Wall time of the timed steps, and what surrounds them."""

    steps: int
    seconds: float
    tokens: int  # prompt and answer tokens in the timed steps' batches
    validation_s: float  # the first validation, before any step
    peak_gb: float
    reports: list[float] = field(default_factory=list)

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds

    @property
    def ms_per_step(self) -> float:
        return self.seconds * 1000 / self.steps


class Clock:
    """Stamps every progress report, for both trainers.

    A run takes 2 x `report` + 1 steps with reports every `report` steps and
    validation only before the first and the last step (mlx-lm always
    validates there), so the steps between the first and second report are
    pure training: batch hand-out, forward, backward, optimizer update. The
    first `report` steps warm up.
    """

    def __init__(self):
        self.started = time.perf_counter()
        self.train: list[float] = []
        self.first_validation: float | None = None

    def on_train_loss_report(self, info: dict) -> None:
        self.train.append(time.perf_counter())

    def on_val_loss_report(self, info: dict) -> None:
        if self.first_validation is None:
            self.first_validation = time.perf_counter() - self.started

    def ours(self, event) -> None:  # TrainProgress from train_adapter
        if event.kind == "train":
            self.on_train_loss_report({})
        elif event.kind == "eval":
            self.on_val_loss_report({})


def make_model(folder: Path) -> Path:
    config = TinyQwen3Config(**SHAPE)
    return make_tiny_qwen3(folder / "router-4bit", benchkit.TOKENIZER_DIR, config, 4)


def train_config(steps: int, batch_size: int, mode: str = "codes"):
    from household_assistant.trainer import TrainConfig

    return replace(
        TrainConfig(),
        mode=mode,
        batch_size=batch_size,
        iters=2 * steps + 1,
        steps_per_report=steps,
        steps_per_eval=100 * steps,  # only mlx-lm's first and last
        patience=1000,
        num_layers=-1,
        learning_rate=1e-4,
    )


def fresh(path: Path, config):
    """The model loaded anew, with LoRA layers as both trainers add them."""
    from mlx_lm import load

    from household_assistant.trainer import add_lora

    model, tokenizer = load(str(path))
    add_lora(model, config)
    return model, tokenizer


def batch_tokens(dataset, config, skip: int, count: int) -> int:
    """Tokens in steps skip+1 .. skip+count of mlx-lm's batch order for SEED."""
    from mlx_lm.tuner.trainer import iterate_batches

    np.random.seed(SEED)
    total = 0
    batches = iterate_batches(
        dataset, config.batch_size, config.max_seq_length, loop=True
    )
    for index, (_, lengths) in enumerate(batches):
        if index >= skip + count:
            break
        if index >= skip:
            total += int(lengths[:, 1].sum().item())
    return total


def _timing(clock: Clock, steps: int, tokens: int) -> Timing:
    first, second = clock.train[0], clock.train[1]
    return Timing(
        steps=steps,
        seconds=second - first,
        tokens=tokens,
        validation_s=clock.first_validation or 0.0,
        peak_gb=mx.get_peak_memory() / 1e9,
    )


def run_ours(path: Path, book, train, valid, config, folder: Path) -> Timing:
    from mlx_lm import load

    from household_assistant.trainer import router_datasets, train_adapter

    folder.mkdir(parents=True, exist_ok=True)
    model, tokenizer = load(str(path))
    dataset, _ = router_datasets(tokenizer, book, train, valid, config.mode)
    tokens = batch_tokens(
        dataset, config, config.steps_per_report, config.steps_per_report
    )
    mx.reset_peak_memory()
    clock = Clock()
    np.random.seed(SEED)
    train_adapter(model, tokenizer, book, train, valid, config, folder, clock.ours)
    return _timing(clock, config.steps_per_report, tokens)


def run_bare(path: Path, book, split, config, folder: Path, same_loss: bool) -> Timing:
    """mlx_lm.lora's path: exported JSONL, its loader and loop; its default
    loss, or (same_loss) the loss our trainer uses for this mode."""
    import mlx.optimizers as optim
    from mlx_lm.tuner.datasets import CacheDataset, load_dataset
    from mlx_lm.tuner.trainer import TrainingArgs
    from mlx_lm.tuner.trainer import train as mlx_train

    from household_assistant.dataset import export_completions
    from household_assistant.trainer import _quiet_mlx_console

    data = folder / "data"
    export_completions(data, split, book, config.mode)
    mx.random.seed(config.seed)
    model, tokenizer = fresh(path, config)
    options = argparse.Namespace(
        data=str(data), train=True, test=False, hf_dataset=None, mask_prompt=True
    )
    train_set, valid_set, _ = load_dataset(options, tokenizer)
    train_set, valid_set = CacheDataset(train_set), CacheDataset(valid_set)
    steps = config.steps_per_report
    tokens = batch_tokens(train_set, config, steps, steps)
    extra = {}
    if same_loss:
        from household_assistant.trainer import _loss_for

        extra["loss"] = _loss_for(
            model, tokenizer, book, config.mode, train_set, valid_set
        )

    args = TrainingArgs(
        batch_size=config.batch_size,
        iters=config.iters,
        val_batches=-1,
        steps_per_report=steps,
        steps_per_eval=config.steps_per_eval,
        steps_per_save=config.iters + 1,
        max_seq_length=config.max_seq_length,
        adapter_file=str(folder / "bare.safetensors"),
    )
    mx.reset_peak_memory()
    clock = Clock()
    np.random.seed(SEED)
    with _quiet_mlx_console():
        mlx_train(
            model,
            optim.Adam(learning_rate=config.learning_rate),
            train_set,
            valid_set,
            args=args,
            training_callback=clock,
            **extra,
        )
    return _timing(clock, steps, tokens)


def padded(items, words: int):
    """The same questions, each made `words` words longer with filler."""
    filler = " ".join(["also"] * words)
    return [replace(item, question=f"{item.question} {filler}") for item in items]


def mean_length(path: Path, book, items, mode: str) -> float:
    from mlx_lm import load

    from household_assistant.trainer import router_datasets

    _, tokenizer = load(str(path))
    dataset, _ = router_datasets(tokenizer, book, items, items[:1], mode)
    return float(np.mean([len(dataset[i][0]) for i in range(len(dataset))]))


def main() -> None:
    args = parse_args()
    from household_assistant.categories import CategoryBook
    from household_assistant.dataset import bundled_questions, split_questions

    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        root = Path(tmp)
        path = make_model(root)
        book = CategoryBook.load(root)
        split = split_questions(bundled_questions(book), SEED)
        # A small validation set: validation is outside the timed steps, but
        # every run validates twice.
        split = replace(split, valid=split.valid[:8])
        train, valid = split.train, split.valid

        shape = TinyQwen3Config(**SHAPE)
        print(
            f"Model: random Qwen3, {shape.num_hidden_layers} layers, hidden "
            f"{shape.hidden_size}, 4-bit, vocabulary 151,936; LoRA on every layer; "
            f"batch {BATCH}; {len(train)} training questions. Timed: steps "
            f"{args.steps + 1}-{2 * args.steps} of each run, the same batches for "
            "all three.\n"
        )

        rows, results = [], {}
        for mode in ("codes", "names"):
            config = train_config(args.steps, BATCH, mode)
            # Bare runs first and last, so a machine that gets busier or
            # quieter during the run does not favour one side.
            same = run_bare(path, book, split, config, root / f"same-{mode}", True)
            ours = run_ours(path, book, train, valid, config, root / f"ours-{mode}")
            default = run_bare(path, book, split, config, root / f"bare-{mode}", False)
            runs = {"ours": ours, "same_loss": same, "default_loss": default}
            assert len({run.tokens for run in runs.values()}) == 1, "other batches"
            result = {
                f"{name}_{key}": getattr(run, attr)
                for name, run in runs.items()
                for key, attr in (
                    ("tokens_per_s", "tokens_per_second"),
                    ("ms_per_step", "ms_per_step"),
                    ("peak_gb", "peak_gb"),
                )
            }
            result["vs_same_loss"] = benchkit.ratio(
                ours.tokens_per_second, same.tokens_per_second
            )
            result["vs_default_loss"] = benchkit.ratio(
                ours.tokens_per_second, default.tokens_per_second
            )
            results[mode] = result
            for name, run in runs.items():
                speed = benchkit.ratio(ours.tokens_per_second, run.tokens_per_second)
                versus = "" if name == "ours" else f"{speed:.2f}x"
                rows.append(
                    [
                        f"{mode}, {name.replace('_', ' ')}",
                        run.tokens_per_second,
                        run.ms_per_step,
                        run.peak_gb,
                        versus,
                    ]
                )
        benchkit.print_table(
            ["mode, trainer", "tokens/s", "ms/step", "peak GB", "ours vs this"], rows
        )
        print()

        sweep = [] if args.quick else run_sweep(path, book, train, valid, root, args)
        goal = min(r["vs_same_loss"] for r in results.values()) >= GOAL
        summary = {"bench": "train", "quick": args.quick, "steps": args.steps}
        for mode, result in results.items():
            summary.update({f"{mode}_{key}": value for key, value in result.items()})
        summary.update(sweep=sweep, goal_met=goal)
        benchkit.print_summary(summary)


def run_sweep(path, book, train, valid, root: Path, args) -> list[dict]:
    """Our trainer (codes mode): per-step time and peak memory against batch
    size at the natural length, then against length at batch size 4. Peak
    memory is MLX's, weights included."""
    points = [(batch, 0) for batch in (1, 2, 4, 8)]
    points += [(4, words) for words in (100, 300, 700)]
    out, rows = [], []
    for batch, words in points:
        items = padded(train, words) if words else train
        config = train_config(args.steps, batch)
        folder = root / f"sweep-{batch}-{words}"
        timing = run_ours(path, book, items, valid, config, folder)
        length = mean_length(path, book, items[:64], "codes")
        out.append(
            {
                "batch_size": batch,
                "mean_tokens": round(length),
                "ms_per_step": round(timing.ms_per_step, 1),
                "tokens_per_s": round(timing.tokens_per_second),
                "peak_gb": round(timing.peak_gb, 3),
            }
        )
        rows.append(
            [
                str(batch),
                length,
                timing.ms_per_step,
                timing.tokens_per_second,
                timing.peak_gb,
            ]
        )
    print("Our trainer, codes mode: time per step and peak memory")
    benchkit.print_table(
        ["batch", "tokens/example", "ms/step", "tokens/s", "peak GB"], rows
    )
    print()
    return out


if __name__ == "__main__":
    main()
