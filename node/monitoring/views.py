"""The supervisor's home (监控概览): where the node's orders stand now, each figure a link to the
queue that lists them. Charts and call-centre live state come from the statistics and wallboard
screens, linked here when this build has them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Flask, current_app, render_template

from node import clock
from node.auth import web as auth_web
from node.workflow import service, states
from node.workflow.models import WorkOrder

bp = Blueprint("monitor", __name__)
STAGES = ["to_review", "to_approve", "to_dispatch", "returned", "replied", "to_close", "to_callback"]


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
    routed = {rule.rule for rule in current_app.url_map.iter_rules()}
    links = [
        (label, path)
        for label, path in (("统计分析", "/stats"), ("大屏监控", "/wallboard"))
        if path in routed
    ]
    return render_template(
        "monitor/overview.html",
        counts=counts,
        names=service.QUEUES,
        stages=STAGES,
        today=base.where(WorkOrder.accepted_at >= start).count(),
        by_category=by_category,
        links=links,
    )
