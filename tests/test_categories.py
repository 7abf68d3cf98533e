from __future__ import annotations

import json

import pytest
from transformers import AutoTokenizer

from household_assistant.categories import Category, CategoryBook, code_token_ids
from household_assistant.dataset import read_jsonl
from household_assistant.errors import CategoryError

from .conftest import ROOT, TOKENIZER_DIR

EXPECTED = [
    "appliances", "brick work", "car", "cooking", "doorbell", "electric", "fence",
    "fountain", "garden lights", "gutters", "hvac", "irrigation", "mosquito",
    "painting", "pool", "tree service", "water heater", "window service",
]  # fmt: skip


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(str(TOKENIZER_DIR))


def test_bundled_categories_and_codes(home):
    book = CategoryBook.load(home)
    assert book.names == EXPECTED
    assert book.get("hvac").code == "KK"
    assert book.get("pool").code == "OO"
    assert len(set(book.codes)) == 18


def test_every_code_is_one_qwen3_token_also_where_the_answer_goes(home, tokenizer):
    book = CategoryBook.load(home)
    ids = code_token_ids(tokenizer, book.codes)
    assert None not in ids.values()
    assert len(set(ids.values())) == len(book)

    # The model writes the code right after "</think>\n\n": the token must be
    # the same one there, not merged with the newlines.
    for code, token in ids.items():
        tail = tokenizer.encode("</think>\n\n" + code, add_special_tokens=False)
        assert tail[-1] == token
        assert tokenizer.decode(tail[-1:]) == code


def test_multi_token_codes_are_replaced_by_single_tokens(home, tokenizer):
    book = CategoryBook(
        [Category("pool", "OO"), Category("odd", "Qz9"), Category("hvac", "KK")],
        home / "categories.json",
    )
    assert book.ensure_single_tokens(tokenizer) is True
    assert book.get("pool").code == "OO" and book.get("hvac").code == "KK"
    new = book.get("odd").code
    assert new not in ("Qz9", "OO", "KK")
    assert None not in code_token_ids(tokenizer, book.codes).values()
    assert book.ensure_single_tokens(tokenizer) is False


def test_names_are_matched_loosely(home):
    book = CategoryBook.load(home)
    assert book.get("Brick_Work ").code == book.get("brick-work").code == "BB"
    with pytest.raises(CategoryError, match="no category called 'spa'"):
        book.get("spa")


def test_add_and_rename_keep_codes_stable_and_persist(home):
    book = CategoryBook.load(home)
    solar = book.add("Solar Panels", "Inverter, panels, monitoring.")
    assert solar.code == "SS" and solar.name == "solar panels"

    renamed = book.rename("hvac", "heating & cooling")
    assert renamed.code == "KK"

    again = CategoryBook.load(home)
    assert again.get("heating & cooling").code == "KK"
    assert again.get("solar panels").code == "SS"
    assert "hvac" not in again.names


@pytest.mark.parametrize("bad", ["", "pool", "x" * 41, "!!"])
def test_bad_new_names_are_refused(home, bad):
    book = CategoryBook.load(home)
    with pytest.raises(CategoryError):
        book.add(bad)
    assert len(CategoryBook.load(home)) == 18


def test_bundled_labels_still_match_after_a_rename(home, tmp_path):
    book = CategoryBook.load(home)
    book.rename("hvac", "heating")
    data = tmp_path / "q.jsonl"
    data.write_text(
        json.dumps({"question": "furnace filter size?", "category": "hvac"})
        + "\n"
        + json.dumps({"question": "pool pump?", "category": "pool"})
        + "\n"
    )
    rows = read_jsonl(data, book)
    assert [r.code for r in rows] == ["KK", "OO"]

    data.write_text(json.dumps({"question": "q", "category": "spa"}) + "\n")
    with pytest.raises(CategoryError, match="q.jsonl:1"):
        read_jsonl(data, book)


def test_a_broken_category_file_says_how_to_recover(home):
    (home / "categories.json").write_text("{not json")
    with pytest.raises(CategoryError, match="Delete the file"):
        CategoryBook.load(home)


def test_a_new_category_never_takes_a_dropped_bundled_code(home):
    # A household that removed most bundled categories still must not reuse
    # their codes: the bundled questions labelled with them would follow.
    bundled = json.loads((ROOT / "resources" / "categories.json").read_text())
    kept = [c for c in bundled["categories"] if c["name"] in ("pool", "car")]
    (home / "categories.json").write_text(json.dumps({"categories": kept}))

    book = CategoryBook.load(home)
    garden = book.add("garden beds")
    assert garden.code not in {c["code"] for c in bundled["categories"]}


def test_routers_see_a_new_category_once_forgotten(home, use_tiny_models):
    from household_assistant.assistant import Assistant, DoneEvent

    assistant = Assistant(home)
    assert assistant.route("the solar inverter shows a red light").code != "SS"
    assistant.categories.add("solar panels")
    assistant.forget_routers()

    question = "the solar inverter shows a red light again"
    *_, done = assistant.ask(question, answer=False)
    assert isinstance(done, DoneEvent)
    assistant.correct(done.question_id, "solar panels")
    assert assistant.route("solar inverter has a red light").category == "solar panels"
