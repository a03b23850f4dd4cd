"""服务跟踪: automatic early warnings and urges as orders approach and pass their due time."""

from __future__ import annotations

import datetime as dt

from node.auth.service import SYSTEM
from node.db import write_tx
from node.workflow import deadlines, service, states
from node.workflow.models import Assignment, OrderEvent, Urge, WorkOrder

LEVEL_NOTES = {
    "warn50": "系统提醒：办理时限已过半",
    "warn80": "系统预警：工单即将到期，请抓紧办理",
    "overdue": "系统催办：工单已超期",
}
_RANK = {"warn50": 1, "warn80": 2, "overdue": 3}


def scan(now: dt.datetime) -> int:
    """Record one automatic urge per order and level reached; returns how many were written."""
    written = 0
    active = [*states.states_in(states.PENDING), "return_requested"]
    candidates = WorkOrder.select().where(WorkOrder.state.in_(active), WorkOrder.due_at.is_null(False))
    for order in candidates.iterator():
        level = deadlines.deadline_state(order, now)
        if level not in _RANK:
            continue
        with write_tx():
            done = {
                u.level
                for u in Urge.select(Urge.level).where(Urge.order == order, Urge.automatic == True)  # noqa: E712
            }
            if level in done:
                continue
            lead = (
                Assignment.select()
                .where(
                    Assignment.order == order,
                    Assignment.role == "lead",
                    Assignment.active == True,  # noqa: E712
                )
                .first()
            )
            Urge.create(
                order=order,
                unit=lead.unit if lead else None,
                at=now,
                note=LEVEL_NOTES[level],
                automatic=True,
                level=level,
            )
            service._record(order, SYSTEM, "urge", order.state, LEVEL_NOTES[level], {"level": level})
            written += 1
    return written


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
