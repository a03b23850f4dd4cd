"""The worker process: one APScheduler instance running the node's periodic jobs.

Every job is a plain function `f(now)`; guards in the database (node.jobs.runner) make an
accidental second worker harmless. Subsystems add jobs to JOBS.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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


JOBS: list[Job] = [
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
            except Exception:
                log.exception("任务 %s 执行失败", job.name)

    return run


def serve(settings: Settings) -> None:
    from apscheduler.schedulers.blocking import BlockingScheduler

    from node.web_server import prepare_metrics_dir

    prepare_metrics_dir(settings, "worker")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s worker %(levelname)s %(message)s")
    scheduler = BlockingScheduler(
        timezone="Asia/Shanghai", job_defaults={"coalesce": True, "max_instances": 1}
    )
    jobs = all_jobs(settings)
    for job in jobs:
        scheduler.add_job(_wrap(job), job.trigger, id=job.name, name=job.name, **job.args)
    signal.signal(signal.SIGTERM, lambda *_: scheduler.shutdown(wait=False))
    log.warning("后台任务进程已启动：%s", ", ".join(j.name for j in jobs))
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
