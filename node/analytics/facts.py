"""Daily facts (统计日表): the engine's measures pre-counted per day × business type × domain ×
channel, so the dashboard and breakdowns by those dimensions read a few hundred rows.

The worker (`node.analytics.jobs`, every 5 minutes) recounts today, yesterday and every day an
order changed since its last run touches (the days of its acceptance, closure and callback), using
the engine's own raw queries (`engine.measure_counts`) — the facts are those queries' results,
never a second definition. `engine.compute` reads facts only when every day of the period has been
counted, today's count is at most `MAX_STALE` old and the grouping and filters use only these
dimensions; otherwise it counts raw rows. Drill-down always lists raw rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import peewee as pw

from node import clock
from node.analytics import periods

MAX_STALE = dt.timedelta(minutes=10)
FACT_DIMS = ("business_type", "domain", "channel")
JOB_NAME = "stats_facts"


def refresh(days: Iterable[dt.date], node: str | None = None) -> int:
    """Recount the given days; returns the number of fact rows written."""
    from federation import bulk
    from node.analytics import engine
    from node.analytics.models import DailyFact, FactDay
    from node.db import write_tx

    names = list(engine.MEASURES)
    written = 0
    for day in sorted(set(days)):
        counts = engine.measure_counts(names, periods.day(day), FACT_DIMS, node=node, use_facts=False)
        rows = [
            (day, name, *key, float(value))
            for name, values in counts.items()
            for key, value in (values or {}).items()
            if value
        ]
        with write_tx():
            DailyFact.delete().where(DailyFact.day == day).execute()
            bulk.insert_rows(
                DailyFact, ("day", "measure", "business_type", "domain", "channel", "value"), rows
            )
            FactDay.insert(day=day, refreshed_at=clock.now()).on_conflict(
                conflict_target=[FactDay.day], update={FactDay.refreshed_at: clock.now()}
            ).execute()
        written += len(rows)
    return written


def changed_days(since: dt.datetime) -> set[dt.date]:
    """Days whose counts an order changed since `since` may have moved."""
    from node.workflow.models import WorkOrder as W

    days: set[dt.date] = set()
    query = W.select(W.accepted_at, W.closed_at, W.callback_at).where(W.updated_at >= since)
    for row in query.tuples().iterator():
        days.update(v.date() for v in row if v is not None)
    return days


def refresh_due(now: dt.datetime, node: str | None = None) -> int:
    """The worker's run: today, yesterday and the days changed since the last run (the latest
    `refreshed_at`; a minute of overlap)."""
    from node.analytics.models import FactDay

    last = FactDay.select(pw.fn.MAX(FactDay.refreshed_at)).scalar()
    days = {now.date(), now.date() - dt.timedelta(days=1)}
    if last is not None:
        days |= changed_days(last - dt.timedelta(minutes=1))
    return refresh(days, node)


def usable(period: periods.Period, dims: Iterable[str], filters: Iterable[str]) -> bool:
    """Whether `compute` may read facts for this question (see the module docstring)."""
    from node.analytics.models import FactDay

    allowed = {*FACT_DIMS, "day", "month"}
    if not set(dims) <= allowed or not set(filters) <= set(FACT_DIMS):
        return False
    today = clock.today()
    end = min(period.end, today + dt.timedelta(days=1))
    if end <= period.start:
        return False
    need = (end - period.start).days
    rows = FactDay.select(FactDay.day, FactDay.refreshed_at).where(
        FactDay.day >= period.start, FactDay.day < end
    )
    got = {d: at for d, at in rows.tuples()}
    if len(got) < need:
        return False
    fresh = got.get(today)
    return fresh is None or clock.now() - fresh <= MAX_STALE


def read(
    names: Iterable[str], period: periods.Period, dims: list[str], filters: dict[str, tuple[str, ...]]
) -> dict[str, dict[tuple[str, ...], float] | None]:
    """Measure values per group key from the facts (same shape as engine.measure_counts)."""
    from node.analytics import engine
    from node.analytics.models import DailyFact as F

    names = list(names)
    out: dict[str, dict[tuple[str, ...], float] | None] = {}
    call_sources = ("legs", "phone_rating")
    wanted = []
    for name in names:
        if engine.MEASURES[name].source in call_sources and any(d in filters for d in ("domain", "channel")):
            out[name] = None
        else:
            wanted.append(name)
            out[name] = {}
    if not wanted:
        return out
    cols: list[Any] = [F.measure]
    for d in dims:
        if d in FACT_DIMS:
            cols.append(getattr(F, d))
        elif d == "day":
            cols.append(F.day)
        else:  # month: summed per day here, bucketed below
            cols.append(F.day)
    query = F.select(*cols, pw.fn.SUM(F.value)).where(
        F.day >= period.start, F.day < period.end, F.measure.in_(wanted)
    )
    for d, values in filters.items():
        query = query.where(getattr(F, d).in_(values))
    query = query.group_by(*cols)
    for row in query.tuples():
        name, parts, value = row[0], row[1:-1], row[-1]
        source = engine.MEASURES[name].source
        key = []
        for d, v in zip(dims, parts, strict=True):
            if d == "day":
                key.append(v.isoformat() if hasattr(v, "isoformat") else str(v)[:10])
            elif d == "month":
                key.append((v.isoformat() if hasattr(v, "isoformat") else str(v))[:7])
            elif source in call_sources and d != "business_type":
                key.append("")
            else:
                key.append(v or "")
        got = out[name]
        assert got is not None
        k = tuple(key)
        got[k] = got.get(k, 0) + (float(value) if engine.MEASURES[name].total is not None else int(value))
    return out
