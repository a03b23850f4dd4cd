"""质检 (call quality inspection): the scoresheet, sampling recorded calls per agent and period,
scoring a call with comments and time-stamped marks, and the agent's appeal.

Sampling is reproducible: the random picks of an agent in a period come from a generator seeded
with (seed, period, agent), so the same seed draws the same calls; calls with a 不满意 rating (the
caller's key press, or the order's callback) are always taken.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import peewee as pw

from node import clock
from node.appraisal import periods
from node.appraisal.models import Inspection, Scoresheet
from node.audit import service as audit
from node.auth.models import User
from node.auth.service import Actor
from node.db import write_tx
from node.errors import NotFound, PermissionDenied, ValidationError
from node.telephony.models import Agent, Call, PhoneRating, Recording
from node.workflow.models import WorkOrder

DEFAULT_CRITERIA: list[dict[str, Any]] = [
    {"key": "greeting", "label": "规范用语（开头语、结束语）", "weight": 15},
    {"key": "accuracy", "label": "业务准确", "weight": 30},
    {"key": "attitude", "label": "服务态度", "weight": 25},
    {"key": "script", "label": "话术规范", "weight": 15},
    {"key": "order", "label": "工单质量（记录完整准确）", "weight": 15},
]
REASONS: dict[str, str] = {"random": "随机抽检", "unsatisfied": "不满意评价"}
APPEAL: dict[str, str] = {"": "未申诉", "pending": "申诉待处理", "upheld": "申诉成立", "rejected": "申诉驳回"}
MAX_SAMPLE = 50
MAX_MARKS = 100
MAX_TEXT = 2000


def current_sheet() -> Scoresheet:
    """The scoresheet in force (the default one is created on first use)."""
    sheet = Scoresheet.select().order_by(Scoresheet.version.desc()).first()
    if sheet is None:
        with write_tx():
            sheet = Scoresheet.select().order_by(Scoresheet.version.desc()).first()
            if sheet is None:
                sheet = Scoresheet.create(version=1, criteria=DEFAULT_CRITERIA, created_at=clock.now())
    return sheet


def save_sheet(actor: Actor, criteria: Any) -> Scoresheet:
    """A new scoresheet version with these criteria (weights editable; they need not add to 100:
    an inspection's total is scaled to 100)."""
    actor.require("appraisal.scheme")
    if not isinstance(criteria, list) or not 1 <= len(criteria) <= 20:
        raise ValidationError("评分表需要1至20个评分项", details={"criteria": "数量有误"})
    clean: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    for n, c in enumerate(criteria, 1):
        if not isinstance(c, dict):
            errors[f"第{n}项"] = "应为对象"
            continue
        label = str(c.get("label") or "").strip()
        key = str(c.get("key") or f"c{n}").strip()[:20]
        if not label or len(label) > 40 or "\x00" in label:
            errors[f"第{n}项名称"] = "名称须为1-40字"
        try:
            weight = float(c.get("weight"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            weight = -1
        if not 0 < weight <= 100:
            errors[f"第{n}项分值"] = "分值须在0到100之间"
        if any(x["key"] == key for x in clean):
            errors[f"第{n}项代码"] = "代码重复"
        clean.append({"key": key, "label": label, "weight": weight})
    if errors:
        raise ValidationError(
            "评分表有误：" + "；".join(f"{k}{v}" for k, v in errors.items()), details=errors
        )
    with write_tx():
        last = Scoresheet.select(pw.fn.MAX(Scoresheet.version)).scalar() or 0
        sheet = Scoresheet.create(
            version=last + 1, criteria=clean, created_by=actor.user_id, created_at=clock.now()
        )
        audit.record(
            actor, "appraisal.scoresheet", target=f"scoresheet:{sheet.version}", details={"criteria": clean}
        )
    return sheet


@dataclass(frozen=True)
class SampleReport:
    period: str
    random: int
    unsatisfied: int
    agents: int


def _recorded_calls(period: periods.Period) -> pw.Select:
    """Recorded calls the agents took in the period (answered, with a recording that is kept)."""
    return (
        Call.select(Call.id, Call.uuid, Call.order_number, Agent.user.alias("user_id"))
        .join(Agent, on=(Call.agent == Agent.id))
        .switch(Call)
        .join(Recording, on=(Recording.call == Call.id))
        .where(
            Call.answered_at >= period.start,
            Call.answered_at < period.end,
            Recording.status.in_(("finalized", "flagged")),
        )
        .order_by(Call.id)
    )


def sample(actor: Actor, period_code: str, per_agent: int = 5, seed: str = "") -> SampleReport:
    """Draw the period's inspections: `per_agent` random recorded calls of each agent (seeded, so
    the same seed draws the same calls) plus every recorded call rated 不满意. Calls already
    sampled for the period stay as they are."""
    actor.require("qa.inspect")
    period = periods.parse(period_code)
    if isinstance(per_agent, bool) or not isinstance(per_agent, int) or not 0 <= per_agent <= MAX_SAMPLE:
        raise ValidationError(f"每人抽检数须为0至{MAX_SAMPLE}的整数", details={"per_agent": "超出范围"})
    seed = str(seed or "")[:40]
    if "\x00" in seed:
        raise ValidationError("随机种子含有非法字符", details={"seed": "非法字符"})
    calls = list(_recorded_calls(period).dicts())
    by_agent: dict[int, list[dict[str, Any]]] = {}
    for c in calls:
        by_agent.setdefault(c["user_id"], []).append(c)
    unhappy_ids = {
        r.call_id
        for r in PhoneRating.select(PhoneRating.call).where(
            PhoneRating.score == 3, PhoneRating.call.in_([c["id"] for c in calls] or [0])
        )
    }
    numbers = [c["order_number"] for c in calls if c["order_number"]]
    unhappy_orders = set()
    for chunk in range(0, len(numbers), 500):
        unhappy_orders |= {
            o.number
            for o in WorkOrder.select(WorkOrder.number).where(
                WorkOrder.number.in_(numbers[chunk : chunk + 500]),
                (WorkOrder.callback_service_satisfaction == "3")
                | (WorkOrder.public_service_satisfaction == "3"),
            )
        }
    picks: list[tuple[dict[str, Any], str]] = []
    for user_id, theirs in sorted(by_agent.items()):
        unhappy = [c for c in theirs if c["id"] in unhappy_ids or c["order_number"] in unhappy_orders]
        rest = [c for c in theirs if c not in unhappy]
        rng = random.Random(f"{seed}|{period.code}|{user_id}")
        chosen = rng.sample(rest, min(per_agent, len(rest)))
        picks += [(c, "unsatisfied") for c in unhappy] + [(c, "random") for c in chosen]
    counts = {"random": 0, "unsatisfied": 0}
    now = clock.now()
    with write_tx():
        taken = {
            i.call_id for i in Inspection.select(Inspection.call).where(Inspection.period == period.code)
        }
        rows = []
        for c, reason in picks:
            if c["id"] in taken:
                continue
            rows.append(
                {
                    "call": c["id"],
                    "agent_user": c["user_id"],
                    "period": period.code,
                    "reason": reason,
                    "order_number": c["order_number"],
                    "sampled_at": now,
                }
            )
            counts[reason] += 1
        for chunk in range(0, len(rows), 200):
            Inspection.insert_many(rows[chunk : chunk + 200]).execute()
    return SampleReport(period.code, counts["random"], counts["unsatisfied"], len(by_agent))


def get(actor: Actor, inspection_id: int) -> Inspection:
    """An inspection: inspectors and appraisal viewers see all; an agent only their own."""
    row = Inspection.get_or_none(Inspection.id == inspection_id)
    if row is None:
        raise NotFound("质检记录不存在")
    if not (actor.can("qa.inspect") or actor.can("appraisal.view")) and row.agent_user_id != actor.user_id:
        raise PermissionDenied("只能查看本人的质检记录")
    return row


def listing(actor: Actor, period_code: str | None = None, status: str | None = None) -> list[Inspection]:
    """Inspections visible to the actor, newest period first (agents: their own only)."""
    q = Inspection.select(Inspection, User).join(User, on=(Inspection.agent_user == User.id))
    if not (actor.can("qa.inspect") or actor.can("appraisal.view")):
        if not actor.can("appraisal.own"):
            raise PermissionDenied("无权查看质检记录")
        q = q.where(Inspection.agent_user == actor.user_id)
    if period_code:
        q = q.where(Inspection.period == periods.parse(period_code).code)
    if status in ("pending", "scored"):
        q = q.where(Inspection.status == status)
    elif status == "appeal":
        q = q.where(Inspection.appeal_status == "pending")
    return list(q.order_by(Inspection.period.desc(), Inspection.id).limit(2000))


def _clean_text(raw: Any, label: str, limit: int = MAX_TEXT) -> str:
    text = str(raw or "").strip()
    if "\x00" in text:
        raise ValidationError(f"{label}含有非法字符", details={label: "非法字符"})
    if len(text) > limit:
        raise ValidationError(f"{label}不超过{limit}字", details={label: "过长"})
    return text


def score(actor: Actor, inspection_id: int, scores: Any, comment: Any = "", marks: Any = None) -> Inspection:
    """Score a sampled call against the scoresheet in force: points per criterion (0…its weight),
    a comment, and marks at seconds into the recording. Re-scoring replaces the earlier score."""
    actor.require("qa.inspect")
    sheet = current_sheet()
    if not isinstance(scores, dict):
        raise ValidationError("评分须为对象", details={"scores": "格式有误"})
    clean: dict[str, float] = {}
    errors: dict[str, str] = {}
    for c in sheet.criteria:
        raw = scores.get(c["key"])
        try:
            val = float(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            errors[c["label"]] = "请填写得分"
            continue
        if not 0 <= val <= float(c["weight"]):
            errors[c["label"]] = f"得分须在0到{c['weight']:g}之间"
            continue
        clean[c["key"]] = val
    if errors:
        raise ValidationError("评分有误：" + "；".join(f"{k}{v}" for k, v in errors.items()), details=errors)
    note = _clean_text(comment, "评语")
    clean_marks: list[dict[str, Any]] = []
    if marks not in (None, ""):
        if not isinstance(marks, list) or len(marks) > MAX_MARKS:
            raise ValidationError(f"标记须为列表，最多{MAX_MARKS}个", details={"marks": "格式有误"})
        for m in marks:
            if not isinstance(m, dict):
                raise ValidationError("标记格式有误", details={"marks": "格式有误"})
            try:
                t = float(m.get("t"))  # type: ignore[arg-type]
            except (TypeError, ValueError):
                raise ValidationError("标记时间须为秒数", details={"marks": "时间有误"}) from None
            if not 0 <= t <= 86_400:
                raise ValidationError("标记时间超出录音范围", details={"marks": "时间有误"})
            clean_marks.append({"t": round(t, 1), "note": _clean_text(m.get("note"), "标记说明", 200)})
        clean_marks.sort(key=lambda m: m["t"])
    full = sum(float(c["weight"]) for c in sheet.criteria)
    total = round(sum(clean.values()) * 100 / full, 2) if full else 0.0
    with write_tx():
        row = get(actor, inspection_id)
        if row.appeal_status == "pending":
            raise ValidationError("该质检正在申诉中，请先处理申诉")
        row.scores, row.total, row.comment, row.marks = clean, total, note, clean_marks
        row.scoresheet = sheet.id
        row.status, row.inspector, row.scored_at = "scored", actor.user_id, clock.now()
        row.save()
    return row


def appeal(actor: Actor, inspection_id: int, text: Any) -> Inspection:
    """The inspected agent disputes a scored inspection (once)."""
    reason = _clean_text(text, "申诉理由")
    if not reason:
        raise ValidationError("请填写申诉理由", details={"text": "不能为空"})
    with write_tx():
        row = Inspection.get_or_none(Inspection.id == inspection_id)
        if row is None:
            raise NotFound("质检记录不存在")
        if row.agent_user_id != actor.user_id:
            raise PermissionDenied("只能对本人的质检结果申诉")
        if row.status != "scored":
            raise ValidationError("该通话尚未评分，不能申诉")
        if row.appeal_status:
            raise ValidationError("该质检已申诉过")
        row.appeal_text, row.appeal_status, row.appeal_at = reason, "pending", clock.now()
        row.save()
    return row


def decide_appeal(
    actor: Actor, inspection_id: int, upheld: bool, decision: Any, new_total: Any = None
) -> Inspection:
    """A leader decides an appeal; upheld, the total may be corrected (audited)."""
    actor.require("appraisal.manage")
    note = _clean_text(decision, "处理意见")
    if not note:
        raise ValidationError("请填写处理意见", details={"decision": "不能为空"})
    total: float | None = None
    if upheld and new_total not in (None, ""):
        try:
            total = float(new_total)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            total = -1
        if not 0 <= total <= 100:
            raise ValidationError("更正后的得分须在0到100之间", details={"total": "超出范围"})
    with write_tx():
        row = Inspection.get_or_none(Inspection.id == inspection_id)
        if row is None:
            raise NotFound("质检记录不存在")
        if row.appeal_status != "pending":
            raise ValidationError("该质检没有待处理的申诉")
        before = row.total
        row.appeal_status = "upheld" if upheld else "rejected"
        row.appeal_decision, row.appeal_decided_by, row.appeal_decided_at = note, actor.user_id, clock.now()
        if total is not None:
            row.total = round(total, 2)
        row.save()
        audit.record(
            actor,
            "appraisal.qa_appeal",
            target=f"inspection:{row.id}",
            details={"upheld": upheld, "before": before, "after": row.total, "decision": note},
        )
    return row


def agent_scores(period: periods.Period) -> dict[int, tuple[float, int]]:
    """Mean QA total and count of scored inspections per agent user in the period (the agent
    scheme's 质检得分)."""
    rows = (
        Inspection.select(Inspection.agent_user, pw.fn.AVG(Inspection.total), pw.fn.COUNT(Inspection.id))
        .where(Inspection.period == period.code, Inspection.status == "scored")
        .group_by(Inspection.agent_user)
        .tuples()
    )
    return {uid: (round(float(avg), 2), n) for uid, avg, n in rows}


def order_for(row: Inspection) -> WorkOrder | None:
    if not row.order_number:
        return None
    return WorkOrder.get_or_none(WorkOrder.number == row.order_number)


def register_events() -> None:
    audit.EVENTS.setdefault("appraisal.scoresheet", "质检评分表变更")
    audit.EVENTS.setdefault("appraisal.qa_appeal", "质检申诉处理")


register_events()
