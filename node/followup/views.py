"""Follow-up screens: 回访 (the sampled callbacks due, one form per plan's questions, attempts),
不满意 (the shift leader's dissatisfaction queue: 重办 to the unit or 不重办 with a reason), and
回访计划 (plans: shares, seeds, attempts, questions)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for

from node import clock
from node.auth import web
from node.catalog import service as catalog
from node.errors import NotFound, ValidationError
from node.followup import service, supervision
from node.followup.models import (
    DISSATISFACTION_STATES,
    QUESTIONS,
    RATING_SOURCES,
    CallbackPlan,
    Dissatisfaction,
    Rating,
    VisitAttempt,
    VisitTask,
)
from node.web.common import page_arg, pages, require_form_csrf
from node.workflow import service as workflow
from node.workflow.models import SATISFACTION, WorkOrder

bp = Blueprint("followup", __name__, url_prefix="/followup")
PAGE_SIZE = 30


def init_app(app: Flask) -> None:
    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    service.install()
    supervision.install()
    nav = app.config.setdefault("NAV_EXTRA", [])
    for item in (
        ("回访", "/followup/callbacks", "followup.callback", "order.callback"),
        ("不满意整改", "/followup/dissatisfied", "followup.dissatisfied", "order.reopen"),
        ("回访计划", "/followup/plans", "followup.plan", "catalog.manage"),
    ):
        if not any(i[1] == item[1] for i in nav):
            nav.append(item)


def _task_rows(tasks: list[VisitTask]) -> list[dict[str, Any]]:
    now = clock.now()
    return [
        {
            "task": t,
            "order": t.order,
            "overdue": t.due_at is not None and t.due_at < now,
        }
        for t in tasks
    ]


@bp.get("/callbacks")
def callbacks() -> Any:
    actor = web.current_actor()
    actor.require("order.callback")
    page = page_arg()
    now = clock.now()
    ready = request.args.get("all") != "1"
    q = (
        VisitTask.select(VisitTask, WorkOrder)
        .join(WorkOrder)
        .where(VisitTask.state == "pending", WorkOrder.state.in_(["closed", "answered"]))
    )
    if ready:
        q = q.where(VisitTask.next_try_at.is_null() | (VisitTask.next_try_at <= now))
    total = q.count()
    tasks = list(q.order_by(VisitTask.due_at, VisitTask.id).paginate(page, PAGE_SIZE))
    return render_template(
        "followup/callbacks.html",
        rows=_task_rows(tasks),
        pages=pages(page, total, PAGE_SIZE),
        args=request.args,
        ready=ready,
    )


def _order_task(number: str) -> tuple[WorkOrder, VisitTask | None]:
    actor = web.current_actor()
    order = workflow.get_order(actor, number)
    task = VisitTask.select().where(VisitTask.order == order).order_by(VisitTask.round.desc()).first()
    return order, task


@bp.get("/callbacks/<number>")
def callback_form(number: str) -> Any:
    actor = web.current_actor()
    actor.require("order.callback")
    order, task = _order_task(number)
    attempts = (
        list(VisitAttempt.select().where(VisitAttempt.task == task).order_by(VisitAttempt.at)) if task else []
    )
    ratings = list(Rating.select().where(Rating.order == order).order_by(Rating.at, Rating.id))
    questions = service.questions_of(task) if task else list(QUESTIONS.items())
    return render_template(
        "followup/callback_form.html",
        order=order,
        task=task,
        attempts=attempts,
        ratings=ratings,
        questions=questions,
        satisfaction=SATISFACTION,
        sources=RATING_SOURCES,
        can_call=order.state in ("closed", "answered"),
    )


@bp.post("/callbacks/<number>")
def callback_submit(number: str) -> Any:
    require_form_csrf()
    actor = web.current_actor()
    form = request.form
    reached = form.get("reached") == "1"
    body: dict[str, Any] = {
        "method": form.get("method") or "phone",
        "reached": reached,
        "note": form.get("note", ""),
    }
    if form.get("call_id"):
        body["call_id"] = form["call_id"]
    if reached:
        for field, name in (("result_satisfaction", "result"), ("service_satisfaction", "service")):
            if form.get(name):
                body[field] = form[name]
        if form.get("solved") in ("1", "0"):
            body["solved"] = form["solved"] == "1"
    workflow.perform(actor, number, "callback", body)
    flash("回访已记录" if reached else "未接通，已记录并安排重拨", "ok")
    return redirect(url_for("followup.callbacks"))


@bp.get("/dissatisfied")
def dissatisfied() -> Any:
    actor = web.current_actor()
    actor.require("order.reopen")
    page = page_arg()
    state = request.args.get("state", "open")
    if state not in DISSATISFACTION_STATES and state != "all":
        raise ValidationError(f"未知的状态：{state}", details={"state": "未知"})
    q = Dissatisfaction.select(Dissatisfaction, WorkOrder).join(WorkOrder)
    if state != "all":
        q = q.where(Dissatisfaction.state == state)
    total = q.count()
    cases = list(
        q.order_by(Dissatisfaction.opened_at.desc(), Dissatisfaction.id.desc()).paginate(page, PAGE_SIZE)
    )
    return render_template(
        "followup/dissatisfied.html",
        cases=cases,
        pages=pages(page, total, PAGE_SIZE),
        args=request.args,
        state=state,
        states=DISSATISFACTION_STATES,
        sources=RATING_SOURCES,
        units=catalog.units(),
        dims={"result": "处理结果", "service": "服务态度"},
    )


@bp.post("/dissatisfied/<int:case_id>/<decision>")
def decide(case_id: int, decision: str) -> Any:
    require_form_csrf()
    actor = web.current_actor()
    reason = request.form.get("reason", "")
    if decision == "reopen":
        case = service.reopen_case(actor, case_id, reason, request.form.get("unit", ""))
        flash(f"工单 {case.order.number} 已重办并派回承办单位", "ok")
    elif decision == "explain":
        case = service.explain_case(actor, case_id, reason)
        flash(f"已记录工单 {case.order.number} 不重办的理由", "ok")
    else:
        raise NotFound("未知的处理方式")
    return redirect(url_for("followup.dissatisfied"))


@bp.get("/plans")
def plans() -> Any:
    actor = web.current_actor()
    actor.require("catalog.manage")
    rows = list(CallbackPlan.select().order_by(CallbackPlan.active.desc(), CallbackPlan.id))
    return render_template(
        "followup/plans.html",
        plans=rows,
        types=catalog.business_types(),
        domains=catalog.domains(),
        units=catalog.units(),
        questions=QUESTIONS,
        default_share=service.DEFAULT_OTHER_SHARE,
    )


@bp.post("/plans")
def plan_save() -> Any:
    require_form_csrf()
    actor = web.current_actor()
    form = request.form
    if form.get("deactivate"):
        service.set_plan_active(actor, _int(form["deactivate"], "plan"), False)
        flash("回访计划已停用", "ok")
    else:
        service.create_plan(
            actor,
            name=form.get("name", ""),
            business_type=form.get("business_type", ""),
            domain=form.get("domain", ""),
            unit_code=form.get("unit", ""),
            share_percent=form.get("share_percent", ""),
            seed=form.get("seed", ""),
            max_attempts=form.get("max_attempts", "3"),
            retry_minutes=form.get("retry_minutes", "120"),
            questions=form.getlist("questions"),
        )
        flash("回访计划已保存", "ok")
    return redirect(url_for("followup.plans"))


def _int(raw: str, field: str) -> int:
    if not raw.isdigit() or len(raw) > 9:
        raise ValidationError("编号应为整数", details={field: "应为整数"})
    return int(raw)
