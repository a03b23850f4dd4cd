"""Worker jobs of the text module: weekly retraining of the category models from archived orders."""

from __future__ import annotations

from typing import Any

from node.jobs.worker import Job


def _retrain(now: Any) -> Any:
    from node.jobs.runner import run_once
    from node.text import service

    week = now.strftime("%G-W%V")
    return run_once("text_retrain", week, lambda: service.retrain_job(now))


def jobs(settings: Any) -> list[Job]:
    from node.text import service

    service.install(settings)
    return [Job("text_retrain", _retrain, "cron", {"day_of_week": "sun", "hour": 2, "minute": 30})]
