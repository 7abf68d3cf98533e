"""Turning the files a family drops in (notes, manuals, receipts) into plain text.

`read_document` reads one file and either returns a `Document` or raises one of
the two errors the import report understands: `SkipFile` for files we choose not
to import, `ReadFailed` for files we tried and could not read. `iter_files`
expands the paths a person picked into candidate files without ever raising.
"""

from __future__ import annotations

import codecs
import errno
import io
import logging
import os
import re
import stat
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import charset_normalizer
import docx
import pypdf
from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from docx.text.paragraph import Paragraph
from pypdf.errors import DependencyError, PdfReadError

from household_assistant.errors import ReadFailed, SkipFile
from household_assistant.html_text import HtmlText

logger = logging.getLogger(__name__)

_KINDS = {
    ".txt": "txt",
    ".md": "md",
    ".markdown": "md",
    ".pdf": "pdf",
    ".docx": "docx",
    ".html": "html",
    ".htm": "html",
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_KINDS)

_BINARY_SNIFF_BYTES = 8192
# How much more "chaos" than the best guess we accept to prefer cp1252, see below.
_CP1252_SLACK = 0.1
_UTF_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_MD_TITLE = re.compile(r"^ {0,3}#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


@dataclass(frozen=True)
class Document:
    """The text of one imported file.

    `kind` is one of "txt", "md", "pdf", "docx" or "html".
    """

    path: Path
    title: str
    text: str
    kind: str


_TXT_TITLE_CHARS = 80


def read_document(path: Path, max_bytes: int = 20_000_000) -> Document:
    """Read a supported file into a `Document`.

    Args:
        path: The file to read.
        max_bytes: Larger files are skipped rather than read into memory.

    Raises:
        SkipFile: The file is of an unsupported type, empty, too large or binary.
        ReadFailed: The file should be readable but is locked, damaged or encrypted.
    """
    path = Path(path)
    kind = _KINDS.get(path.suffix.lower())
    if kind is None:
        raise SkipFile(_unsupported_reason(path))
    data = _read_bytes(path, max_bytes)

    try:
        text, title = _PARSERS[kind](data)
    except (SkipFile, ReadFailed):
        raise
    except Exception as exc:
        # Parsers fail in many library-specific ways; the report needs one line.
        logger.debug("Parsing %s failed", path, exc_info=True)
        raise ReadFailed(
            f"Could not read this {kind.upper()} file ({type(exc).__name__}); "
            "it may be damaged. Try opening and re-saving it."
        ) from exc

    text = _normalise_newlines(text).strip()
    if not text:
        raise SkipFile("No text found in the file.")
    title = " ".join((title or "").split()) or _title_from_stem(path)
    return Document(path=path, title=title, text=text, kind=kind)


def decode_text(data: bytes) -> str:
    """Decode the bytes of a text file, trying the likely encodings in turn."""
    for bom, encoding in _UTF_BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass

    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    if best is None:
        return data.decode("cp1252", errors="replace")
    # On short Western text the detector often picks cp1250 or a DOS code page
    # that garbles accents; cp1252 is far more common, so it wins near-ties.
    for match in matches:
        near_tie = match.chaos <= best.chaos + _CP1252_SLACK
        if near_tie and "cp1252" in match.could_be_from_charset:
            return data.decode("cp1252", errors="replace")
    return str(best)


def iter_files(paths: Iterable[Path]) -> Iterator[tuple[Path, str | None]]:
    """Expand files and folders into candidate files.

    Yields `(path, None)` for each file to read and `(path, reason)` for an entry
    to report as skipped. Folders are walked recursively in sorted order,
    following symbolic links but not loops; hidden entries inside folders are
    ignored. Files named explicitly are always yielded.
    """
    seen_dirs: set[tuple[int, int]] = set()
    for path in paths:
        path = Path(path)
        st, reason = _stat(path)
        if st is None:
            yield path, reason
        elif stat.S_ISDIR(st.st_mode):
            yield from _walk(path, st, seen_dirs)
        elif stat.S_ISREG(st.st_mode):
            yield path, None
        else:
            yield path, "Not a regular file (a device, pipe or socket)."


def _walk(
    root: Path, root_stat: os.stat_result, seen_dirs: set[tuple[int, int]]
) -> Iterator[tuple[Path, str | None]]:
    # An explicit stack of (dir identity, sorted entries) instead of recursion, so
    # deep trees can't hit the recursion limit; the stack also holds the ancestors
    # that tell a symlink loop from a folder that is merely linked twice.
    root_key = (root_stat.st_dev, root_stat.st_ino)
    if root_key in seen_dirs:
        yield root, "This folder was already included through another path."
        return
    seen_dirs.add(root_key)
    entries, reason = _list_dir(root)
    if reason:
        yield root, reason
        return
    stack = [(root_key, iter(entries))]

    while stack:
        path = next(stack[-1][1], None)
        if path is None:
            stack.pop()
            continue
        st, reason = _stat(path)
        if st is None:
            yield path, reason
        elif stat.S_ISDIR(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if any(key == ancestor for ancestor, _ in stack):
                yield path, "Symbolic link loop: it points back to a folder above it."
                continue
            if key in seen_dirs:
                yield path, "This folder was already included through another path."
                continue
            seen_dirs.add(key)
            entries, reason = _list_dir(path)
            if reason:
                yield path, reason
            else:
                stack.append((key, iter(entries)))
        elif not stat.S_ISREG(st.st_mode):
            yield path, "Not a regular file (a device, pipe or socket)."
        elif path.suffix.lower() in SUPPORTED_SUFFIXES:
            yield path, None
        else:
            yield path, _unsupported_reason(path)


def _list_dir(directory: Path) -> tuple[list[Path], str | None]:
    try:
        names = sorted(os.listdir(directory))
    except PermissionError:
        return [], "Permission denied opening this folder; check its permissions."
    except OSError as exc:
        return [], f"Could not open this folder: {exc.strerror or exc}."
    return [directory / name for name in names if not name.startswith(".")], None


def _stat(path: Path) -> tuple[os.stat_result | None, str | None]:
    try:
        return path.stat(), None
    except FileNotFoundError:
        if path.is_symlink():
            return None, "Broken symbolic link: its target does not exist."
        return None, "File or folder not found."
    except PermissionError:
        return None, "Permission denied; check the permissions of this path."
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None, "Symbolic link loop: the link points back to itself."
        return None, f"Could not access this path: {exc.strerror or exc}."


def _read_bytes(path: Path, max_bytes: int) -> bytes:
    # Check the size first so a huge file is never loaded just to be refused.
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise _os_failure(exc) from exc
    if size > max_bytes:
        raise SkipFile(
            f"The file is {_megabytes(size)}, over the {_megabytes(max_bytes)} "
            "import limit."
        )

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _os_failure(exc) from exc
    if not data or data.isspace():
        raise SkipFile("The file is empty: no text found.")
    return data


def _os_failure(exc: OSError) -> ReadFailed:
    if isinstance(exc, PermissionError):
        return ReadFailed(
            "Permission denied reading the file; check that your user can read it."
        )
    if isinstance(exc, FileNotFoundError):
        return ReadFailed("The file was not found; it may have been moved or deleted.")
    return ReadFailed(f"Could not read the file: {exc.strerror or exc}.")


def _read_text(data: bytes) -> str:
    starts_with_bom = any(data.startswith(bom) for bom, _ in _UTF_BOMS)
    if not starts_with_bom and b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        raise SkipFile(
            "This looks like a binary file, not text; check that its extension "
            "matches what it contains."
        )
    return decode_text(data)


def _parse_txt(data: bytes) -> tuple[str, str | None]:
    # A short first line set off by a blank line reads as the note's title.
    text = _normalise_newlines(_read_text(data))
    first, blank, _ = text.lstrip().partition("\n\n")
    if blank and "\n" not in first and len(first.strip()) <= _TXT_TITLE_CHARS:
        return text, first.strip()
    return text, None


def _parse_md(data: bytes) -> tuple[str, str | None]:
    text = _normalise_newlines(_read_text(data))
    in_fence = False
    for line in text.split("\n"):
        # A "# comment" inside a fenced code block is not a heading.
        if _FENCE.match(line):
            in_fence = not in_fence
        elif not in_fence and (match := _MD_TITLE.match(line)):
            return text, match.group(1)
    return text, None


def _parse_html(data: bytes) -> tuple[str, str | None]:
    parser = HtmlText()
    parser.feed(_read_text(data))
    parser.close()
    return parser.text(), parser.title or parser.first_h1


def _parse_pdf(data: bytes) -> tuple[str, str | None]:
    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        _unlock(reader)
        pages = list(reader.pages)
    except PdfReadError as exc:
        logger.debug("pypdf could not open the PDF", exc_info=True)
        raise ReadFailed(
            "This PDF is damaged or incomplete; try re-downloading or re-exporting it."
        ) from exc

    texts, failures = [], 0
    for number, page in enumerate(pages, start=1):
        # One odd page should not cost the whole manual.
        try:
            texts.append((page.extract_text() or "").strip())
        except Exception:
            logger.debug("Could not extract text from page %d", number, exc_info=True)
            failures += 1
    if pages and failures == len(pages):
        raise ReadFailed("Could not extract text from any page of this PDF.")

    title = None
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:
        logger.debug("Unreadable PDF metadata", exc_info=True)
    text = "\n\n".join(t for t in texts if t)
    if not text:
        raise SkipFile("No text found in this PDF; if it is a scan, OCR it first.")
    return text, title if isinstance(title, str) else None


def _unlock(reader: pypdf.PdfReader) -> None:
    if not reader.is_encrypted:
        return
    # Many PDFs are encrypted only to restrict printing or editing and open with
    # an empty password; only a real user password stops us.
    message = (
        "This PDF is encrypted (password-protected); export or save an "
        "unprotected copy and import that instead."
    )
    try:
        unlocked = reader.decrypt("")
    except (DependencyError, NotImplementedError) as exc:
        raise ReadFailed(message) from exc
    if not unlocked:
        raise ReadFailed(message)


def _parse_docx(data: bytes) -> tuple[str, str | None]:
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        logger.debug("python-docx could not open the file", exc_info=True)
        raise ReadFailed(
            "This .docx file is damaged or not a real Word document; try opening "
            "it in Word or Pages and saving it again."
        ) from exc

    blocks: list[str] = []
    first_heading = None
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            blocks.append(_table_text(item))
            continue
        level = _heading_level(item)
        text = item.text.strip()
        if level and text:
            first_heading = first_heading or text
            blocks.append(f"{'#' * level} {text}")
        else:
            blocks.append(text)

    title = (document.core_properties.title or "").strip() or first_heading
    return "\n\n".join(b for b in blocks if b), title


def _heading_level(paragraph: Paragraph) -> int:
    try:
        name = (paragraph.style.name or "") if paragraph.style else ""
    except Exception:
        return 0
    if name == "Title":
        return 1
    match = re.fullmatch(r"Heading (\d)", name)
    return min(int(match.group(1)), 6) if match else 0


def _table_text(table: Table) -> str:
    lines = []
    for row in table.rows:
        cells: list[str] = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            # Merged cells come back once per grid column; keep one copy.
            if text and (not cells or cells[-1] != text):
                cells.append(text)
        if cells:
            lines.append(" | ".join(cells))
    return "\n".join(lines)


_PARSERS: dict[str, Callable[[bytes], tuple[str, str | None]]] = {
    "txt": _parse_txt,
    "md": _parse_md,
    "html": _parse_html,
    "pdf": _parse_pdf,
    "docx": _parse_docx,
}


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _title_from_stem(path: Path) -> str:
    return " ".join(re.sub(r"[_-]+", " ", path.stem).split()) or path.name


def _unsupported_reason(path: Path) -> str:
    found = f"'{path.suffix}' files" if path.suffix else "files without an extension"
    supported = ", ".join(sorted(SUPPORTED_SUFFIXES))
    return f"Unsupported file type: {found} can't be imported (supported: {supported})."


def _megabytes(size: int) -> str:
    mb = size / 1_000_000
    return f"{mb:.1f} MB" if mb >= 0.1 else f"{mb:.2g} MB"
