"""督办 and staff notifications of the work-order flow.

- Every urge (催办, manual or automatic) reaches the unit's inbox with read receipts (`urge:<id>`).
- 督办 (`supervise`) has escalation levels: 1 the unit's staff, 2 also the unit's leaders
  (role unit_leader), 3 also the centre's leaders (shift_leader, supervisor). A supervision that
  nobody has read within ESCALATE_WORK_MINUTES working minutes rises one level (`escalate`, worker).
- Returns, extension decisions and new dispatches are told to the people who must act next.
- The lead unit's final reply waits for the co-handlers' feedback unless the centre waives it
  with a reason (`waive_assist`; checked in the engine's reply handler through `assist_pending`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import peewee as pw

from node import clock
from node.auth.models import User
from node.auth.service import SYSTEM, Actor
from node.catalog import service as catalog
from node.db import locked, write_tx
from node.errors import NotFound, ValidationError
from node.notices import service as notices
from node.notices.models import Notice
from node.tracking.service import deliver
from node.workflow import service as workflow
from node.workflow import states
from node.workflow.models import Assignment, OrderEvent, Urge, WorkOrder

LEVELS: dict[int, str] = {1: "督办承办单位", 2: "督办单位负责人", 3: "督办中心领导"}
LEVEL_ROLES: dict[int, tuple[str, ...]] = {1: (), 2: ("unit_leader",), 3: ("shift_leader", "supervisor")}
ESCALATE_WORK_MINUTES = 120


def _unit_leaders(unit_id: int | None) -> list[int]:
    if unit_id is None:
        return []
    return [
        u.id
        for u in User.select(User.id, User.roles).where(User.unit == unit_id, User.active == True)  # noqa: E712
        if "unit_leader" in u.role_list
    ]


def _lead(order: WorkOrder) -> Assignment | None:
    return (  # type: ignore[no-any-return]
        Assignment.select()
        .where(Assignment.order == order, Assignment.role == "lead", Assignment.active == True)  # noqa: E712
        .first()
    )


def _send_supervision(urge: Urge, order: WorkOrder, level: int, sender: str) -> None:
    users = _unit_leaders(urge.unit_id) if level >= 2 else []
    roles = tuple(r for lv in range(3, 3 + 1) if level >= lv for r in LEVEL_ROLES[lv])
    notices.notify(
        "supervise",
        f"{LEVELS[level]}：工单 {order.number}",
        units=[urge.unit_id] if urge.unit_id else [],
        users=users,
        roles=roles,
        link=f"/orders/{order.number}",
        body=urge.note,
        ref=f"urge:{urge.id}",
        sender=sender,
    )


def supervise(actor: Actor, number: str, level: int, note: str) -> Urge:
    """督办 at `level` (1 unit, 2 unit leader, 3 centre leader) on a live order."""
    actor.require("order.urge")
    if level not in LEVELS:
        raise ValidationError("督办级别应为 1、2、3", details={"level": "取值 1～3"})
    note = (note or "").strip()
    if not note or len(note) > 1000 or "\x00" in note:
        raise ValidationError("请填写督办要求（1～1000字）", details={"note": "必填"})
    with write_tx():
        order = locked(WorkOrder.select().where(WorkOrder.number == number)).first()
        if order is None:
            raise NotFound(f"工单不存在：{number}")
        workflow.get_order(actor, number)  # visible to the actor
        if states.category(order.state) == states.CLOSED:
            raise ValidationError("工单已结束，不能督办")
        lead = _lead(order)
        urge = Urge.create(
            order=order,
            unit=lead.unit if lead else None,
            by=actor.user_id,
            at=clock.now(),
            note=note,
            level=f"sup{level}",
        )
        workflow._record(order, actor, "supervise", order.state, note, {"level": level, "urge": urge.id})
        _send_supervision(urge, order, level, actor.display_name)
    return urge  # type: ignore[no-any-return]


def escalate(now: dt.datetime) -> int:
    """Supervisions nobody has read within ESCALATE_WORK_MINUTES working minutes rise one level."""
    cal = catalog.calendar()
    written = 0
    live = [*states.states_in(states.PENDING), *states.states_in(states.OPEN)]
    candidates = (
        Urge.select(Urge, WorkOrder)
        .join(WorkOrder)
        .where(Urge.level.in_(["sup1", "sup2"]), WorkOrder.state.in_(live))
    )
    for urge in candidates:
        level = int(urge.level[3:])
        if cal.add_work_minutes(urge.at, ESCALATE_WORK_MINUTES) > now:
            continue
        if notices.receipt_summary(f"urge:{urge.id}")["read"]:
            continue
        with write_tx():
            order = urge.order
            if states.category(order.state) == states.CLOSED:
                continue
            if (
                Urge.select()
                .where(Urge.order == order, Urge.level == f"sup{level + 1}", Urge.at >= urge.at)
                .exists()
            ):
                continue
            up = Urge.create(
                order=order,
                unit=urge.unit_id,
                at=now,
                note=f"督办未阅，自动升级：{urge.note}",
                automatic=True,
                level=f"sup{level + 1}",
            )
            workflow._record(
                order, SYSTEM, "supervise", order.state, up.note, {"level": level + 1, "urge": up.id}
            )
            _send_supervision(up, order, level + 1, "系统")
            written += 1
    return written


# ---- the unit desk: open urges and 督办 with the reader's own read receipt -------------------------

OVERDUE_LABELS = {
    "overdue": "系统催办（办理超期）",
    "signover": "系统催办（签收超期）",
    "assistover": "系统催办（协办超期）",
}
DESK_LEVELS = ("sup1", "sup2", "sup3", *OVERDUE_LABELS)  # plus every manual 催办; not the 预警 levels


def urge_label(urge: Urge) -> str:
    if urge.level.startswith("sup") and urge.level[3:].isdigit():
        level = int(urge.level[3:])
        return f"督办·{'一二三'[level - 1]}级（{LEVELS.get(level, '')}）"
    if urge.level in OVERDUE_LABELS:
        return OVERDUE_LABELS[urge.level]
    return "催办"


def desk_condition(unit_id: int) -> Any:
    """Urges and 督办 addressed to the unit (manual 催办, every 督办 level, automatic overdue urges)."""
    return (Urge.unit == unit_id) & ((Urge.automatic == False) | Urge.level.in_(DESK_LEVELS))  # noqa: E712


def _live_states() -> list[str]:
    return [*states.states_in(states.PENDING), *states.states_in(states.OPEN)]


def urged_orders(unit_id: int, unread_by: int | None = None) -> Any:
    """A subquery of the live orders with urges/督办 to the unit (only those `unread_by` has not read)."""
    q = (
        Urge.select(Urge.order)
        .join(WorkOrder)
        .where(desk_condition(unit_id), WorkOrder.state.in_(_live_states()))
    )
    if unread_by is not None:  # the reader's unread notices "urge:<id>", read by their own index
        unread = Notice.select(pw.fn.SUBSTR(Notice.ref, 6).cast("INTEGER")).where(
            Notice.user == unread_by, Notice.read_at.is_null(), Notice.ref.startswith("urge:")
        )
        q = q.where(Urge.id.in_(unread))
    return q


def latest_urge_order(unit_id: int) -> Any:
    """An ORDER BY term: orders with the most recent urge/督办 to the unit first, the others after."""
    latest = Urge.select(pw.fn.MAX(Urge.at)).where(Urge.order == WorkOrder.id, desk_condition(unit_id))
    return pw.Ordering(latest, "DESC", nulls="LAST")


@dataclass(frozen=True)
class DeskUrge:
    id: int
    label: str
    level: str
    sender: str
    at: dt.datetime
    note: str
    told: bool  # the reader got a notice of it (so has a read receipt to give)
    read_at: dt.datetime | None


def desk_urges(unit_id: int, orders: list[WorkOrder], reader: int | None) -> dict[int, list[DeskUrge]]:
    """The open urges/督办 to the unit on each live order, newest first, with the reader's receipt."""
    live = [o.id for o in orders if states.category(o.state) != states.CLOSED]
    if not live:
        return {}
    rows = list(
        Urge.select(Urge, User.display_name)
        .join(User, pw.JOIN.LEFT_OUTER, on=(Urge.by == User.id))
        .where(desk_condition(unit_id), Urge.order.in_(live))
        .order_by(Urge.at.desc(), Urge.id.desc())
        .objects()
    )
    mine: dict[str, dt.datetime | None] = {}
    if reader is not None and rows:
        for ref, read_at in (
            Notice.select(Notice.ref, Notice.read_at)
            .where(Notice.user == reader, Notice.ref.in_([f"urge:{u.id}" for u in rows]))
            .tuples()
        ):
            if ref not in mine or read_at is None:
                mine[ref] = read_at
    out: dict[int, list[DeskUrge]] = {}
    for u in rows:
        ref = f"urge:{u.id}"
        out.setdefault(u.order_id, []).append(
            DeskUrge(
                id=u.id,
                label=urge_label(u),
                level=u.level,
                sender=getattr(u, "display_name", None) or "系统",
                at=u.at,
                note=u.note,
                told=ref in mine,
                read_at=mine.get(ref),
            )
        )
    return out


def mark_urge_read(actor: Actor, urge_id: int) -> int:
    """The reader's read receipt for an urge/督办 from the desk (their notices of it)."""
    return notices.mark_ref_read(actor, f"urge:{urge_id}")


def urges_with_receipts(order: WorkOrder) -> list[dict[str, Any]]:
    """Urges and supervisions of an order with who was told and who read them."""
    out = []
    for u in Urge.select().where(Urge.order == order).order_by(Urge.at.desc(), Urge.id.desc()):
        s = notices.receipt_summary(f"urge:{u.id}")
        out.append({"urge": u, **s})
    return out


# ---- co-handlers before the lead's final reply -----------------------------------------------------


assist_pending = workflow.assist_pending


def waive_assist(actor: Actor, number: str, reason: str) -> None:
    """The centre lets the lead reply without the co-handlers' feedback (reason recorded)."""
    actor.require("order.dispatch")
    reason = (reason or "").strip()
    if not reason or len(reason) > 1000 or "\x00" in reason:
        raise ValidationError("请填写理由（1～1000字）", details={"reason": "必填"})
    with write_tx():
        order = locked(workflow._visible_query(actor).where(WorkOrder.number == number)).first()
        if order is None:
            raise NotFound(f"工单不存在或无权查看：{number}")
        pending = assist_pending(order)
        if not pending:
            raise ValidationError("没有待反馈的协办单位")
        workflow._record(
            order, actor, "assist_waived", order.state, reason, {"units": [a.unit.code for a in pending]}
        )
        lead = _lead(order)
        if lead is not None:
            notices.notify(
                "info",
                f"中心已同意不等协办反馈直接回复：工单 {order.number}",
                units=[lead.unit_id],
                link=f"/orders/{order.number}",
                body=reason,
                sender=actor.display_name,
            )


# ---- the engine hook: tell people what they must act on --------------------------------------------


def on_change(order: WorkOrder, event: OrderEvent) -> None:
    action, data = event.action, event.data or {}
    link = f"/orders/{order.number}"
    if action == "urge" and event.actor_id is not None:  # manual 催办 (automatic ones deliver themselves)
        urge = Urge.select().where(Urge.order == order).order_by(Urge.id.desc()).first()
        if urge is not None:
            deliver(urge, order, "urge", f"催办：工单 {order.number}", sender=event.actor_name)
    elif action == "dispatch":
        live = Assignment.select().where(Assignment.order == order, Assignment.active == True)  # noqa: E712
        units = [a.unit_id for a in live]
        notices.notify(
            "dispatch",
            f"新派工单：{order.number}",
            units=units,
            link=link,
            body=order.title,
            sender=event.actor_name,
        )
    elif action == "return":
        notices.notify(
            "return",
            f"承办单位申请退回：工单 {order.number}",
            roles=["dispatcher"],
            link=link,
            body=event.reason,
            sender=event.actor_name,
        )
    elif action in ("accept_return", "reject_return"):
        req = (
            workflow.ReturnRequest.select()
            .where(workflow.ReturnRequest.order == order)
            .order_by(workflow.ReturnRequest.id.desc())
            .first()
        )
        if req is not None:
            verdict = "同意" if action == "accept_return" else "驳回"
            notices.notify(
                "return",
                f"退回申请已{verdict}：工单 {order.number}",
                units=[req.unit_id],
                link=link,
                body=event.reason,
                sender=event.actor_name,
            )
    elif action == "request_extension":
        notices.notify(
            "extension",
            f"延期申请待审批：工单 {order.number}",
            roles=["dispatcher"],
            link=link,
            body=event.reason,
            sender=event.actor_name,
        )
    elif action == "decide_extension":
        lead = _lead(order)
        if lead is not None:
            verdict = "已批准" if data.get("approved") else "未批准"
            notices.notify(
                "extension",
                f"延期申请{verdict}：工单 {order.number}",
                units=[lead.unit_id],
                link=link,
                body=event.reason,
                sender=event.actor_name,
            )
    elif action == "reply":
        notices.notify(
            "reply",
            f"承办单位已回复，待复核：工单 {order.number}",
            roles=["reviewer"],
            link=link,
            sender=event.actor_name,
        )


def install() -> None:
    if on_change not in workflow.ON_CHANGE:
        workflow.ON_CHANGE.append(on_change)
