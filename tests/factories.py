"""Factories that fill required fields with sequenced values (zammad/fixmystreet style)."""

from __future__ import annotations

import itertools
import os
from typing import Any

from werkzeug.security import generate_password_hash

from node.auth import service as auth
from node.auth.models import User
from node.catalog import service as catalog
from node.catalog.models import Unit
from node.demo import walk
from node.workflow import service
from node.workflow.models import WorkOrder

PASSWORD = "password123"
_HASH = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
_seq = itertools.count(1)


def make_unit(
    code: str | None = None, name: str | None = None, region_code: str = "320100", **kw: Any
) -> Unit:
    n = next(_seq)
    return catalog.create_unit(
        code=code or f"U{n:04d}", name=name or f"测试承办单位{n}", region_code=region_code, **kw
    )


def make_user(role: str | list[str] = "agent", unit: Unit | None = None, username: str | None = None) -> User:
    roles = [role] if isinstance(role, str) else role
    n = next(_seq)
    if "unit_staff" in roles and unit is None:
        unit = make_unit()
    return auth.create_user(
        username=username or f"{roles[0]}{n}_{os.getpid()}",
        display_name=f"{roles[0]}{n}",
        password=PASSWORD,
        roles=roles,
        unit_id=unit.id if unit else None,
        password_hash=_HASH,
    )


def actor(role: str | list[str] = "agent", unit: Unit | None = None) -> auth.Actor:
    return auth.actor_for(make_user(role, unit))


ORDER_DEFAULTS: dict[str, Any] = {
    "channel": "01",
    "business_type": "1",
    "domain": "04",
    "sub_business": "0403",
    "region_code": "320102",
    "content": "出租车司机拒载，态度恶劣，要求处理。",
    "caller_phone": "13812345678",
    "respondent_plate": "苏A12345",
}
PATH_BODIES: dict[str, dict[str, Any]] = {
    "reply": {"basic": "经查属实", "process": "已约谈驾驶员", "basis": "《出租汽车经营服务管理规定》"},
}


def make_order(state: str = "accepted", unit: Unit | None = None, **overrides: Any) -> WorkOrder:
    """An order walked through the real engine to `state` (along node.demo.MAIN_PATH)."""
    agent = actor("agent")
    body = {**ORDER_DEFAULTS, "submit": False, **overrides}
    order = service.create_order(agent, body)
    if state == "accepted":
        return order
    unit = unit or make_unit()
    actors = {"agent": agent, "unit": actor("unit_staff", unit)}
    return walk(order, state, lambda role: actors.get(role) or actor(role), unit.code, PATH_BODIES)


# ---- statistics fixtures: rows as the engine reads them, with chosen times ---------------------

_stat_seq = itertools.count(1)


def stat_order(accepted_at: Any, state: str = "accepted", **fields: Any) -> WorkOrder:
    """A work order row inserted as history left it (times chosen by the test), for the
    indicator engine's known-answer tests; `events` = [(action, at), ...] adds history rows."""
    from node.workflow.models import OrderEvent

    n = next(_stat_seq)
    events = fields.pop("events", [])
    values: dict[str, Any] = {
        "number": f"T{accepted_at:%Y%m%d}{n:06d}{os.getpid() % 1000:03d}",
        "origin_node": "320100",
        "channel": "01",
        "business_type": "1",
        "domain": "04",
        "region_code": "320102",
        "title": "测试工单",
        "content": "测试内容",
        "query_code": "123456",
        "state": state,
        "accepted_at": accepted_at,
        "created_at": accepted_at,
        "updated_at": accepted_at,
        **fields,
    }
    if "search_text" not in values:  # what the engine's service stores: full-text search, topics
        from node.text.segment import search_tokens

        values["search_text"] = search_tokens(f"{values['title']} {values['content']}")
    order = WorkOrder.create(**values)
    for action, at in events:
        OrderEvent.create(order=order, at=at, actor_name="测试", node=values["origin_node"], action=action)
    return order


def stat_call_leg(entered_at: Any, *, outcome: str = "answered", origin: str = "ivr", **fields: Any) -> Any:
    """A call with one call leg (the engine's telephony source), times chosen by the test."""
    from node.telephony.models import Call, CallLeg

    n = next(_stat_seq)
    call = Call.create(
        uuid=f"stat{os.getpid()}x{n:08d}",
        engine="test",
        started_at=entered_at,
        business=fields.get("queue", ""),
    )
    return CallLeg.create(
        call=call,
        seq=1,
        day=entered_at.date(),
        origin=origin,
        entered_at=entered_at,
        outcome=outcome,
        **fields,
    )


def stat_phone_rating(at: Any, score: int) -> Any:
    from node.telephony.models import Call, PhoneRating

    n = next(_stat_seq)
    call = Call.create(uuid=f"rate{os.getpid()}x{n:08d}", engine="test", started_at=at)
    return PhoneRating.create(call=call, score=score, at=at)
