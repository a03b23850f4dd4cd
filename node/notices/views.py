"""The inbox screen (`/notices`), the badge's count, read receipts; the badge itself is in
base.html and kept current by static/js/notices.js over the push channel."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, jsonify, redirect, render_template, request, url_for

from node.auth import web
from node.notices import service
from node.web.common import page_arg, pages, require_form_csrf, safe_next

bp = Blueprint("notices", __name__, url_prefix="/notices")
PAGE_SIZE = 30


def init_app(app: Flask) -> None:
    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    app.context_processor(_badge)


def _badge() -> dict[str, Any]:
    """`notice_unread` for the badge on every screen."""
    actor = web.optional_actor()
    if actor is None or actor.user_id is None:
        return {"notice_unread": None}
    try:
        return {"notice_unread": service.unread_count(actor.user_id)}
    except Exception:  # an error page rendered without a database shows no badge
        return {"notice_unread": None}


@bp.get("")
def inbox() -> Any:
    actor = web.current_actor()
    page = page_arg()
    unread_only = request.args.get("unread") == "1"
    kind = request.args.get("kind", "")
    items, total = service.inbox(actor, unread_only=unread_only, kind=kind, page=page, size=PAGE_SIZE)
    return render_template(
        "notices/inbox.html",
        items=items,
        pages=pages(page, total, PAGE_SIZE),
        args=request.args,
        kinds=service.KINDS,
        unread_only=unread_only,
    )


@bp.get("/unread")
def unread() -> Any:
    actor = web.current_actor()
    return jsonify({"unread": service.unread_count(actor.user_id)})


@bp.post("/<int:notice_id>/open")
def open_notice(notice_id: int) -> Any:
    """Read receipt, then go where the notice points (or back to the inbox)."""
    require_form_csrf()
    notice = service.mark_read(web.current_actor(), notice_id)
    return redirect(safe_next(notice.link, url_for("notices.inbox")))


@bp.post("/<int:notice_id>/read")
def read(notice_id: int) -> Any:
    require_form_csrf()
    notice = service.mark_read(web.current_actor(), notice_id)
    if request.accept_mimetypes.best == "application/json":
        return jsonify({"id": notice.id, "read_at": notice.read_at.isoformat(timespec="seconds")})
    return redirect(url_for("notices.inbox"))


@bp.post("/read-all")
def read_all() -> Any:
    require_form_csrf()
    n = service.mark_all_read(web.current_actor())
    if request.accept_mimetypes.best == "application/json":
        return jsonify({"marked": n})
    return redirect(url_for("notices.inbox"))
