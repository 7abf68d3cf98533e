"""The LLM router: prefix cache, code-only scoring, adapters."""

from __future__ import annotations

import mlx.core as mx
import numpy as np
import pytest
from mlx_lm import load

from household_assistant.categories import CategoryBook
from household_assistant.config import Settings
from household_assistant.models import ModelManager
from household_assistant.prompts import build_router_prompt
from household_assistant.router import LLMRouter
from household_assistant.tiny_model import TinyQwen3Config, make_tiny_qwen3

from .conftest import TOKENIZER_DIR

QUESTIONS = [
    "When did Blue Wave last service the pool pump?",
    "furnace filter size??",
    "3 coats of Pale Oak OC-20 in the hallway - which finish",
    "  leading spaces and\ttabs\nand a newline  ",
    "¿Dónde está el manual del lavavajillas Bosch?",
    "",
    "x" * 600,
]


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    return CategoryBook.load(tmp_path_factory.mktemp("empty-home"))


@pytest.fixture(scope="module")
def untied(tmp_path_factory):
    """A 4-bit model with its own output head, as Qwen3-4B has."""
    config = TinyQwen3Config(tie_word_embeddings=False)
    path = tmp_path_factory.mktemp("untied") / "tiny-untied-4bit"
    return make_tiny_qwen3(path, TOKENIZER_DIR, config, bits=4)


@pytest.fixture(scope="module", params=["plain", "4bit", "untied-4bit"])
def router(request, tiny_models, untied, book):
    path = untied if request.param == "untied-4bit" else tiny_models[request.param]
    model, tokenizer = load(str(path))
    assert ("lm_head" in model) == (request.param == "untied-4bit")
    return LLMRouter(model, tokenizer, book)


@pytest.mark.parametrize("question", QUESTIONS)
def test_prompt_tokens_start_with_the_cached_prefix(router, book, question):
    prompt = build_router_prompt(router.tokenizer, question, list(book))
    assert prompt.text.startswith(prompt.prefix)
    tokens = router.tokenizer.encode(prompt.text, add_special_tokens=False)
    assert tokens[: len(router.prefix_ids)] == router.prefix_ids
    assert prompt.text.endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n")
    assert "KK = hvac" in prompt.prefix and "OO = pool" in prompt.prefix


def test_cached_and_uncached_scoring_agree(router):
    for question in QUESTIONS:
        cached, n_cached = router.probabilities(question, use_cache=True)
        full, n_full = router.probabilities(question, use_cache=False)
        assert np.argsort(-cached).tolist()[:5] == np.argsort(-full).tolist()[:5]
        np.testing.assert_allclose(cached, full, atol=2e-3)
        assert n_cached < n_full  # the prefix was not processed again


def test_scores_match_the_models_own_next_token_logits(router, book):
    question = "who cleaned the gutters last fall"
    prompt = build_router_prompt(router.tokenizer, question, list(book))
    tokens = router.tokenizer.encode(prompt.text, add_special_tokens=False)
    logits = router.model(mx.array(tokens)[None])[0, -1]
    expected = mx.softmax(logits[router.code_ids].astype(mx.float32))
    probs, _ = router.probabilities(question)
    np.testing.assert_allclose(probs, np.array(expected), atol=2e-3)


def test_the_cache_is_restored_after_every_question(router):
    first = router.route("pool heater will not ignite")
    router.route("a much longer question " * 20)
    router.route("short")
    again = router.route("pool heater will not ignite")
    assert again.code == first.code
    assert abs(again.confidence - first.confidence) < 1e-4
    assert all(layer.offset == len(router.prefix_ids) for layer in router._cache)


@pytest.mark.parametrize("question", QUESTIONS)
def test_a_decision_is_always_a_valid_category(router, book, question):
    decision = router.route(question)
    assert decision.code in book.codes
    assert book.by_code(decision.code).name == decision.category
    assert sorted(a.code for a in decision.alternatives) == sorted(book.codes)
    assert decision.alternatives[0].code == decision.code
    probs = [a.probability for a in decision.alternatives]
    assert probs == sorted(probs, reverse=True)
    assert sum(probs) == pytest.approx(1.0, abs=1e-4)
    assert decision.confidence == probs[0]
    assert decision.router == "llm" and decision.latency_ms > 0
    assert 0 < decision.tokens < 400


def _write_adapter(model_dir, adapter_dir):
    """A real LoRA adapter in mlx-lm's format, with non-zero B matrices."""
    import json

    from mlx.utils import tree_flatten
    from mlx_lm.tuner.utils import linear_to_lora_layers

    model, _ = load(str(model_dir))
    model.freeze()
    config = {"rank": 4, "scale": 20.0, "dropout": 0.0}
    linear_to_lora_layers(model, 2, config)
    mx.random.seed(1)
    weights = {
        k: mx.random.normal(v.shape) * 0.5 if k.endswith("lora_b") else v
        for k, v in tree_flatten(model.trainable_parameters())
    }
    adapter_dir.mkdir(parents=True)
    mx.save_safetensors(str(adapter_dir / "adapters.safetensors"), weights)
    (adapter_dir / "adapter_config.json").write_text(
        json.dumps(
            {"fine_tune_type": "lora", "num_layers": 2, "lora_parameters": config}
        )
    )


def test_a_lora_adapter_loads_on_top_of_the_base(tiny_models, book, tmp_path, home):
    adapter = tmp_path / "adapter-v1"
    _write_adapter(tiny_models["4bit"], adapter)

    manager = ModelManager(Settings(router_model=str(tiny_models["4bit"])), home)
    base = LLMRouter(*manager.load_llm("router"), book)
    tuned = LLMRouter(*manager.load_llm("router", adapter), book, name="lora:v1")

    question = "the sprinkler zone 3 valve is stuck open"
    base_probs, _ = base.probabilities(question)
    tuned_probs, _ = tuned.probabilities(question)
    assert not np.allclose(base_probs, tuned_probs, atol=1e-3)
    assert tuned.route(question).router == "lora:v1"
    # The base model object is untouched by the adapter.
    np.testing.assert_allclose(base.probabilities(question)[0], base_probs, atol=1e-5)
