"""分派规则 screen in 运行管理 (/admin/routing): list, add, edit, switch off and delete rules."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for

from node.auth import web as auth_web
from node.catalog import service as catalog
from node.errors import DomainError
from node.routing import service
from node.web import pickers
from node.web.common import require_form_csrf

bp = Blueprint("routing", __name__, url_prefix="/admin/routing")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    service.install()


@bp.before_request
def _csrf() -> None:
    require_form_csrf()


def _body(form: Any) -> dict[str, Any]:
    return {
        "name": (form.get("name") or "").strip(),
        "domain": (form.get("domain") or "").strip(),
        "sub_business": (form.get("sub_business") or "").strip(),
        "region_code": (form.get("region_code") or "").strip(),
        "respondent": (form.get("respondent") or "").strip(),
        "lead_unit": (form.get("lead_unit") or "").strip(),
        "assist_units": [c for c in form.getlist("assist_units") if c],
        "auto_dispatch": bool(form.get("auto_dispatch")),
        "priority": (form.get("priority") or "100").strip() or "100",
        "enabled": bool(form.get("enabled")),
        "note": (form.get("note") or "").strip(),
    }


def _page(
    form: Any = None, errors: dict[str, str] | None = None, message: str = "", editing: Any = None
) -> Any:
    actor = auth_web.current_actor()
    rules = service.list_rules(actor)
    units = pickers.units()
    return render_template(
        "admin/routing.html",
        rules=rules,
        form=form or {},
        errors=errors or {},
        message=message,
        editing=editing,
        units=units,
        unit_names={u["code"]: u["label"] for u in units},
        domains=sorted(catalog.domains().values(), key=lambda d: d.code),
        subs=sorted(catalog.sub_businesses().values(), key=lambda s: s.code),
        regions=pickers.node_regions(),
    )


def _form_of(rule: Any) -> dict[str, Any]:
    return {
        "name": rule.name,
        "domain": rule.domain,
        "sub_business": rule.sub_business,
        "region_code": rule.region_code,
        "respondent": rule.respondent,
        "lead_unit": rule.lead_unit.code,
        "assist_units": [c for c in rule.assist_units.split(",") if c],
        "auto_dispatch": rule.auto_dispatch,
        "priority": rule.priority,
        "enabled": rule.enabled,
        "note": rule.note,
    }


@bp.get("")
@bp.get("/")
def rules() -> Any:
    actor = auth_web.current_actor()
    editing = None
    raw = request.args.get("edit", "")
    if raw.isdigit() and len(raw) < 12:
        editing = service.get_rule(actor, int(raw))
    return _page(_form_of(editing) if editing else {"enabled": True, "priority": 100}, editing=editing)


@bp.post("/save")
def rule_save() -> Any:
    actor = auth_web.current_actor()
    raw = request.form.get("id", "")
    editing = None
    try:
        if raw.isdigit() and len(raw) < 12:
            editing = service.get_rule(actor, int(raw))
            rule = service.update_rule(actor, editing.id, _body(request.form))
        else:
            rule = service.create_rule(actor, _body(request.form))
    except DomainError as exc:
        errors = exc.details if isinstance(exc.details, dict) else {}
        return _page(_body(request.form), errors, exc.message, editing), exc.status
    flash(f"已保存分派规则“{rule.name}”", "ok")
    return redirect(url_for("routing.rules"))


@bp.post("/<int:rule_id>/delete")
def rule_delete(rule_id: int) -> Any:
    actor = auth_web.current_actor()
    rule = service.get_rule(actor, rule_id)
    service.delete_rule(actor, rule_id)
    flash(f"已删除分派规则“{rule.name}”", "ok")
    return redirect(url_for("routing.rules"))
