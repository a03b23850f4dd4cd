"""Attachment endpoints: multipart upload, list, download-only serving, errors in Chinese, CSRF."""

from __future__ import annotations

import io
from typing import Any

from tests.files.conftest import pdf_bytes, png_bytes


def _upload(client: Any, headers: dict[str, str], data: bytes, name: str, owner_id: str = "5") -> Any:
    form = {"owner_kind": "testdoc", "owner_id": owner_id, "file": (io.BytesIO(data), name)}
    return client.post("/api/v1/files", data=form, headers=headers, content_type="multipart/form-data")


def test_upload_and_download_as_attachment(client: Any, token_for: Any, test_owner: str) -> None:
    editor = token_for("knowledge_editor")
    resp = _upload(client, editor, png_bytes(), "现场 照片.png")
    assert resp.status_code == 201, resp.get_json()
    info = resp.get_json()
    assert info["mime"] == "image/png" and info["kind_label"] == "图片"
    listed = client.get("/api/v1/files?owner_kind=testdoc&owner_id=5", headers=token_for("agent"))
    assert [f["id"] for f in listed.get_json()] == [info["id"]]
    got = client.get(info["url"], headers=token_for("agent"))
    assert got.status_code == 200 and got.data == png_bytes()
    assert got.headers["Content-Type"] == "image/png"
    disposition = got.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and "filename*=UTF-8''%E7%8E%B0%E5%9C%BA%20" in disposition
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in got.headers["Content-Security-Policy"]
    got.close()
    assert client.delete(f"/api/v1/files/{info['id']}", headers=editor).status_code == 200
    assert client.get(info["url"], headers=editor).status_code == 404


def test_upload_refusals(client: Any, token_for: Any, test_owner: str) -> None:
    editor = token_for("knowledge_editor")
    html = _upload(client, editor, b"<html><body onload=alert(1)>", "x.html")
    assert html.status_code == 422 and "不支持的文件类型" in html.get_json()["message"]
    disguised = _upload(client, editor, png_bytes(), "x.pdf")
    assert disguised.status_code == 422 and "不符" in disguised.get_json()["message"]
    big = _upload(client, editor, pdf_bytes() + b"\x00" * 100 * 1024, "big.pdf")
    assert big.status_code == 422 and "文件过大" in big.get_json()["message"]
    missing = client.post(
        "/api/v1/files",
        data={"owner_kind": "testdoc", "owner_id": "1"},
        headers=editor,
        content_type="multipart/form-data",
    )
    assert missing.status_code == 422 and "请选择要上传的文件" in missing.get_json()["message"]
    no_owner = client.get("/api/v1/files", headers=editor)
    assert no_owner.status_code == 422
    unknown = client.get("/api/v1/files?owner_kind=xy&owner_id=1", headers=editor)
    assert unknown.status_code == 422 and "未知的附件归属类型" in unknown.get_json()["message"]
    nul = client.get("/api/v1/files?owner_kind=x%00y&owner_id=1", headers=editor)  # the request guard
    assert nul.status_code == 400 and "空字符" in nul.get_json()["message"]
    assert _upload(client, token_for("agent"), pdf_bytes(), "a.pdf").status_code == 403
    assert client.get("/api/v1/files/99999999/content", headers=editor).status_code == 404
    assert client.get("/api/v1/files/1/content").status_code == 401


def test_session_upload_needs_csrf(client: Any, login_as: Any, test_owner: str) -> None:
    csrf = login_as("knowledge_editor")
    assert _upload(client, {}, pdf_bytes(), "a.pdf").status_code == 403
    assert _upload(client, {"X-CSRF-Token": csrf}, pdf_bytes(), "a.pdf").status_code == 201
