"""Working-day calendar: Chinese statutory holidays and make-up working days (调休).

Source order: admin overrides (CalendarOverride) → the `chinesecalendar` package (2004–2026) →
Monday–Friday with a logged warning for years nobody has described yet.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

import chinese_calendar

log = logging.getLogger(__name__)

END_OF_DAY = dt.time(23, 59, 59)


@dataclass
class WorkCalendar:
    overrides: dict[dt.date, bool] = field(default_factory=dict)
    work_start: dt.time = dt.time(8, 30)
    work_end: dt.time = dt.time(17, 30)
    _warned: set[int] = field(default_factory=set)
    # answers given so far: every order's deadline walks the same coming weeks (the catalog cache
    # builds a new calendar when an administrator changes the overrides)
    _known: dict[dt.date, bool] = field(default_factory=dict)

    def is_workday(self, day: dt.date) -> bool:
        known = self._known.get(day)
        if known is None:
            known = self._known[day] = self._is_workday(day)
        return known

    def _is_workday(self, day: dt.date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year not in self._warned:
                self._warned.add(day.year)
                log.warning(
                    "节假日数据未覆盖%s年，按周一至周五计算工作日；请在管理后台维护调休安排", day.year
                )
            return day.weekday() < 5

    def holiday_name(self, day: dt.date) -> str | None:
        """The statutory holiday's Chinese name (元旦, 春节 …) for a day off in the holiday data."""
        try:
            _, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            return None
        if not name:
            return None
        chinese = {h.value: h.chinese for h in chinese_calendar.Holiday}
        return str(chinese.get(name, name))

    def next_workday(self, day: dt.date) -> dt.date:
        while not self.is_workday(day):
            day += dt.timedelta(days=1)
        return day

    def add_workdays(self, start: dt.datetime, days: int) -> dt.datetime:
        """Due time for a limit of `days` working days: the end of the `days`-th working day
        after the start date (the start day itself does not count). 0 means immediately."""
        if days <= 0:
            return start
        day = start.date()
        counted = 0
        while counted < days:
            day += dt.timedelta(days=1)
            if self.is_workday(day):
                counted += 1
        return dt.datetime.combine(day, END_OF_DAY)

    def add_work_minutes(self, start: dt.datetime, minutes: int) -> dt.datetime:
        """`minutes` of working time counted from `start` within working hours on working days."""
        remaining = dt.timedelta(minutes=minutes)
        cursor = start
        while True:
            day = cursor.date()
            opens = dt.datetime.combine(day, self.work_start)
            closes = dt.datetime.combine(day, self.work_end)
            if not self.is_workday(day) or cursor >= closes:
                cursor = dt.datetime.combine(self.next_workday(day + dt.timedelta(days=1)), self.work_start)
                continue
            cursor = max(cursor, opens)
            available = closes - cursor
            if remaining <= available:
                return cursor + remaining
            remaining -= available
            cursor = closes

    def workdays_between(self, start: dt.date, end: dt.date) -> int:
        """Working days in (start, end]."""
        count, day = 0, start
        while day < end:
            day += dt.timedelta(days=1)
            count += self.is_workday(day)
        return count
