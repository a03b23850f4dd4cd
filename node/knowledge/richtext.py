"""Article bodies: rich text (paragraphs, lists, tables, emphasis, links) sanitised with nh3
(Ammonia) so nothing in a body can run; plain text for search, suggestions and answers."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import nh3

TAGS = {
    "p", "br", "div", "span", "ul", "ol", "li", "table", "caption", "thead", "tbody", "tfoot", "tr",
    "th", "td", "strong", "b", "em", "i", "u", "s", "sub", "sup", "h3", "h4", "h5", "blockquote", "hr", "a",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan", "scope"}}
_BLOCKS = {"p", "div", "li", "tr", "h3", "h4", "h5", "blockquote", "table", "ul", "ol", "caption", "hr"}
_CELLS = {"td", "th"}
_LOOKS_HTML = re.compile(r"</?[a-zA-Z][^>]*>")


def sanitise(body: str) -> str:
    """Safe HTML for an article body: plain text becomes paragraphs; HTML keeps only the allowed
    tags and attributes (no script, style, event handlers, javascript: or data: URLs)."""
    body = (body or "").replace("\x00", "").strip()
    if not _LOOKS_HTML.search(body):
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n|\r\n\s*\r\n|\n", body) if p.strip()]
        return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return nh3.clean(
        body,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" or tag in _BLOCKS:
            self.parts.append("\n")
        elif tag in _CELLS:
            self.parts.append(" ")
        if tag == "li":
            self.parts.append("· ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def plain_text(safe_html: str) -> str:
    """The text of a (sanitised) body: one line per paragraph, list item or table row."""
    parser = _Text()
    parser.feed(safe_html or "")
    parser.close()
    lines = [re.sub(r"[ \t\u3000]+", " ", ln).strip() for ln in "".join(parser.parts).split("\n")]
    return "\n".join(ln for ln in lines if ln)
