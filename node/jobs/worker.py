"""The worker process: one APScheduler instance running the node's periodic jobs.

Every job is a plain function `f(now)`; guards in the database (node.jobs.runner) make an
accidental second worker harmless. Subsystems add jobs to JOBS.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import peewee as pw

from node import clock, db
from node.registry import optional_modules
from node.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    name: str
    fn: Callable[[Any], Any]  # f(now)
    trigger: str  # "interval" or "cron"
    args: dict[str, Any]


def _tracking(now: Any) -> int:
    from node.tracking.service import scan_all

    return scan_all(now)


def _idempotency_purge(now: Any) -> int:
    from node.api.idempotency import purge

    return purge(now)


# ---- heartbeat: the worker says it is alive, and which job failed last -----------------------------

HEARTBEAT_JOB, HEARTBEAT_SLOT = "worker", "heartbeat"
HEARTBEAT_SECONDS = 30
STALE_AFTER_SECONDS = 150  # five beats missed: the wallboard shows the worker red
_started_at: dt.datetime | None = None
_last_failure: dict[str, str] = {}  # {"job", "at", "error"} of the newest failed run in this process


def _heartbeat(now: dt.datetime) -> None:
    """One row (job "worker", slot "heartbeat"): started_at = when this worker started, finished_at =
    the last beat, detail = the newest failed job as JSON ("" if none). The wallboard and /metrics read it."""
    from node.jobs.models import JobRun

    detail = json.dumps(_last_failure, ensure_ascii=False) if _last_failure else ""
    started = _started_at or now
    updated = (
        JobRun.update(started_at=started, finished_at=now, status="done", detail=detail)
        .where(JobRun.job == HEARTBEAT_JOB, JobRun.slot == HEARTBEAT_SLOT)
        .execute()
    )
    if not updated:
        with contextlib.suppress(pw.IntegrityError):  # a second worker beat first: harmless
            JobRun.create(
                job=HEARTBEAT_JOB,
                slot=HEARTBEAT_SLOT,
                started_at=started,
                finished_at=now,
                status="done",
                detail=detail,
            )


@dataclass(frozen=True)
class Heartbeat:
    started_at: dt.datetime
    at: dt.datetime
    age_s: float
    stale: bool
    last_failure: dict[str, str]


def last_heartbeat(now: dt.datetime | None = None) -> Heartbeat | None:
    """The worker's last beat, or None if no worker ever ran on this database."""
    from node.jobs.models import JobRun

    row = JobRun.get_or_none(JobRun.job == HEARTBEAT_JOB, JobRun.slot == HEARTBEAT_SLOT)
    if row is None or row.finished_at is None:
        return None
    age = max(0.0, ((now or clock.now()) - row.finished_at).total_seconds())
    failure = json.loads(row.detail) if row.detail else {}
    return Heartbeat(row.started_at, row.finished_at, age, age > STALE_AFTER_SECONDS, failure)


JOBS: list[Job] = [
    Job("worker_heartbeat", _heartbeat, "interval", {"seconds": HEARTBEAT_SECONDS}),
    Job("tracking_scan", _tracking, "interval", {"seconds": 60}),
    Job("idempotency_purge", _idempotency_purge, "cron", {"hour": 3, "minute": 40}),
]

# module path → function `jobs(settings) -> list[Job]` adding subsystem jobs (federation, text, telephony)
JOB_EXTENSIONS = [
    "federation.jobs",
    "node.text.jobs",
    "node.knowledge.jobs",
    "node.routing.jobs",
    "node.telephony.jobs",
    "node.backup.jobs",
    "node.push.jobs",
    "node.analytics.jobs",
    "node.appraisal.jobs",
    "node.followup.jobs",
    "node.outbox.jobs",
]


def all_jobs(settings: Settings) -> list[Job]:
    jobs = list(JOBS)
    for module in optional_modules(JOB_EXTENSIONS):
        jobs.extend(module.jobs(settings))
    return jobs


def _wrap(job: Job) -> Callable[[], None]:
    def run() -> None:
        with db.connection():
            try:
                result = job.fn(clock.now())
                log.debug("job %s: %s", job.name, result)
            except Exception as exc:
                log.exception("任务 %s 执行失败", job.name)
                _last_failure.update(
                    job=job.name, at=clock.now().isoformat(timespec="seconds"), error=str(exc)[:200]
                )

    return run


def serve(settings: Settings) -> None:
    from apscheduler.schedulers.blocking import BlockingScheduler

    from node.web_server import prepare_metrics_dir

    prepare_metrics_dir(settings, "worker")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s worker %(levelname)s %(message)s")
    scheduler = BlockingScheduler(
        timezone="Asia/Shanghai", job_defaults={"coalesce": True, "max_instances": 1}
    )
    global _started_at
    _started_at = clock.now()
    jobs = all_jobs(settings)
    for job in jobs:
        scheduler.add_job(_wrap(job), job.trigger, id=job.name, name=job.name, **job.args)
    _wrap(JOBS[0])()  # the first beat at start, not 30 s later
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    log.warning("后台任务进程已启动：%s", ", ".join(j.name for j in jobs))
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
