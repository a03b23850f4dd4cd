"""服务跟踪: automatic early warnings and urges as orders approach and pass their due time.

Three clocks are watched (each level once per dispatch, written as an automatic `Urge` to the unit
and delivered to its staff's inbox with read receipts, `ref = "urge:<id>"`):
- the order's own deadline, at the policy's `warn_percents` (SlaPolicy, e.g. "50,80") and overdue
  (`scan`), to the lead unit;
- the sign-for deadline of every unsigned assignment (`Assignment.sign_due_at`, from the policy's
  `sign_minutes`), at the same percents of the sign window and when it passes (`scan_sign`);
- each co-handling unit's own deadline (`Assignment.due_at`) until it has fed back (`scan_assist`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from node.auth.service import SYSTEM
from node.catalog import service as catalog
from node.db import write_tx
from node.settings import current as current_settings
from node.workflow import deadlines, service, states
from node.workflow.models import Assignment, OrderEvent, Urge, WorkOrder

LEVEL_NOTES = {
    "warn50": "系统提醒：办理时限已过半",
    "warn80": "系统预警：工单即将到期，请抓紧办理",
    "overdue": "系统催办：工单已超期",
}


warn_percents = deadlines.warn_percents


def _policy_percents(order: WorkOrder) -> tuple[int, ...]:
    policy = catalog.policy_for(order.business_type, order.domain or None, current_settings().region)
    return warn_percents(policy.warn_percents)


def level_reached(start: dt.datetime, due: dt.datetime, now: dt.datetime, percents: tuple[int, ...]) -> str:
    """'' (none yet), 'warnNN' for the highest percent of the window used, or 'overdue'."""
    if now > due:
        return "overdue"
    total = (due - start).total_seconds()
    if total <= 0:
        return ""
    used = (now - start).total_seconds() / total * 100
    reached = [p for p in percents if used >= p]
    return f"warn{reached[-1]}" if reached else ""


def note_for(level: str) -> str:
    if level in LEVEL_NOTES:
        return LEVEL_NOTES[level]
    if level.startswith("warn"):
        return f"系统提醒：办理时限已用{level[4:]}%"
    return level


def _lead(order: WorkOrder) -> Assignment | None:
    return (  # type: ignore[no-any-return]
        Assignment.select()
        .where(Assignment.order == order, Assignment.role == "lead", Assignment.active == True)  # noqa: E712
        .first()
    )


def _done_levels(order: WorkOrder, unit_id: int | None, since: dt.datetime | None) -> set[str]:
    q = Urge.select(Urge.level).where(Urge.order == order, Urge.automatic == True)  # noqa: E712
    if unit_id is not None:
        q = q.where(Urge.unit == unit_id)
    if since is not None:
        q = q.where(Urge.at >= since)
    return {u.level for u in q}


class _Told:
    """The automatic urges already written on live orders, read in one query per scan, so an idle
    scan costs no query and no write transaction per order (a level not yet told is checked again
    under the writer's lock before it is written)."""

    def __init__(self, live: list[str]):
        self.rows: dict[int, list[tuple[int | None, str, dt.datetime]]] = {}
        q = (
            Urge.select(Urge.order, Urge.unit, Urge.level, Urge.at)
            .join(WorkOrder)
            .where(Urge.automatic == True, WorkOrder.state.in_(live))  # noqa: E712
            .tuples()
        )
        for order_id, unit_id, level, at in q:
            self.rows.setdefault(order_id, []).append((unit_id, level, at))

    def has(
        self, order_id: int, level: str, unit_id: int | None = None, since: dt.datetime | None = None
    ) -> bool:
        return any(
            lv == level and (unit_id is None or u == unit_id) and (since is None or at >= since)
            for u, lv, at in self.rows.get(order_id, ())
        )


def deliver(
    urge: Urge,
    order: WorkOrder,
    kind: str,
    title: str,
    extra_roles: tuple[str, ...] = (),
    sender: str = "系统",
) -> None:
    from node.notices import service as notices

    if urge.unit_id is None and not extra_roles:
        return
    notices.notify(
        kind,
        title,
        units=[urge.unit_id] if urge.unit_id else [],
        roles=extra_roles,
        link=f"/orders/{order.number}",
        body=urge.note,
        ref=f"urge:{urge.id}",
        sender=sender,
    )


def scan(now: dt.datetime) -> int:
    """Record one automatic urge per order and level reached (the policy's percents, then overdue);
    returns how many were written."""
    written = 0
    active = [*states.states_in(states.PENDING), "return_requested"]
    candidates = WorkOrder.select().where(WorkOrder.state.in_(active), WorkOrder.due_at.is_null(False))
    told = _Told(active)
    leads = dict(
        Assignment.select(Assignment.order, Assignment.dispatched_at)
        .join(WorkOrder)
        .where(Assignment.role == "lead", Assignment.active == True, WorkOrder.state.in_(active))  # noqa: E712
        .tuples()
    )
    for order in candidates.iterator():
        if deadlines.deadline_state(order, now) in ("none", "done"):
            continue
        percents = _policy_percents(order)
        level = level_reached(order.accepted_at, order.due_at, now, percents)
        if not level:
            continue
        if told.has(order.id, level, since=leads.get(order.id)):
            continue  # already told: no query, no write transaction
        with write_tx():
            lead = _lead(order)  # again under the writer's lock: another worker may have written it
            if level in _done_levels(order, None, lead.dispatched_at if lead else None):
                continue
            urge = Urge.create(
                order=order,
                unit=lead.unit if lead else None,
                at=now,
                note=note_for(level),
                automatic=True,
                level=level,
            )
            service._record(order, SYSTEM, "urge", order.state, note_for(level), {"level": level})
            kind = "urge" if level == "overdue" else "warning"
            deliver(
                urge,
                order,
                kind,
                f"{note_for(level)}：工单 {order.number}",
                ("dispatcher",) if level == "overdue" else (),
            )
            written += 1
    return written


def _assignment_scan(now: dt.datetime, *, assist: bool) -> int:
    written = 0
    q = Assignment.select(Assignment, WorkOrder).join(WorkOrder).where(Assignment.active == True)  # noqa: E712
    if assist:
        q = q.where(
            Assignment.role == "assist", Assignment.replied_at.is_null(), Assignment.due_at.is_null(False)
        )
    else:
        q = q.where(Assignment.signed_at.is_null())
    live = ["dispatched", "handling", "return_requested"]
    q = q.where(WorkOrder.state.in_(live))
    prefix = "assist" if assist else "sign"
    told = _Told(live)
    for a in q.iterator():
        order = a.order
        due = a.due_at if assist else a.sign_due_at
        level = level_reached(a.dispatched_at, due, now, _policy_percents(order))
        if not level:
            continue
        code = f"{prefix}{'over' if level == 'overdue' else level[4:]}"
        if told.has(order.id, code, unit_id=a.unit_id, since=a.dispatched_at):
            continue  # already told: no query, no write transaction
        with write_tx():
            if code in _done_levels(order, a.unit_id, a.dispatched_at):
                continue
            if assist:
                note = (
                    f"系统催办：协办反馈已超期（{a.unit.name}）"
                    if level == "overdue"
                    else f"系统提醒：协办反馈时限已用{level[4:]}%（{a.unit.name}）"
                )
            else:
                note = (
                    f"系统催办：超过签收时限仍未签收（{a.unit.name}）"
                    if level == "overdue"
                    else f"系统提醒：签收时限已用{level[4:]}%（{a.unit.name}）"
                )
            urge = Urge.create(order=order, unit=a.unit, at=now, note=note, automatic=True, level=code)
            service._record(order, SYSTEM, "urge", order.state, note, {"level": code, "unit": a.unit.code})
            roles = ("dispatcher",) if level == "overdue" else ()
            deliver(urge, order, "warning" if assist else "sign_due", f"{note}：工单 {order.number}", roles)
            written += 1
    return written


def scan_sign(now: dt.datetime) -> int:
    """Sign-for warnings: every unsigned active assignment at the policy's percents of its sign
    window and when `sign_due_at` passes (the dispatchers are told of the overdue ones too)."""
    return _assignment_scan(now, assist=False)


def scan_assist(now: dt.datetime) -> int:
    """Co-handler warnings: each assist unit against its own deadline until it has fed back."""
    return _assignment_scan(now, assist=True)


def scan_all(now: dt.datetime) -> dict[str, Any]:
    return {"orders": scan(now), "sign": scan_sign(now), "assist": scan_assist(now)}


OVERDUE_LEVELS = ("overdue", "signover", "assistover")


def overdue_history(since: dt.datetime, until: dt.datetime) -> list[OrderEvent]:
    """Automatic overdue urges in a period: the history of overdue handling."""
    return list(
        OrderEvent.select()
        .where(
            OrderEvent.action == "urge",
            OrderEvent.at >= since,
            OrderEvent.at < until,
            OrderEvent.reason == LEVEL_NOTES["overdue"],
        )
        .order_by(OrderEvent.at)
    )
