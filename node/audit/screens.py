"""The auditor's screen: search the audit log with paging, export the result as CSV (the export
is itself audited), and check the hash chain."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

from flask import Blueprint, Flask, Response, render_template, request

from node.audit import present, service
from node.auth import web as auth_web
from node.web.common import date_arg, page_arg, pages

bp = Blueprint("audit_screens", __name__)
PAGE_SIZE = 50
EXPORT_LIMIT = 50_000


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _filters() -> dict[str, Any]:
    return {
        "event": request.args.get("event") or None,
        "actor_name": (request.args.get("actor") or "").strip()[:60] or None,
        "target": (request.args.get("target") or "").strip()[:120] or None,
        "since": date_arg("from"),
        "until": date_arg("to", end=True),
    }


@bp.get("/audit")
def log() -> Any:
    actor = auth_web.current_actor()
    page = page_arg()
    items, total = service.search(actor, page=page, page_size=PAGE_SIZE, **_filters())
    verdict = service.verify() if request.args.get("verify") == "1" else None
    return render_template(
        "audit/log.html",
        items=items,
        pages=pages(page, total, PAGE_SIZE),
        args=request.args,
        events=service.EVENTS,
        verdict=verdict,
        describe=present.describe,
    )


@bp.get("/audit/export.csv")
def export() -> Any:
    actor = auth_web.current_actor()
    filters = _filters()
    items, total = service.search(actor, page=1, page_size=EXPORT_LIMIT, **filters)
    buf = io.StringIO()
    buf.write("\ufeff")  # Excel opens UTF-8 CSV correctly only with a BOM
    w = csv.writer(buf)
    w.writerow(["序号", "时间", "事件", "事件代码", "操作人", "地址", "对象", "详情", "详情（原始）", "哈希"])
    for e in items:
        w.writerow(
            [
                e.seq,
                e.at.strftime("%Y-%m-%d %H:%M:%S"),
                service.EVENTS.get(e.event, e.event),
                e.event,
                e.actor_name,
                e.address,
                e.target,
                present.text(e.details),
                json.dumps(e.details, ensure_ascii=False, sort_keys=True),
                e.hash,
            ]
        )
    service.record(
        actor,
        "data.export",
        target="audit",
        details={"rows": len(items), "total": total, **{k: str(v) for k, v in filters.items() if v}},
    )
    name = f"audit-{dt.date.today():%Y%m%d}.csv"
    return Response(
        buf.getvalue().encode("utf-8"),
        mimetype="text/csv",
        headers={"Content-Disposition": f"attachment; filename={name}"},
    )
