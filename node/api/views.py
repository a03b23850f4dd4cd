"""REST endpoints. Each one parses, calls one service, and renders JSON."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from flask import Blueprint, Flask, jsonify, request
from pydantic import Field

from node import clock
from node.api import idempotency
from node.api.routing import arg_int, json_body, route
from node.auth import admin as user_admin
from node.auth import service as auth
from node.auth import web
from node.auth.roles import ROLES
from node.catalog import admin as catalog_admin
from node.catalog import data as catalog_data
from node.catalog import service as catalog
from node.catalog.models import SlaPolicy, Unit
from node.db import write_tx
from node.errors import ValidationError
from node.intake import service as intake
from node.intake.models import OUTCOMES, Contact
from node.intake.schemas import ContactCreate, ContactFinish
from node.validation import Input, parse, parse_day, parse_moment
from node.workflow import present, schemas, service, states
from node.workflow.deadlines import DEADLINE_LABELS
from node.workflow.models import SATISFACTION

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.before_request(_sign_in_first)


@bp.before_request
def _csrf() -> None:
    web.check_csrf(request.headers.get(web.CSRF_HEADER))


def _sign_in_first() -> None:
    """Every route documented with `route(..., auth=True)` (on any blueprint) signs the caller in
    before the view validates anything: an anonymous caller learns nothing from a 422."""
    rule = request.url_rule.rule if request.url_rule is not None else ""
    if rule and (rule, request.method.lower()) in _signed_routes():
        web.current_actor()


_signed: tuple[int, frozenset[tuple[str, str]]] = (-1, frozenset())


def _signed_routes() -> frozenset[tuple[str, str]]:
    """(path, method) of the routes that sign in first; rebuilt only when routes were added."""
    global _signed
    from node.api.routing import ROUTES

    if _signed[0] != len(ROUTES):
        _signed = (len(ROUTES), frozenset((r.path, r.method) for r in ROUTES if r.auth))
    return _signed[1]


def page_of(items: list[Any], total: int, page: int, page_size: int) -> dict[str, Any]:
    return {"items": items, "total": total, "page": page, "page_size": page_size}


# ---- auth ---------------------------------------------------------------------------------------


class Login(Input):
    username: Annotated[str, Field(min_length=1, max_length=40)]
    password: Annotated[str, Field(min_length=1, max_length=200)]


class TokenRequest(Login):
    name: Annotated[str, Field(min_length=1, max_length=60)] = "api"
    days: Annotated[
        int | None, Field(ge=1, le=365, description="有效天数，默认并至多为节点的 token_max_days")
    ] = None


def _me(actor: auth.Actor) -> dict[str, Any]:
    return {
        "username": actor.username,
        "display_name": actor.display_name,
        "roles": list(actor.roles),
        "role_names": [ROLES.get(r, r) for r in actor.roles],
        "unit_id": actor.unit_id,
        "permissions": sorted(actor.permissions),
    }


@route(bp, "/auth/login", "POST", "登录（浏览器会话）", "认证", body=Login, auth=False)
def login() -> Any:
    data = parse(Login, json_body())
    user = web.authenticate(data.username, data.password)
    web.login(user)
    return jsonify({"user": _me(auth.actor_for(user)), "csrf_token": web.csrf_token()})


@route(
    bp, "/auth/token", "POST", "签发访问令牌（机器调用）", "认证", body=TokenRequest, auth=False, status=201
)
def token() -> Any:
    data = parse(TokenRequest, json_body())
    user = web.authenticate(data.username, data.password)
    return jsonify({"token": auth.issue_token(user, data.name, data.days), "token_type": "Bearer"}), 201


@route(bp, "/auth/logout", "POST", "退出登录（会话在服务器端结束）", "认证")
def logout() -> Any:
    web.logout()
    return jsonify({"ok": True})


def _token(t: auth.ApiToken) -> dict[str, Any]:
    return {
        "id": t.id,
        "username": t.user.username,
        "name": t.name,
        "prefix": t.prefix,
        "created_at": present.iso(t.created_at),
        "expires_at": present.iso(t.expires_at),
        "last_used_at": present.iso(t.last_used_at),
        "revoked": t.revoked,
    }


@route(
    bp,
    "/auth/tokens",
    "GET",
    "访问令牌列表（本人的；管理员可查他人，user=* 为全部）",
    "认证",
    query={"user": "用户名（需要 user.manage）"},
)
def list_tokens() -> Any:
    actor = web.current_actor()
    return jsonify([_token(t) for t in auth.list_tokens(actor, request.args.get("user") or None)])


@route(bp, "/auth/tokens/<int:token_id>", "DELETE", "吊销访问令牌（本人或管理员）", "认证")
def revoke_token(token_id: int) -> Any:
    return jsonify(_token(auth.revoke_token(web.current_actor(), token_id)))


@route(bp, "/me", "GET", "当前用户", "认证")
def me() -> Any:
    return jsonify(_me(web.current_actor()))


# ---- catalog ------------------------------------------------------------------------------------


@route(bp, "/catalog", "GET", "代码表（业务类型、领域、子业务、渠道、原因、状态、队列、角色）", "代码表")
def catalog_tables() -> Any:
    web.current_actor()
    subs = catalog.sub_businesses()
    return jsonify(
        {
            "version": catalog_data.CATALOG_VERSION,
            "business_types": [{"code": c, "name": n} for c, n in catalog.business_types().items()],
            "channels": [{"code": c, "name": n} for c, n in catalog.channels().items()],
            "domains": [
                {
                    "code": d.code,
                    "name": d.name,
                    "in_scope": d.in_scope,
                    "referral_hotline": d.referral_hotline,
                    "sub_businesses": [
                        {"code": s.code, "name": s.name, "pinyin": s.pinyin}
                        for s in sorted(subs.values(), key=lambda s: s.code)
                        if s.domain_id == d.code
                    ],
                }
                for d in sorted(catalog.domains().values(), key=lambda d: d.code)
            ],
            "road_classes": [{"code": c, "name": n} for c, n in catalog_data.ROAD_CLASSES],
            "return_reasons": [{"code": c, "name": n} for c, n in catalog.reasons("return").items()],
            "reject_reasons": [{"code": c, "name": n} for c, n in catalog.reasons("reject").items()],
            "states": [{"code": s, "name": lbl, "category": cat} for s, (lbl, cat) in states.STATES.items()],
            "actions": [{"code": t.action, "name": t.label} for t in states.TRANSITIONS.values()],
            "queues": [{"code": c, "name": n} for c, n in service.QUEUES.items()],
            "deadline_states": [{"code": c, "name": n} for c, n in DEADLINE_LABELS.items()],
            "satisfaction": [{"code": c, "name": n} for c, n in SATISFACTION.items()],
            "contact_outcomes": [{"code": c, "name": n} for c, n in OUTCOMES.items()],
            "roles": [{"code": c, "name": n} for c, n in ROLES.items()],
        }
    )


@route(bp, "/regions", "GET", "行政区划查询", "代码表", query={"q": "名称或代码前缀", "parent": "上级代码"})
def regions() -> Any:
    web.current_actor()
    rows = catalog.search_regions(
        request.args.get("q", "")[:20], request.args.get("parent"), limit=arg_int("limit", 50, 1, 500)
    )
    return jsonify(
        [{"code": r.code, "name": r.name, "level": r.level, "parent_code": r.parent_code} for r in rows]
    )


class UnitCreate(Input):
    code: Annotated[str, Field(pattern=r"^[A-Za-z0-9_\-]{1,32}$")]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    region_code: Annotated[str, Field(pattern=r"^\d{6}$")]
    parent_code: Annotated[str, Field(max_length=32)] | None = None
    kind: Annotated[str, Field(max_length=20)] = "department"
    phone: Annotated[str, Field(max_length=40)] = ""
    address: Annotated[str, Field(max_length=200)] = ""
    contacts: Annotated[list[dict[str, str]], Field(max_length=20)] = []


def _unit(u: Unit) -> dict[str, Any]:
    return {
        "code": u.code,
        "name": u.name,
        "region_code": u.region_code,
        "kind": u.kind,
        "phone": u.phone,
        "address": u.address,
        "active": u.active,
        "parent_code": u.parent.code if u.parent_id else None,
        "contacts": [
            {
                "name": c.name,
                "position": c.position,
                "phone": c.phone,
                "email": c.email,
                "is_primary": c.is_primary,
            }
            for c in u.contacts
        ],
    }


@route(bp, "/units", "GET", "承办单位列表", "代码表")
def list_units() -> Any:
    web.current_actor()
    return jsonify([_unit(u) for u in catalog.units(active_only=request.args.get("all") != "1")])


@route(bp, "/units/tree", "GET", "承办单位树", "代码表")
def unit_tree() -> Any:
    web.current_actor()
    return jsonify(catalog.unit_tree())


@route(bp, "/units", "POST", "新增承办单位", "代码表", body=UnitCreate, status=201)
def create_unit() -> Any:
    actor = web.current_actor()
    actor.require("catalog.manage")
    data = parse(UnitCreate, json_body())
    contacts = []
    for c in data.contacts:
        allowed = {k: str(v)[:100] for k, v in c.items() if k in ("name", "position", "phone", "email")}
        if not allowed.get("name"):
            raise ValidationError("联系人须填写姓名", details={"contacts": "缺少姓名"})
        contacts.append(allowed)
    with write_tx():
        unit = catalog_admin.create_unit(actor, data.model_dump(exclude={"contacts"}))
        for i, c in enumerate(contacts):
            catalog_admin.save_contact(actor, unit.code, {**c, "is_primary": i == 0})
    return jsonify(_unit(unit)), 201


class PolicyIn(Input):
    business_type: Annotated[str, Field(pattern=r"^[123]$")]
    domain_code: Annotated[str, Field(pattern=r"^(\d{2})?$")] = ""
    node_region: Annotated[str, Field(pattern=r"^(\d{6})?$")] = ""
    limit_value: Annotated[int, Field(ge=0, le=365)]
    limit_unit: Annotated[str, Field(pattern=r"^(workday|workhour|immediate)$")] = "workday"
    sign_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = 30
    max_extensions: Annotated[int, Field(ge=0, le=5)] = 1
    max_extension_days: Annotated[int, Field(ge=0, le=60)] = 15
    max_returns: Annotated[int, Field(ge=0, le=10)] = 3
    requires_approval: bool = False
    requires_review: bool = True
    callback_workdays: Annotated[int, Field(ge=0, le=30)] = 3


def _policy(p: SlaPolicy) -> dict[str, Any]:
    return {k: getattr(p, k) for k in PolicyIn.model_fields}


@route(bp, "/sla-policies", "GET", "办理时限策略", "代码表")
def list_policies() -> Any:
    web.current_actor()
    return jsonify(
        [_policy(p) for p in SlaPolicy.select().order_by(SlaPolicy.business_type, SlaPolicy.domain_code)]
    )


@route(bp, "/sla-policies", "PUT", "新增或修改办理时限策略", "代码表", body=PolicyIn)
def put_policy() -> Any:
    data = parse(PolicyIn, json_body())
    return jsonify(_policy(catalog_admin.save_policy(web.current_actor(), data.model_dump())))


class CalendarIn(Input):
    is_workday: bool
    note: Annotated[str, Field(max_length=60)] = ""


def _parse_date(raw: str, name: str) -> dt.date:
    return parse_day(raw, name)


@route(
    bp,
    "/calendar",
    "GET",
    "工作日历（含法定节假日与调休）",
    "代码表",
    query={"from": "起始日期", "to": "截止日期"},
)
def get_calendar() -> Any:
    web.current_actor()
    start = _parse_date(request.args.get("from", clock.today().isoformat()), "from")
    end = _parse_date(request.args.get("to", (start + dt.timedelta(days=30)).isoformat()), "to")
    if not start <= end <= start + dt.timedelta(days=400):
        raise ValidationError("日期范围应在 0-400 天之间")
    cal = catalog.calendar()
    days = []
    day = start
    while day <= end:
        days.append(
            {"date": day.isoformat(), "is_workday": cal.is_workday(day), "holiday": cal.holiday_name(day)}
        )
        day += dt.timedelta(days=1)
    return jsonify(days)


@route(bp, "/calendar/<day>", "PUT", "设置某日是否为工作日（覆盖节假日数据）", "代码表", body=CalendarIn)
def put_calendar(day: str) -> Any:
    data = parse(CalendarIn, json_body())
    date = _parse_date(day, "day")
    catalog_admin.set_day(web.current_actor(), date, data.is_workday, data.note)
    return jsonify({"date": date.isoformat(), "is_workday": data.is_workday, "note": data.note.strip()})


# ---- users --------------------------------------------------------------------------------------


class UserCreate(Input):
    username: Annotated[str, Field(min_length=1, max_length=40)]
    display_name: Annotated[str, Field(min_length=1, max_length=40)]
    password: Annotated[str, Field(min_length=8, max_length=200)]
    roles: Annotated[list[str], Field(min_length=1, max_length=9)]
    unit_code: Annotated[str, Field(max_length=32)] | None = None
    seat: Annotated[str, Field(max_length=20)] = ""


def _user(u: auth.User) -> dict[str, Any]:
    return {
        "id": u.id,
        "username": u.username,
        "display_name": u.display_name,
        "roles": u.role_list,
        "unit_code": u.unit.code if u.unit_id else None,
        "seat": u.seat,
        "active": u.active,
        "last_login_at": present.iso(u.last_login_at),
    }


@route(bp, "/users", "GET", "用户列表", "用户与权限")
def list_users() -> Any:
    web.current_actor().require("user.manage")
    return jsonify([_user(u) for u in auth.User.select().order_by(auth.User.username)])


@route(bp, "/users", "POST", "新增用户", "用户与权限", body=UserCreate, status=201)
def create_user() -> Any:
    actor = web.current_actor()
    actor.require("user.manage")
    data = parse(UserCreate, json_body())
    unit_id = catalog.unit_by_code(data.unit_code).id if data.unit_code else None
    user = user_admin.create_user(
        actor,
        username=data.username,
        display_name=data.display_name,
        password=data.password,
        roles=data.roles,
        unit_id=unit_id,
        seat=data.seat,
    )
    return jsonify(_user(user)), 201


class SignOut(Input):
    revoke_tokens: bool = False


@route(
    bp,
    "/users/<int:user_id>/sign-out",
    "POST",
    "强制下线（结束全部会话，可同时吊销令牌）",
    "用户与权限",
    body=SignOut,
)
def sign_out_user(user_id: int) -> Any:
    data = parse(SignOut, json_body())
    ended = auth.force_sign_out(web.current_actor(), user_id, "admin", revoke_tokens=data.revoke_tokens)
    return jsonify({"sessions_ended": ended})


# ---- contacts -----------------------------------------------------------------------------------


def _contact(c: Contact) -> dict[str, Any]:
    return {
        "id": c.id,
        "channel": c.channel,
        "channel_name": catalog.channel_name(c.channel),
        "started_at": present.iso(c.started_at),
        "ended_at": present.iso(c.ended_at),
        "agent": c.agent.display_name if c.agent_id else None,
        "caller_phone_masked": c.caller_phone_masked,
        "caller_name": c.caller_name,
        "summary": c.summary,
        "outcome": c.outcome,
        "outcome_name": OUTCOMES.get(c.outcome, c.outcome),
        "outcome_note": c.outcome_note,
        "order_number": c.order_number or None,
        "transfer_target": c.transfer_target,
        "call_id": c.call_id,
        "recording_ref": c.recording_ref,
    }


@route(bp, "/contacts", "POST", "新建受理记录", "受理", body=ContactCreate, status=201)
def create_contact() -> Any:
    actor = web.current_actor()
    actor.require("contact.create")
    data = parse(ContactCreate, json_body())
    if not (data.caller_phone or data.summary or data.call_id):
        raise ValidationError(
            "受理记录至少需要来电号码、诉求摘要或通话编号之一", details={"body": "缺少受理内容"}
        )
    return jsonify(_contact(intake.create_contact(actor, data))), 201


@route(
    bp,
    "/contacts",
    "GET",
    "受理记录列表",
    "受理",
    query={"phone": "来电号码", "outcome": "结果", "page": "页码", "page_size": "每页条数"},
)
def list_contacts() -> Any:
    page, size = arg_int("page", 1), arg_int("page_size", 20, 1, 200)
    items, total = intake.list_contacts(
        web.current_actor(),
        phone=request.args.get("phone"),
        outcome=request.args.get("outcome"),
        page=page,
        page_size=size,
    )
    return jsonify(page_of([_contact(c) for c in items], total, page, size))


@route(bp, "/contacts/<int:contact_id>", "GET", "受理记录详情", "受理")
def get_contact(contact_id: int) -> Any:
    return jsonify(_contact(intake.get_contact(web.current_actor(), contact_id)))


@route(
    bp,
    "/contacts/<int:contact_id>/finish",
    "POST",
    "结束受理记录（转接、无效、查询、关联已有工单）",
    "受理",
    body=ContactFinish,
)
def finish_contact(contact_id: int) -> Any:
    return jsonify(_contact(intake.finish_contact(web.current_actor(), contact_id, json_body())))


@route(bp, "/callers/<phone>/history", "GET", "来电人历史工单与受理记录", "受理")
def caller_history(phone: str) -> Any:
    actor = web.current_actor()
    orders, _ = service.list_orders(actor, service.OrderFilter(phone=phone), 1, 20)
    contacts, _ = intake.list_contacts(actor, phone=phone, page=1, page_size=20)
    return jsonify(
        {
            "orders": [present.order_summary(o, actor) for o in orders],
            "contacts": [_contact(c) for c in contacts],
        }
    )


# ---- orders -------------------------------------------------------------------------------------

_LIST_QUERY = {
    "queue": "队列：" + "、".join(f"{k}（{v}）" for k, v in service.QUEUES.items()),
    "state": "状态，可逗号分隔多个",
    "category": "状态类别 open/pending/closed",
    "business_type": "业务类型",
    "domain": "业务领域",
    "region_code": "区划代码（前缀匹配）",
    "unit": "承办单位编码",
    "q": "工单编号或关键词",
    "phone": "来电号码",
    "accepted_from": "受理时间起",
    "accepted_to": "受理时间止",
    "overdue": "是否超期 true/false",
    "page": "页码",
    "page_size": "每页条数（1-200）",
}


def _dt_arg(name: str) -> dt.datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    return parse_moment(raw, name).replace(tzinfo=None)


@route(bp, "/orders", "POST", "受理：新建工单", "工单", body=schemas.OrderCreate, status=201)
def create_order() -> Any:
    """Send `Idempotency-Key` to make retries safe: a repeat gets the first answer. An order whose
    `external_number` this channel already delivered is answered with that order (200)."""
    actor = web.current_actor()
    body = json_body()

    def work() -> tuple[Any, int]:
        try:
            order = service.create_order(actor, body)
        except service.DuplicateExternal as dup:
            return present.order_detail(service.get_order(actor, dup.number), actor), 200
        return present.order_detail(order, actor, fresh=order.state != "dispatched"), 201

    return idempotency.run(actor.username, body, work)


@route(bp, "/orders", "GET", "工单列表（队列、筛选、全文检索、分页）", "工单", query=_LIST_QUERY)
def list_orders() -> Any:
    actor = web.current_actor()
    args = request.args
    overdue = args.get("overdue")
    flt = service.OrderFilter(
        state=[s for s in args.get("state", "").split(",") if s] or None,
        category=args.get("category") or None,
        business_type=args.get("business_type") or None,
        domain=args.get("domain") or None,
        region_code=args.get("region_code") or None,
        unit=args.get("unit") or None,
        queue=args.get("queue") or None,
        q=(args.get("q") or "")[:100] or None,
        phone=args.get("phone") or None,
        accepted_from=_dt_arg("accepted_from"),
        accepted_to=_dt_arg("accepted_to"),
        overdue=None if overdue in (None, "") else overdue.lower() in ("1", "true", "yes"),
    )
    page, size = arg_int("page", 1), arg_int("page_size", 20, 1, 200)
    items, total = service.list_orders(actor, flt, page, size)
    return jsonify(page_of([present.order_summary(o, actor) for o in items], total, page, size))


@route(bp, "/orders/<number>", "GET", "工单详情（含可执行操作）", "工单")
def get_order(number: str) -> Any:
    actor = web.current_actor()
    return jsonify(present.order_detail(service.get_order(actor, number), actor))


@route(bp, "/orders/<number>", "PATCH", "修改工单内容", "工单", body=schemas.OrderEdit)
def edit_order(number: str) -> Any:
    actor = web.current_actor()
    return jsonify(present.order_detail(service.perform(actor, number, "edit", json_body()), actor))


@route(bp, "/orders/<number>/history", "GET", "工单流转记录", "工单")
def order_history(number: str) -> Any:
    actor = web.current_actor()
    return jsonify([present.event(e, actor) for e in service.history(actor, number)])


@route(
    bp,
    "/orders/<number>/actions/<action>",
    "POST",
    "执行工单操作（审核、分派、签收、退回、回复、办结……）",
    "工单",
)
def order_action(number: str, action: str) -> Any:
    actor = web.current_actor()
    order = service.perform(actor, number, action, json_body())
    return jsonify(present.order_detail(order, actor))
