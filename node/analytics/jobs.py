"""Worker job: the annex A report forms of every finished month, quarter and year, generated once
(node.jobs.runner.run_once per period) and kept as Excel under <data_dir>/reports/; the monthly
form is also stored and sent upward through the federation (federation/forms.py)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from node.analytics import forms, periods
from node.settings import Settings

JOB_NAME = "stats_forms"


def finished_periods(today: dt.date) -> list[periods.Period]:
    """The month, quarter and year that ended most recently before `today`."""
    month = periods.month(today.year, today.month).previous()
    out = [month]
    quarter_start = dt.date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    out.append(periods.parse_period(f"{quarter_start.year}-Q{(quarter_start.month - 1) // 3 + 1}").previous())
    out.append(periods.parse_period(str(today.year - 1)))
    return out


def form_path(settings: Settings, period: periods.Period) -> Path:
    return settings.data_dir / "reports" / f"12328统计报表-{period.key}.xlsx"


def write_form(settings: Settings, period: periods.Period, *, send: bool = True) -> Path:
    """Build `period`'s annex A form, keep it as Excel under <data_dir>/reports/ and, for a month,
    store it and queue it upward as a new revision (unless `send` is off). The worker job runs it
    once per finished period; `hotline admin monthly-form` runs it again by hand."""
    target = form_path(settings, period)
    form = forms.build(period, settings.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(forms.to_xlsx(form))
    if period.kind == "month":  # the monthly form goes up to the province and the ministry
        from federation import forms as upward

        upward.generate(settings.region, period.key, form, send=send)
    return target


def generate(settings: Settings, today: dt.date) -> list[Path]:
    """Write each finished period's form not written yet; returns the files written now."""
    from node.jobs.runner import run_once

    written: list[Path] = []
    for period in finished_periods(today):

        def write(p: periods.Period = period) -> str:
            return str(write_form(settings, p))

        if run_once(JOB_NAME, period.key, write):
            written.append(form_path(settings, period))
    return written


def jobs(settings: Settings) -> list[Any]:
    from node.analytics import facts
    from node.db import planner_statistics
    from node.jobs.worker import Job

    return [
        Job(JOB_NAME, lambda now: generate(settings, now.date()), "cron", {"hour": 1, "minute": 30}),
        Job(facts.JOB_NAME, lambda now: facts.refresh_due(now), "interval", {"minutes": 5}),
        # SQLite's planner statistics, when missing or stale (grouped-by-unit figures need them)
        Job("db_statistics", lambda now: planner_statistics(), "interval", {"hours": 1}),
    ]
