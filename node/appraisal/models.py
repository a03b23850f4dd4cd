"""Appraisal tables: versioned schemes and QA scoresheets, call inspections with marks and appeals,
period runs with one result per subject, hand adjustments and objections (申诉)."""

from __future__ import annotations

import peewee as pw

from node.auth.models import User
from node.catalog.models import Unit
from node.db import BaseModel, JsonText
from node.telephony.models import Call

POPULATIONS: dict[str, str] = {"agent": "话务员", "unit": "承办单位", "centre": "下级中心"}


class Scheme(BaseModel):
    """考核方案: one version of a population's scheme. A new version is a new row; a period is scored
    with the latest version whose `effective_from` is on or before the period's first day."""

    population = pw.CharField(max_length=8, index=True)
    name = pw.CharField(max_length=60)
    period_kind = pw.CharField(max_length=8, default="month")
    version = pw.IntegerField()
    effective_from = pw.DateField()
    items = JsonText()
    bonus_cap = pw.FloatField(default=10.0)  # most a leader may add by hand (加分项)
    penalty_cap = pw.FloatField(default=20.0)  # most a leader may take off by hand (扣分项)
    note = pw.CharField(max_length=200, default="")
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    created_at = pw.DateTimeField()

    class Meta:
        indexes = ((("population", "version"), True),)


class Scoresheet(BaseModel):
    """质检评分表: criteria with editable weights (points), versioned like schemes."""

    version = pw.IntegerField(unique=True)
    criteria = JsonText()  # [{"key": "greeting", "label": "规范用语", "weight": 15}, ...]
    created_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    created_at = pw.DateTimeField()


class Inspection(BaseModel):
    """质检: one sampled recorded call of an agent in a period, scored by an inspector."""

    call = pw.ForeignKeyField(Call, on_delete="CASCADE", backref="+")
    agent_user = pw.ForeignKeyField(User, on_delete="CASCADE", backref="+")
    period = pw.CharField(max_length=8, index=True)
    reason = pw.CharField(max_length=12)  # random | unsatisfied
    order_number = pw.CharField(max_length=21, default="")
    status = pw.CharField(max_length=10, default="pending", index=True)  # pending scored
    scoresheet = pw.ForeignKeyField(Scoresheet, null=True, on_delete="RESTRICT", backref="+")
    scores = JsonText(null=True)  # {criterion key: points}
    total = pw.FloatField(null=True)
    comment = pw.TextField(default="")
    marks = JsonText(null=True)  # [{"t": seconds into the recording, "note": "..."}]
    inspector = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    scored_at = pw.DateTimeField(null=True)
    appeal_text = pw.TextField(default="")
    appeal_status = pw.CharField(max_length=10, default="")  # "" pending upheld rejected
    appeal_at = pw.DateTimeField(null=True)
    appeal_decision = pw.TextField(default="")
    appeal_decided_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    appeal_decided_at = pw.DateTimeField(null=True)
    sampled_at = pw.DateTimeField()

    class Meta:
        indexes = ((("call", "period"), True), (("agent_user", "period"), False))


class Run(BaseModel):
    """考核结果批次: one scoring of a population for a period with the scheme version in force."""

    population = pw.CharField(max_length=8)
    period = pw.CharField(max_length=8)
    scheme = pw.ForeignKeyField(Scheme, on_delete="RESTRICT", backref="runs")
    status = pw.CharField(max_length=10, default="draft")  # draft published
    created_at = pw.DateTimeField()
    created_by = pw.CharField(max_length=40, default="系统")
    published_at = pw.DateTimeField(null=True)
    published_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    seconds = pw.FloatField(default=0)
    skipped = pw.IntegerField(default=0)  # subjects with no figure in the period (not ranked)

    class Meta:
        indexes = ((("population", "period"), True),)


class Result(BaseModel):
    """One subject's score in a run: each item's raw value and points, hand adjustments, rank."""

    run = pw.ForeignKeyField(Run, on_delete="CASCADE", backref="results")
    subject_id = pw.CharField(max_length=20)  # user id, unit id or region code
    subject_name = pw.CharField(max_length=100)
    unit = pw.ForeignKeyField(Unit, null=True, on_delete="SET NULL", backref="+")
    items = JsonText()  # [{"key", "label", "raw", "points", "weight", "evidence": {...}}]
    base = pw.FloatField()  # from the items
    adjustment = pw.FloatField(default=0)  # sum of hand adjustments
    total = pw.FloatField(index=True)
    rank = pw.IntegerField(default=0)

    class Meta:
        indexes = ((("run", "subject_id"), True),)


class Adjustment(BaseModel):
    """加分/扣分 by a leader, with a reason (audited); also the outcome of an upheld objection."""

    result = pw.ForeignKeyField(Result, on_delete="CASCADE", backref="adjustments")
    points = pw.FloatField()
    reason = pw.CharField(max_length=200)
    by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    by_name = pw.CharField(max_length=40)
    at = pw.DateTimeField()


class Objection(BaseModel):
    """申诉: a unit disputes its published result; a leader upholds (with points) or rejects it."""

    result = pw.ForeignKeyField(Result, on_delete="CASCADE", backref="objections")
    item_key = pw.CharField(max_length=40, default="")
    text = pw.TextField()
    filed_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    filed_at = pw.DateTimeField()
    status = pw.CharField(max_length=10, default="pending", index=True)  # pending upheld rejected
    decision = pw.TextField(default="")
    points = pw.FloatField(default=0)
    decided_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    decided_at = pw.DateTimeField(null=True)


MODELS = [Scheme, Scoresheet, Inspection, Run, Result, Adjustment, Objection]
