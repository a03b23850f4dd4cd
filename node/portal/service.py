"""Public services (公众服务): web submission, progress query by number + query code, and the
citizen's own rating after closure. Everything returned here is public-safe: never caller data,
internal notes, staff names or unit replies meant for the center.

Submissions run as the PORTAL actor (channel 02 网站), a least-privileged system actor that may
only create contacts and orders. Abuse limits count hits per address in a sliding window.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field

from node import clock
from node.audit import service as audit
from node.auth.service import Actor
from node.catalog import service as catalog
from node.catalog.models import Unit
from node.db import group_write, write_tx
from node.errors import NotFound, RateLimited, ValidationError
from node.intake import service as intake
from node.portal.models import PortalHit
from node.validation import Input, parse
from node.workflow import service as workflow
from node.workflow import states
from node.workflow.models import SATISFACTION, Assignment, OrderEvent, WorkOrder

WEB_CHANNEL = "02"
PORTAL = Actor(
    user_id=None,
    username="portal",
    display_name="公众网站",
    roles=("system",),
    permissions=frozenset({"contact.create", "order.create", "order.submit"}),
)

# kind -> (max hits, window)
LIMITS: dict[str, tuple[int, dt.timedelta]] = {
    "submit": (5, dt.timedelta(hours=1)),
    "query": (30, dt.timedelta(minutes=10)),
    "rate": (10, dt.timedelta(hours=1)),
    "api": (300, dt.timedelta(minutes=10)),
    # per order (the hit's `address` holds the order number): ratings tried, wrong codes typed
    "rate_order": (10, dt.timedelta(hours=1)),
    "code_fail": (10, dt.timedelta(hours=24)),
}
_LIMIT_MESSAGES = {
    "submit": "同一网络地址每小时最多提交{n}件诉求，请稍后再试；紧急情况请拨打12328热线。",
    "query": "查询过于频繁（每10分钟最多{n}次），请稍后再试。",
    "rate": "评价操作过于频繁，请稍后再试。",
    "api": "接口调用过于频繁（每10分钟最多{n}次），请稍后再试。",
    "rate_order": "该工单的评价操作过于频繁，请稍后再试。",
    "code_fail": "该工单的查询码已连续输错{n}次，已锁定24小时；如需帮助请拨打12328热线。",
}
CODE_MAX_FAILURES = LIMITS["code_fail"][0]

# What a citizen sees for each internal state.
PUBLIC_STATUS: dict[str, str] = {
    "accepted": "已受理",
    "answered": "已答复",
    "pending_review": "已受理，审核中",
    "pending_approval": "已受理，审核中",
    "pending_dispatch": "已受理，待转办",
    "dispatched": "已转承办单位",
    "handling": "承办单位办理中",
    "return_requested": "转办中",
    "replied": "承办单位已回复，复核中",
    "reviewed": "承办单位已回复，复核中",
    "closed": "已办结",
    "visited": "已办结",
    "archived": "已办结",
    "rejected": "不予受理",
    "merged": "已并入相同诉求一并办理",
    "split": "已拆分办理",
    "transferred": "已转外地办理",
}
# Milestones shown on the public timeline (no actor names, no reasons).
PUBLIC_MILESTONES: dict[str, str] = {
    "create": "诉求已受理",
    "answer": "已当场答复",
    "dispatch": "已转交承办单位办理",
    "sign": "承办单位已签收",
    "reply": "承办单位已回复办理结果",
    "close": "诉求已办结",
    "reopen": "已重新办理",
    "reject": "不予受理",
    "merge": "已并入相同诉求一并办理",
    "split": "已拆分办理",
    "transfer": "已转外地办理",
    "decide_extension": "办理期限已调整",
    "public_rate": "已收到您的评价",
}


def check_limit(kind: str, address: str) -> None:
    """Count this hit; refuse it (429) when the address is over its limit for `kind`."""
    limit, window = LIMITS[kind]
    now = clock.now()
    with write_tx():
        PortalHit.delete().where(PortalHit.kind == kind, PortalHit.at < now - window).execute()
        used = (
            PortalHit.select()
            .where(PortalHit.kind == kind, PortalHit.address == address[:64], PortalHit.at >= now - window)
            .count()
        )
        if used >= limit:
            raise RateLimited(_LIMIT_MESSAGES[kind].format(n=limit))
        PortalHit.create(kind=kind, address=address[:64], at=now)


class PublicSubmission(Input):
    business_type: Literal["1", "2", "3"]
    domain: Annotated[str, Field(pattern=r"^(\d{2})?$")] = ""
    sub_business: Annotated[str, Field(pattern=r"^(\d{4})?$")] = ""
    region_code: Annotated[str, Field(pattern=r"^\d{6}$")]
    address: Annotated[str, Field(max_length=200)] = ""
    respondent_name: Annotated[str, Field(max_length=100)] = ""
    respondent_plate: Annotated[str, Field(max_length=20)] = ""
    title: Annotated[str, Field(max_length=100)] = ""
    content: Annotated[str, Field(min_length=5, max_length=3000)]
    caller_name: Annotated[str, Field(max_length=40)] = ""
    caller_phone: Annotated[str, Field(min_length=5, max_length=24)]
    anonymous: bool = False
    latitude: Annotated[float, Field(ge=-90, le=90)] | None = None
    longitude: Annotated[float, Field(ge=-180, le=180)] | None = None
    external_number: Annotated[str, Field(max_length=40)] = ""


class Open311Submission(PublicSubmission):
    """A GeoReport v2 POST: the spec makes the phone optional (the order then has no callback number)."""

    caller_phone: Annotated[str, Field(max_length=24)] = ""


@dataclass
class Receipt:
    number: str
    query_code: str
    contact_id: int
    accepted_at: dt.datetime


def submit(address: str, body: PublicSubmission | dict[str, Any], *, limit: bool = True) -> Receipt:
    """A citizen's complaint, consultation or suggestion from the web: contact + order, one transaction."""
    data = body if isinstance(body, PublicSubmission) else parse(PublicSubmission, body)
    if data.domain:
        dom = catalog.domains().get(data.domain)
        if dom is not None and not dom.in_scope:
            raise ValidationError(
                f"{dom.name}领域的诉求请拨打 {dom.referral_hotline} 反映",
                details={"domain": "不属于本热线受理范围"},
            )
    if limit:
        check_limit("submit", address)
    order_body = {
        **data.model_dump(exclude={"anonymous"}),
        "channel": WEB_CHANNEL,
        "anonymous": data.anonymous,
        "submit": bool(data.domain),  # without a domain an agent classifies it first (待提交 queue)
    }

    def write() -> Receipt:
        contact = intake.create_contact(
            PORTAL,
            {
                "channel": WEB_CHANNEL,
                "caller_phone": data.caller_phone,
                "caller_name": data.caller_name,
                "summary": data.content[:2000],
            },
        )
        order = workflow.create_order(PORTAL, {**order_body, "contact_id": contact.id})
        return Receipt(order.number, order.query_code, contact.id, order.accepted_at)

    return group_write(write)  # shares SQLite transactions with concurrent creations


def _code_failures(number: str) -> int:
    window = LIMITS["code_fail"][1]
    return (
        PortalHit.select()
        .where(
            PortalHit.kind == "code_fail", PortalHit.address == number, PortalHit.at >= clock.now() - window
        )
        .count()
    )


def lookup(number: str, code: str) -> WorkOrder:
    """The order a citizen opens with its number and query code. Wrong codes are counted per
    order; after CODE_MAX_FAILURES in 24 hours the order's code is locked (even the right one is
    refused), so guessing the 10⁶ codes of a publicly listed order number is hopeless."""
    number, code = (number or "").strip(), (code or "").strip()
    if not (number.isdigit() and len(number) == 21) or not (code.isdigit() and len(code) == 6):
        raise ValidationError("请输入21位工单编号和6位查询码", details={"number": "格式有误"})
    if _code_failures(number) >= CODE_MAX_FAILURES:
        raise RateLimited(_LIMIT_MESSAGES["code_fail"].format(n=CODE_MAX_FAILURES))
    order = WorkOrder.get_or_none(WorkOrder.number == number)
    if order is None or not secrets.compare_digest(order.query_code, code):
        if order is not None:
            with write_tx():
                PortalHit.create(kind="code_fail", address=number, at=clock.now())
            failures = _code_failures(number)
            audit.record(
                None,
                "portal.code_locked" if failures >= CODE_MAX_FAILURES else "portal.code_failed",
                number,
                {"failures": failures},
                actor_name="公众",
            )
        raise NotFound("工单编号或查询码不正确")
    return order


def _unit_names(order: WorkOrder) -> list[str]:
    rows = (
        Unit.select(Unit.name)
        .join(Assignment)
        .where(Assignment.order == order, Assignment.active == True)  # noqa: E712
        .order_by(Assignment.role.desc(), Assignment.id)
    )
    return [u.name for u in rows]


def _public_result(order: WorkOrder) -> dict[str, str] | None:
    if order.state == "answered":
        return {"answer": order.immediate_answer}
    if states.category(order.state) == states.CLOSED and order.result_basic:
        return {"basic": order.result_basic, "process": order.result_process, "basis": order.result_basis}
    return None


def _brief(order: WorkOrder) -> dict[str, Any]:
    """A split part or a merge master as the citizen sees it beside the order they asked about."""
    return {
        "number": order.number,
        "status": PUBLIC_STATUS.get(order.state, "办理中"),
        "closed": states.category(order.state) == states.CLOSED,
        "sub_business_name": catalog.sub_name(order.sub_business) if order.sub_business else "",
        "closed_at": order.closed_at,
        "result": _public_result(order),
        "rateable": workflow.rateable(order) and not order.public_result_satisfaction,
        "rated": bool(order.public_result_satisfaction),
    }


def public_view(order: WorkOrder) -> dict[str, Any]:
    """The public-safe picture of an order (portal and Open311 share it). A split order lists its
    parts (same query code: each is rated on its own); a merged order shows the master handled for
    it, its result, and may be rated once the master is closed."""
    closed = states.category(order.state) == states.CLOSED
    result = _public_result(order)
    master = None
    if order.state == "merged" and order.master_id is not None:
        master = _brief(order.master)
        result = master["result"]
    parts = []
    if order.state == "split":
        parts = [
            _brief(c) for c in WorkOrder.select().where(WorkOrder.parent == order).order_by(WorkOrder.id)
        ]
    events = (
        OrderEvent.select(OrderEvent.action, OrderEvent.at)
        .where(OrderEvent.order == order, OrderEvent.action.in_(list(PUBLIC_MILESTONES)))
        .order_by(OrderEvent.at, OrderEvent.id)
    )
    return {
        "number": order.number,
        "business_type_name": catalog.type_name(order.business_type),
        "domain_name": catalog.domain_name(order.domain) if order.domain else "",
        "sub_business_name": catalog.sub_name(order.sub_business) if order.sub_business else "",
        "region_name": catalog.region_name(order.region_code),
        "channel_name": catalog.channel_name(order.channel),
        "status": PUBLIC_STATUS.get(order.state, "办理中"),
        "closed": closed,
        "accepted_at": order.accepted_at,
        "due_at": order.due_at,
        "closed_at": order.closed_at,
        "units": _unit_names(order) if not order.confidential else [],
        "result": result,
        "timeline": [{"at": e.at, "label": PUBLIC_MILESTONES[e.action]} for e in events],
        "rateable": workflow.rateable(order) and not order.public_result_satisfaction,
        "master": master,
        "parts": parts,
        "rating": {
            "result": SATISFACTION.get(order.public_result_satisfaction, ""),
            "service": SATISFACTION.get(order.public_service_satisfaction, ""),
        },
    }


def query(address: str, number: str, code: str) -> dict[str, Any]:
    check_limit("query", address)
    return public_view(lookup(number, code))


class Rating(Input):
    result: Literal["1", "2", "3"]
    service: Literal["1", "2", "3"]
    comment: Annotated[str, Field(max_length=500)] = ""


def rate(address: str, number: str, code: str, body: Rating | dict[str, Any]) -> WorkOrder:
    """公众评价: the citizen rates the handling result and the service, once, after closure.
    Writes public_result/service_satisfaction and a history row (action `public_rate`)."""
    data = body if isinstance(body, Rating) else parse(Rating, body)  # an empty rating stops here
    check_limit("rate", address)
    if number.strip().isdigit() and len(number.strip()) == 21:
        check_limit("rate_order", number.strip())
    found = lookup(number, code)
    return workflow.record_public_rating(
        PORTAL,
        found.number,
        result=data.result,
        service=data.service,
        comment=data.comment,
        channel=WEB_CHANNEL,
    )
