"""Telephony jobs for the worker process: the daily recording-retention purge and the periodic
sync (call ↔ intake record/order links the hooks missed, agents' SIP credentials for Kamailio)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from node.jobs.worker import Job
from node.settings import Settings
from node.telephony import config as tconfig


def jobs(settings: Settings) -> list[Job]:
    cfg = tconfig.load(settings)
    if not cfg.enabled:
        return []

    def purge(now: dt.datetime) -> bool:
        from node.jobs.runner import run_once
        from node.telephony import service

        day = now.date()
        return run_once(
            "telephony_purge_recordings",
            day.isoformat(),
            lambda: f"清除录音 {service.purge_expired_recordings(cfg.recordings_dir, day)} 个",
        )

    def sync(now: Any) -> dict[str, Any]:
        from node.telephony import kamailio, service

        return {"links": service.sync_links(), "credentials_changed": kamailio.sync_credentials(cfg)}

    return [
        Job("telephony_purge_recordings", purge, "cron", {"hour": 3, "minute": 20}),
        Job("telephony_sync", sync, "interval", {"seconds": 60}),
    ]
