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


DEFAULT_PERCENTS = (50, 80)


def warn_percents(raw: str | None) -> tuple[int, ...]:
    """SlaPolicy.warn_percents ("50,80") as sorted percents in 1..99; the default when unusable."""
    got: set[int] = set()
    for part in (raw or "").replace("，", ",").split(","):
        part = part.strip()
        if part.isdigit() and 0 < int(part) < 100:
            got.add(int(part))
    return tuple(sorted(got)) or DEFAULT_PERCENTS


def policy_warn(order: WorkOrder) -> tuple[int, int]:
    """The queue colours' two thresholds from the order's policy `warn_percents` (its first and
    last percent: 过半 and 即将到期), e.g. "50,80" → (50, 80), "30,60,90" → (30, 90)."""
    from node.catalog import service as catalog
    from node.settings import current as current_settings

    policy = catalog.policy_for(order.business_type, order.domain or None, current_settings().region)
    p = warn_percents(policy.warn_percents)
    return (p[0], p[-1])


def deadline_state(order: WorkOrder, now: dt.datetime, warn: tuple[int, int] | None = None) -> str:
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
    if warn is None:
        warn = policy_warn(order)
    if used >= warn[1]:
        return "warn80"
    if used >= warn[0]:
        return "warn50"
    return "normal"
