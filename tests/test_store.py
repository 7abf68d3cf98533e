"""The notes store on a real on-disk Chroma, with the real MiniLM embedder."""

from __future__ import annotations

import json

import numpy as np
import pytest
from chromadb.api.client import SharedSystemClient

from household_assistant.categories import CategoryBook
from household_assistant.chunking import Chunk, chunk_text
from household_assistant.cli import main
from household_assistant.errors import NoteNotFound
from household_assistant.store import (
    NoteStore,
    content_hash,
    note_id_for,
    open_client,
)

NOTES = {
    "/house/pool.txt": (
        "Pool pump",
        "OO",
        "pool",
        "The Pentair SuperFlo pool pump is serviced by Blue Wave Pools every May. "
        "Keep the chlorine between 1 and 3 ppm.",
    ),
    "/house/furnace.md": (
        "Furnace",
        "KK",
        "hvac",
        "The Carrier furnace takes a 16x25x1 MERV 11 filter; replace it every "
        "three months. Acme Heating does the yearly service.",
    ),
    "/house/oil.txt": (
        "Oil changes",
        "CC",
        "car",
        "The Honda Civic had its oil changed at 45,000 miles with 0W-20 synthetic; "
        "the next change is due at 50,000 miles.",
    ),
    "/house/thermostat.txt": (
        "Thermostat",
        "KK",
        "hvac",
        "The Ecobee thermostat in the hallway holds 20 degrees by day and 17 at "
        "night; its batteries are AA.",
    ),
}


def make_store(home, embedder) -> NoteStore:
    return NoteStore(open_client(home), embedder.embed)


def put(store: NoteStore, source: str, chunks: list[Chunk] | None = None) -> str:
    title, code, category, text = NOTES[source]
    chunks = chunks or chunk_text(text)
    return store.upsert_note(source, title, code, category, chunks, content_hash(text))


@pytest.fixture
def store(home, embedder) -> NoteStore:
    store = make_store(home, embedder)
    for source in NOTES:
        assert put(store, source) == "imported"
    return store


def pieces(*texts: str) -> list[Chunk]:
    return [Chunk(index=i, text=t, heading="") for i, t in enumerate(texts)]


# Ids and upserts


def test_note_ids_are_deterministic_per_source(store):
    ids = {note_id_for(source) for source in NOTES}

    assert note_id_for("/house/pool.txt") == note_id_for("/house/pool.txt")
    assert len(ids) == len(NOTES)
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids)
    assert {n.note_id for n in store.notes()} == ids


def test_chunk_ids_are_note_id_and_index(store):
    note_id = note_id_for("/house/many.txt")
    text = "one two three"
    store.upsert_note(
        "/house/many.txt",
        "Many",
        "AA",
        "appliances",
        pieces("one", "two", "three"),
        content_hash(text),
    )

    hits = store.chunks(note_id)

    assert [h.id for h in hits] == [f"{note_id}:{i}" for i in range(3)]
    assert [h.text for h in hits] == ["one", "two", "three"]
    assert [h.chunk_index for h in hits] == [0, 1, 2]


def test_upsert_reports_imported_updated_and_unchanged(store):
    source = "/house/pool.txt"
    title, code, category, text = NOTES[source]
    chunks = chunk_text(text)

    same = store.upsert_note(source, title, code, category, chunks, content_hash(text))
    assert same == "unchanged"

    edited = text + " The heater is a Hayward H250."
    status = store.upsert_note(
        source, title, code, category, chunk_text(edited), content_hash(edited)
    )
    assert status == "updated"
    assert "Hayward" in store.chunks(note_id_for(source))[0].text

    # Same text in another category is a change too.
    moved = store.upsert_note(
        source, title, "HH", "fountain", chunk_text(edited), content_hash(edited)
    )
    assert moved == "updated"
    assert store.find(source).code == "HH"
    assert store.count() == len(NOTES)


def test_a_shorter_note_loses_its_stale_chunks(store):
    source = "/house/manual.txt"
    note_id = note_id_for(source)
    store.upsert_note(
        source, "Manual", "AA", "appliances", pieces("a", "b", "c", "d"), "v1"
    )
    assert len(store.chunks(note_id)) == 4

    status = store.upsert_note(
        source, "Manual", "AA", "appliances", pieces("a2", "b2"), "v2"
    )

    assert status == "updated"
    assert [h.id for h in store.chunks(note_id)] == [f"{note_id}:0", f"{note_id}:1"]
    assert [h.text for h in store.chunks(note_id)] == ["a2", "b2"]
    stored = store.collection.get(where={"note_id": note_id})["ids"]
    assert sorted(stored) == [f"{note_id}:0", f"{note_id}:1"]


# Queries


def test_query_finds_the_relevant_note(store):
    hits = store.query("What size filter does the furnace take?", k=4)

    assert hits[0].source == "/house/furnace.md"
    assert hits[0].title == "Furnace" and hits[0].category == "hvac"
    assert "16x25x1" in hits[0].text
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert 0.25 < scores[0] <= 1.0


def test_query_with_codes_only_returns_those_codes(store):
    question = "What size filter does the furnace take?"

    pool_only = store.query(question, ["OO"], k=5)
    assert [h.source for h in pool_only] == ["/house/pool.txt"]

    two = store.query(question, ["OO", "CC"], k=5)
    assert {h.code for h in two} == {"OO", "CC"}
    assert len(two) == 2

    hvac = store.query(question, ["KK"], k=5)
    assert {h.source for h in hvac} == {"/house/furnace.md", "/house/thermostat.txt"}

    assert store.query(question, ["EE"], k=5) == []


def test_query_k_limits_and_empty_store(store, home, embedder, tmp_path):
    assert len(store.query("pool", k=2)) == 2
    assert store.query("pool", k=0) == []

    empty = NoteStore(open_client(tmp_path), embedder.embed)
    assert empty.query("anything at all") == []
    assert empty.notes() == []


def test_query_embeds_the_same_way_as_notes(store, embedder):
    # A chunk's own text is its nearest neighbour with a cosine of 1.
    text = NOTES["/house/oil.txt"][3]
    hit = store.query(text, k=1)[0]

    assert hit.source == "/house/oil.txt"
    assert hit.score == pytest.approx(1.0, abs=1e-4)


# Listing, finding, removing, moving


def test_notes_lists_one_entry_per_source_newest_first(store):
    notes = store.notes()

    assert [n.source for n in notes] == list(reversed(NOTES))
    pool = next(n for n in notes if n.source == "/house/pool.txt")
    assert (pool.title, pool.code, pool.category, pool.chunks) == (
        "Pool pump",
        "OO",
        "pool",
        1,
    )
    assert pool.content_hash == content_hash(NOTES["/house/pool.txt"][3])

    hvac = store.notes("KK")
    assert {n.source for n in hvac} == {"/house/furnace.md", "/house/thermostat.txt"}
    assert store.notes("EE") == []


def test_find_by_id_prefix_or_source(store):
    note_id = note_id_for("/house/oil.txt")

    assert store.find(note_id).source == "/house/oil.txt"
    assert store.find(note_id[:6]).source == "/house/oil.txt"
    assert store.find("/house/oil.txt").note_id == note_id


def test_find_by_a_relative_source_path(store, tmp_path, monkeypatch):
    # The importer stores resolved paths; people type them relative to where
    # they are.
    (tmp_path / "notes").mkdir()
    source = str((tmp_path / "notes" / "boiler.txt").resolve())
    store.upsert_note(source, "Boiler", "QQ", "water heater", pieces("1.5 bar"), "h")
    monkeypatch.chdir(tmp_path / "notes")

    assert store.find("boiler.txt").source == source
    assert store.find("./boiler.txt").source == source
    assert store.find("../notes/boiler.txt").source == source
    with pytest.raises(NoteNotFound):
        store.find("../boiler.txt")


def test_an_ambiguous_id_prefix_is_refused(store):
    source_a, source_b = _two_sources_sharing_a_prefix(6)
    store.upsert_note(source_a, "A", "OO", "pool", pieces("a"), "h")
    store.upsert_note(source_b, "B", "OO", "pool", pieces("b"), "h")
    prefix = note_id_for(source_a)[:6]

    with pytest.raises(NoteNotFound, match="give more of the id"):
        store.find(prefix)
    assert store.find(note_id_for(source_b)).title == "B"


def _two_sources_sharing_a_prefix(length: int) -> tuple[str, str]:
    seen: dict[str, str] = {}
    n = 0
    while True:
        source = f"/house/{n}.txt"
        prefix = note_id_for(source)[:length]
        if prefix in seen:
            return seen[prefix], source
        seen[prefix] = source
        n += 1


@pytest.mark.parametrize("key", ["/house/garage.txt", "ffffffffffff", "abc"])
def test_find_unknown_note_says_how_to_list_them(store, key):
    with pytest.raises(NoteNotFound, match="notes list"):
        store.find(key)


def test_find_needs_six_characters_of_an_id(store):
    note_id = note_id_for("/house/oil.txt")

    with pytest.raises(NoteNotFound):
        store.find(note_id[:5])


def test_remove_deletes_every_chunk_of_one_note(store):
    source = "/house/manual.txt"
    store.upsert_note(source, "Manual", "AA", "appliances", pieces("a", "b"), "v1")
    note_id = note_id_for(source)

    assert store.remove(note_id) == 2
    assert store.chunks(note_id) == []
    assert source not in {n.source for n in store.notes()}
    assert store.count() == len(NOTES)
    assert store.remove(note_id) == 0


def test_set_category_moves_a_note_without_reembedding(store):
    note_id = note_id_for("/house/thermostat.txt")
    before = store.collection.get(where={"note_id": note_id}, include=["embeddings"])

    assert store.set_category(note_id, "FF", "electric") == 1

    after = store.collection.get(where={"note_id": note_id}, include=["embeddings"])
    np.testing.assert_array_equal(before["embeddings"], after["embeddings"])
    info = store.find(note_id)
    assert (info.code, info.category) == ("FF", "electric")
    question = "What batteries does the thermostat need?"
    assert [h.source for h in store.query(question, ["FF"])] == [
        "/house/thermostat.txt"
    ]
    assert "/house/thermostat.txt" not in {
        h.source for h in store.query(question, ["KK"])
    }


def test_set_category_of_unknown_note_fails(store):
    with pytest.raises(NoteNotFound):
        store.set_category("0123456789abcdef", "FF", "electric")


def test_notes_persist_when_the_client_is_reopened(store, home, embedder):
    ids = sorted(store.collection.get()["ids"])

    # Drop Chroma's in-process cache so the next client reads the files again.
    SharedSystemClient.clear_system_cache()
    reopened = make_store(home, embedder)

    assert sorted(reopened.collection.get()["ids"]) == ids
    assert reopened.find("/house/pool.txt").title == "Pool pump"
    hit = reopened.query("When is the next oil change due?", k=1)[0]
    assert hit.source == "/house/oil.txt"


# The `notes` commands


@pytest.fixture
def cli_store(store, use_tiny_models):
    """The CLI needs the embedder setting; the store is the one filled above."""
    return store


def test_cli_notes_list_json(cli_store, capsys):
    assert main(["notes", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)

    assert [n["source"] for n in listed] == list(reversed(NOTES))
    pool = next(n for n in listed if n["source"] == "/house/pool.txt")
    assert pool["id"] == note_id_for("/house/pool.txt")
    assert (pool["title"], pool["category"], pool["code"], pool["chunks"]) == (
        "Pool pump",
        "pool",
        "OO",
        1,
    )

    assert main(["notes", "list", "--category", "hvac", "--json"]) == 0
    hvac = json.loads(capsys.readouterr().out)
    assert {n["source"] for n in hvac} == {"/house/furnace.md", "/house/thermostat.txt"}


def test_cli_notes_list_shows_renamed_categories(cli_store, home, capsys):
    CategoryBook.load(home).rename("pool", "swimming pool")

    assert main(["notes", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()

    pool_line = next(line for line in lines if "Pool pump" in line)
    assert pool_line.startswith(note_id_for("/house/pool.txt")[:10])
    assert "swimming pool" in pool_line and "(1 chunks)" in pool_line
    assert len(lines) == len(NOTES)


def test_cli_notes_list_when_empty(home, use_tiny_models, capsys):
    assert main(["notes", "list"]) == 0
    assert "No notes yet" in capsys.readouterr().out

    assert main(["notes", "list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_cli_notes_show(cli_store, capsys):
    note_id = note_id_for("/house/furnace.md")

    assert main(["notes", "show", note_id[:8], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == note_id and shown["category"] == "hvac"
    assert shown["text"] == [NOTES["/house/furnace.md"][3]]

    assert main(["notes", "show", "/house/furnace.md"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Furnace\n/house/furnace.md\nCategory: hvac\n")
    assert "16x25x1 MERV 11" in out


def test_cli_notes_remove(cli_store, capsys):
    note_id = note_id_for("/house/oil.txt")

    assert main(["notes", "remove", note_id]) == 0
    assert capsys.readouterr().out.strip() == "Removed Oil changes (1 chunks)."
    assert cli_store.chunks(note_id) == []
    assert len(cli_store.notes()) == len(NOTES) - 1


@pytest.mark.parametrize("command", ["show", "remove"])
def test_cli_unknown_note_is_a_clean_error(cli_store, capsys, command):
    assert main(["notes", command, "/house/garage.txt"]) == 1
    captured = capsys.readouterr()

    assert captured.err.startswith("error: No stored note matches '/house/garage.txt'")
    assert "Traceback" not in captured.err
    assert len(cli_store.notes()) == len(NOTES)
