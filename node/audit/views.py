"""`GET /api/v1/audit`: the audit log for roles with `audit.view` (the search screen comes later)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Flask, jsonify, request

from node.api.routing import arg_int, route
from node.audit import service
from node.auth import web
from node.validation import parse_day

bp = Blueprint("audit_api", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _date(name: str) -> dt.datetime | None:
    raw = request.args.get(name, "")
    if not raw:
        return None
    return dt.datetime.combine(parse_day(raw, name), dt.time())


@route(
    bp,
    "/audit",
    "GET",
    "审计日志查询（需要 audit.view）",
    "审计",
    query={
        "event": "事件类型",
        "actor": "操作人用户名",
        "target": "对象",
        "from": "起始日期（含）",
        "to": "截止日期（含）",
        "page": "页码",
        "page_size": "每页条数（1-200）",
    },
)
def audit_log() -> Any:
    actor = web.current_actor()
    until = _date("to")
    page, page_size = arg_int("page", 1, 1, 100000), arg_int("page_size", 50, 1, 200)
    items, total = service.search(
        actor,
        event=request.args.get("event") or None,
        actor_name=request.args.get("actor") or None,
        target=request.args.get("target") or None,
        since=_date("from"),
        until=until + dt.timedelta(days=1) if until else None,
        page=page,
        page_size=page_size,
    )
    return jsonify(
        {
            "items": [service.present(e) for e in items],
            "total": total,
            "page": page,
            "page_size": page_size,
            "events": [{"code": c, "name": n} for c, n in service.EVENTS.items()],
        }
    )
