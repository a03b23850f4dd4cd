"""Tables of the statistics package: historical import batches and the mark on imported orders."""

from __future__ import annotations

import peewee as pw

from node.auth.models import User
from node.db import BaseModel, JsonText
from node.workflow.models import WorkOrder


class ImportBatch(BaseModel):
    """历史工单导入批次: one run of `hotline import orders` (or a dry run), with its report."""

    file_name = pw.CharField(max_length=200)
    file_sha256 = pw.CharField(max_length=64, index=True)
    mapping_name = pw.CharField(max_length=60)
    started_at = pw.DateTimeField()
    finished_at = pw.DateTimeField(null=True)
    rows_total = pw.IntegerField(default=0)
    rows_imported = pw.IntegerField(default=0)
    rows_skipped = pw.IntegerField(default=0)  # imported by an earlier run (re-run changes nothing)
    rows_rejected = pw.IntegerField(default=0)
    by = pw.CharField(max_length=40, default="命令行")
    rejected = JsonText(null=True)  # the first rejected rows: [{"row": n, "key": ..., "reasons": [...]}]


class ImportedOrder(BaseModel):
    """Marks a work order as imported from an older system (key = mapping source + its number)."""

    order = pw.ForeignKeyField(WorkOrder, unique=True, backref="imported", on_delete="CASCADE")
    batch = pw.ForeignKeyField(ImportBatch, backref="orders", on_delete="CASCADE")
    source_key = pw.CharField(max_length=80, unique=True)


class DailyFact(BaseModel):
    """Pre-aggregated measure counts (统计日表) per day × business type × domain × channel, written
    by the worker from the engine's raw queries (node/analytics/facts.py) so dashboards read a few
    hundred rows instead of scanning the month's orders."""

    day = pw.DateField()
    measure = pw.CharField(max_length=40)
    business_type = pw.CharField(max_length=2, default="")
    domain = pw.CharField(max_length=2, default="")
    channel = pw.CharField(max_length=2, default="")
    value = pw.FloatField()

    class Meta:
        indexes = ((("day", "measure"), False),)


class FactDay(BaseModel):
    """A day whose facts are complete, and when they were computed."""

    day = pw.DateField(primary_key=True)
    refreshed_at = pw.DateTimeField()


class Topic(BaseModel):
    """专题: a saved keyword set tracked over time (node/analytics/topics.py). `keywords` is a list
    of groups, each a list of synonyms (any one matches); `mode` "all" needs every group, "any"
    one of them; `exclude` words must not appear; `filters` narrow it by order dimensions."""

    name = pw.CharField(max_length=60, unique=True)
    keywords = JsonText()
    mode = pw.CharField(max_length=3, default="all")
    exclude = JsonText(null=True)
    filters = JsonText(null=True)
    note = pw.CharField(max_length=200, default="")
    owner = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()
    updated_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")


MODELS = [ImportBatch, ImportedOrder, DailyFact, FactDay, Topic]
