"""Worker job: at the end of each period score every population whose scheme in force is of that
period kind (subordinate centres only at province and ministry nodes); once per (population,
period), idempotent through node.jobs.runner."""

from __future__ import annotations

import datetime as dt
from typing import Any

from node.jobs.worker import Job
from node.settings import Settings


def score_ended_periods(now: dt.datetime, level: str) -> list[str]:
    from node.appraisal import periods, runs, schemes
    from node.errors import NotFound
    from node.jobs.runner import run_once

    done: list[str] = []
    populations = ["agent", "unit"] + (["centre"] if level != "city" else [])
    for kind in ("month", "quarter"):
        period = periods.just_ended(kind, now)
        for population in populations:
            try:
                scheme = schemes.in_force(population, period)
            except NotFound:
                continue
            if scheme.period_kind != kind or runs.get_run(population, period.code) is not None:
                continue
            if run_once(
                f"appraisal_{population}",
                period.code,
                lambda p=population, c=period.code: runs.score_period(None, p, c).id,
            ):
                done.append(f"{population}:{period.code}")
    return done


def jobs(settings: Settings) -> list[Job]:
    def run(now: Any) -> list[str]:
        return score_ended_periods(now, settings.level)

    return [Job("appraisal_runs", run, "cron", {"hour": 2, "minute": 30})]
