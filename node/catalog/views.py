"""Screens for the catalog (基础数据): handling units as a tree, code tables, time-limit policies
and the working-day calendar (year view and the State Council notice import)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for

from node import clock
from node.auth import web as auth_web
from node.catalog import admin, data
from node.catalog import service as catalog
from node.catalog.models import CalendarOverride, Domain, ReasonCode, SlaPolicy, SubBusiness, UnitContact
from node.errors import DomainError, ValidationError
from node.web.common import require_form_csrf

bp = Blueprint("catalog_admin", __name__, url_prefix="/admin")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.before_request
def _guard() -> None:
    require_form_csrf()
    auth_web.current_actor().require(admin.PERMISSION)


def _fail(exc: DomainError) -> None:
    """Show a refused change as a message on the page it came from (permission errors propagate)."""
    if exc.status in (401, 403):
        raise exc
    flash(exc.message, "error")


# ---- units ------------------------------------------------------------------------------------------------


@bp.get("/units")
def units() -> Any:
    q = (request.args.get("q") or "").strip()
    rows = admin.unit_rows()
    if q:
        rows = [r for r in rows if q in r["unit"].name or q.lower() in r["unit"].code.lower()]
    show = request.args.get("show", "active")
    if show == "active":
        rows = [r for r in rows if r["unit"].active]
    return render_template(
        "admin/units.html", rows=rows, q=q, show=show, kinds=admin.UNIT_KINDS, form={}, errors={}, message=""
    )


@bp.post("/units")
def unit_create() -> Any:
    try:
        unit = admin.create_unit(auth_web.current_actor(), request.form.to_dict())
    except DomainError as exc:
        if exc.status in (401, 403):
            raise
        return render_template(
            "admin/units.html",
            rows=admin.unit_rows(),
            q="",
            show="active",
            kinds=admin.UNIT_KINDS,
            form=request.form,
            errors=exc.details if isinstance(exc.details, dict) else {},
            message=exc.message,
        ), exc.status
    flash(f"已新建承办单位 {unit.code} {unit.name}", "ok")
    return redirect(url_for("catalog_admin.unit_edit", code=unit.code))


@bp.route("/units/<code>", methods=["GET", "POST"])
def unit_edit(code: str) -> Any:
    actor = auth_web.current_actor()
    unit = catalog.unit_by_code(code)
    errors: dict[str, str] = {}
    message, status = "", 200
    if request.method == "POST":
        op = request.form.get("op", "save")
        try:
            if op == "save":
                admin.update_unit(actor, code, request.form.to_dict())
                flash("已保存", "ok")
            elif op == "deactivate":
                moved = admin.deactivate_unit(
                    actor, code, request.form.get("successor", ""), request.form.get("reason", "")
                )
                flash(f"已撤销 {unit.name}，{len(moved)} 件在办工单已转交接收单位", "ok")
            elif op == "reactivate":
                admin.reactivate_unit(actor, code)
                flash(f"已恢复 {unit.name}", "ok")
            elif op == "contact":
                cid = request.form.get("contact_id", "")
                admin.save_contact(actor, code, request.form.to_dict(), int(cid) if cid.isdigit() else None)
                flash("已保存联系人", "ok")
            elif op == "contact_delete":
                admin.delete_contact(actor, code, int(request.form.get("contact_id", "0") or 0))
                flash("已删除联系人", "ok")
            else:
                raise ValidationError("未知操作")
        except DomainError as exc:
            if exc.status in (401, 403):
                raise
            errors = exc.details if isinstance(exc.details, dict) else {}
            message, status = exc.message, exc.status
        else:
            return redirect(url_for("catalog_admin.unit_edit", code=code))
        unit = catalog.unit_by_code(code)
    rows = admin.unit_rows()
    below = admin.descendant_ids(unit)
    return render_template(
        "admin/unit_edit.html",
        unit=unit,
        row=next(r for r in rows if r["unit"].id == unit.id),
        parents=[
            r for r in rows if r["unit"].active and r["unit"].id not in below and r["unit"].id != unit.id
        ],
        successors=[r for r in rows if r["unit"].active and r["unit"].id != unit.id],
        contacts=list(UnitContact.select().where(UnitContact.unit == unit).order_by(UnitContact.id)),
        kinds=admin.UNIT_KINDS,
        form=request.form if request.method == "POST" else {},
        errors=errors,
        message=message,
    ), status


# ---- code tables -------------------------------------------------------------------------------------------

CODE_TABS = {"domain": "业务领域", "sub": "子业务", **data.REASON_KINDS}


@bp.route("/codes", methods=["GET", "POST"])
def codes() -> Any:
    actor = auth_web.current_actor()
    tab = request.values.get("tab", "domain")
    if tab not in CODE_TABS:
        tab = "domain"
    if request.method == "POST":
        f = request.form
        op = f.get("op", "")
        try:
            if op == "add" and tab == "domain":
                admin.add_domain(actor, f.get("code", ""), f.get("name", ""), f.get("referral", ""))
            elif op == "add" and tab == "sub":
                admin.add_sub_business(actor, f.get("domain", ""), f.get("code", ""), f.get("name", ""))
            elif op == "add":
                admin.add_reason(actor, tab, f.get("code", ""), f.get("name", ""))
            elif op == "rename":
                admin.rename_code(actor, tab, f.get("code", ""), f.get("name", ""))
            elif op in ("enable", "disable"):
                admin.set_code_active(actor, tab, f.get("code", ""), op == "enable")
            else:
                raise ValidationError("未知操作")
            flash("已保存", "ok")
        except DomainError as exc:
            _fail(exc)
        return redirect(url_for("catalog_admin.codes", tab=tab, domain=f.get("domain") or None))
    domain = request.args.get("domain", "")
    rows: list[Any]
    if tab == "domain":
        rows = list(Domain.select().order_by(Domain.code))
    elif tab == "sub":
        query = SubBusiness.select().order_by(SubBusiness.code)
        rows = list(query.where(SubBusiness.domain == domain) if domain else query)
    else:
        rows = list(ReasonCode.select().where(ReasonCode.kind == tab).order_by(ReasonCode.code))
    return render_template(
        "admin/codes.html",
        tab=tab,
        tabs=CODE_TABS,
        rows=rows,
        domain=domain,
        domains=list(Domain.select().order_by(Domain.code)),
    )


# ---- time-limit policies ----------------------------------------------------------------------------------


@bp.route("/sla", methods=["GET", "POST"])
def sla() -> Any:
    actor = auth_web.current_actor()
    errors: dict[str, str] = {}
    message, status = "", 200
    if request.method == "POST":
        f = request.form
        try:
            if f.get("op") in ("enable", "disable"):
                admin.set_policy_active(actor, int(f.get("id", "0") or 0), f.get("op") == "enable")
            else:
                admin.save_policy(actor, f.to_dict())
            flash("时限策略已保存，新受理和新分派的工单按新时限计算", "ok")
            return redirect(url_for("catalog_admin.sla"))
        except DomainError as exc:
            if exc.status in (401, 403):
                raise
            errors = exc.details if isinstance(exc.details, dict) else {}
            message, status = exc.message, exc.status
    edit = None
    if request.args.get("edit", "").isdigit():
        edit = SlaPolicy.get_or_none(SlaPolicy.id == int(request.args["edit"]))
    return render_template(
        "admin/sla.html",
        policies=list(
            SlaPolicy.select().order_by(SlaPolicy.business_type, SlaPolicy.domain_code, SlaPolicy.node_region)
        ),
        edit=edit,
        types=catalog.business_types(),
        domains=catalog.domains(include_inactive=True),
        units=admin.LIMIT_UNITS,
        limits=admin.POLICY_LIMITS,
        form=request.form if request.method == "POST" else {},
        errors=errors,
        message=message,
    ), status


# ---- calendar ------------------------------------------------------------------------------------------------


def _year_arg() -> int:
    raw = request.values.get("year", "")
    year = int(raw) if raw.isdigit() else clock.today().year
    if not 2000 <= year <= 2100:
        raise ValidationError("年份应在 2000-2100 之间", details={"year": "超出范围"})
    return year


@bp.route("/calendar", methods=["GET", "POST"])
def calendar() -> Any:
    actor = auth_web.current_actor()
    year = _year_arg()
    notice_text, message, status = "", "", 200
    if request.method == "POST":
        f = request.form
        op = f.get("op", "")
        try:
            if op == "import":
                notice_text = f.get("notice", "")
                days = admin.import_notice(actor, notice_text, year)
                off = sum(not d.is_workday for d in days)
                flash(f"已导入{year}年节假日安排：放假 {off} 天，调休上班 {len(days) - off} 天", "ok")
                return redirect(url_for("catalog_admin.calendar", year=year))
            day = dt.date.fromisoformat(f.get("day", ""))
            choice = {"work": True, "off": False, "auto": None}.get(f.get("set", ""), "bad")
            if choice == "bad":
                raise ValidationError("请选择工作日、休息日或恢复默认")
            admin.set_day(actor, day, choice, f.get("note", ""))  # type: ignore[arg-type]
            flash(f"已设置 {day.month}月{day.day}日", "ok")
            return redirect(url_for("catalog_admin.calendar", year=year))
        except ValueError:
            message, status = "日期格式有误", 422
        except DomainError as exc:
            if exc.status in (401, 403):
                raise
            message, status = exc.message, exc.status
    overrides = list(
        CalendarOverride.select().where(CalendarOverride.day.year == year).order_by(CalendarOverride.day)
    )
    return render_template(
        "admin/calendar.html",
        year=year,
        months=admin.year_view(year),
        covered=admin.covered(year),
        overrides=overrides,
        notice=notice_text,
        message=message,
    ), status
