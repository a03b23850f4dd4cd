"""Flask application factory: wires the database, auth, errors, metrics and each domain's views."""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from typing import Any

from flask import Flask, jsonify, redirect, request, url_for
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from node import db, pii, validation
from node import settings as node_settings
from node.errors import DomainError

log = logging.getLogger(__name__)

# Each module has init_app(app). Later subsystems add themselves here.
VIEW_MODULES = [
    "node.auth.web",
    "node.api.views",
    "node.api.openapi",
    "node.audit.views",
    "node.monitoring.metrics",
    "node.web.views",
    "node.auth.views",
    "node.catalog.views",
    "node.config.views",
    "node.audit.screens",
    "node.monitoring.views",
    "node.portal.views",
    "node.portal.open311",
    "node.telephony.views",
    "node.notices.views",
    "node.followup.views",
    "node.outbox.wechat",
    "node.telephony.admin_views",
    "node.text.views",
    "node.files.views",
    "node.analytics.views",
    "node.appraisal.views",
    "node.knowledge.views",
    "node.routing.views",
    "federation.views",
]

HTTP_MESSAGES = {
    400: "请求格式有误",
    401: "请先登录",
    403: "无权访问",
    404: "页面或接口不存在",
    405: "不支持的请求方法",
    406: "无法提供所要求的内容格式",
    408: "请求超时",
    409: "数据已被他人修改，请刷新后重试",
    411: "缺少请求长度",
    413: "请求内容过大（至多 2 MB）",
    414: "请求地址过长",
    415: "不支持的内容类型",
    429: "操作过于频繁，请稍后再试",
    431: "请求头过大",
    500: "服务器内部错误，请联系管理员",
    501: "不支持的请求",
}


class RowId(IntegerConverter):
    """`<int:…>` in every route: a row id, 1 … 2³¹−1 (ids are 32-bit on PostgreSQL; OpenAPI says so).
    Anything else is no such page (404) instead of an overflow inside the database (500). Raised as
    NotFound here: werkzeug's own range check answers 405 when another method's rule shares the path."""

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= 2**31 - 1:
            raise NotFound()
        return number


def create_app(settings: node_settings.Settings | None = None, *, manage_connections: bool = True) -> Flask:
    """Build the web application. No database connection is opened here (safe before fork)."""
    settings = settings or node_settings.load()
    node_settings.configure(settings)
    pii.configure(settings.data_key)
    if db.database.obj is None:
        db.bind(settings.database_url)

    app = Flask(__name__)
    app.url_map.converters["int"] = RowId
    if settings.trusted_proxies:  # believe X-Forwarded-For/-Proto/-Host from that many proxies only
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app,
            x_for=settings.trusted_proxies,
            x_proto=settings.trusted_proxies,
            x_host=settings.trusted_proxies,
        )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="hotline_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=settings.session_max_hours),
        # the cookie is written only when the session changes (sign-in, a flash message, sign-out):
        # re-sent on every response, a background request (the 消息 badge) answered after a form's
        # redirect put back the cookie it was sent with, and the form's flash message was lost.
        # Idle and absolute expiry are kept on the server (UserSession), not by the cookie.
        SESSION_REFRESH_EACH_REQUEST=False,
        SESSION_MINUTES=settings.session_minutes,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        JSON_AS_ASCII=False,
        NODE=settings,
    )
    app.json = validation.JsonProvider(app)  # every decoded body passes the request guard's checks
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.json.sort_keys = False  # type: ignore[attr-defined]

    app.before_request(validation.guard_request)  # first: no view sees NUL, surrogates, huge URLs

    if manage_connections:

        @app.before_request
        def _connect() -> None:
            db.database.connect(reuse_if_open=True)

        if not db.is_sqlite():  # a pooled PostgreSQL connection goes back to the pool after each request;

            @app.teardown_request  # SQLite keeps one connection per thread (opened after fork)
            def _close(exc: BaseException | None) -> None:
                if not db.database.is_closed() and db.database.transaction_depth() == 0:
                    db.database.close()

    @app.errorhandler(DomainError)
    def _domain_error(err: DomainError) -> Any:
        return _error_response(err.status, err.to_dict())

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException) -> Any:
        status = err.code or 500
        message = HTTP_MESSAGES.get(status) or f"请求无法处理（HTTP {status}）"
        resp = _error_response(status, {"code": f"http_{status}", "message": message})
        if status == 405:  # say which methods the address takes
            allow = dict(err.get_headers()).get("Allow")
            if allow:
                resp = app.make_response(resp)
                resp.headers["Allow"] = allow
        return resp

    @app.errorhandler(Exception)
    def _unexpected(err: Exception) -> Any:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error_response(500, {"code": "internal", "message": HTTP_MESSAGES[500]})

    @app.get("/favicon.ico")
    def favicon() -> Any:  # browsers ask for it on pages without an icon link (JSON, files)
        return redirect(url_for("static", filename="favicon.svg"), 301)

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify({"status": "ok", "node": settings.region, "level": settings.level})

    for name in VIEW_MODULES:
        importlib.import_module(name).init_app(app)
    return app


def _error_response(status: int, body: dict[str, Any]) -> Any:
    from flask import current_app

    renderer = current_app.config.get("HTML_ERROR_RENDERER")
    if renderer is not None and not request.path.startswith("/api/") and request.accept_mimetypes.accept_html:
        return renderer(status, body)
    return jsonify(body), status
