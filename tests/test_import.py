"""Importing real files of every format, and every kind of bad one, end to end.

Files go through `Assistant.import_paths` (or the CLI) into a real Chroma store
embedded by the real MiniLM model. Categories come from `--category` or from
the kNN router over the bundled questions.
"""

from __future__ import annotations

import dataclasses
import errno
import json
import os
from pathlib import Path

import docx
import pytest

from household_assistant.assistant import Assistant
from household_assistant.cli import main
from household_assistant.config import Settings, load_settings
from household_assistant.errors import CategoryError
from household_assistant.importer import STATUSES, FileResult
from household_assistant.store import note_id_for
from tests.test_readers import encrypt_pdf, make_pdf, write

POOL = (
    "Blue Wave Pools serviced the Pentair pool pump on 12 May 2025 and replaced "
    "the shaft seal. Keep the pool chlorine between 1 and 3 ppm."
)
FURNACE = (
    "# Furnace\n\nThe Trane furnace takes a 16x25x1 MERV 11 air filter. Change "
    "the furnace filter every 90 days.\n"
)
GUTTERS = (
    "<html><head><title>Gutter cleaning</title></head><body><h1>Gutters</h1>"
    "<p>ClearFlow cleaned the gutters and downspouts in November and fitted "
    "leaf guards on the gutters.</p></body></html>"
)
CAR_LINES = [
    "Honda Civic car service record.",
    "Oil changed at 45,000 miles with 0W-20 synthetic oil.",
    "Next oil change due at 50,000 miles; tyres rotated.",
]


def write_docx(path: Path, heading: str, *paragraphs: str) -> Path:
    document = docx.Document()
    document.add_heading(heading, level=1)
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(path)
    return path


def write_notes(folder: Path) -> dict[str, Path]:
    """One good note in each supported format."""
    return {
        "txt": write(folder / "pool-service.txt", POOL),
        "md": write(folder / "furnace.md", FURNACE),
        "pdf": write(folder / "civic.pdf", make_pdf([CAR_LINES], "Civic service")),
        "docx": write_docx(
            folder / "paint.docx",
            "Paint colours",
            "The hallway walls are painted Benjamin Moore Pale Oak OC-20 in an "
            "eggshell finish; the trim is Chantilly Lace semi-gloss paint.",
        ),
        "html": write(folder / "gutters.html", GUTTERS),
    }


def by_name(results: list[FileResult]) -> dict[str, FileResult]:
    """Results keyed by file name, checking that no file was reported twice."""
    names = [Path(r.path).name for r in results]
    assert len(names) == len(set(names)), f"a file was reported twice: {names}"
    return dict(zip(names, results, strict=True))


def stored_ids(assistant: Assistant, note_id: str | None = None) -> list[str]:
    where = {"note_id": note_id} if note_id else None
    return sorted(assistant.store.collection.get(where=where)["ids"])


@pytest.fixture
def settings(home, use_tiny_models) -> Settings:
    """The saved settings, with every model pointing at local test models."""
    return load_settings(home)


@pytest.fixture
def assistant(home, settings) -> Assistant:
    return Assistant(home, settings)


# Every format


def test_imports_every_format_with_suggested_categories(assistant, tmp_path, warm_knn):
    files = write_notes(tmp_path / "notes")

    results = by_name(list(assistant.import_paths([tmp_path / "notes"])))

    assert set(results) == {path.name for path in files.values()}
    expected = {
        "pool-service.txt": ("pool", "pool service"),
        "furnace.md": ("hvac", "Furnace"),
        "civic.pdf": ("car", "Civic service"),
        "paint.docx": ("painting", "Paint colours"),
        "gutters.html": ("gutters", "Gutter cleaning"),
    }
    notes = {note.source: note for note in assistant.store.notes()}
    for name, (category, title) in expected.items():
        result = results[name]
        source = str((tmp_path / "notes" / name).resolve())
        assert result.status == "imported", result
        assert (result.path, result.reason) == (source, "")
        assert (result.category, result.suggested) == (category, True)
        assert result.note_id == note_id_for(source)
        assert result.chunks == notes[source].chunks == 1
        assert (notes[source].title, notes[source].category) == (title, category)
    assert len(notes) == len(expected)


def test_each_format_is_retrievable(assistant, tmp_path):
    write_notes(tmp_path / "notes")
    results = list(assistant.import_paths([tmp_path / "notes"], "appliances"))
    assert [r.status for r in results] == ["imported"] * 5

    for question, name, fact in [
        ("Who serviced the pool pump?", "pool-service.txt", "shaft seal"),
        ("What size filter does the furnace take?", "furnace.md", "16x25x1"),
        ("When is the next oil change due?", "civic.pdf", "50,000 miles"),
        ("What colour are the hallway walls?", "paint.docx", "Pale Oak OC-20"),
        ("Who cleaned the gutters?", "gutters.html", "ClearFlow"),
    ]:
        top = assistant.store.query(question, k=1)[0]
        assert Path(top.source).name == name, question
        assert fact in top.text, question


def test_docx_and_html_text_is_clean(assistant, tmp_path):
    files = write_notes(tmp_path / "notes")
    list(assistant.import_paths([files["docx"], files["html"]], "painting"))

    docx_text = assistant.store.chunks(note_id_for(str(files["docx"].resolve())))
    html_text = assistant.store.chunks(note_id_for(str(files["html"].resolve())))

    assert docx_text[0].text.startswith("# Paint colours\n\nThe hallway walls")
    assert html_text[0].text.startswith("# Gutters\n\nClearFlow cleaned")
    assert "<" not in html_text[0].text


# Bad input


def test_bad_files_each_get_one_result_and_stored_notes_survive(
    home, settings, tmp_path, monkeypatch
):
    assistant = Assistant(home, dataclasses.replace(settings, max_file_mb=0.05))
    good = write_notes(tmp_path / "notes")
    first = list(assistant.import_paths([tmp_path / "notes"], "appliances"))
    assert [r.status for r in first] == ["imported"] * 5
    before = {note.source: note for note in assistant.store.notes()}
    ids_before = stored_ids(assistant)

    # A good PDF and a good note are damaged and emptied on disk, then re-imported.
    write(good["pdf"], b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\ngarbage\n")
    write(good["md"], "")

    bad = tmp_path / "incoming"
    write(bad / "scan.txt", bytes(range(256)) * 4)
    write(bad / "empty.md", "")
    write(bad / "blank.txt", "  \n\n\t \n")
    write(bad / "broken.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\ntruncated")
    locked = encrypt_pdf(make_pdf([["Safe code 1234"]]), "user-secret", "owner")
    write(bad / "locked.pdf", locked)
    write(bad / "broken.docx", b"PK\x03\x04 this is not a zip archive")
    cafe = "Le café crème stains on the façade: repaint in Farrow & Ball, señor."
    write(bad / "cafe.txt", cafe.encode("cp1252"))
    write(bad / "huge.txt", "The attic insulation is R-38. " * 3000)  # 90 KB
    write(bad / "photo.jpg", b"\xff\xd8\xff\xe0 JFIF")
    write(bad / "private.md", "# Safe\n\nThe safe is behind the painting.\n")
    (bad / "loop.txt").symlink_to(bad / "loop.txt")
    (bad / "back").symlink_to(bad, target_is_directory=True)

    # As root every file is readable, so the refusal comes from a patched read.
    real_read_bytes = Path.read_bytes

    def read_bytes(path: Path) -> bytes:
        if path.name == "private.md":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_read_bytes(path)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)

    batch = [good["pdf"], good["md"], bad]
    results = by_name(list(assistant.import_paths(batch, "painting")))

    expected = {
        "civic.pdf": ("failed", "damaged"),
        "furnace.md": ("skipped", "empty"),
        "scan.txt": ("skipped", "binary"),
        "empty.md": ("skipped", "empty"),
        "blank.txt": ("skipped", "empty"),
        "broken.pdf": ("failed", "damaged"),
        "locked.pdf": ("failed", "encrypted"),
        "broken.docx": ("failed", "damaged"),
        "cafe.txt": ("imported", ""),
        "huge.txt": ("skipped", "over the 0.05 MB import limit"),
        "photo.jpg": ("skipped", "Unsupported file type"),
        "private.md": ("failed", "Permission denied"),
        "loop.txt": ("skipped", "Symbolic link loop"),
        "back": ("skipped", "Symbolic link loop"),
    }
    assert set(results) == set(expected)
    for name, (status, reason) in expected.items():
        assert results[name].status == status, results[name]
        assert reason in results[name].reason, results[name]
        assert results[name].status in STATUSES
        if status != "imported":
            assert results[name].reason and results[name].chunks == 0

    # Legacy text was decoded, not mangled.
    cafe_id = results["cafe.txt"].note_id
    assert assistant.store.chunks(cafe_id)[0].text == cafe

    # Nothing stored before was lost or changed, the damaged PDF included.
    after = {note.source: note for note in assistant.store.notes()}
    assert set(after) == set(before) | {results["cafe.txt"].path}
    for source, note in before.items():
        assert after[source] == note
    assert stored_ids(assistant) == sorted([*ids_before, f"{cafe_id}:0"])
    top = assistant.store.query("When is the next oil change due?", k=1)[0]
    assert top.source == str(good["pdf"].resolve())
    assert "Next oil change due at 50,000 miles" in top.text


def test_a_missing_path_is_reported_not_raised(assistant, tmp_path):
    results = list(assistant.import_paths([tmp_path / "nowhere.txt"], "car"))

    assert len(results) == 1
    assert results[0].status == "skipped"
    assert "not found" in results[0].reason


def test_an_unreadable_folder_is_reported(assistant, tmp_path, monkeypatch):
    write(tmp_path / "notes" / "locked" / "a.txt", POOL)
    write(tmp_path / "notes" / "open.txt", POOL)
    real_listdir = os.listdir

    def listdir(path):
        if Path(path).name == "locked":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_listdir(path)

    monkeypatch.setattr("os.listdir", listdir)

    results = by_name(list(assistant.import_paths([tmp_path / "notes"], "pool")))

    assert results["locked"].status == "skipped"
    assert "Permission denied" in results["locked"].reason
    assert results["open.txt"].status == "imported"


# Importing again


def test_reimporting_a_folder_changes_nothing(home, settings, tmp_path):
    write_notes(tmp_path / "notes")
    first = list(Assistant(home, settings).import_paths([tmp_path / "notes"], "car"))
    ids = stored_ids(Assistant(home, settings))

    # A new Assistant, as a second `import` command would make.
    again = Assistant(home, settings)
    second = list(again.import_paths([tmp_path / "notes"], "car"))

    assert [r.status for r in first] == ["imported"] * 5
    assert [r.status for r in second] == ["unchanged"] * 5
    assert [(r.path, r.note_id, r.chunks) for r in second] == [
        (r.path, r.note_id, r.chunks) for r in first
    ]
    assert stored_ids(again) == ids


def test_editing_one_file_updates_only_it_and_drops_stale_chunks(
    home, settings, tmp_path
):
    small = dataclasses.replace(settings, chunk_chars=200, chunk_overlap=20)
    assistant = Assistant(home, small)
    write_notes(tmp_path / "notes")
    sections = [
        f"## Step {n}\n\nStep {n} of the dishwasher manual: {what}."
        for n, what in enumerate(
            [
                "clean the filter under the lower spray arm every month",
                "refill the rinse aid when the light comes on",
                "run an empty hot cycle with descaler twice a year",
                "check the door seal for cracks each spring",
            ],
            1,
        )
    ]
    manual = write(tmp_path / "notes" / "dishwasher.md", "\n\n".join(sections))
    first = by_name(list(assistant.import_paths([tmp_path / "notes"], "appliances")))
    note_id = first["dishwasher.md"].note_id
    assert first["dishwasher.md"].chunks == 4
    assert len(stored_ids(assistant, note_id)) == 4

    write(manual, sections[0] + "\n")
    second = by_name(list(assistant.import_paths([tmp_path / "notes"], "appliances")))

    assert second["dishwasher.md"].status == "updated"
    assert second["dishwasher.md"].chunks == 1
    assert {r.status for n, r in second.items() if n != "dishwasher.md"} == {
        "unchanged"
    }
    assert stored_ids(assistant, note_id) == [f"{note_id}:0"]
    assert assistant.store.find(note_id).chunks == 1
    hits = assistant.store.query("How often should I descale the dishwasher?", k=10)
    assert not any("descaler" in hit.text for hit in hits)


# Categories


def test_given_category_wins_over_the_suggestion(assistant, tmp_path, warm_knn):
    pool = write(tmp_path / "a" / "pool-service.txt", POOL)
    other = write(tmp_path / "b" / "pool-notes.txt", POOL)

    suggested = list(assistant.import_paths([pool]))[0]
    given = list(assistant.import_paths([other], "Fountain"))[0]

    assert (suggested.category, suggested.suggested) == ("pool", True)
    assert (given.category, given.suggested) == ("fountain", False)
    assert assistant.store.find(suggested.note_id).code == "OO"
    assert assistant.store.find(given.note_id).code == "HH"
    assert {h.code for h in assistant.store.query("pool pump", ["HH"])} == {"HH"}


def test_an_unknown_category_is_refused_before_any_file(assistant, tmp_path):
    write_notes(tmp_path / "notes")

    with pytest.raises(CategoryError, match="no category called 'spa'"):
        list(assistant.import_paths([tmp_path / "notes"], "spa"))
    assert assistant.store.notes() == []


def test_reimporting_without_a_category_keeps_the_stored_one(
    assistant, tmp_path, warm_knn
):
    # The router would say pool; the household chose otherwise, twice.
    pool = write(tmp_path / "notes" / "pool-service.txt", POOL)
    first = list(assistant.import_paths([pool], "fountain"))[0]
    again = list(assistant.import_paths([pool]))[0]

    assert (again.status, again.category, again.suggested) == (
        "unchanged",
        "fountain",
        False,
    )

    assistant.store.set_category(first.note_id, "LL", "irrigation")
    write(pool, POOL + " The pool heater is a Hayward H250.")
    edited = list(assistant.import_paths([pool]))[0]

    assert (edited.status, edited.category) == ("updated", "irrigation")
    assert assistant.store.find(first.note_id).code == "LL"


# The `import` command


def cli_json(capsys, *args: str) -> tuple[int, dict]:
    code = main(["import", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)


def test_cli_import_json_reports_every_file(use_tiny_models, tmp_path, capsys):
    write_notes(tmp_path / "notes")
    write(tmp_path / "notes" / "broken.pdf", b"%PDF-1.4 nothing else")
    write(tmp_path / "notes" / "photo.jpg", b"\xff\xd8\xff")

    code, payload = cli_json(capsys, str(tmp_path / "notes"), "--category", "car")

    assert code == 1
    statuses = {Path(r["path"]).name: r["status"] for r in payload["results"]}
    assert statuses == {
        "broken.pdf": "failed",
        "civic.pdf": "imported",
        "furnace.md": "imported",
        "gutters.html": "imported",
        "paint.docx": "imported",
        "photo.jpg": "skipped",
        "pool-service.txt": "imported",
    }
    assert payload["summary"] == {"imported": 5, "failed": 1, "skipped": 1}
    failed = next(r for r in payload["results"] if r["status"] == "failed")
    assert "damaged" in failed["reason"]
    assert failed["note_id"] is None and failed["chunks"] == 0
    imported = next(r for r in payload["results"] if r["status"] == "imported")
    assert set(imported) == {
        "path",
        "status",
        "reason",
        "category",
        "note_id",
        "chunks",
        "suggested",
    }
    assert (imported["category"], imported["suggested"]) == ("car", False)


def test_cli_import_exits_zero_without_failures(
    use_tiny_models, tmp_path, capsys, warm_knn
):
    write(tmp_path / "notes" / "pool-service.txt", POOL)
    write(tmp_path / "notes" / "photo.jpg", b"\xff\xd8\xff")

    code, payload = cli_json(capsys, str(tmp_path / "notes"))
    assert code == 0
    assert payload["summary"] == {"skipped": 1, "imported": 1}
    pool = next(r for r in payload["results"] if r["status"] == "imported")
    assert (pool["category"], pool["suggested"]) == ("pool", True)

    code, payload = cli_json(capsys, str(tmp_path / "notes"))
    assert code == 0
    assert payload["summary"] == {"skipped": 1, "unchanged": 1}


def test_cli_import_text_output(use_tiny_models, tmp_path, capsys, warm_knn):
    pool = write(tmp_path / "pool-service.txt", POOL)

    assert main(["import", str(pool)]) == 0
    lines = capsys.readouterr().out.splitlines()

    assert lines[0].startswith(f"imported  {pool.resolve()}  pool, 1 chunks")
    assert lines[0].endswith("(category suggested by the router)")
    assert lines[-1] == "1 imported"


def test_cli_import_unknown_category_is_a_clean_error(
    use_tiny_models, tmp_path, capsys
):
    pool = write(tmp_path / "pool-service.txt", POOL)

    assert main(["import", str(pool), "--category", "spa"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: There is no category called 'spa'")
    assert "Traceback" not in err


def test_cli_import_with_unusable_chunk_settings_is_a_clean_error(
    home, use_tiny_models, tmp_path, capsys
):
    (home / "settings.json").write_text(json.dumps({"chunk_chars": 50}))
    pool = write(tmp_path / "pool-service.txt", POOL)

    assert main(["import", str(pool), "--category", "pool"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "chunk_chars" in err
    assert "Traceback" not in err


# Batching


def test_many_files_are_stored_in_batches_and_reported_in_order(
    assistant, tmp_path, monkeypatch
):
    from household_assistant import importer

    monkeypatch.setattr(importer, "BATCH_CHUNKS", 4)
    folder = tmp_path / "many"
    folder.mkdir()
    for n in range(11):
        write(folder / f"note{n:02}.txt", f"Note {n}\n\nThe fence post {n} is oak.")
    write(folder / "broken.pdf", b"%PDF-1.4 garbage")
    calls = []
    upsert = assistant.store.upsert_notes
    monkeypatch.setattr(
        assistant.store, "upsert_notes", lambda d: calls.append(len(d)) or upsert(d)
    )

    results = list(assistant.import_paths([folder], "fence"))

    names = [Path(r.path).name for r in results]
    assert names == sorted(names)  # folder order, batches or not
    assert [r.status for r in results].count("imported") == 11
    assert by_name(results)["broken.pdf"].status == "failed"
    assert calls == [4, 4, 3]
    assert assistant.store.count() == 11


def test_a_note_that_cannot_be_stored_fails_alone(assistant, tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    for name in ("a.txt", "poison.txt", "c.txt"):
        write(folder / name, f"{name}\n\nThe irrigation zone notes for {name}.")
    real_embed = assistant.store.embed

    def embed(texts):
        # Stands in for a store or embedder fault that only one note triggers.
        if any("poison" in t for t in texts):
            raise RuntimeError("embedder ran out of memory")
        return real_embed(texts)

    assistant.store.embed = embed
    results = by_name(list(assistant.import_paths([folder], "irrigation")))

    assert results["a.txt"].status == results["c.txt"].status == "imported"
    assert results["poison.txt"].status == "failed"
    assert "embedder ran out of memory" in results["poison.txt"].reason
    assert assistant.store.count() == 2
