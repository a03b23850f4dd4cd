"""The public portal (公众服务) at /public: submit a complaint, consultation or suggestion, query
progress with the order number and query code, and rate the result after closure.

Pages are anonymous; every POST carries the session CSRF token; limits per address apply.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, redirect, render_template, request, session, url_for

from node.catalog import service as catalog
from node.errors import DomainError
from node.portal import service
from node.validation import describe
from node.web import attachments, pickers
from node.web.common import client_address, require_form_csrf

bp = Blueprint("portal", __name__, url_prefix="/public")

TYPE_HINTS = {
    "1": "反映交通运输服务行为、服务价格、服务质量、执法行为等方面的问题",
    "2": "咨询交通运输法规政策、业务办理和出行信息",
    "3": "对改进交通运输服务、促进行业发展提出意见建议",
}


# How the portal's submit form labels its fields (error messages use these words).
FORM_LABELS = {
    "business_type": "诉求类型",
    "domain": "业务类别",
    "sub_business": "业务类别",
    "region_code": "所在区域",
    "address": "事发地点",
    "respondent_name": "涉及企业",
    "respondent_plate": "车牌号",
    "title": "标题",
    "content": "具体内容",
    "caller_name": "您的称呼",
    "caller_phone": "联系电话",
    "files": "现场照片",
}


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.add_url_rule("/portal", "portal_alias", _to_portal)
    app.add_url_rule("/portal/<path:rest>", "portal_alias_path", _to_portal)


def _to_portal(rest: str = "") -> Any:
    """/portal (the address printed in older material) leads to the portal at /public."""
    return redirect(url_for("portal.index"), code=301)


@bp.before_request
def _csrf() -> None:
    require_form_csrf()


def _form_context(
    form: Any = None, errors: dict[str, str] | None = None, message: str = ""
) -> dict[str, Any]:
    domains = sorted(catalog.domains().values(), key=lambda d: d.code)
    subs = sorted(catalog.sub_businesses().values(), key=lambda s: s.code)
    return {
        "form": form or {},
        "errors": errors or {},
        "message": message,
        "types": catalog.business_types(),
        "type_hints": TYPE_HINTS,
        "domains": domains,
        "subs": subs,
        "regions": pickers.node_regions(),
    }


@bp.get("/")
def index() -> Any:
    return render_template("portal/index.html", types=catalog.business_types(), type_hints=TYPE_HINTS)


@bp.get("/submit")
def submit_form() -> Any:
    form = {"business_type": request.args.get("type", "1")}
    return render_template("portal/submit.html", **_form_context(form))


@bp.post("/submit")
def submit() -> Any:
    request.max_content_length = attachments.max_request_bytes()
    f = request.form
    body = {
        "business_type": f.get("business_type", ""),
        "domain": f.get("domain", ""),
        "sub_business": f.get("sub_business", ""),
        "region_code": f.get("region_code", ""),
        "address": f.get("address", "").strip(),
        "respondent_name": f.get("respondent_name", "").strip(),
        "respondent_plate": f.get("respondent_plate", "").strip(),
        "title": f.get("title", "").strip(),
        "content": f.get("content", "").strip(),
        "caller_name": f.get("caller_name", "").strip(),
        "caller_phone": f.get("caller_phone", "").strip(),
        "anonymous": bool(f.get("anonymous")),
    }
    if body["sub_business"] and not body["domain"]:
        body["domain"] = body["sub_business"][:2]
    try:
        photos = attachments.uploads(request.files)
        attachments.precheck("photo", photos)  # a bad photo refuses the form before anything is kept
        receipt = service.submit(client_address(), body)
        attachments.attach(service.PORTAL, "photo", receipt.number, photos)
    except DomainError as exc:
        errors = exc.details if isinstance(exc.details, dict) else {}
        message = describe(errors, FORM_LABELS) if exc.message.startswith("输入内容有误") else exc.message
        return render_template("portal/submit.html", **_form_context(f, errors, message)), exc.status
    # Shown once after the redirect (PRG), so a reload does not submit twice.
    session["portal_receipt"] = {"number": receipt.number, "code": receipt.query_code}
    return redirect(url_for("portal.receipt"))


@bp.get("/receipt")
def receipt() -> Any:
    data = session.pop("portal_receipt", None)
    if not data:
        return redirect(url_for("portal.index"))
    return render_template("portal/receipt.html", number=data["number"], code=data["code"])


def _query_page(
    number: str,
    view: dict[str, Any] | None = None,
    code: str = "",
    message: str = "",
    status: int = 200,
    **extra: Any,
) -> Any:
    """The progress page; the query code is shown back only beside an order it opened."""
    return render_template(
        "portal/query.html",
        number=number,
        code=code if view else "",
        view=view,
        message=message,
        satisfaction=service.SATISFACTION,
        **extra,
    ), status


@bp.route("/query", methods=["GET", "POST"])
def query() -> Any:
    """The query code is read from a POST body only: in a URL it would land in the address bar,
    the browser history and the server logs. A GET shows the form (the number pre-filled)."""
    if request.method == "GET":
        return _query_page((request.args.get("number") or "").strip()[:21])
    number = (request.form.get("number") or "").strip()
    code = (request.form.get("code") or "").strip()
    try:
        view = service.query(client_address(), number, code)
    except DomainError as exc:
        return _query_page(number, message=exc.message, status=exc.status)
    return _query_page(number, view, code)


@bp.post("/rate")
def rate() -> Any:
    number = (request.form.get("number") or "").strip()
    code = (request.form.get("code") or "").strip()
    body = {
        "result": request.form.get("result", ""),
        "service": request.form.get("service", ""),
        "comment": (request.form.get("comment") or "").strip(),
    }
    try:
        order = service.rate(client_address(), number, code, body)
    except DomainError as exc:
        # the message alone: showing the order here would confirm a code that was never checked
        # against the rating's limits (a side door for guessing)
        return _query_page(number, None, "", exc.message, exc.status)
    return _query_page(number, service.public_view(order), code, thanks="感谢您的评价！")
