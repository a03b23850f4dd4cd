"""Worker job of the knowledge base: each morning, expire articles past their expiry date and warn
editors of those expiring within a week (once per day slot)."""

from __future__ import annotations

from typing import Any

from node.jobs.worker import Job


def _expiry(now: Any) -> Any:
    from node.jobs.runner import run_once
    from node.knowledge import service

    day = now.date()
    return run_once("knowledge_expiry", day.isoformat(), lambda: service.expire_due(day))


def jobs(settings: Any) -> list[Job]:
    return [Job("knowledge_expiry", _expiry, "cron", {"hour": 0, "minute": 5})]
