"""Visible text of an HTML page, with headings kept as markdown headings."""

from __future__ import annotations

import re
from html.parser import HTMLParser


class HtmlText(HTMLParser):
    """Collects the visible text of a page, with blocks as paragraphs."""

    _HIDDEN = frozenset({"script", "style", "template", "noscript", "svg"})
    _BLOCKS = frozenset(
        "address article aside blockquote dd details div dl dt fieldset figcaption "
        "figure footer form header hr li main nav ol p pre section summary table "
        "tbody thead tr td th ul".split()
    )
    _HEADINGS = {f"h{n}": n for n in range(1, 7)}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._hidden_depth = 0
        self._in_head = False
        self._capture: str | None = None
        self._captured: list[str] = []
        self._pre_depth = 0
        self._heading_open = False
        self.title: str | None = None
        self.first_h1: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden_depth += 1
        elif tag == "head":
            self._in_head = True
        elif tag == "body":
            self._in_head = False
        elif tag == "title" or (tag == "h1" and self.first_h1 is None):
            self._capture, self._captured = tag, []
        if tag == "pre":
            self._pre_depth += 1
        if tag in self._HEADINGS:
            self._heading_open = True
            self._parts.append("\n\n" + "#" * self._HEADINGS[tag] + " ")
        elif tag in self._BLOCKS:
            self._parts.append("\n\n")
        elif tag == "br":
            # A heading must stay on one line to stay a heading.
            self._parts.append(" " if self._heading_open else "\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag == "head":
            self._in_head = False
        elif tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
        if tag == self._capture:
            captured = " ".join("".join(self._captured).split()) or None
            if tag == "title":
                self.title = self.title or captured
            else:
                self.first_h1 = captured
            self._capture = None
        if tag in self._HEADINGS:
            self._heading_open = False
        if tag in self._BLOCKS or tag in self._HEADINGS:
            self._parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._capture:
            self._captured.append(data)
        if self._hidden_depth or self._in_head:
            return
        self._parts.append(data if self._pre_depth else re.sub(r"\s+", " ", data))

    def text(self) -> str:
        # Collapsed whitespace leaves spaces around the breaks; this also drops
        # indentation inside <pre>, which notes rarely depend on.
        text = re.sub(r"[ \t]*\n[ \t]*", "\n", "".join(self._parts))
        text = re.sub(
            r"^#{1,6} .*$", lambda m: " ".join(m[0].split()), text, flags=re.M
        )
        text = re.sub(r"^#{1,6}$", "", text, flags=re.M)
        return re.sub(r"\n{3,}", "\n\n", text).strip()
