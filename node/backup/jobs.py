"""The worker's daily backup (at the administrator's `backup_hour`, with retention)."""

from __future__ import annotations

import datetime as dt

from node.jobs.worker import Job
from node.settings import Settings


def jobs(settings: Settings) -> list[Job]:
    def daily(now: dt.datetime) -> str | None:
        from node.backup import service

        return service.daily(settings, now)

    return [Job("backup_daily", daily, "cron", {"minute": 7})]
