"""Idempotent job runs: a job for a slot (a date, an hour) runs to completion once per node."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import peewee as pw

from node import clock
from node.db import database, write_tx
from node.jobs.models import JobRun

log = logging.getLogger(__name__)
STALE = dt.timedelta(hours=1)


def run_once(job: str, slot: str, fn: Callable[[], Any]) -> bool:
    """Run `fn` for (job, slot) unless a finished run exists; a failed run may be retried.
    Returns True if `fn` ran to completion now."""
    with write_tx():
        existing = JobRun.get_or_none(JobRun.job == job, JobRun.slot == slot)
        if existing is not None and existing.status in ("done", "running"):
            if existing.status == "done":
                return False
            # a 'running' row older than an hour belongs to a crashed worker: take it over
            if existing.started_at > clock.now() - STALE:
                return False
        if existing is None:
            try:
                with database.atomic():
                    existing = JobRun.create(job=job, slot=slot, started_at=clock.now())
            except pw.IntegrityError:
                return False
        else:
            existing.started_at, existing.status = clock.now(), "running"
            existing.save()
    try:
        detail = fn()
    except Exception as exc:
        log.exception("job %s/%s failed", job, slot)
        with write_tx():
            JobRun.update(status="failed", finished_at=clock.now(), detail=str(exc)[:2000]).where(
                JobRun.id == existing.id
            ).execute()
        return False
    with write_tx():
        JobRun.update(status="done", finished_at=clock.now(), detail=str(detail or "")[:2000]).where(
            JobRun.id == existing.id
        ).execute()
    return True
