"""Catalog administration (基础数据维护): handling units as a tree with contacts, code tables
extended locally, time-limit policies and the working-day calendar.

Every function takes the acting administrator, checks `catalog.manage`, validates, writes in one
transaction with an audit entry, and bumps the "catalog" counter so every process of the node
uses the change within seconds (no restart).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import peewee as pw

from node import clock
from node.audit import service as audit
from node.auth.models import User
from node.auth.service import Actor, forget_tokens
from node.catalog import data, holidays
from node.catalog import service as catalog
from node.catalog.models import (
    CalendarOverride,
    Domain,
    ReasonCode,
    SlaPolicy,
    SubBusiness,
    Unit,
    UnitContact,
)
from node.config import service as config
from node.db import database, write_tx
from node.errors import Conflict, NotFound, ValidationError

PERMISSION = "catalog.manage"
UNIT_CODE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
PHONE_RE = re.compile(r"^[0-9+\-() ]{0,40}$")
EMAIL_RE = re.compile(r"^([^@\s]+@[^@\s]+\.[^@\s]+)?$")
UNIT_KINDS = {"department": "职能部门", "agency": "执法机构", "enterprise": "企业", "other": "其他"}
LOCAL_CODES = range(50, 100)  # national codes use 01-49; a node extends with 50-99


def _changed(actor: Actor, event: str, target: str, details: dict[str, Any]) -> None:
    config.bump("catalog")
    audit.record(actor, event, target=target, details=details)


def _text(value: Any, label: str, field: str, lo: int, hi: int, errors: dict[str, str]) -> str:
    text = str(value or "").strip()
    if not lo <= len(text) <= hi:
        errors[field] = f"{label}须为{lo}-{hi}字" if lo else f"{label}不能超过{hi}字"
    return text


# ---- handling units ------------------------------------------------------------------------------------


def _unit_fields(values: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    out = {
        "name": _text(values.get("name"), "单位名称", "name", 1, 100, errors),
        "region_code": str(values.get("region_code") or "").strip(),
        "kind": str(values.get("kind") or "department"),
        "phone": _text(values.get("phone"), "电话", "phone", 0, 40, errors),
        "address": _text(values.get("address"), "地址", "address", 0, 200, errors),
    }
    if out["kind"] not in UNIT_KINDS:
        errors["kind"] = "单位类别无效"
    if not PHONE_RE.match(out["phone"]):
        errors["phone"] = "电话只能包含数字、+、-、括号和空格"
    try:
        catalog.check_region(out["region_code"])
    except ValidationError:
        errors["region_code"] = f"未知的行政区划代码：{out['region_code'] or '（空）'}"
    if errors:
        raise ValidationError("单位信息有误：" + "；".join(errors.values()), details=errors)
    return out


def _parent(code: str) -> Unit | None:
    if not code:
        return None
    parent = Unit.get_or_none(Unit.code == code)
    if parent is None:
        raise ValidationError(f"上级单位不存在：{code}", details={"parent_code": "不存在"})
    if not parent.active:
        raise ValidationError(f"上级单位已撤销：{parent.name}", details={"parent_code": "已撤销"})
    return parent


def create_unit(actor: Actor, values: dict[str, Any]) -> Unit:
    actor.require(PERMISSION)
    code = str(values.get("code") or "").strip()
    if not UNIT_CODE_RE.match(code):
        raise ValidationError("单位编码须为1-32位字母、数字、下划线或连字符", details={"code": "格式错误"})
    fields = _unit_fields(values)
    parent_code = str(values.get("parent_code") or "").strip()
    with write_tx():
        _parent(parent_code)
        unit = catalog.create_unit(code=code, parent_code=parent_code or None, **fields)
        _changed(actor, "unit.changed", code, {"action": "created", **fields, "parent": parent_code})
    return unit


def descendant_ids(unit: Unit) -> set[int]:
    children: dict[int | None, list[int]] = {}
    for uid, pid in Unit.select(Unit.id, Unit.parent).tuples():
        children.setdefault(pid, []).append(uid)
    out: set[int] = set()
    stack = [unit.id]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in out:
                out.add(child)
                stack.append(child)
    return out


def update_unit(actor: Actor, code: str, values: dict[str, Any]) -> Unit:
    """Edit a unit; a different `parent_code` moves it (with its sub-units) in the tree."""
    actor.require(PERMISSION)
    fields = _unit_fields(values)
    parent_code = str(values.get("parent_code") or "").strip()
    with write_tx():
        unit = catalog.unit_by_code(code)
        parent = _parent(parent_code)
        if parent is not None and (parent.id == unit.id or parent.id in descendant_ids(unit)):
            raise ValidationError(
                "不能把单位移到它自己或它的下级单位之下", details={"parent_code": "形成循环"}
            )
        before = {k: getattr(unit, k) for k in fields} | {
            "parent": unit.parent.code if unit.parent_id else ""
        }
        for k, v in fields.items():
            setattr(unit, k, v)
        unit.parent = parent
        unit.save()
        after = fields | {"parent": parent_code}
        diff = {k: {"from": before[k], "to": v} for k, v in after.items() if before[k] != v}
        if diff:
            _changed(
                actor, "unit.changed", code, {"action": "moved" if "parent" in diff else "edited", **diff}
            )
    return unit


def deactivate_unit(actor: Actor, code: str, successor_code: str = "", reason: str = "") -> list[str]:
    """撤销 a unit: its unfinished orders and its staff go to `successor_code` (required when it has
    any); its sub-units must be moved or closed first. Returns the reassigned order numbers."""
    from node.workflow import service as workflow
    from node.workflow.models import Assignment

    actor.require(PERMISSION)
    reason = reason.strip()[:200] or "承办单位撤销"
    with write_tx():
        unit = catalog.unit_by_code(code)
        if not unit.active:
            raise Conflict(f"单位已撤销：{unit.name}")
        kids = [u.name for u in Unit.select().where(Unit.parent == unit, Unit.active == True)]  # noqa: E712
        if kids:
            raise Conflict(f"请先移走或撤销下级单位：{'、'.join(kids[:5])}")
        successor = catalog.unit_by_code(successor_code) if successor_code else None
        if successor is not None and successor.id == unit.id:
            raise ValidationError("接收单位不能是被撤销的单位本身", details={"successor": "相同"})
        busy = (
            Assignment.select().where(Assignment.unit == unit, Assignment.active == True).exists()  # noqa: E712
        )
        staff = list(User.select().where(User.unit == unit, User.active == True))  # noqa: E712
        if (busy or staff) and successor is None:
            raise ValidationError(
                "该单位仍有在办工单或在岗人员，请选择接收单位", details={"successor": "须选择接收单位"}
            )
        moved = (
            workflow.reassign_unit(actor, unit, successor, reason) if successor is not None and busy else []
        )
        if successor is not None and staff:
            User.update(unit=successor).where(User.id.in_([u.id for u in staff])).execute()
        unit.active = False
        unit.save()
        _changed(
            actor,
            "unit.changed",
            code,
            {
                "action": "deactivated",
                "successor": successor_code,
                "reason": reason,
                "orders": len(moved),
                "staff": [u.username for u in staff],
            },
        )
    if staff:
        forget_tokens()  # their tokens act for the successor unit from now on
    return moved


def reactivate_unit(actor: Actor, code: str) -> Unit:
    actor.require(PERMISSION)
    with write_tx():
        unit = catalog.unit_by_code(code)
        if unit.parent_id and not unit.parent.active:
            raise Conflict(f"上级单位“{unit.parent.name}”已撤销，请先恢复上级单位或移动本单位")
        unit.active = True
        unit.save()
        _changed(actor, "unit.changed", code, {"action": "reactivated"})
    return unit


def save_contact(
    actor: Actor, code: str, values: dict[str, Any], contact_id: int | None = None
) -> UnitContact:
    actor.require(PERMISSION)
    errors: dict[str, str] = {}
    fields = {
        "name": _text(values.get("name"), "联系人姓名", "name", 1, 40, errors),
        "position": _text(values.get("position"), "职务", "position", 0, 40, errors),
        "phone": _text(values.get("phone"), "电话", "phone", 0, 40, errors),
        "email": _text(values.get("email"), "邮箱", "email", 0, 100, errors),
        "is_primary": bool(values.get("is_primary")),
    }
    if not PHONE_RE.match(fields["phone"]):
        errors["phone"] = "电话只能包含数字、+、-、括号和空格"
    if not EMAIL_RE.match(fields["email"]):
        errors["email"] = "邮箱格式有误"
    if errors:
        raise ValidationError("联系人信息有误：" + "；".join(errors.values()), details=errors)
    with write_tx():
        unit = catalog.unit_by_code(code)
        if fields["is_primary"]:
            UnitContact.update(is_primary=False).where(UnitContact.unit == unit).execute()
        if contact_id is None:
            contact = UnitContact.create(unit=unit, **fields)
        else:
            contact = UnitContact.get_or_none(UnitContact.id == contact_id, UnitContact.unit == unit)
            if contact is None:
                raise NotFound("联系人不存在")
            for k, v in fields.items():
                setattr(contact, k, v)
            contact.save()
        _changed(actor, "unit.changed", code, {"action": "contact_saved", "contact": fields["name"]})
    return contact


def delete_contact(actor: Actor, code: str, contact_id: int) -> None:
    actor.require(PERMISSION)
    with write_tx():
        unit = catalog.unit_by_code(code)
        contact = UnitContact.get_or_none(UnitContact.id == contact_id, UnitContact.unit == unit)
        if contact is None:
            raise NotFound("联系人不存在")
        contact.delete_instance()
        _changed(actor, "unit.changed", code, {"action": "contact_deleted", "contact": contact.name})


def unit_rows() -> list[dict[str, Any]]:
    """Every unit in tree order with its depth, staff and open-part counts (for the tree screen)."""
    from node.workflow.models import Assignment

    units = list(Unit.select().order_by(Unit.code))
    staff = dict(
        User.select(User.unit, pw.fn.COUNT(User.id))
        .where(User.active == True, User.unit.is_null(False))  # noqa: E712
        .group_by(User.unit)
        .tuples()
    )
    busy = dict(
        Assignment.select(Assignment.unit, pw.fn.COUNT(Assignment.id))
        .where(Assignment.active == True)  # noqa: E712
        .group_by(Assignment.unit)
        .tuples()
    )
    by_parent: dict[int | None, list[Unit]] = {}
    for u in units:
        by_parent.setdefault(u.parent_id, []).append(u)
    out: list[dict[str, Any]] = []

    def walk(parent: int | None, depth: int, path: str) -> None:
        for u in by_parent.get(parent, []):
            out.append(
                {
                    "unit": u,
                    "depth": depth,
                    "staff": staff.get(u.id, 0),
                    "open": busy.get(u.id, 0),
                    "path": path,
                }
            )
            walk(u.id, depth + 1, f"{path}{u.name} / ")

    walk(None, 0, "")
    return out


# ---- code tables -----------------------------------------------------------------------------------------


def _local_code(code: str, digits: int, label: str) -> str:
    code = code.strip()
    if not (code.isdigit() and len(code) == digits and int(code[-2:]) in LOCAL_CODES):
        raise ValidationError(
            f"本地扩展的{label}代码末两位须在 50-99 之间（01-49 留给全国统一代码）",
            details={"code": "超出本地代码范围"},
        )
    return code


def add_domain(actor: Actor, code: str, name: str, referral_hotline: str = "") -> Domain:
    actor.require(PERMISSION)
    code = _local_code(code, 2, "业务领域")
    errors: dict[str, str] = {}
    name = _text(name, "领域名称", "name", 1, 20, errors)
    if errors:
        raise ValidationError("；".join(errors.values()), details=errors)
    with write_tx():
        try:
            with database.atomic():
                row = Domain.create(
                    code=code,
                    name=name,
                    in_scope=not referral_hotline,
                    referral_hotline=referral_hotline.strip()[:10],
                    local=True,
                )
        except pw.IntegrityError as exc:
            raise Conflict(f"业务领域代码已存在：{code}") from exc
        _changed(actor, "catalog.changed", f"domain:{code}", {"action": "created", "name": name})
    return row


def add_sub_business(actor: Actor, domain_code: str, code: str, name: str) -> SubBusiness:
    actor.require(PERMISSION)
    code = _local_code(code, 4, "子业务")
    if not code.startswith(domain_code):
        raise ValidationError("子业务代码须以所属领域代码开头", details={"code": "与领域不符"})
    errors: dict[str, str] = {}
    name = _text(name, "子业务名称", "name", 1, 30, errors)
    if errors:
        raise ValidationError("；".join(errors.values()), details=errors)
    with write_tx():
        if Domain.get_or_none(Domain.code == domain_code) is None:
            raise NotFound(f"业务领域不存在：{domain_code}")
        try:
            with database.atomic():
                row = SubBusiness.create(
                    code=code, domain=domain_code, name=name, pinyin=catalog.initials(name), local=True
                )
        except pw.IntegrityError as exc:
            raise Conflict(f"子业务代码已存在：{code}") from exc
        _changed(actor, "catalog.changed", f"sub:{code}", {"action": "created", "name": name})
    return row


def add_reason(actor: Actor, kind: str, code: str, name: str) -> ReasonCode:
    actor.require(PERMISSION)
    if kind not in data.REASON_KINDS:
        raise ValidationError("未知的代码表", details={"kind": "未知"})
    code = _local_code(code, 2, data.REASON_KINDS[kind])
    errors: dict[str, str] = {}
    name = _text(name, "名称", "name", 1, 40, errors)
    if errors:
        raise ValidationError("；".join(errors.values()), details=errors)
    with write_tx():
        if ReasonCode.get_or_none(ReasonCode.kind == kind, ReasonCode.code == code) is not None:
            raise Conflict(f"代码已存在：{code}")
        row = ReasonCode.create(kind=kind, code=code, name=name, local=True)
        _changed(actor, "catalog.changed", f"{kind}:{code}", {"action": "created", "name": name})
    return row


TABLES: dict[str, type[pw.Model]] = {
    "domain": Domain,
    "sub": SubBusiness,
    "return": ReasonCode,
    "reject": ReasonCode,
    "subject": ReasonCode,
}


def _row(table: str, code: str) -> Any:
    model = TABLES.get(table)
    if model is None:
        raise NotFound("代码表不存在")
    if model is ReasonCode:
        row = ReasonCode.get_or_none(ReasonCode.kind == table, ReasonCode.code == code)
    else:
        row = model.get_or_none(model.code == code)  # type: ignore[attr-defined]
    if row is None:
        raise NotFound(f"代码不存在：{code}")
    return row


def rename_code(actor: Actor, table: str, code: str, name: str) -> None:
    """Rename a locally added code (national codes keep their official names)."""
    actor.require(PERMISSION)
    errors: dict[str, str] = {}
    name = _text(
        name,
        "名称",
        "name",
        1,
        40 if TABLES.get(table) is ReasonCode else 30 if table == "sub" else 20,
        errors,
    )
    if errors:
        raise ValidationError("；".join(errors.values()), details=errors)
    with write_tx():
        row = _row(table, code)
        if not row.local:
            raise Conflict("全国统一代码不能改名，可停用后本地扩展新代码")
        old, row.name = row.name, name
        if table == "sub":
            row.pinyin = catalog.initials(name)
        row.save()
        _changed(actor, "catalog.changed", f"{table}:{code}", {"action": "renamed", "from": old, "to": name})


def set_code_active(actor: Actor, table: str, code: str, active: bool) -> None:
    """Offer a code for new orders or stop offering it (orders that carry it keep it)."""
    actor.require(PERMISSION)
    with write_tx():
        row = _row(table, code)
        if row.active == active:
            return
        if not active and table == "reject" and len(catalog.reasons("reject")) <= 1:
            raise Conflict("至少保留一个启用的不予受理理由")
        if not active and table == "return" and len(catalog.reasons("return")) <= 1:
            raise Conflict("至少保留一个启用的退回原因")
        row.active = active
        row.save()
        _changed(actor, "catalog.changed", f"{table}:{code}", {"action": "enabled" if active else "disabled"})


# ---- time-limit policies --------------------------------------------------------------------------------

POLICY_LIMITS: dict[str, tuple[int, int, str]] = {
    "limit_value": (0, 365, "办理时限"),
    "sign_minutes": (1, 7 * 24 * 60, "签收时限（分钟）"),
    "max_extensions": (0, 5, "可延期次数"),
    "max_extension_days": (0, 60, "单次延期上限（工作日）"),
    "max_returns": (0, 10, "可退回次数"),
    "callback_workdays": (0, 30, "回访时限（工作日）"),
}
LIMIT_UNITS = {"workday": "工作日", "workhour": "工作小时", "immediate": "即时"}


def _policy_values(values: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    out: dict[str, Any] = {
        "business_type": str(values.get("business_type") or ""),
        "domain_code": str(values.get("domain_code") or ""),
        "node_region": str(values.get("node_region") or ""),
        "limit_unit": str(values.get("limit_unit") or "workday"),
        "requires_approval": bool(values.get("requires_approval")),
        "requires_review": bool(values.get("requires_review")),
    }
    if out["business_type"] not in catalog.business_types():
        errors["business_type"] = "业务类型无效"
    if out["domain_code"] and out["domain_code"] not in catalog.domains(include_inactive=True):
        errors["domain_code"] = "业务领域无效"
    if out["node_region"] and not re.match(r"^\d{6}$", out["node_region"]):
        errors["node_region"] = "节点区划应为6位数字"
    if out["limit_unit"] not in LIMIT_UNITS:
        errors["limit_unit"] = "时限单位无效"
    for key, (lo, hi, label) in POLICY_LIMITS.items():
        raw = values.get(key, "")
        try:
            number = int(str(raw).strip())
        except ValueError:
            errors[key] = f"{label}应为整数"
            continue
        if not lo <= number <= hi:
            errors[key] = f"{label}应在 {lo}-{hi} 之间"
        out[key] = number
    warn = str(values.get("warn_percents") or "50,80").replace("，", ",").replace(" ", "")
    parts = warn.split(",")
    if not all(p.isdigit() and 1 <= int(p) <= 99 for p in parts) or parts != sorted(parts, key=int):
        errors["warn_percents"] = "预警比例应为1-99的递增整数，以逗号分隔（如 50,80）"
    out["warn_percents"] = warn
    if errors:
        raise ValidationError("时限策略有误：" + "；".join(errors.values()), details=errors)
    return out


def save_policy(actor: Actor, values: dict[str, Any]) -> SlaPolicy:
    """Create or change the policy for (type, domain, node region); '' is any."""
    actor.require(PERMISSION)
    fields = _policy_values(values)
    with write_tx():
        old = SlaPolicy.get_or_none(
            SlaPolicy.business_type == fields["business_type"],
            SlaPolicy.domain_code == fields["domain_code"],
            SlaPolicy.node_region == fields["node_region"],
        )
        before = {k: getattr(old, k) for k in fields} if old else None
        policy = catalog.save_policy({**fields, "active": True})
        _changed(actor, "catalog.changed", f"sla:{policy.id}", {"before": before, "after": fields})
    return policy


def set_policy_active(actor: Actor, policy_id: int, active: bool) -> SlaPolicy:
    actor.require(PERMISSION)
    with write_tx():
        policy = SlaPolicy.get_or_none(SlaPolicy.id == policy_id)
        if policy is None:
            raise NotFound("时限策略不存在")
        if not active and not policy.domain_code and not policy.node_region:
            raise Conflict("业务类型的默认时限策略不能停用（可修改其时限）")
        policy.active = active
        policy.save()
        _changed(
            actor, "catalog.changed", f"sla:{policy.id}", {"action": "enabled" if active else "disabled"}
        )
    catalog.invalidate()
    return policy


# ---- working-day calendar --------------------------------------------------------------------------------


def set_day(actor: Actor, day: dt.date, is_workday: bool | None, note: str = "") -> None:
    """Make a day a working day or a day off (None: back to the holiday data)."""
    actor.require(PERMISSION)
    note = note.strip()[:60]
    with write_tx():
        old = CalendarOverride.get_or_none(CalendarOverride.day == day)
        if is_workday is None:
            CalendarOverride.delete().where(CalendarOverride.day == day).execute()
        else:
            catalog.set_calendar_override(day, is_workday, note)
        _changed(
            actor,
            "calendar.changed",
            day.isoformat(),
            {"from": None if old is None else old.is_workday, "to": is_workday, "note": note},
        )
    catalog.invalidate()


def import_notice(actor: Actor, text: str, year: int | None = None) -> list[holidays.NoticeDay]:
    """Load the State Council's holiday notice for a year: that year's overrides are replaced by
    the notice's days off and make-up working days."""
    actor.require(PERMISSION)
    if len(text) > 20000:
        raise ValidationError("通知内容过长（应为通知正文）")
    days = holidays.parse_notice(text, year)
    years = {d.day.year for d in days}
    main_year = year or holidays.notice_year(text) or min(years)
    with write_tx():
        CalendarOverride.delete().where(
            CalendarOverride.day >= dt.date(main_year, 1, 1),
            CalendarOverride.day <= dt.date(main_year, 12, 31),
        ).execute()
        for d in days:
            catalog.set_calendar_override(d.day, d.is_workday, d.note[:60])
        _changed(
            actor,
            "calendar.changed",
            str(main_year),
            {
                "action": "notice_imported",
                "days_off": sum(not d.is_workday for d in days),
                "workdays": sum(d.is_workday for d in days),
            },
        )
    catalog.invalidate()
    return days


def year_view(year: int) -> list[dict[str, Any]]:
    """Twelve months of day cells for the calendar screen."""
    cal = catalog.calendar()
    overrides = {o.day: o for o in CalendarOverride.select().where(CalendarOverride.day.year == year)}
    months = []
    for month in range(1, 13):
        first = dt.date(year, month, 1)
        nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
        cells: list[dict[str, Any] | None] = [None] * first.weekday()
        day = first
        while day < nxt:
            o = overrides.get(day)
            workday = cal.is_workday(day)
            cells.append(
                {
                    "day": day,
                    "workday": workday,
                    "weekend": day.weekday() >= 5,
                    "label": (o.note if o else "") or (cal.holiday_name(day) if not workday else "") or "",
                    "override": o is not None,
                    "today": day == clock.today(),
                }
            )
            day += dt.timedelta(days=1)
        months.append(
            {"month": month, "cells": cells, "off": sum(1 for c in cells if c and not c["workday"])}
        )
    return months


def covered(year: int) -> bool:
    """Whether the bundled holiday data or the administrator's import describe `year`."""
    import chinese_calendar

    try:
        chinese_calendar.is_workday(dt.date(year, 6, 1))
        return True
    except NotImplementedError:
        return CalendarOverride.select().where(CalendarOverride.day.year == year).exists()
