"""The supervisor's home (监控概览): where the node's orders stand now, each figure a link to the
queue that lists them, and each handling unit's load (in hand, to sign, sign-for late, due within
24 h, overdue) so the units to urge stand out. Charts and call-centre live state come from the
statistics and wallboard screens, linked here."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Flask, current_app, render_template, url_for

from node import clock
from node.auth import web as auth_web
from node.catalog.models import Unit
from node.workflow import service, states
from node.workflow.models import Assignment, WorkOrder

bp = Blueprint("monitor", __name__)
STAGES = [
    "to_review",
    "to_approve",
    "to_dispatch",
    "returned",
    "replied",
    "to_close",
    "to_callback",
    "to_archive",
]
DUE_SOON = dt.timedelta(hours=24)


def unit_load(now: dt.datetime) -> list[dict[str, Any]]:
    """Per unit, its parts not yet answered (dispatched or signed, active): in hand, waiting to be
    signed for, signed for late or still unsigned past the sign-for deadline, due within 24 h,
    overdue (the part's own deadline, else the order's). Units with overdue work first."""
    rows = (
        Assignment.select(
            Assignment.unit, Assignment.signed_at, Assignment.sign_due_at, Assignment.due_at, WorkOrder.due_at
        )
        .join(WorkOrder)
        .where(
            Assignment.active == True,  # noqa: E712
            Assignment.status.in_(["dispatched", "signed"]),
            WorkOrder.state.in_(states.states_in(states.PENDING)),
        )
        .tuples()
    )
    load: dict[int, dict[str, int]] = {}
    for unit_id, signed_at, sign_due, part_due, order_due in rows:
        u = load.setdefault(
            unit_id, {"in_hand": 0, "to_sign": 0, "sign_late": 0, "due_soon": 0, "overdue": 0}
        )
        u["in_hand"] += 1
        if signed_at is None:
            u["to_sign"] += 1
        if (signed_at or now) > sign_due:
            u["sign_late"] += 1
        due = part_due or order_due
        if due is not None and due < now:
            u["overdue"] += 1
        elif due is not None and due < now + DUE_SOON:
            u["due_soon"] += 1
    names = {u.id: u.name for u in Unit.select(Unit.id, Unit.name).where(Unit.id.in_(list(load) or [0]))}
    out = [{"unit_id": k, "unit": names.get(k, f"#{k}"), **v} for k, v in load.items()]
    return sorted(
        out, key=lambda r: (-r["overdue"], -r["sign_late"], -r["due_soon"], -r["in_hand"], r["unit"])
    )


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.get("/supervise")
def overview() -> Any:
    actor = auth_web.current_actor()
    actor.require("monitor.view")
    counts = service.count_queues(actor, [*STAGES, "due_soon", "overdue"])
    start = dt.datetime.combine(clock.today(), dt.time())
    base = WorkOrder.select()
    by_category = {
        cat: base.where(WorkOrder.state.in_(states.states_in(cat))).count()
        for cat in (states.OPEN, states.PENDING)
    }
    endpoints = set(current_app.view_functions)
    links = [
        (label, url_for(endpoint))
        for label, endpoint, permission in (
            ("运行监控", "telephony.wallboard_page", "monitor.view"),
            ("统计分析", "stats.dashboard", "stats.view"),
            ("超期历史", "followup.overdue", "order.urge"),
        )
        if endpoint in endpoints and actor.can(permission)
    ]
    return render_template(
        "monitor/overview.html",
        counts=counts,
        names=service.QUEUES,
        stages=STAGES,
        today=base.where(WorkOrder.accepted_at >= start).count(),
        by_category=by_category,
        links=links,
        units=unit_load(clock.now()),
    )
