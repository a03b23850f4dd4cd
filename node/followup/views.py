"""Follow-up screens: 回访 (the sampled callbacks due, one form per plan's questions, attempts),
不满意 (the shift leader's dissatisfaction queue: 重办 to the unit or 不重办 with a reason), and
回访计划 (plans: shares, seeds, attempts, questions)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for

from node import clock
from node.auth import web
from node.auth.models import User
from node.catalog import service as catalog
from node.errors import Conflict, NotFound, PermissionDenied, ValidationError
from node.followup import service, supervision
from node.followup.models import (
    ATTEMPT_OUTCOMES,
    DISSATISFACTION_STATES,
    QUESTIONS,
    RATING_SOURCES,
    CallbackPlan,
    Dissatisfaction,
    Rating,
    VisitAttempt,
    VisitTask,
)
from node.web.common import page_arg, pages, require_form_csrf, safe_next
from node.workflow import service as workflow
from node.workflow.models import SATISFACTION, Assignment, Urge, WorkOrder

bp = Blueprint("followup", __name__, url_prefix="/followup")
PAGE_SIZE = 30


def init_app(app: Flask) -> None:
    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    service.install()
    supervision.install()
    from node.outbox import service as outbox

    outbox.install()
    app.add_template_global(_unit_urges, "unit_urges")
    app.jinja_env.globals["callback_dial"] = _callback_dial
    nav = app.config.setdefault("NAV_EXTRA", [])
    for item in (
        ("回访", "/followup/callbacks", "followup.callback", "order.callback"),
        ("不满意整改", "/followup/dissatisfied", "followup.dissatisfied", "order.reopen"),
        ("回访计划", "/followup/plans", "followup.plan", "catalog.manage"),
        ("超期历史", "/followup/overdue", "followup.overdue", "order.urge"),
        ("告知市民", "/followup/outbox", "followup.outbox", "order.urge"),
    ):
        if not any(i[1] == item[1] for i in nav):
            nav.append(item)


def _callback_dial(order: WorkOrder) -> dict[str, Any] | None:
    """The 外呼回访 button (followup/dial_button.html) for the signed-in user on this order."""
    from node.telephony import service as telephony

    return telephony.click_dial_button(web.current_actor(), order)


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
    attempts = list(  # every round's attempts
        VisitAttempt.select(VisitAttempt, VisitTask)
        .join(VisitTask)
        .where(VisitTask.order == order)
        .order_by(VisitAttempt.at, VisitAttempt.id)
    )
    ratings = list(Rating.select().where(Rating.order == order).order_by(Rating.at, Rating.id))
    questions = service.questions_of(task) if task else list(QUESTIONS.items())
    button = _callback_dial(order)
    call_id = (button or {}).get("active_call") or request.args.get("call", "")
    dial = _dial_state(actor, call_id)
    return render_template(
        "followup/callback_form.html",
        order=order,
        task=task,
        attempts=attempts,
        ratings=ratings,
        questions=questions,
        satisfaction=SATISFACTION,
        sources=RATING_SOURCES,
        outcomes=ATTEMPT_OUTCOMES,
        can_call=order.state in ("closed", "answered"),
        dial_button=button,
        dial=dial,
    )


def _dial_state(actor: Any, call_id: str) -> dict[str, Any] | None:
    from node.telephony import service as telephony

    if not call_id or len(call_id) > 32:
        return None
    try:
        return telephony.click_dial_state(actor, call_id)
    except (NotFound, PermissionDenied):
        return None


@bp.post("/callbacks/<number>/dial")
def callback_dial(number: str) -> Any:
    """外呼回访: the agent's softphone rings, then the engine dials the citizen (node/telephony).
    A refusal (no seat, softphone unregistered, no free line …) comes back as a Chinese message."""
    from node.telephony import control

    require_form_csrf()
    actor = web.current_actor()
    try:
        reply = control.click_dial(actor, number)
    except Conflict as exc:
        flash(exc.message, "error")
        return redirect(url_for("followup.callback_form", number=number))
    flash("正在呼叫您的软电话，接听后将自动呼叫市民", "ok")
    return redirect(url_for("followup.callback_form", number=number, call=reply["call_id"]))


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


# ---- 跟踪督办: urges and supervisions with read receipts, the citizen's messages, overdue history


def _date(name: str, default: dt.date) -> dt.date:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return default
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(
            f"日期格式有误：{raw[:20]}（应为 2026-01-31）", details={name: "日期格式有误"}
        ) from None


@bp.get("/orders/<number>")
def order_tracking(number: str) -> Any:
    from node.outbox import service as outbox
    from node.outbox.models import CHANNELS, EVENTS, MESSAGE_STATES

    actor = web.current_actor()
    order = workflow.get_order(actor, number)
    return render_template(
        "followup/order.html",
        order=order,
        urges=supervision.urges_with_receipts(order),
        levels=supervision.LEVELS,
        messages=outbox.sms_log(order),
        message_text=outbox.message_text,
        channels=CHANNELS,
        events=EVENTS,
        message_states=MESSAGE_STATES,
        pending_assist=workflow.assist_pending(order),
        can_urge=actor.can("order.urge"),
        can_waive=actor.can("order.dispatch"),
    )


@bp.post("/orders/<number>/supervise")
def supervise(number: str) -> Any:
    require_form_csrf()
    raw = request.form.get("level", "1")
    level = int(raw) if raw.isdigit() and len(raw) < 3 else 0
    supervision.supervise(web.current_actor(), number, level, request.form.get("note", ""))
    flash("督办已发出", "ok")
    return redirect(url_for("followup.order_tracking", number=number))


def _unit_urges(order: WorkOrder) -> list[supervision.DeskUrge]:
    """For the order page: the open urges/督办 to the viewer's unit (none for centre staff)."""
    actor = web.current_actor()
    if actor.unit_id is None:
        return []
    return supervision.desk_urges(actor.unit_id, [order], actor.user_id).get(order.id, [])


@bp.post("/urges/<int:urge_id>/read")
def urge_read(urge_id: int) -> Any:
    """标为已读 from the unit desk or the order page: the reader's read receipt of an urge/督办."""
    require_form_csrf()
    supervision.mark_urge_read(web.current_actor(), urge_id)
    flash("已标为已读", "ok")
    return redirect(safe_next(request.form.get("next"), url_for("web.unit_desk")))


@bp.post("/orders/<number>/waive")
def waive(number: str) -> Any:
    require_form_csrf()
    supervision.waive_assist(web.current_actor(), number, request.form.get("reason", ""))
    flash("已同意主办单位不等协办反馈直接回复", "ok")
    return redirect(url_for("followup.order_tracking", number=number))


@bp.get("/overdue")
def overdue() -> Any:
    """超期历史: overdue marks (办理, 签收, 协办) per unit and handler in a period."""
    from node.tracking.service import OVERDUE_LEVELS

    actor = web.current_actor()
    actor.require("order.urge")
    today = clock.now().date()
    since = _date("from", today - dt.timedelta(days=30))
    until = _date("to", today)
    if until < since:
        raise ValidationError("结束日期不能早于开始日期", details={"to": "早于开始日期"})
    start, end = (
        dt.datetime.combine(since, dt.time()),
        dt.datetime.combine(until + dt.timedelta(days=1), dt.time()),
    )
    rows = list(
        Urge.select(Urge, WorkOrder)
        .join(WorkOrder)
        .where(Urge.level.in_(OVERDUE_LEVELS), Urge.at >= start, Urge.at < end)
        .order_by(Urge.at.desc())
        .limit(2000)
    )
    handlers: dict[tuple[int | None, int], str] = {}
    for a in (
        Assignment.select(Assignment, User)
        .join(User, on=(Assignment.signed_by == User.id))
        .where(Assignment.order.in_([r.order_id for r in rows] or [0]))
    ):
        handlers[(a.order_id, a.unit_id)] = a.signed_by.display_name
    per_unit: dict[str, dict[str, int]] = {}
    items = []
    for r in rows:
        unit = r.unit.name if r.unit else "（未分派）"
        handler = handlers.get((r.order_id, r.unit_id), "（未签收）")
        kind = {"overdue": "办理超期", "signover": "签收超期", "assistover": "协办超期"}[r.level]
        per_unit.setdefault(unit, {"办理超期": 0, "签收超期": 0, "协办超期": 0})[kind] += 1
        items.append({"urge": r, "unit": unit, "handler": handler, "kind": kind})
    return render_template(
        "followup/overdue.html",
        items=items,
        per_unit=sorted(per_unit.items(), key=lambda kv: -sum(kv[1].values())),
        since=since,
        until=until,
    )


@bp.get("/outbox")
def outbox() -> Any:
    """告知市民: the messages to citizens (SMS, WeChat) by state and channel; failed ones resent."""
    from node.outbox import service as outbox_service
    from node.outbox.models import CHANNELS, EVENTS, MESSAGE_STATES

    actor = web.current_actor()
    actor.require("order.urge")
    page = page_arg()
    state = request.args.get("state", "failed")
    channel = request.args.get("channel", "")
    rows, total = outbox_service.messages(state if state != "all" else "", channel, page, PAGE_SIZE)
    return render_template(
        "followup/outbox.html",
        rows=rows,
        pages=pages(page, total, PAGE_SIZE),
        total=total,
        args=request.args,
        state=state,
        channel=channel,
        states=MESSAGE_STATES,
        channels=CHANNELS,
        events=EVENTS,
        message_text=outbox_service.message_text,
    )


@bp.post("/outbox/<int:message_id>/resend")
def outbox_resend(message_id: int) -> Any:
    from node.outbox import service as outbox_service

    require_form_csrf()
    outbox_service.resend(web.current_actor(), message_id)
    flash("已重新排队发送", "ok")
    return redirect(safe_next(request.form.get("next"), url_for("followup.outbox")))
