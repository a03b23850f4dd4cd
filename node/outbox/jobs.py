"""The worker's SMS job: every 5 s, when `[sms] host` is configured."""

from __future__ import annotations

from typing import Any

from node.jobs.worker import Job
from node.settings import Settings


def jobs(settings: Settings) -> list[Job]:
    from node.outbox import service
    from node.outbox.smpp import SmsConfig

    service.install()
    cfg = SmsConfig.from_section(settings.section("sms"))
    if cfg is None:
        return []

    def send(now: Any) -> dict[str, int]:
        return service.run(now, cfg)

    return [Job("citizen_sms", send, "interval", {"seconds": 5})]
