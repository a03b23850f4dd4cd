"""Attachment endpoints: upload (multipart), list by owner, metadata, download, delete. Downloads
are always `Content-Disposition: attachment` with the type found from the bytes, `nosniff` and a
sandboxing CSP, so no attachment is ever rendered inline by the browser."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, Flask, jsonify, request, send_file
from werkzeug.exceptions import RequestEntityTooLarge

from node.api.routing import route
from node.auth import web
from node.errors import ValidationError
from node.files import service

bp = Blueprint("files_api", __name__, url_prefix="/api/v1/files")
TAG = "附件"


def init_app(app: Flask) -> None:
    if bp.name not in app.blueprints:
        app.register_blueprint(bp)


@bp.before_request
def _csrf() -> None:
    web.check_csrf(request.headers.get(web.CSRF_HEADER) or request.form.get("csrf_token"))


def _owner_args(source: Any) -> tuple[str, str]:
    kind = source.get("owner_kind", "")
    oid = source.get("owner_id", "")
    if not kind or not oid:
        raise ValidationError("请指定附件归属（owner_kind 与 owner_id）", details={"owner_kind": "必填"})
    return str(kind), str(oid)


@route(
    bp,
    "",
    "POST",
    "上传附件（multipart/form-data：owner_kind、owner_id、file；按文件头识别类型）",
    TAG,
    status=201,
)
def upload() -> Any:
    actor = web.current_actor()
    request.max_content_length = service.max_upload_bytes() + 256 * 1024
    try:
        upload = request.files.get("file")
        kind, oid = _owner_args(request.form)
    except RequestEntityTooLarge:
        mb = service.max_upload_bytes() / 1048576
        raise ValidationError(f"文件过大，附件不能超过 {mb:.0f} MB", details={"file": "文件过大"}) from None
    if upload is None:
        raise ValidationError("请选择要上传的文件（字段 file）", details={"file": "必填"})
    row = service.save(actor, kind, oid, upload.filename or "", upload.read())
    return jsonify(service.present(row)), 201


@route(bp, "", "GET", "某对象的附件列表", TAG, query={"owner_kind": "归属类型", "owner_id": "归属对象编号"})
def list_files() -> Any:
    actor = web.current_actor()
    kind, oid = _owner_args(request.args)
    return jsonify([service.present(f) for f in service.files_of(actor, kind, oid)])


@route(bp, "/<int:file_id>", "GET", "附件信息", TAG)
def file_info(file_id: int) -> Any:
    return jsonify(service.present(service.get(web.current_actor(), file_id)))


@route(bp, "/<int:file_id>/content", "GET", "下载附件（始终作为附件下载，不在浏览器内打开）", TAG)
def content(file_id: int) -> Any:
    row, path = service.download(web.current_actor(), file_id)
    response = send_file(path, mimetype=row.mime, as_attachment=True, download_name=row.filename, max_age=0)
    ascii_name = row.filename.encode("ascii", "replace").decode().replace("?", "_").replace('"', "_")
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(row.filename)}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@route(bp, "/<int:file_id>", "DELETE", "删除附件", TAG)
def remove(file_id: int) -> Any:
    row = service.delete(web.current_actor(), file_id)
    return jsonify({"id": row.id, "deleted": True})
