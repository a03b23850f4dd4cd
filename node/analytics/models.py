"""Tables of the statistics package: historical import batches and the mark on imported orders."""

from __future__ import annotations

import peewee as pw

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


MODELS = [ImportBatch, ImportedOrder]
