"""Follow-up after closure: seeded sampling into callback tasks, attempts and retries, ratings
from every channel, and the dissatisfaction loop.

Wiring: `install()` adds `on_change` to the work-order engine's ON_CHANGE hooks (web app, worker
and CLI call it). The hook runs inside the business transaction, so a sampling decision, a rating
or a dissatisfaction case exists exactly when the closure, callback or rating that caused it was
committed; refusing an archive is an exception there, which rolls the archive back.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import peewee as pw

from node import clock
from node.auth.service import SYSTEM, Actor
from node.catalog import service as catalog
from node.db import locked, write_tx
from node.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationError
from node.followup.models import (
    DEFAULT_QUESTIONS,
    DIMENSIONS,
    QUESTIONS,
    RATING_SOURCES,
    CallbackPlan,
    Dissatisfaction,
    Rating,
    VisitAttempt,
    VisitTask,
)
from node.settings import current as current_settings
from node.workflow import service as workflow
from node.workflow.models import SATISFACTION, Assignment, OrderEvent, WorkOrder

# Built-in plans used when no configured plan matches: every complaint, one in ten of the rest.
DEFAULT_SHARES: dict[str, float] = {"1": 100.0}
DEFAULT_OTHER_SHARE = 10.0
DEFAULT_SEED = "12328"
# Hours of the day at which retries are offered; each retry goes to an hour not tried before.
RETRY_HOURS = (9, 11, 14, 16, 19)
CHANNEL_SOURCES = {"02": "portal", "03": "wechat", "05": "sms", "06": "portal", "01": "ivr"}


@dataclass(frozen=True)
class PlanChoice:
    plan_id: int | None
    name: str
    share: float
    seed: str
    max_attempts: int
    retry_minutes: int
    questions: str


# ---- plans and sampling ---------------------------------------------------------------------------


def draw(seed: str, number: str, round_: int) -> float:
    """The seeded uniform draw in [0, 100) for an order closure: HMAC-SHA256(seed, number:round).
    The same seed always samples the same orders; a new seed gives an independent sample."""
    digest = hmac.new(seed.encode(), f"{number}:{round_}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100.0


def active_plans() -> list[CallbackPlan]:
    return list(CallbackPlan.select().where(CallbackPlan.active == True))  # noqa: E712


def plan_for(
    business_type: str, domain: str, unit_id: int | None, plans: list[CallbackPlan] | None = None
) -> PlanChoice:
    """The most specific active plan (unit > domain > business type); the built-in default else."""
    best: tuple[int, CallbackPlan] | None = None
    for p in active_plans() if plans is None else plans:
        if p.business_type and p.business_type != business_type:
            continue
        if p.domain and p.domain != domain:
            continue
        if p.unit_id is not None and p.unit_id != unit_id:
            continue
        score = (4 if p.unit_id is not None else 0) + (2 if p.domain else 0) + (1 if p.business_type else 0)
        if best is None or score > best[0] or (score == best[0] and p.id > best[1].id):
            best = (score, p)
    if best is not None:
        p = best[1]
        return PlanChoice(p.id, p.name, p.share_percent, p.seed, p.max_attempts, p.retry_minutes, p.questions)
    share = DEFAULT_SHARES.get(business_type, DEFAULT_OTHER_SHARE)
    name = "投诉举报全部回访（默认）" if share >= 100 else f"按 {share:g}% 抽查回访（默认）"
    return PlanChoice(None, name, share, DEFAULT_SEED, 3, 120, DEFAULT_QUESTIONS)


def decide(
    number: str,
    round_: int,
    business_type: str,
    domain: str,
    unit_id: int | None,
    plans: list[CallbackPlan] | None = None,
) -> tuple[PlanChoice, float, bool]:
    """The sampling decision of one closure: (plan, draw, sampled). Pure given the plans."""
    choice = plan_for(business_type, domain, unit_id, plans)
    d = draw(choice.seed, number, round_)
    return choice, d, d < choice.share


def _lead_unit_id(order: WorkOrder) -> int | None:
    lead = (
        Assignment.select(Assignment.unit)
        .where(Assignment.order == order, Assignment.role == "lead", Assignment.active == True)  # noqa: E712
        .first()
    )
    return lead.unit_id if lead else None


def _event(order: WorkOrder, actor: Actor, action: str, reason: str = "", **data: Any) -> None:
    """A history row for the follow-up (no engine hooks: these are not state changes)."""
    OrderEvent.create(
        order=order,
        at=clock.now(),
        actor=actor.user_id,
        actor_name=actor.display_name[:40],
        node=current_settings().region[:6],
        action=action,
        from_state=order.state,
        to_state=order.state,
        reason=reason,
        data=data or None,
    )


def sample_closure(order: WorkOrder) -> VisitTask:
    """Decide, once per closure round, whether the order is called back (idempotent)."""
    existing = VisitTask.get_or_none(VisitTask.order == order, VisitTask.round == order.reopen_count)
    if existing is not None:
        return existing  # type: ignore[no-any-return]
    choice, d, sampled = decide(
        order.number, order.reopen_count, order.business_type, order.domain, _lead_unit_id(order)
    )
    now = clock.now()
    policy = catalog.policy_for(order.business_type, order.domain or None, current_settings().region)
    task = VisitTask.create(
        order=order,
        round=order.reopen_count,
        plan=choice.plan_id,
        plan_name=choice.name[:60],
        share_percent=choice.share,
        draw=d,
        sampled=sampled,
        state="pending" if sampled else "skipped",
        questions=choice.questions,
        max_attempts=choice.max_attempts,
        retry_minutes=choice.retry_minutes,
        created_at=now,
        due_at=catalog.calendar().add_workdays(now, policy.callback_workdays) if sampled else None,
    )
    _event(
        order,
        SYSTEM,
        "callback_sampled" if sampled else "callback_not_sampled",
        choice.name,
        plan=choice.plan_id,
        share=choice.share,
        draw=round(d, 4),
        due_at=task.due_at.isoformat() if task.due_at else None,
    )
    return task  # type: ignore[no-any-return]


def open_task(order: WorkOrder) -> VisitTask | None:
    return (  # type: ignore[no-any-return]
        VisitTask.select()
        .where(VisitTask.order == order, VisitTask.state == "pending")
        .order_by(VisitTask.id.desc())
        .first()
    )


def next_try(after: dt.datetime, tried_hours: set[int], gap_minutes: int) -> dt.datetime:
    """The first retry slot at least `gap_minutes` after `after`, on a working day, at an hour
    of RETRY_HOURS not tried before (any hour once all were tried)."""
    cal = catalog.calendar()
    earliest = after + dt.timedelta(minutes=gap_minutes)
    hours = [h for h in RETRY_HOURS if h not in tried_hours] or list(RETRY_HOURS)
    day = earliest.date()
    for _ in range(60):
        if cal.is_workday(day):
            for h in sorted(hours):
                slot = dt.datetime.combine(day, dt.time(h))
                if slot >= earliest:
                    return slot
        day += dt.timedelta(days=1)
    return earliest


def _attempt(task: VisitTask, event: OrderEvent, data: dict[str, Any]) -> None:
    reached = bool(data.get("reached"))
    call_id = str(data.get("call_id") or "")[:100]
    if call_id and (
        VisitAttempt.select()
        .where(VisitAttempt.call_id == call_id, VisitAttempt.outcome.in_(("busy", "no_answer", "reached")))
        .exists()
    ):
        raise Conflict("该次外呼的结果已记录，无需重复保存")
    VisitAttempt.create(
        task=task,
        at=event.at,
        by=event.actor_id,
        by_name=event.actor_name,
        method=str(data.get("method") or "phone")[:10],
        reached=reached,
        note=event.reason,
        call_id=call_id,
        outcome="reached" if reached and call_id else "",
    )
    task.attempts += 1
    order = task.order
    if reached:
        task.state, task.finished_at = "done", event.at
        task.solved = data.get("solved")
        task.note = event.reason
        task.next_try_at = None
    elif task.attempts >= task.max_attempts:
        task.state, task.finished_at, task.next_try_at = "unreachable", event.at, None
        _event(
            order,
            SYSTEM,
            "callback_unreachable",
            f"已尝试{task.attempts}次仍无法联系",
            attempts=task.attempts,
        )
    else:
        tried = {a.at.hour for a in VisitAttempt.select(VisitAttempt.at).where(VisitAttempt.task == task)}
        task.next_try_at = next_try(event.at, tried, task.retry_minutes)
    task.save()


def record_not_placed(task: VisitTask, actor: Actor, call_id: str, note: str) -> VisitAttempt:
    """A 回访外呼 that never reached the citizen because the agent's softphone did not take it
    (unregistered, not answered): kept as an attempt `not_placed`, not counted toward the plan's
    tries and no retry scheduled. Joins the caller's transaction."""
    with write_tx():
        row = VisitAttempt.create(
            task=task,
            at=clock.now(),
            by=actor.user_id,
            by_name=actor.display_name[:40],
            method="phone",
            reached=False,
            note=note[:2000],
            call_id=call_id[:100],
            outcome="not_placed",
        )
        _event(task.order, actor, "callback_not_placed", note, call_id=call_id)
    return row  # type: ignore[no-any-return]


# ---- ratings and dissatisfaction ------------------------------------------------------------------


def record_rating(
    order: WorkOrder,
    source: str,
    values: dict[str, str],
    *,
    actor: Actor = SYSTEM,
    comment: str = "",
) -> list[Rating]:
    """Ratings of one source (回访, 网站, 电话按键, 短信, 微信) for the order's current round: one
    per dimension; a second rating from the same source and dimension is refused. Any 不满意
    opens a dissatisfaction case for the shift leader. Joins the caller's transaction."""
    if source not in RATING_SOURCES:
        raise ValidationError(f"未知的评价来源：{source}")
    bad = {k: v for k, v in values.items() if k not in DIMENSIONS or v not in SATISFACTION}
    if bad or not values:
        raise ValidationError("评价应为处理结果/服务态度，等级 1 非常满意、2 满意、3 不满意")
    rows = []
    with write_tx():
        now = clock.now()
        for dim, value in values.items():
            try:
                with write_tx():
                    rows.append(
                        Rating.create(
                            order=order,
                            round=order.reopen_count,
                            source=source,
                            dimension=dim,
                            value=value,
                            at=now,
                            by=actor.user_id,
                            comment=comment[:2000],
                        )
                    )
            except pw.IntegrityError:
                raise Conflict(f"该工单已有来自“{RATING_SOURCES[source]}”的{DIMENSIONS[dim]}评价") from None
        bad_dims = [d for d, v in values.items() if v == "3"]
        if bad_dims:
            open_case(order, source, bad_dims)
    return rows


def open_case(order: WorkOrder, source: str, dims: list[str]) -> Dissatisfaction:
    from node.notices import service as notices

    case = Dissatisfaction.get_or_none(
        Dissatisfaction.order == order,
        Dissatisfaction.round == order.reopen_count,
        Dissatisfaction.source == source,
    )
    if case is not None:
        return case  # type: ignore[no-any-return]
    case = Dissatisfaction.create(
        order=order,
        round=order.reopen_count,
        source=source,
        dimensions=",".join(dims),
        unit=_lead_unit_id(order),
        opened_at=clock.now(),
    )
    dims_text = "、".join(DIMENSIONS[d] for d in dims)
    _event(
        order,
        SYSTEM,
        "dissatisfied",
        f"{RATING_SOURCES[source]}评价{dims_text}不满意",
        source=source,
        dims=dims,
    )
    notices.notify(
        "dissatisfied",
        f"不满意待处理：工单 {order.number}",
        roles=["shift_leader"],
        link=f"/followup/dissatisfied?case={case.id}",
        body=f"{RATING_SOURCES[source]}评价{dims_text}不满意，请重办或说明不重办的理由",
        ref=f"dissatisfaction:{case.id}",
    )
    return case  # type: ignore[no-any-return]


def open_cases(order: WorkOrder) -> list[Dissatisfaction]:
    return list(
        Dissatisfaction.select().where(Dissatisfaction.order == order, Dissatisfaction.state == "open")
    )


def _case(actor: Actor, case_id: int) -> Dissatisfaction:
    actor.require("order.reopen")
    case = locked(Dissatisfaction.select().where(Dissatisfaction.id == case_id)).first()
    if case is None:
        raise NotFound("不满意记录不存在")
    if case.state != "open":
        raise Conflict(f"该不满意记录已处理（{case.state}）")
    return case  # type: ignore[no-any-return]


def reopen_case(actor: Actor, case_id: int, reason: str, unit_code: str = "") -> Dissatisfaction:
    """重办: the leader sends the order back to the unit (the same lead unit unless another is named)."""
    reason = _reason(reason)
    with write_tx():
        case = _case(actor, case_id)
        order = case.order
        unit = catalog.unit_by_code(unit_code) if unit_code else case.unit
        if unit is None:
            raise ValidationError("请指定重办的承办单位", details={"unit": "必填"})
        workflow.perform(actor, order.number, "reopen", {"reason": f"不满意重办：{reason}"})
        workflow.perform(
            actor, order.number, "dispatch", {"lead_unit": unit.code, "note": f"不满意重办：{reason}"}
        )
        case = Dissatisfaction.get_by_id(case.id)
        case.reopened_to = unit.id
        case.save()
    return case  # type: ignore[no-any-return]


def explain_case(actor: Actor, case_id: int, reason: str) -> Dissatisfaction:
    """不重办: the leader records why the order is not reopened; the case closes, archive may go on."""
    reason = _reason(reason)
    with write_tx():
        case = _case(actor, case_id)
        case.state, case.decided_by, case.decided_at, case.decision_note = (
            "explained",
            actor.user_id,
            clock.now(),
            reason,
        )
        case.save()
        _event(case.order, actor, "dissat_explained", reason, case=case.id)
    return case


def _reason(reason: str) -> str:
    reason = (reason or "").strip()
    if not reason or len(reason) > 1000 or "\x00" in reason:
        raise ValidationError("请填写理由（1～1000字）", details={"reason": "必填"})
    return reason


# ---- the engine hook ------------------------------------------------------------------------------


def on_change(order: WorkOrder, event: OrderEvent) -> None:
    data = event.data or {}
    action = event.action
    if action in ("close", "answer"):
        sample_closure(order)
    elif action == "callback":
        task = open_task(order)
        if task is not None:
            _attempt(task, event, data)
        if data.get("reached") and data.get("result") and data.get("service"):
            actor = Actor(event.actor_id, "", event.actor_name, ())
            record_rating(
                order,
                "callback",
                {"result": data["result"], "service": data["service"]},
                actor=actor,
                comment=event.reason,
            )
    elif action == "public_rate":
        source = CHANNEL_SOURCES.get(str(data.get("channel") or "02"), "portal")
        source = data.get("source") if data.get("source") in RATING_SOURCES else source
        record_rating(
            order, source, {"result": data["result"], "service": data["service"]}, comment=event.reason
        )
    elif action == "reopen":
        now = clock.now()
        VisitTask.update(state="cancelled", finished_at=now).where(
            VisitTask.order == order, VisitTask.state == "pending"
        ).execute()
        for case in open_cases(order):
            case.state, case.decided_by, case.decided_at, case.decision_note = (
                "reopened",
                event.actor_id,
                now,
                event.reason,
            )
            case.save()
    elif action == "archive" and (hold := archive_hold(order)) is not None:
        raise InvalidTransition(hold)


def archive_hold(order: WorkOrder) -> str | None:
    """Why the order may not be archived yet (an open 不满意 case, a sampled callback), or None."""
    if open_cases(order):
        return "该工单有未处理的不满意评价，须由班长重办或说明理由后才能归档"
    if open_task(order) is not None:
        return "该工单已抽中回访，须完成回访或确认无法联系后才能归档"
    return None


def install() -> None:
    """Join the work-order engine's hooks (idempotent)."""
    if on_change not in workflow.ON_CHANGE:
        workflow.ON_CHANGE.append(on_change)


def questions_of(task: VisitTask) -> list[tuple[str, str]]:
    return [(q, QUESTIONS[q]) for q in (task.questions or DEFAULT_QUESTIONS).split(",") if q in QUESTIONS]


def check_actor_may_callback(actor: Actor) -> None:
    if not actor.can("order.callback"):
        raise PermissionDenied("当前角色无权回访")


# ---- plan administration --------------------------------------------------------------------------


def _number(raw: Any, field: str, label: str, lo: float, hi: float, integer: bool = False) -> float:
    text = str(raw).strip()
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        raise ValidationError(
            f"{label}应为{'整数' if integer else '数字'}", details={field: "格式有误"}
        ) from None
    if not lo <= value <= hi or value != value:
        raise ValidationError(f"{label}应在 {lo:g}～{hi:g} 之间", details={field: "超出范围"})
    return value


def create_plan(
    actor: Actor,
    *,
    name: str,
    business_type: str = "",
    domain: str = "",
    unit_code: str = "",
    share_percent: Any,
    seed: str = "",
    max_attempts: Any = 3,
    retry_minutes: Any = 120,
    questions: list[str] | None = None,
) -> CallbackPlan:
    """回访计划: administrators set who is called back, how often tried and what is asked."""
    from node.audit import service as audit

    actor.require("catalog.manage")
    name = (name or "").strip()
    if not name or len(name) > 60 or "\x00" in name:
        raise ValidationError("请填写计划名称（1～60字）", details={"name": "必填"})
    if business_type or domain:
        catalog.check_codes(business_type=business_type or "1", domain=domain or None, sub_business=None)
    unit = catalog.unit_by_code(unit_code) if unit_code else None
    qs = [q for q in (questions or DEFAULT_QUESTIONS.split(",")) if q]
    unknown = [q for q in qs if q not in QUESTIONS]
    if unknown or not qs:
        raise ValidationError("请选择回访问题", details={"questions": "未知或为空"})
    seed = (seed or DEFAULT_SEED).strip()
    if len(seed) > 40 or "\x00" in seed:
        raise ValidationError("随机种子不能超过40个字符", details={"seed": "过长"})
    now = clock.now()
    with write_tx():
        plan = CallbackPlan.create(
            name=name,
            business_type=business_type,
            domain=domain,
            unit=unit.id if unit else None,
            share_percent=_number(share_percent, "share_percent", "回访比例", 0, 100),
            seed=seed,
            max_attempts=int(_number(max_attempts, "max_attempts", "最多尝试次数", 1, 10, True)),
            retry_minutes=int(
                _number(retry_minutes, "retry_minutes", "重拨间隔（分钟）", 10, 7 * 24 * 60, True)
            ),
            questions=",".join(qs),
            created_at=now,
            updated_at=now,
        )
        audit.record(
            actor,
            "config.changed",
            target=f"callback_plan:{plan.id}",
            details={"plan": name, "share": plan.share_percent},
        )
    return plan  # type: ignore[no-any-return]


def set_plan_active(actor: Actor, plan_id: int, active: bool) -> None:
    from node.audit import service as audit

    actor.require("catalog.manage")
    with write_tx():
        n = (
            CallbackPlan.update(active=active, updated_at=clock.now())
            .where(CallbackPlan.id == plan_id)
            .execute()
        )
        if not n:
            raise NotFound("回访计划不存在")
        audit.record(actor, "config.changed", target=f"callback_plan:{plan_id}", details={"active": active})


# ---- callback due warnings (worker) -----------------------------------------------------------------


def warn_due(now: dt.datetime) -> int:
    """Tell the shift leaders when a sampled callback has used the policy's warn percents of its
    time and when it is overdue (each level once per task)."""
    from node.notices import service as notices
    from node.tracking.service import level_reached, warn_percents

    written = 0
    for task in VisitTask.select(VisitTask, WorkOrder).join(WorkOrder).where(VisitTask.state == "pending"):
        if task.due_at is None:
            continue
        order = task.order
        policy = catalog.policy_for(order.business_type, order.domain or None, current_settings().region)
        level = level_reached(task.created_at, task.due_at, now, warn_percents(policy.warn_percents))
        done = set(filter(None, task.warned.split(",")))
        if not level or level in done:
            continue
        with write_tx():
            task.warned = ",".join(sorted(done | {level}))
            task.save(only=[VisitTask.warned])
            title = (
                f"回访已超期：工单 {order.number}"
                if level == "overdue"
                else f"回访时限已用{level[4:]}%：工单 {order.number}"
            )
            notices.notify(
                "callback_due",
                title,
                roles=["shift_leader"],
                link=f"/followup/callbacks/{order.number}",
                ref=f"visit:{task.id}",
            )
            written += 1
    return written
