"""Statistical periods (统计周期): day, week, month, quarter, year or a custom range of dates.

A period is a half-open range of calendar dates [start, end) in the node's local time
(Asia/Shanghai, as every stored time). `parse_period` reads the forms used in URLs and the API:

| text | period |
|---|---|
| `2026-11-02` | that day |
| `2026-W48` | ISO week 48 (Monday to Sunday) |
| `2026-11` | November 2026 |
| `2026-Q4` | fourth quarter |
| `2026` | the year |
| `2026-11-01~2026-11-15` | a custom range, both dates included |

`previous()` is the base of 环比 (the period just before, of the same kind and length) and
`year_before()` the base of 同比 (the same dates one year earlier).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from node.errors import ValidationError

KINDS = {"day": "日", "week": "周", "month": "月", "quarter": "季度", "year": "年", "range": "自定义"}
MAX_RANGE_DAYS = 3700
_MIN_YEAR, _MAX_YEAR = 1990, 2100


def add_months(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, 1)


def _minus_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def zh_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # exclusive
    kind: str

    @property
    def key(self) -> str:
        """The text form `parse_period` reads back."""
        s = self.start
        if self.kind == "day":
            return s.isoformat()
        if self.kind == "week":
            year, week, _ = s.isocalendar()
            return f"{year}-W{week:02d}"
        if self.kind == "month":
            return f"{s.year}-{s.month:02d}"
        if self.kind == "quarter":
            return f"{s.year}-Q{(s.month - 1) // 3 + 1}"
        if self.kind == "year":
            return str(s.year)
        return f"{s.isoformat()}~{(self.end - dt.timedelta(days=1)).isoformat()}"

    @property
    def label(self) -> str:
        s = self.start
        if self.kind == "day":
            return zh_date(s)
        if self.kind == "week":
            year, week, _ = s.isocalendar()
            return f"{year}年第{week}周"
        if self.kind == "month":
            return f"{s.year}年{s.month}月"
        if self.kind == "quarter":
            return f"{s.year}年第{(s.month - 1) // 3 + 1}季度"
        if self.kind == "year":
            return f"{s.year}年"
        return f"{zh_date(s)}至{zh_date(self.end - dt.timedelta(days=1))}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        return dt.datetime.combine(self.start, dt.time()), dt.datetime.combine(self.end, dt.time())

    def previous(self) -> Period:
        """环比 base: the period just before, of the same kind."""
        if self.kind == "month":
            return Period(add_months(self.start, -1), self.start, "month")
        if self.kind == "quarter":
            return Period(add_months(self.start, -3), self.start, "quarter")
        if self.kind == "year":
            return Period(self.start.replace(year=self.start.year - 1), self.start, "year")
        return Period(self.start - dt.timedelta(days=self.days), self.start, self.kind)

    def year_before(self) -> Period:
        """同比 base: the same period one year earlier."""
        if self.kind in ("month", "quarter", "year"):
            return Period(
                self.start.replace(year=self.start.year - 1),
                self.end.replace(year=self.end.year - 1),
                self.kind,
            )
        if self.kind == "week":
            return Period(self.start - dt.timedelta(weeks=52), self.end - dt.timedelta(weeks=52), "week")
        return Period(_minus_year(self.start), _minus_year(self.end), self.kind)

    def days_list(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.days)]


def _year(text: str) -> int:
    year = int(text)
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        raise ValidationError(f"统计周期的年份应在 {_MIN_YEAR}–{_MAX_YEAR} 之间：{text}")
    return year


def _date(text: str) -> dt.date:
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(f"日期格式应为 YYYY-MM-DD：{text!r}") from None
    _year(str(day.year))
    return day


def day(value: dt.date) -> Period:
    return Period(value, value + dt.timedelta(days=1), "day")


def month(year: int, month_: int) -> Period:
    start = dt.date(year, month_, 1)
    return Period(start, add_months(start, 1), "month")


def range_(start: dt.date, last: dt.date) -> Period:
    """A custom range, `last` included."""
    if last < start:
        raise ValidationError("统计周期的结束日期不能早于开始日期")
    if (last - start).days >= MAX_RANGE_DAYS:
        raise ValidationError(f"统计周期最长 {MAX_RANGE_DAYS} 天")
    return Period(start, last + dt.timedelta(days=1), "range")


def parse_period(text: str | None) -> Period:
    """Read a period from its text form (see the module docstring); clear Chinese errors."""
    raw = (text or "").strip()
    if not raw or "\x00" in raw or len(raw) > 40:
        raise ValidationError("统计周期无效：应为 2026-11-02、2026-W48、2026-11、2026-Q4、2026 或 开始~结束")
    if "~" in raw:
        first, _, last = raw.partition("~")
        return range_(_date(first.strip()), _date(last.strip()))
    if m := re.fullmatch(r"(\d{4})-W(\d{1,2})", raw):
        year, week = _year(m[1]), int(m[2])
        try:
            start = dt.date.fromisocalendar(year, week, 1)
        except ValueError:
            raise ValidationError(f"{year}年没有第{week}周") from None
        return Period(start, start + dt.timedelta(days=7), "week")
    if m := re.fullmatch(r"(\d{4})-Q([1-4])", raw):
        start = dt.date(_year(m[1]), (int(m[2]) - 1) * 3 + 1, 1)
        return Period(start, add_months(start, 3), "quarter")
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})", raw):
        if not 1 <= int(m[2]) <= 12:
            raise ValidationError(f"月份无效：{raw}")
        return month(_year(m[1]), int(m[2]))
    if re.fullmatch(r"\d{4}", raw):
        year = _year(raw)
        return Period(dt.date(year, 1, 1), dt.date(year + 1, 1, 1), "year")
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
        return day(_date(raw))
    raise ValidationError(
        f"统计周期无效：{raw[:40]}（应为 2026-11-02、2026-W48、2026-11、2026-Q4、2026 或 开始~结束）"
    )
