"""Attachment fixtures: an owner kind registered through the real hook (readable by whoever holds
knowledge.view, writable by knowledge.edit), and small genuine files of every accepted type."""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator

import pytest

from node.files import service


@pytest.fixture
def test_owner() -> Iterator[str]:
    service.register_owner(
        service.Owner(
            kind="testdoc",
            label="测试对象",
            can_read=lambda actor, oid: actor.can("knowledge.view") and oid != "hidden",
            can_write=lambda actor, oid: actor.can("knowledge.edit"),
            max_bytes=64 * 1024,
            max_files=3,
        )
    )
    yield "testdoc"
    service.OWNERS.pop("testdoc", None)


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    ihdr = (1).to_bytes(4, "big") + (1).to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    raw = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def pdf_bytes() -> bytes:
    return b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def docx_bytes(text: str = "出租车投诉处理办法") -> bytes:
    import docx

    document = docx.Document()
    document.add_paragraph(text)
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()
