"""Tests for household_assistant.readers, built on real files of every format."""

from __future__ import annotations

import io
import os
import random
import zipfile
from pathlib import Path

import docx
import pypdf
import pytest

from household_assistant import readers
from household_assistant.errors import ReadFailed, SkipFile
from household_assistant.readers import (
    SUPPORTED_SUFFIXES,
    Document,
    decode_text,
    iter_files,
    read_document,
)


def make_pdf(pages: list[list[str]], title: str | None = None) -> bytes:
    """A minimal valid PDF: one Helvetica text stream per page, correct xref."""
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [%s] /Count %d >>"
        % (b" ".join(b"%d 0 R" % i for i in page_ids), len(pages)),
        3: b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    }
    for page_id, lines in zip(page_ids, pages, strict=True):
        shown = b" T* ".join(b"(%s) Tj" % line.encode("latin-1") for line in lines)
        stream = b"BT /F1 12 Tf 14 TL 72 720 Td " + shown + b" ET"
        objects[page_id] = (
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>"
            % (page_id + 1)
        )
        objects[page_id + 1] = b"<< /Length %d >>\nstream\n%s\nendstream" % (
            len(stream),
            stream,
        )
    info_id = max(objects) + 1
    objects[info_id] = b"<< /Title (%s) >>" % (title or "").encode("latin-1")

    out = bytearray(b"%PDF-1.4\n")
    offsets = {}
    for number in sorted(objects):
        offsets[number] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, objects[number])
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (info_id + 1)
    out += b"".join(b"%010d 00000 n \n" % offsets[n] for n in sorted(offsets))
    out += b"trailer\n<< /Size %d /Root 1 0 R" % (info_id + 1)
    out += b" /Info %d 0 R" % info_id if title else b""
    out += b" >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def encrypt_pdf(data: bytes, user_password: str, owner_password: str) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password, owner_password)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


# Reading each format


def test_reads_txt_with_title_from_stem_and_unix_newlines(tmp_path: Path) -> None:
    path = write(tmp_path / "boiler_service-notes.txt", b"Line one\r\nLine two\rend\n")

    doc = read_document(path)

    assert doc == Document(
        path=path,
        title="boiler service notes",
        text="Line one\nLine two\nend",
        kind="txt",
    )


@pytest.mark.parametrize("suffix", [".md", ".markdown", ".MD"])
def test_reads_markdown_title_from_first_heading(tmp_path: Path, suffix: str) -> None:
    text = "Intro\n\n```sh\n# not a title\n```\n\n## Sub first\n\n# Boiler #\n\nBody\n"
    doc = read_document(write(tmp_path / f"notes{suffix}", text))

    assert doc.kind == "md"
    assert doc.title == "Boiler"
    assert "# not a title" in doc.text


def test_markdown_without_heading_uses_stem(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path / "garden-plan.md", "Water the roses.\n"))

    assert doc.title == "garden plan"


def test_reads_html_visible_text_as_markdown(tmp_path: Path) -> None:
    html = """<!DOCTYPE html><html><head><title>Fuse  box</title>
    <style>body { color: red }</style><script>var secret = 1;</script></head>
    <body><h1>Fuses <br>&amp; breakers</h1><p>Main switch is in the
    hallway.</p><div>Spare fuses: drawer</div><ul><li>Kitchen 16A</li></ul>
    <h2>Reset</h2><p>Flip it back &gt; up.</p></body></html>"""
    doc = read_document(write(tmp_path / "fuses.html", html))

    assert doc.kind == "html"
    assert doc.title == "Fuse box"
    assert doc.text.startswith("# Fuses & breakers\n\nMain switch is in the hallway.")
    assert "\n\nSpare fuses: drawer\n\n" in doc.text
    assert "\n\n## Reset\n\nFlip it back > up." in doc.text
    assert "secret" not in doc.text and "color" not in doc.text


def test_html_without_title_uses_first_h1(tmp_path: Path) -> None:
    html = "<body><p>Before</p><h1> Water  meter </h1><h1>Second</h1></body>"
    doc = read_document(write(tmp_path / "page.htm", html))

    assert doc.title == "Water meter"


def test_reads_docx_headings_paragraphs_and_tables(tmp_path: Path) -> None:
    document = docx.Document()
    document.add_heading("Boiler", level=1)
    document.add_paragraph("Serviced every autumn.")
    document.add_heading("Contacts", level=2)
    table = document.add_table(rows=2, cols=2)
    for row, (name, phone) in zip(
        table.rows, [("Plumber", "555-0101"), ("Electrician", "555-0199")], strict=True
    ):
        row.cells[0].text, row.cells[1].text = name, phone
    path = tmp_path / "house.docx"
    document.save(path)

    doc = read_document(path)

    assert doc.kind == "docx"
    assert doc.title == "Boiler"
    assert doc.text.startswith("# Boiler\n\nServiced every autumn.\n\n## Contacts")
    assert "Plumber | 555-0101\nElectrician | 555-0199" in doc.text


def test_docx_title_prefers_core_properties(tmp_path: Path) -> None:
    document = docx.Document()
    document.core_properties.title = "House manual"
    document.add_heading("Boiler", level=1)
    document.add_paragraph("Text")
    path = tmp_path / "manual.docx"
    document.save(path)

    assert read_document(path).title == "House manual"


def test_reads_pdf_pages_and_metadata_title(tmp_path: Path) -> None:
    data = make_pdf([["Boiler manual", "Pressure 1.5 bar"], ["Page two text"]], "Guide")
    path = write(tmp_path / "boiler.pdf", data)

    doc = read_document(path)

    assert doc.kind == "pdf"
    assert doc.title == "Guide"
    assert doc.text == "Boiler manual\nPressure 1.5 bar\n\nPage two text"


def test_pdf_without_title_uses_stem(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path / "heat_pump.pdf", make_pdf([["Hello"]])))

    assert doc.title == "heat pump"


def test_pdf_encrypted_with_empty_user_password_is_read(tmp_path: Path) -> None:
    data = encrypt_pdf(make_pdf([["Permissions only"]]), "", "owner-secret")

    doc = read_document(write(tmp_path / "locked.pdf", data))

    assert doc.text == "Permissions only"


# Text decoding


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_decodes_legacy_western_text(tmp_path: Path, encoding: str) -> None:
    text = "Le café coûte 3 € à la boulangerie, très bien."
    if encoding == "latin-1":
        text = text.replace("€", "EUR")
    path = write(tmp_path / "note.txt", text.encode(encoding))

    assert read_document(path).text == text


def test_decodes_short_cp1252_text() -> None:
    # Detectors often misread short Western text as cp1250 or a DOS code page.
    assert decode_text("Boiler service: café €20".encode("cp1252")) == (
        "Boiler service: café €20"
    )


def test_decodes_cyrillic_legacy_text() -> None:
    text = "Привет, как дела? Котёл работает."
    assert decode_text(text.encode("cp1251")) == text


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-32"])
def test_decodes_bom_files(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path / "bom.txt", "Zoë's piñata\r\n".encode(encoding))

    assert read_document(path).text == "Zoë's piñata"


@pytest.mark.parametrize("seed", range(5))
def test_decode_never_crashes_on_random_bytes(seed: int) -> None:
    data = random.Random(seed).randbytes(3000)

    assert isinstance(decode_text(data), str)


# Files that are skipped


def test_unsupported_suffix_is_skipped(tmp_path: Path) -> None:
    with pytest.raises(SkipFile, match="Unsupported file type"):
        read_document(write(tmp_path / "photo.jpg", b"\xff\xd8"))


def test_binary_file_named_txt_is_skipped(tmp_path: Path) -> None:
    with pytest.raises(SkipFile, match="binary"):
        read_document(write(tmp_path / "fake.txt", b"ELF\x00\x01\x02 stuff"))


@pytest.mark.parametrize("content", [b"", b"  \n\t\r\n  "])
def test_empty_or_blank_file_is_skipped(tmp_path: Path, content: bytes) -> None:
    with pytest.raises(SkipFile, match="(?i)no text found"):
        read_document(write(tmp_path / "empty.md", content))


def test_html_without_visible_text_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "blank.html", "<html><script>x()</script></html>")

    with pytest.raises(SkipFile, match="(?i)no text found"):
        read_document(path)


def test_pdf_without_text_is_skipped(tmp_path: Path) -> None:
    with pytest.raises(SkipFile, match="(?i)no text found"):
        read_document(write(tmp_path / "scan.pdf", make_pdf([[]])))


def test_file_over_size_limit_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "big.txt", "x" * 2_500_000)

    with pytest.raises(SkipFile, match=r"2\.5 MB.*1\.0 MB"):
        read_document(path, max_bytes=1_000_000)


# Files that fail


@pytest.mark.parametrize(
    "data",
    [b"this is not a pdf at all", make_pdf([["Cut short"]])[:40], b"%PDF-1.4\n%%EOF"],
)
def test_corrupt_pdf_fails(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ReadFailed, match="damaged"):
        read_document(write(tmp_path / "bad.pdf", data))


def test_password_protected_pdf_fails(tmp_path: Path) -> None:
    data = encrypt_pdf(make_pdf([["Secret"]]), "user-secret", "owner-secret")

    with pytest.raises(ReadFailed, match="encrypted.*unprotected copy"):
        read_document(write(tmp_path / "secret.pdf", data))


def _zip_without_word_parts() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    return buffer.getvalue()


@pytest.mark.parametrize("data", [b"not a zip file", _zip_without_word_parts()])
def test_corrupt_docx_fails(tmp_path: Path, data: bytes) -> None:
    with pytest.raises(ReadFailed, match="damaged or not a real Word document"):
        read_document(write(tmp_path / "bad.docx", data))


def test_unexpected_parser_error_gives_short_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_source: object) -> None:
        raise RuntimeError("internal detail\nwith a second line")

    monkeypatch.setattr(readers.docx, "Document", broken)

    with pytest.raises(ReadFailed) as caught:
        read_document(write(tmp_path / "odd.docx", b"whatever"))
    assert "RuntimeError" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_permission_error_fails_with_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path / "locked.txt", "secret")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)

    with pytest.raises(ReadFailed, match="Permission denied.*check"):
        read_document(path)


def test_unreadable_file_on_disk_fails(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can read files regardless of their mode")
    path = write(tmp_path / "locked.txt", "secret")
    path.chmod(0)

    with pytest.raises(ReadFailed, match="Permission denied"):
        read_document(path)


# Walking paths


def test_iter_files_walks_sorted_ignoring_hidden(tmp_path: Path) -> None:
    root = tmp_path / "notes"
    for name in ["b.md", "a.txt", "sub/c.pdf", "sub/z.html", ".hidden.txt"]:
        write(root / name, "x")
    write(root / ".git" / "config.txt", "x")
    write(root / "photo.jpg", b"\xff")

    results = list(iter_files([root]))

    assert [(p.relative_to(root).as_posix(), r is None) for p, r in results] == [
        ("a.txt", True),
        ("b.md", True),
        ("photo.jpg", False),
        ("sub/c.pdf", True),
        ("sub/z.html", True),
    ]
    assert "Unsupported file type" in (results[2][1] or "")


def test_explicit_files_are_always_yielded(tmp_path: Path) -> None:
    hidden = write(tmp_path / ".secret.txt", "x")
    odd = write(tmp_path / "photo.jpg", b"\xff")

    assert list(iter_files([hidden, odd])) == [(hidden, None), (odd, None)]


def test_missing_path_is_reported(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"

    assert list(iter_files([missing])) == [(missing, "File or folder not found.")]


def test_symlink_loop_is_reported_once(tmp_path: Path) -> None:
    root = tmp_path / "house"
    write(root / "kitchen" / "fridge.txt", "x")
    (root / "kitchen" / "back_to_house").symlink_to(root, target_is_directory=True)
    (root / "self").symlink_to(root / "self")

    results = list(iter_files([root]))

    names = [(p.relative_to(root).as_posix(), r) for p, r in results]
    assert names[0][0] == "kitchen/back_to_house"
    assert "symbolic link loop" in (names[0][1] or "").lower()
    assert names[1] == ("kitchen/fridge.txt", None)
    assert names[2][0] == "self" and "loop" in (names[2][1] or "").lower()
    assert len(names) == 3


def test_symlinked_folders_are_followed_once(tmp_path: Path) -> None:
    root = tmp_path / "house"
    write(root / "real" / "note.txt", "x")
    (root / "alias").symlink_to(root / "real", target_is_directory=True)
    (root / "dangling.txt").symlink_to(root / "gone.txt")

    results = [(p.relative_to(root).as_posix(), r) for p, r in iter_files([root])]

    assert results[0] == ("alias/note.txt", None)
    assert results[1][0] == "dangling.txt" and "Broken" in (results[1][1] or "")
    assert results[2][0] == "real" and "already included" in (results[2][1] or "")


def test_unreadable_folder_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "house"
    write(root / "locked" / "note.txt", "x")
    write(root / "open.txt", "x")
    real_listdir = os.listdir

    def listdir(path: os.PathLike[str] | str) -> list[str]:
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_listdir(path)

    monkeypatch.setattr(readers.os, "listdir", listdir)

    results = list(iter_files([root]))

    assert results[0][0] == root / "locked"
    assert "Permission denied" in (results[0][1] or "")
    assert results[1] == (root / "open.txt", None)


def test_supported_suffixes() -> None:
    assert SUPPORTED_SUFFIXES == {
        ".txt",
        ".md",
        ".markdown",
        ".pdf",
        ".docx",
        ".html",
        ".htm",
    }


def test_txt_first_line_set_off_by_a_blank_line_is_the_title(tmp_path):
    note = tmp_path / "furnace_notes.txt"
    note.write_text("Furnace\n\nTakes a 16x25x1 filter.\n")
    assert read_document(note).title == "Furnace"

    note.write_text("Takes a 16x25x1 filter and the\nservice is in May.\n")
    assert read_document(note).title == "furnace notes"
