"""Router evaluation: report maths, the names-mode baseline, the `eval` command."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import pytest

from household_assistant.assistant import Assistant
from household_assistant.categories import CategoryBook
from household_assistant.cli import main
from household_assistant.config import Settings
from household_assistant.dataset import LabelledQuestion, heldout_questions
from household_assistant.errors import HouseholdError
from household_assistant.evaluation import INVALID, comparison_markdown, evaluate
from household_assistant.names_router import NamesRouter, parse_category_name
from household_assistant.router import RouteDecision, decision_from_probs

from .conftest import MINILM_DIR


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    return CategoryBook.load(tmp_path_factory.mktemp("eval-home"))


class KeywordRouter:
    """Routes by the first keyword found in the question; none found is invalid.

    It also reports an absurd latency of its own, which evaluate must ignore.
    """

    name = "keywords"
    RULES = [("pool", "OO"), ("furnace", "KK"), ("heater", "QQ"), ("tire", "CC")]

    def __init__(self, categories: CategoryBook):
        self.categories = categories

    def route(self, question: str) -> RouteDecision:
        started = time.perf_counter()
        for word, code in self.RULES:
            if word in question:
                probs = np.array([float(c == code) for c in self.categories.codes])
                decision = decision_from_probs(self.categories, probs, "", started)
                return replace(decision, router=self.name, latency_ms=1e6)
        return RouteDecision("", "", 0.0, [], self.name, 1e6, extra={"raw": "??"})


LABELLED = [
    ("pool pump noise", "OO"),  # right
    ("pool heater will not light", "OO"),  # right: "pool" comes first
    ("furnace filter size", "KK"),  # right
    ("water heater anode", "QQ"),  # right
    ("heat pump heater strip", "KK"),  # wrong: water heater
    ("ac heater thermostat", "KK"),  # wrong: water heater
    ("tire pressure", "CC"),  # right
    ("oil change", "CC"),  # invalid: no keyword
    ("pool light bulb", "II"),  # wrong: pool
]


@pytest.fixture(scope="module")
def keyword_report(book):
    questions = [LabelledQuestion(q, code) for q, code in LABELLED]
    calls = []
    report = evaluate(
        KeywordRouter(book), questions, book, lambda *done: calls.append(done)
    )
    assert calls == [(n, 9) for n in range(1, 10)]
    return report


def test_report_counts_for_a_known_router(keyword_report):
    report = keyword_report
    assert report.router == "keywords"
    assert (report.total, report.correct, report.invalid) == (9, 5, 1)
    assert report.accuracy == pytest.approx(5 / 9)
    assert report.confusion == {
        "CC": {"CC": 1, INVALID: 1},
        "II": {"OO": 1},
        "KK": {"KK": 1, "QQ": 2},
        "OO": {"OO": 2},
        "QQ": {"QQ": 1},
    }
    assert report.top_confusions() == [
        ("KK", "QQ", 2),
        ("CC", INVALID, 1),
        ("II", "OO", 1),
    ]

    scores = {s.name: s for s in report.per_category}
    assert len(scores) == 18
    assert (scores["hvac"].correct, scores["hvac"].total) == (1, 3)
    assert scores["hvac"].accuracy == pytest.approx(1 / 3)
    assert scores["garden lights"].accuracy == 0.0
    assert scores["fence"].total == 0 and scores["fence"].accuracy is None

    # Latency is timed around route(), not taken from the decision.
    assert 0 < report.mean_latency_ms < 1000 and report.p95_latency_ms < 1000
    wrong = [(m.question, m.predicted) for m in report.mistakes]
    assert ("oil change", INVALID) in wrong and len(wrong) == 4


def test_report_json_is_stable_and_named(keyword_report):
    payload = json.loads(json.dumps(keyword_report.to_dict()))
    assert payload["accuracy"] == pytest.approx(0.5556)
    assert list(payload["confusion"]) == ["CC", "II", "KK", "OO", "QQ"]
    assert payload["categories"][10] == {
        "name": "hvac",
        "code": "KK",
        "total": 3,
        "correct": 1,
        "accuracy": 0.3333,
    }
    invalid = next(m for m in payload["mistakes"] if m["question"] == "oil change")
    assert invalid["truth"] == "car" and invalid["predicted"] == INVALID
    assert invalid["output"] == "??"


def test_report_markdown(keyword_report):
    text = keyword_report.to_markdown(max_mistakes=2)
    assert "## Router: keywords" in text
    assert "**5/9 (56%)**, invalid outputs: 1" in text
    assert "| hvac | KK | 1/3 | 33% |" in text
    assert "| fence |" not in text  # no questions, no row
    assert "| hvac | water heater | 2 |" in text
    assert "| car | invalid | 1 |" in text
    assert "### Mistakes (first 2 of 4)" in text
    assert text.count("\n- ") == 2

    full = keyword_report.to_markdown()
    assert "'oil change': expected car, got invalid output '??'" in full
    assert "'pool light bulb': expected garden lights, got pool (100%)" in full


def test_comparison_table(keyword_report):
    table = comparison_markdown([keyword_report, keyword_report])
    rows = table.strip().splitlines()
    assert len(rows) == 4
    assert rows[2].startswith("| keywords | 5/9 (56%) | 1 | ")


def test_nothing_or_unknown_labels_cannot_be_evaluated(book):
    with pytest.raises(HouseholdError, match="no questions"):
        evaluate(KeywordRouter(book), [], book)
    with pytest.raises(HouseholdError, match="ZZ"):
        evaluate(KeywordRouter(book), [LabelledQuestion("pool", "ZZ")], book)


def test_knn_on_held_out_questions(warm_knn, home, book):
    assistant = Assistant(home, Settings(embedding_model=str(MINILM_DIR)))
    questions = heldout_questions(book)[::15]
    report = evaluate(assistant.knn_router(), questions, book)

    assert report.router == "knn" and report.total == len(questions) >= 10
    assert report.invalid == 0
    assert report.accuracy == report.correct / report.total
    assert sum(s.total for s in report.per_category) == report.total
    assert sum(s.correct for s in report.per_category) == report.correct
    assert sum(sum(row.values()) for row in report.confusion.values()) == report.total
    assert len(report.mistakes) == report.total - report.correct
    assert report.mean_latency_ms > 0 and report.p95_latency_ms > 0
    assert len(report.latencies_ms) == report.total
    assert report.mean_latency_ms == pytest.approx(np.mean(report.latencies_ms))
    assert report.p95_latency_ms >= np.median(report.latencies_ms)


# --- names mode -------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("hvac", "hvac"),
        ("HVAC.", "hvac"),
        ("Pool\n", "pool"),
        (' "Water Heater" ', "water heater"),
        ("brick-work", "brick work"),
        ("water", None),  # truncated "water heater"
        ("plumbing", None),  # invented
        ("pool service", None),
        ("hvac or pool", None),
        ("", None),
        ("...", None),
    ],
)
def test_parse_category_name(book, text, expected):
    category = parse_category_name(text, book)
    assert (category.name if category else None) == expected


@pytest.fixture(scope="module")
def names_router(loaded_4bit, book):
    model, tokenizer = loaded_4bit
    return NamesRouter(model, tokenizer, book, max_tokens=6)


def test_random_weights_write_no_category_name(names_router, book):
    decision = names_router.route("When was the pool pump serviced?")
    assert decision.router == "llm-names"
    assert (decision.category, decision.code, decision.confidence) == ("", "", 0.0)
    assert decision.alternatives == []
    assert decision.extra["valid"] is False
    text, _ = names_router.generate("When was the pool pump serviced?")
    assert decision.extra["raw"] == text  # greedy: the same reply every time
    assert decision.tokens > 100  # the whole prompt plus the reply

    questions = [LabelledQuestion("pool pump noise", "OO"), LabelledQuestion("x", "KK")]
    report = evaluate(names_router, questions, book)
    assert (report.total, report.correct, report.invalid) == (2, 0, 2)
    assert report.confusion == {"KK": {INVALID: 1}, "OO": {INVALID: 1}}


def test_a_valid_reply_becomes_a_certain_decision(loaded_4bit, book):
    # Random weights never write a name, so this checks the decision built from
    # one; the generation itself is covered above.
    class Replies(NamesRouter):
        def generate(self, question):
            return "Water Heater.", 7

    decision = Replies(*loaded_4bit, book).route("tank is leaking")
    assert (decision.category, decision.code, decision.confidence) == (
        "water heater",
        "QQ",
        1.0,
    )
    assert decision.alternatives[0].code == "QQ" and len(decision.alternatives) == 18
    assert decision.extra == {"raw": "Water Heater.", "valid": True}
    assert decision.tokens == 7 and decision.router == "llm-names"


# --- the eval command -------------------------------------------------------------


@pytest.fixture
def data_file(tmp_path):
    rows = [
        {"question": "what psi should the honda tires be", "category": "car"},
        {"question": "the chlorinator says low salt again", "category": "pool"},
        {"question": "which breaker is the garage outlets on", "category": "electric"},
        {"question": "furnace filter size", "category": "HVAC"},
    ]
    path = tmp_path / "questions.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.fixture
def knn_env(warm_knn, monkeypatch):
    monkeypatch.setenv("HOUSEHOLD_ASSISTANT_EMBEDDING_MODEL", str(MINILM_DIR))


def test_eval_json(knn_env, data_file, capsys):
    assert main(["eval", "--router", "knn", "--data", str(data_file), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["router"] == "knn" and payload["data"] == str(data_file)
    assert payload["total"] == 4 and payload["invalid"] == 0
    assert payload["correct"] >= 3
    assert payload["accuracy"] == round(payload["correct"] / 4, 4)
    totals = {c["name"]: c["total"] for c in payload["categories"] if c["total"]}
    assert totals == {"car": 1, "electric": 1, "hvac": 1, "pool": 1}
    assert sum(sum(row.values()) for row in payload["confusion"].values()) == 4
    assert payload["mean_latency_ms"] > 0


def test_eval_human_output_with_limit(knn_env, data_file, capsys):
    argv = ["eval", "--router", "knn", "--data", str(data_file), "--limit", "2"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"2 questions from {data_file}")
    assert "Accuracy: **" in out and "/2 (" in out
    assert "Latency: mean " in out
    assert "| car | CC | 1/1 | 100% |" in out


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "Could not read"),
        ("", "holds no questions"),
        ("not json\n", "is not a JSON object"),
        ('{"question": "q", "category": "plumbing"}\n', "unknown category"),
    ],
)
def test_eval_bad_data_is_a_clean_error(home, tmp_path, capsys, content, message):
    path = tmp_path / "bad.jsonl"
    if content is not None:
        path.write_text(content)
    assert main(["eval", "--router", "knn", "--data", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err


def test_eval_limit_must_be_positive(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "--limit", "0"])
    assert exit_info.value.code == 2
    assert "above 0" in capsys.readouterr().err


def test_eval_llm_router_on_held_out(use_tiny_models, capsys):
    assert main(["eval", "--router", "llm", "--limit", "3", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["router"] == "llm" and payload["data"] == "heldout.jsonl"
    assert payload["total"] == 3 and payload["invalid"] == 0
    assert payload["p95_latency_ms"] >= payload["mean_latency_ms"] * 0.5
