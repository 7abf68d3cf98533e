"""The LoRA trainer: prompt parity, its losses, its config, and that it learns."""

from __future__ import annotations

import json

import numpy as np
import pytest
from mlx_lm.tuner.trainer import default_loss, iterate_batches

from household_assistant.categories import CategoryBook
from household_assistant.dataset import (
    LabelledQuestion,
    bundled_questions,
    completion_rows,
    export_completions,
    read_jsonl,
    split_questions,
)
from household_assistant.errors import ConfigError, TrainingCancelled
from household_assistant.prompts import build_router_prompt
from household_assistant.router import LLMRouter
from household_assistant.trainer import (
    TrainConfig,
    code_tail,
    completion_window,
    load_train_config,
    make_code_loss,
    make_window_loss,
    router_datasets,
    train_adapter,
    write_adapter_config,
)

from .conftest import ROOT

ODD_QUESTIONS = [
    "When was the furnace filter changed?",
    "  who fixed   the pool pump\n last time ",
    'the "Pentair" pump: model #WF-26?',
    "Wie alt ist der Warmwasserbereiter? 🔥",
    "2024-05-12 oil change — receipt?",
]


@pytest.fixture(scope="module")
def book(tmp_path_factory) -> CategoryBook:
    return CategoryBook.load(tmp_path_factory.mktemp("book"))


def _items(book, questions) -> list[LabelledQuestion]:
    codes = book.codes
    return [LabelledQuestion(q, codes[i % len(codes)]) for i, q in enumerate(questions)]


def test_training_tokens_are_the_routers_tokens(loaded_4bit, book):
    """mlx-lm renders each training row to exactly the prompt the router scores,
    followed by the code token, and masks everything before the answer."""
    _, tokenizer = loaded_4bit
    items = _items(book, ODD_QUESTIONS)
    train, _ = router_datasets(tokenizer, book, items, items[:1])

    for index, item in enumerate(items):
        tokens, offset = train[index]
        prompt = build_router_prompt(tokenizer, item.question, list(book)).text
        routed = tokenizer.encode(prompt, add_special_tokens=False)
        assert tokens[: len(routed)] == routed
        assert tokenizer.decode([tokens[len(routed)]]) == item.code
        assert offset <= len(routed)  # the prompt is masked, the code is not


def test_exported_rows_train_the_same_prompt(loaded_4bit, book, tmp_path):
    from mlx_lm.tuner.datasets import CompletionsDataset

    _, tokenizer = loaded_4bit
    split = split_questions(bundled_questions(book))
    written = export_completions(tmp_path, split, book)

    rows = [json.loads(line) for line in written["valid"].read_text().splitlines()]
    assert len(rows) == len(split.valid)
    assert rows == completion_rows(split.valid, book)
    dataset = CompletionsDataset(rows, tokenizer, "prompt", "completion", True)
    tokens, _ = dataset.process(rows[0])
    prompt = build_router_prompt(tokenizer, split.valid[0].question, list(book)).text
    routed = tokenizer.encode(prompt, add_special_tokens=False)
    assert tokens[: len(routed) + 1] == routed + [
        tokenizer.encode(split.valid[0].code, add_special_tokens=False)[0]
    ]


def _batch(loaded, book, n=6):
    model, tokenizer = loaded
    items = _items(
        book,
        [
            f"question number {i} about the {w}"
            for i, w in enumerate(["pool", "car", "gate", "roof", "oven", "tree"])
        ],
    )
    train, _ = router_datasets(tokenizer, book, items[:n], items[:1])
    return model, tokenizer, train, next(iterate_batches(train, n, 2048))


def test_window_loss_equals_mlx_lm_default_loss(loaded_4bit, book):
    model, _, train, batch = _batch(loaded_4bit, book)
    expected, expected_tokens = default_loss(model, *batch)
    got, tokens = make_window_loss(completion_window(train))(model, *batch)
    assert tokens.item() == expected_tokens.item() > 0
    assert got.item() == pytest.approx(expected.item(), rel=1e-4)


def test_code_loss_is_the_routers_own_softmax(loaded_4bit, book):
    """Training minimises -log p(true code) under the distribution routing reads."""
    model, tokenizer, train, batch = _batch(loaded_4bit, book)
    ids = [tokenizer.encode(c, add_special_tokens=False)[0] for c in book.codes]
    loss = make_code_loss(model, ids, code_tail(train, set(ids)))
    got, count = loss(model, *batch)

    router = LLMRouter(model, tokenizer, book)
    expected = []
    for row in batch[0].tolist():
        text = tokenizer.decode(row)
        question = text.split("Question:\n", 1)[1].split("<|im_end|>", 1)[0]
        code = next(c for c in book.codes if f"</think>\n\n{c}<|im_end|>" in text)
        probs, _ = router.probabilities(question)
        expected.append(-np.log(probs[book.codes.index(code)]))
    assert count.item() == len(expected)
    assert got.item() == pytest.approx(float(np.mean(expected)), rel=1e-3)


def test_shipped_config_is_the_dataclass_defaults():
    shipped = load_train_config(ROOT / "training" / "configs" / "qwen3-0.6b.yaml")
    assert shipped == TrainConfig()


@pytest.mark.parametrize(
    "text, needle",
    [
        ("rank: 8\nlearning_rat: 0.1\n", "learning_rat"),
        ("rank: eight\n", "rank"),
        ("iters: 0\n", "iters"),
        ("mode: poetry\n", "mode"),
        ("- just\n- a list\n", "option: value"),
        ("rank: [\n", "Could not read"),
    ],
)
def test_bad_training_configs_say_what_is_wrong(tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_train_config(path)


def test_overrides_beat_the_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("iters: 50\nrank: 4\n")
    config = load_train_config(path, iters=7)
    assert (config.iters, config.rank) == (7, 4)


def _separable_sets(separable, home):
    book = CategoryBook.load(home)
    pool = read_jsonl(separable["questions"], book)
    split = split_questions(pool)
    return book, split, read_jsonl(separable["heldout"], book)


def _accuracy(router, items) -> float:
    return sum(router.route(q.question).code == q.code for q in items) / len(items)


def test_training_learns_a_separable_task(separable, home, tiny_models, tmp_path):
    """Held-out accuracy after training is far above the untrained router's."""
    from mlx_lm import load
    from mlx_lm.cli_ui import make_console

    book, split, heldout = _separable_sets(separable, home)
    model, tokenizer = load(str(tiny_models["4bit"]))
    before = _accuracy(LLMRouter(model, tokenizer, book), heldout)

    config = load_train_config(separable["config"])
    events = []
    result = train_adapter(
        model,
        tokenizer,
        book,
        split.train,
        split.valid,
        config,
        tmp_path,
        progress=events.append,
    )
    model.load_weights(str(tmp_path / "adapters.safetensors"), strict=False)
    model.eval()
    after = _accuracy(LLMRouter(model, tokenizer, book), heldout)

    assert after >= 0.9 and after >= before + 0.4, (before, after)
    assert result.best_accuracy >= 0.9
    kinds = [e.kind for e in events]
    assert kinds[0] == "start" and "train" in kinds and "eval" in kinds
    assert not (tmp_path / "last.safetensors").exists()

    # The saved adapter, loaded the way the app and mlx_lm.generate load it,
    # routes exactly as the weights that were trained.
    write_adapter_config(tmp_path, config, str(tiny_models["4bit"]))
    reloaded, _ = load(str(tiny_models["4bit"]), adapter_path=str(tmp_path))
    trained = LLMRouter(model, tokenizer, book)
    again = LLMRouter(reloaded, tokenizer, book)
    for item in heldout[:5]:
        np.testing.assert_allclose(
            trained.probabilities(item.question)[0],
            again.probabilities(item.question)[0],
            rtol=1e-4,
            atol=1e-6,
        )
    assert make_console().quiet is False  # mlx-lm's console is quiet only inside


def test_cancelling_stops_between_steps(separable, home, tiny_models, tmp_path):
    from mlx_lm import load

    book, split, _ = _separable_sets(separable, home)
    model, tokenizer = load(str(tiny_models["4bit"]))
    steps = []

    def should_stop() -> bool:
        steps.append(1)
        return len(steps) > 5

    config = load_train_config(separable["config"])
    with pytest.raises(TrainingCancelled):
        train_adapter(
            model,
            tokenizer,
            book,
            split.train,
            split.valid,
            config,
            tmp_path,
            should_stop=should_stop,
        )
    assert len(steps) == 6


def test_too_little_data_is_a_clear_error(loaded_4bit, book, tmp_path):
    from household_assistant.errors import TrainingError

    model, tokenizer = loaded_4bit
    items = _items(book, ODD_QUESTIONS[:2])
    with pytest.raises(TrainingError, match="at least 4 training"):
        train_adapter(model, tokenizer, book, items, items, TrainConfig(), tmp_path)


def test_stops_early_when_validation_stops_improving(
    separable, home, tiny_models, tmp_path
):
    from mlx_lm import load

    book, split, _ = _separable_sets(separable, home)
    model, tokenizer = load(str(tiny_models["4bit"]))
    config = load_train_config(
        separable["config"], learning_rate=1e-9, steps_per_eval=5, patience=2
    )
    result = train_adapter(
        model, tokenizer, book, split.train, split.valid, config, tmp_path
    )
    # Accuracy can't move at this rate; two validations without a gain end it.
    assert result.stopped_early and result.steps <= 15
    assert (tmp_path / "adapters.safetensors").exists()


def test_a_full_run_counts_every_step(separable, home, tiny_models, tmp_path):
    from mlx_lm import load

    book, split, _ = _separable_sets(separable, home)
    model, tokenizer = load(str(tiny_models["4bit"]))
    config = load_train_config(separable["config"], iters=8, steps_per_eval=100)
    result = train_adapter(
        model, tokenizer, book, split.train, split.valid, config, tmp_path
    )
    assert not result.stopped_early and result.steps == 8
