"""Helpers shared by the staff and public blueprints: form CSRF, htmx detection, safe redirects."""

from __future__ import annotations

import hmac

from flask import request, session

from node.auth import web as auth_web
from node.auth.web import client_address as client_address  # the one definition, re-exported
from node.errors import PermissionDenied

CSRF_FIELD = "csrf_token"


def require_form_csrf() -> None:
    """Every POST from a browser form must carry the session's CSRF token, signed in or not
    (anonymous portal and login forms included: that stops cross-site submissions in a citizen's name)."""
    if request.method in auth_web.SAFE_METHODS:
        return
    sent = request.form.get(CSRF_FIELD) or request.headers.get(auth_web.CSRF_HEADER)
    expected = session.get("csrf")
    if not expected or not sent or not hmac.compare_digest(str(expected), str(sent)):
        raise PermissionDenied("表单已失效（CSRF 校验失败），请刷新页面后重试", code="csrf")


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def safe_next(target: str | None, default: str) -> str:
    """Only same-site relative paths are followed after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
