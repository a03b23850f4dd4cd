"""Attachments: type by magic bytes, size and count limits, content-addressed storage, permission
by owner, download headers, audit. Every DB test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest

from node.audit.models import AuditEntry
from node.errors import NotFound, PermissionDenied, ValidationError
from node.files import checks, service
from node.files.models import StoredFile
from tests import factories
from tests.files.conftest import docx_bytes, pdf_bytes, png_bytes


@pytest.mark.parametrize(
    ("make", "name", "kind", "mime"),
    [
        (pdf_bytes, "办法.pdf", "pdf", "application/pdf"),
        (png_bytes, "现场.PNG", "image", "image/png"),
        (docx_bytes, "答复口径.docx", "docx", checks.TYPES["docx"].mime),
    ],
)
def test_detect_accepts_real_files(make: Any, name: str, kind: str, mime: str) -> None:
    found = checks.detect(make(), name)
    assert (found.kind, found.mime) == (kind, mime)


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"", "a.pdf", "文件为空"),
        (b"<html><script>alert(1)</script></html>", "a.html", "不支持的文件类型"),
        (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "a.svg", "不支持的文件类型"),
        (b"MZ\x90\x00" + b"\x00" * 100, "setup.exe", "不支持的文件类型"),
        (b"plain text pretending", "a.pdf", "不支持的文件类型"),
    ],
)
def test_detect_refuses_other_types(data: bytes, name: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        checks.detect(data, name)


def test_detect_refuses_extension_that_contradicts_bytes() -> None:
    with pytest.raises(ValidationError, match=r"与扩展名 \.pdf 不符"):
        checks.detect(png_bytes(), "看起来是.pdf")
    checks.detect(png_bytes(), "无扩展名")  # no extension: the bytes decide
    checks.detect(b"\xff\xd8\xff\xe0" + b"\x00" * 64, "photo.jpeg")


def test_detect_refuses_kinds_the_owner_excludes() -> None:
    with pytest.raises(ValidationError, match="仅接受 PDF"):
        checks.detect(png_bytes(), "a.png", {"pdf"})


def test_detect_refuses_plain_zip_macro_docx_and_bomb(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.txt", "x")
    with pytest.raises(ValidationError, match="不支持的文件类型"):
        checks.detect(buf.getvalue(), "a.docx")
    macro = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx_bytes())) as src, zipfile.ZipFile(macro, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item))
        dst.writestr("word/vbaProject.bin", b"\x00" * 10)
    with pytest.raises(ValidationError, match="含宏"):
        checks.detect(macro.getvalue(), "a.docx")
    monkeypatch.setattr(checks, "MAX_DOCX_UNPACKED", 100)
    with pytest.raises(ValidationError, match="解压后过大"):
        checks.detect(docx_bytes(), "a.docx")


def test_safe_filename() -> None:
    assert checks.safe_filename("../../etc/passwd") == "passwd"
    assert checks.safe_filename("C:\\temp\\办法.pdf") == "办法.pdf"
    assert checks.safe_filename('a"b<c>\x00.pdf') == "a_b_c__.pdf"
    long = checks.safe_filename("长" * 300 + ".pdf")
    assert len(long) == 120 and long.endswith(".pdf")
    with pytest.raises(ValidationError):
        checks.safe_filename("...")


def test_save_list_download_delete(db: str, test_owner: str) -> None:
    editor = factories.actor("knowledge_editor")
    data = pdf_bytes()
    first = service.save(editor, test_owner, 7, "办法.pdf", data)
    second = service.save(editor, test_owner, "8", "副本.pdf", data)
    assert first.sha256 == second.sha256 and first.kind == "pdf" and first.size == len(data)
    blob = service.store().path(first.sha256)
    assert blob.read_bytes() == data, "one blob on disk, named by its SHA-256"
    assert [f.filename for f in service.files_of(editor, test_owner, "7")] == ["办法.pdf"]
    row, path = service.download(factories.actor("agent"), first.id)
    assert path.read_bytes() == data and row.id == first.id
    service.delete(editor, first.id)
    assert blob.exists(), "the other attachment still names the blob"
    service.delete(editor, second.id)
    assert not blob.exists()
    assert StoredFile.get_by_id(first.id).deleted_at is not None
    with pytest.raises(NotFound):
        service.get(editor, first.id)
    events = [e.event for e in AuditEntry.select().where(AuditEntry.target == f"file:{first.id}")]
    assert events == ["file.uploaded", "file.downloaded", "file.deleted"]


def test_permissions_come_from_the_owner(db: str, test_owner: str) -> None:
    editor = factories.actor("knowledge_editor")
    with pytest.raises(PermissionDenied, match="无权为该测试对象上传附件"):
        service.save(factories.actor("agent"), test_owner, "1", "a.pdf", pdf_bytes())
    row = service.save(editor, test_owner, "hidden", "a.pdf", pdf_bytes())
    with pytest.raises(PermissionDenied):
        service.download(editor, row.id)
    with pytest.raises(PermissionDenied):
        service.files_of(editor, test_owner, "hidden")
    with pytest.raises(PermissionDenied, match="无权删除"):
        service.delete(factories.actor("agent"), row.id)
    with pytest.raises(ValidationError, match="未知的附件归属类型"):
        service.save(editor, "nosuchkind", "1", "a.pdf", pdf_bytes())


def test_limits(db: str, test_owner: str) -> None:
    editor = factories.actor("knowledge_editor")
    with pytest.raises(ValidationError, match="文件过大"):
        service.save(editor, test_owner, "1", "a.pdf", pdf_bytes() + b"\x00" * 70 * 1024)
    for i in range(3):
        service.save(editor, test_owner, "1", f"{i}.png", png_bytes())
    with pytest.raises(ValidationError, match="最多 3 个附件"):
        service.save(editor, test_owner, "1", "3.png", png_bytes())
    for bad in ("", "x" * 65, "a\x00b", None, True):
        with pytest.raises(ValidationError, match="归属对象编号"):
            service.save(editor, test_owner, bad, "a.pdf", pdf_bytes())
    for bad_id in (0, -1, 2**63):
        with pytest.raises(NotFound):
            service.get(editor, bad_id)


def test_missing_blob_is_not_found(db: str, test_owner: str) -> None:
    editor = factories.actor("knowledge_editor")
    row = service.save(editor, test_owner, "1", "a.pdf", pdf_bytes())
    service.store().remove(row.sha256)
    with pytest.raises(NotFound, match="附件文件不存在"):
        service.download(editor, row.id)
