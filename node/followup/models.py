"""Callback plans, tasks and attempts; ratings per source and dimension; dissatisfaction cases.

The indicator engine (node/analytics) counts from these tables (docs/FOLLOWUP.md, "For the
indicator engine"): `callback_task` (sampled, done, unreachable, on time), `rating` (satisfaction
per source and dimension) and `dissatisfaction` (opened, reopened, explained, time to decision).
"""

from __future__ import annotations

import peewee as pw

from node.auth.models import User
from node.catalog.models import Unit
from node.db import BaseModel, JsonText
from node.workflow.models import WorkOrder

QUESTIONS: dict[str, str] = {
    "result": "对处理结果是否满意",
    "service": "对服务态度是否满意",
    "solved": "问题是否已解决",
    "note": "其他意见（自由记录）",
}
DEFAULT_QUESTIONS = "result,service,solved,note"


class CallbackPlan(BaseModel):
    """回访计划: which closed orders are called back, how often tried, what is asked.
    '' / NULL in business_type, domain, unit match anything; the most specific active plan wins."""

    name = pw.CharField(max_length=60)
    business_type = pw.CharField(max_length=2, default="")
    domain = pw.CharField(max_length=2, default="")
    unit = pw.ForeignKeyField(Unit, null=True, on_delete="CASCADE", backref="+")
    share_percent = pw.FloatField()  # 0..100
    seed = pw.CharField(max_length=40, default="12328")
    max_attempts = pw.IntegerField(default=3)
    retry_minutes = pw.IntegerField(default=120)  # at least this long between attempts
    questions = pw.CharField(max_length=60, default=DEFAULT_QUESTIONS)
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()


class VisitTask(BaseModel):
    """One sampling decision per order closure (round = the order's reopen count at closure);
    a sampled one is a callback to make: pending → done | unreachable (| cancelled on reopen)."""

    order = pw.ForeignKeyField(WorkOrder, backref="callback_tasks", on_delete="CASCADE")
    round = pw.IntegerField(default=0)
    plan = pw.ForeignKeyField(CallbackPlan, null=True, on_delete="SET NULL", backref="+")
    plan_name = pw.CharField(max_length=60, default="")
    share_percent = pw.FloatField()
    draw = pw.FloatField()  # the seeded uniform draw in [0, 100): sampled when draw < share
    sampled = pw.BooleanField(index=True)
    state = pw.CharField(
        max_length=12, default="pending", index=True
    )  # pending done unreachable cancelled skipped
    questions = pw.CharField(max_length=60, default=DEFAULT_QUESTIONS)
    max_attempts = pw.IntegerField(default=3)
    retry_minutes = pw.IntegerField(default=120)
    attempts = pw.IntegerField(default=0)
    next_try_at = pw.DateTimeField(null=True)
    created_at = pw.DateTimeField(index=True)
    due_at = pw.DateTimeField(null=True, index=True)
    warned = pw.CharField(max_length=40, default="")  # warning levels already sent, e.g. "50,80,overdue"
    finished_at = pw.DateTimeField(null=True)
    solved = pw.BooleanField(null=True)
    note = pw.TextField(default="")

    class Meta:
        indexes = ((("order", "round"), True), (("state", "due_at"), False))


class VisitAttempt(BaseModel):
    """One try at reaching the citizen (a click-to-dial call is linked by call_id)."""

    task = pw.ForeignKeyField(VisitTask, backref="attempt_rows", on_delete="CASCADE")
    at = pw.DateTimeField()
    by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    by_name = pw.CharField(max_length=40, default="")
    method = pw.CharField(max_length=10, default="phone")
    reached = pw.BooleanField()
    note = pw.TextField(default="")
    call_id = pw.CharField(max_length=100, default="", index=True)
    # click-to-dial: reached | busy | no_answer | not_placed (the agent's softphone did not take
    # it: no call reached the citizen, not counted as a try); '' for an attempt typed in by hand
    outcome = pw.CharField(max_length=12, default="")


ATTEMPT_OUTCOMES: dict[str, str] = {
    "reached": "已接通",
    "busy": "未接通（占线）",
    "no_answer": "未接通（无人接听）",
    "not_placed": "未外呼（坐席未接听）",
}


RATING_SOURCES: dict[str, str] = {
    "callback": "回访",
    "portal": "网站",
    "ivr": "电话按键（通话后）",
    "ivr_query": "电话按键（查询时）",
    "sms": "短信",
    "wechat": "微信",
}
DIMENSIONS: dict[str, str] = {"result": "处理结果", "service": "服务态度"}


class Rating(BaseModel):
    """满意度: one per order, round, source and dimension; value 1 非常满意 2 满意 3 不满意."""

    order = pw.ForeignKeyField(WorkOrder, backref="ratings", on_delete="CASCADE")
    round = pw.IntegerField(default=0)
    source = pw.CharField(max_length=10)
    dimension = pw.CharField(max_length=8)
    value = pw.CharField(max_length=1)
    at = pw.DateTimeField(index=True)
    by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    comment = pw.TextField(default="")

    class Meta:
        indexes = ((("order", "round", "source", "dimension"), True), (("source", "at"), False))


DISSATISFACTION_STATES: dict[str, str] = {
    "open": "待处理",
    "reopened": "已重办",
    "explained": "不重办（已说明）",
}


class Dissatisfaction(BaseModel):
    """差评整改: a 不满意 rating opens a case for the shift leader, who reopens the order to the unit
    or records why not; the order cannot be archived while a case is open."""

    order = pw.ForeignKeyField(WorkOrder, backref="dissatisfactions", on_delete="CASCADE")
    round = pw.IntegerField(default=0)
    source = pw.CharField(max_length=10)
    dimensions = pw.CharField(max_length=20)  # e.g. "result" or "result,service"
    unit = pw.ForeignKeyField(Unit, null=True, on_delete="SET NULL", backref="+")  # lead unit at closure
    opened_at = pw.DateTimeField(index=True)
    state = pw.CharField(max_length=10, default="open", index=True)
    decided_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    decided_at = pw.DateTimeField(null=True)
    decision_note = pw.TextField(default="")
    reopened_to = pw.ForeignKeyField(Unit, null=True, on_delete="SET NULL", backref="+")
    data = JsonText(null=True)

    class Meta:
        indexes = ((("order", "round", "source"), True),)


MODELS = [CallbackPlan, VisitTask, VisitAttempt, Rating, Dissatisfaction]
