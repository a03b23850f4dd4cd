"""Guards that make scheduled jobs idempotent: one row per (job, slot)."""

from __future__ import annotations

import peewee as pw

from node.db import BaseModel


class JobRun(BaseModel):
    """A job run for one slot (e.g. the daily report for 2026-11-27); UNIQUE(job, slot)."""

    job = pw.CharField(max_length=40)
    slot = pw.CharField(max_length=40)
    started_at = pw.DateTimeField()
    finished_at = pw.DateTimeField(null=True)
    status = pw.CharField(max_length=10, default="running")  # running done failed
    detail = pw.TextField(default="")

    class Meta:
        indexes = ((("job", "slot"), True),)


MODELS = [JobRun]
