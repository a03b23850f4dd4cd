"""Deadline state of an order against its due time: the colours of the queues."""

from __future__ import annotations

import datetime as dt

from node.workflow import states
from node.workflow.models import WorkOrder

DEADLINE_LABELS = {
    "none": "无时限",
    "done": "已完成",
    "normal": "正常",
    "warn50": "过半",
    "warn80": "即将到期",
    "overdue": "已超期",
}


def deadline_state(order: WorkOrder, now: dt.datetime, warn: tuple[int, int] = (50, 80)) -> str:
    if order.due_at is None:
        return "none"
    if states.category(order.state) == states.CLOSED or order.state in ("replied", "reviewed"):
        return "done"
    if now > order.due_at:
        return "overdue"
    total = (order.due_at - order.accepted_at).total_seconds()
    if total <= 0:
        return "normal"
    used = (now - order.accepted_at).total_seconds() / total * 100
    if used >= warn[1]:
        return "warn80"
    if used >= warn[0]:
        return "warn50"
    return "normal"
