"""Helpers shared by the staff and public blueprints: form CSRF, htmx detection, safe redirects."""

from __future__ import annotations

import datetime as dt
import hmac
import math
from typing import Any

from flask import request, session

from node.auth import web as auth_web
from node.auth.web import client_address as client_address  # the one definition, re-exported
from node.errors import PermissionDenied
from node.validation import parse_day

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


def page_arg() -> int:
    """The `page` query argument (1 when missing or malformed)."""
    raw = request.args.get("page", "1")
    if not raw.isdigit() or int(raw) < 1:
        return 1
    return min(int(raw), 100_000)


def pages(page: int, total: int, size: int) -> dict[str, Any]:
    """What partials/pager.html shows: the current page, the last, and a window of page links."""
    last = max(1, math.ceil(total / size))
    window = sorted({1, last, *range(max(1, page - 2), min(last, page + 2) + 1)})
    return {"page": page, "last": last, "window": window, "total": total, "size": size}


def date_arg(name: str, end: bool = False) -> dt.datetime | None:
    """A `YYYY-MM-DD` query argument as the start of that day (the next day's start with `end`)."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    day = parse_day(raw, name)
    start = dt.datetime(day.year, day.month, day.day)
    return start + dt.timedelta(days=1) if end else start
