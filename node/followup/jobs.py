"""Follow-up jobs for the worker: callback due warnings and 督办 escalation (every minute)."""

from __future__ import annotations

from typing import Any

from node.jobs.worker import Job
from node.settings import Settings


def jobs(settings: Settings) -> list[Job]:
    from node.followup import service, supervision

    service.install()
    supervision.install()

    def callbacks_due(now: Any) -> int:
        return service.warn_due(now)

    def escalate(now: Any) -> int:
        return supervision.escalate(now)

    return [
        Job("callback_due", callbacks_due, "interval", {"seconds": 60}),
        Job("supervise_escalate", escalate, "interval", {"seconds": 60}),
    ]
