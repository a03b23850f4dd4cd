"""Push jobs for the worker: drop delivered push events after an hour."""

from __future__ import annotations

from typing import Any

from node.jobs.worker import Job
from node.settings import Settings


def jobs(settings: Settings) -> list[Job]:
    def purge(now: Any) -> int:
        from node.push import service

        return service.purge(now)

    return [Job("push_purge", purge, "interval", {"minutes": 10})]
