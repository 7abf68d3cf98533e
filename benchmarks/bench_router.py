"""Router speed: one cached-prefix pass against plain `mlx_lm.generate`.

A naive deployment renders the routing prompt and lets mlx-lm generate the
code. LLMRouter keeps the instructions and code list as a KV cache and runs one
forward pass over the question's own tokens, reading only the code logits.
Both run on the same random-weight 4-bit Qwen3, on real held-out questions.

    python benchmarks/bench_router.py [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

import benchkit
import mlx.core as mx
import numpy as np

# 30 questions x 3 methods take well under a minute on 2 CPU cores.
SHAPE = benchkit.SMALL_QWEN3
GOAL = 5.0  # cached single pass vs generate
MAX_TOKENS = 2  # the code, then <|im_end|>


@dataclass
class Sample:
    cached_ms: float
    single_ms: float
    generate_ms: float
    cached_tokens: int
    single_tokens: int
    generate_tokens: int = 0
    cached_code: str = ""
    single_code: str = ""
    reference_code: str = ""
    max_prob_gap: float = 0.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 questions")
    parser.add_argument("--questions", type=int, help="questions to route (30)")
    parser.add_argument(
        "--layers", type=int, default=SHAPE["num_hidden_layers"], help="model depth"
    )
    parser.add_argument(
        "--repeats", type=int, default=2, help="runs per question; the fastest counts"
    )
    args = parser.parse_args()
    args.questions = args.questions or (10 if args.quick else 30)
    return args


def build_router(folder: Path, layers: int):
    """A 4-bit random Qwen3 with the real tokenizer, and an LLMRouter on it."""
    from mlx_lm import load

    from household_assistant.categories import CategoryBook
    from household_assistant.router import LLMRouter
    from household_assistant.tiny_model import TinyQwen3Config, make_tiny_qwen3

    config = TinyQwen3Config(**{**SHAPE, "num_hidden_layers": layers})
    path = make_tiny_qwen3(folder / "router-4bit", benchkit.TOKENIZER_DIR, config, 4)
    model, tokenizer = load(str(path))
    return LLMRouter(model, tokenizer, CategoryBook.load(folder))


def describe(router) -> str:
    from mlx.utils import tree_flatten

    args = router.model.args
    params = dict(tree_flatten(router.model.parameters()))
    scales = str(params["model.embed_tokens.scales"].dtype).split(".")[-1]
    return (
        f"{args.num_hidden_layers} layers, hidden {args.hidden_size}, vocabulary "
        f"{args.vocab_size:,}, 4-bit with {scales} scales"
    )


def prompt_text(router, question: str) -> str:
    from household_assistant.prompts import build_router_prompt

    return build_router_prompt(router.tokenizer, question, list(router.categories)).text


def generate_code(router, question: str) -> str:
    """What a naive deployment runs: plain greedy generation from the prompt."""
    from mlx_lm import generate

    text = prompt_text(router, question)
    return generate(router.model, router.tokenizer, text, max_tokens=MAX_TOKENS)


def warm_up(router, questions: list[str]) -> None:
    for question in questions:
        router.route(question)
        router.route(question, use_cache=False)
        generate_code(router, question)


def time_question(router, question: str, repeats: int) -> Sample:
    """The three methods on one question, taking turns so that load from other
    processes hits all three; each keeps its fastest of `repeats` runs."""
    times: list[tuple[float, float, float]] = []
    for _ in range(repeats):
        cached_ms, cached = benchkit.timed(router.route, question)
        single_ms, single = benchkit.timed(router.route, question, use_cache=False)
        generate_ms, _ = benchkit.timed(generate_code, router, question)
        times.append((cached_ms, single_ms, generate_ms))

    best = [min(column) for column in zip(*times, strict=True)]
    sample = Sample(*best, cached.tokens, single.tokens)
    sample.cached_code, sample.single_code = cached.code, single.code

    sample.generate_tokens, sample.reference_code, reference = reference_pass(
        router, question
    )
    ours = {a.code: a.probability for a in cached.alternatives}
    sample.max_prob_gap = max(abs(ours[c] - reference[c]) for c in ours)
    return sample


def reference_pass(router, question: str) -> tuple[int, str, dict[str, float]]:
    """Untimed: tokens generate processes, and the code argmax and code
    softmax of its own full-prompt pass (the first step's log-probabilities)."""
    from mlx_lm import stream_generate

    text = prompt_text(router, question)
    responses = list(
        stream_generate(router.model, router.tokenizer, text, max_tokens=MAX_TOKENS)
    )
    last = responses[-1]
    tokens = last.prompt_tokens + last.generation_tokens

    codes = router.categories.codes
    logits = responses[0].logprobs[router.code_ids].astype(mx.float32)
    probs = np.array(mx.softmax(logits))
    return tokens, codes[int(np.argmax(probs))], dict(zip(codes, probs, strict=True))


def head_ms(router, repeats: int = 20) -> tuple[float, float]:
    """Time of the full-vocabulary output head for one position, and of the
    head over the code rows only (what the router runs)."""
    embed = router.model.model.embed_tokens
    hidden = mx.random.normal((1, 1, router.model.args.hidden_size))
    rows = embed(router.code_ids)  # dequantized code rows, (codes, hidden)
    mx.eval(hidden, rows)

    def run(fn) -> float:
        mx.eval(fn())
        times = [benchkit.timed(lambda: mx.eval(fn()))[0] for _ in range(repeats)]
        return benchkit.median(times)

    return run(lambda: embed.as_linear(hidden)), run(lambda: hidden @ rows.T)


def summarize(samples: list[Sample], head: tuple[float, float], quick: bool) -> dict:
    """Medians, ratios and checks; `head` is (full-vocabulary, code-rows) ms."""
    cached = benchkit.median([s.cached_ms for s in samples])
    single = benchkit.median([s.single_ms for s in samples])
    generate = benchkit.median([s.generate_ms for s in samples])
    # The router projects only the 18 code rows; this is what the whole
    # 151,936-row vocabulary would have cost it.
    full_head = cached - head[1] + head[0]

    return {
        "bench": "router",
        "quick": quick,
        "questions": len(samples),
        "cached_ms": cached,
        "single_pass_ms": single,
        "generate_ms": generate,
        "speedup_vs_generate": benchkit.ratio(generate, cached),
        "single_pass_vs_generate": benchkit.ratio(generate, single),
        "cache_speedup": benchkit.ratio(single, cached),
        "tokens_cached": _mean(samples, "cached_tokens"),
        "tokens_single_pass": _mean(samples, "single_tokens"),
        "tokens_generate": _mean(samples, "generate_tokens"),
        "agreement_pct": _percent(samples, lambda s: s.cached_code == s.reference_code),
        "agreement_uncached_pct": _percent(
            samples, lambda s: s.cached_code == s.single_code
        ),
        "max_prob_gap": float(max(s.max_prob_gap for s in samples)),
        "full_vocab_head_ms": head[0],
        "code_rows_head_ms": head[1],
        "speedup_with_full_vocab_head_est": benchkit.ratio(generate, full_head),
        "goal_met": benchkit.ratio(generate, cached) >= GOAL,
    }


def print_report(r: dict) -> None:
    methods = [
        ("cached prefix, one pass", r["cached_ms"], r["tokens_cached"]),
        ("full prompt, one pass", r["single_pass_ms"], r["tokens_single_pass"]),
        ("mlx_lm.generate", r["generate_ms"], r["tokens_generate"]),
    ]
    rows = [(name, ms, ms / r["cached_ms"], tokens) for name, ms, tokens in methods]
    benchkit.print_table(["method", "median ms", "x cached", "tokens/question"], rows)

    verdict = "met" if r["goal_met"] else "NOT met"
    print(
        f"\nspeedup, cached vs generate:   {r['speedup_vs_generate']:5.2f}x "
        f"(goal >= {GOAL:.0f}x: {verdict})"
    )
    print(f"  single pass vs generate:     {r['single_pass_vs_generate']:5.2f}x")
    print(f"  prefix cache vs single pass: {r['cache_speedup']:5.2f}x")
    print(
        f"top code = argmax of generate's own full-prompt code logits: "
        f"{r['agreement_pct']:.0f}% (vs route(use_cache=False): "
        f"{r['agreement_uncached_pct']:.0f}%, max |dp| {r['max_prob_gap']:.1e})"
    )
    print(
        f"output head: the router's 18 code rows {r['code_rows_head_ms']:.2f} ms; "
        f"the full vocabulary would take {r['full_vocab_head_ms']:.1f} ms and make "
        f"it only ~{r['speedup_with_full_vocab_head_est']:.1f}x vs generate"
    )


def _mean(samples: list[Sample], name: str) -> float:
    return float(np.mean([getattr(s, name) for s in samples]))


def _percent(samples: list[Sample], test) -> float:
    return 100 * sum(map(test, samples)) / len(samples)


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        router = build_router(Path(tmp), args.layers)
        rows = benchkit.heldout_questions(Path(tmp), args.questions)
        questions = [row.question for row in rows]

        print(f"router model: random Qwen3, {describe(router)}")
        print(
            f"{len(questions)} held-out questions, {len(router.prefix_ids)} prefix "
            f"tokens, generate max_tokens={MAX_TOKENS}\n"
        )
        warm_up(router, questions[:2])
        samples = [time_question(router, q, args.repeats) for q in questions]
        summary = summarize(samples, head_ms(router), args.quick)
    print_report(summary)
    print()
    benchkit.print_summary(summary)


if __name__ == "__main__":
    main()
