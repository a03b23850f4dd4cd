"""Appraisal periods: a month `2026-11` or a quarter `2026-Q4`, as half-open datetime ranges."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from node.errors import ValidationError

KINDS: dict[str, str] = {"month": "月度", "quarter": "季度"}
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True)
class Period:
    kind: str  # month | quarter
    year: int
    number: int  # month 1-12 or quarter 1-4

    @property
    def code(self) -> str:
        return f"{self.year}-{self.number:02d}" if self.kind == "month" else f"{self.year}-Q{self.number}"

    @property
    def label(self) -> str:
        return (
            f"{self.year}年{self.number}月" if self.kind == "month" else f"{self.year}年第{self.number}季度"
        )

    @property
    def start(self) -> dt.datetime:
        month = self.number if self.kind == "month" else 3 * (self.number - 1) + 1
        return dt.datetime(self.year, month, 1)

    @property
    def end(self) -> dt.datetime:
        """Exclusive end: the first moment of the next period."""
        return self.next().start

    def next(self) -> Period:
        top = 12 if self.kind == "month" else 4
        if self.number == top:
            return Period(self.kind, self.year + 1, 1)
        return Period(self.kind, self.year, self.number + 1)

    def previous(self) -> Period:
        top = 12 if self.kind == "month" else 4
        if self.number == 1:
            return Period(self.kind, self.year - 1, top)
        return Period(self.kind, self.year, self.number - 1)


def parse(code: str) -> Period:
    """`2026-11` → November 2026, `2026-Q4` → the fourth quarter; anything else is a ValidationError."""
    raw = (code or "").strip()
    m = _MONTH.match(raw)
    if m and 1 <= int(m.group(2)) <= 12 and 2000 <= int(m.group(1)) <= 2100:
        return Period("month", int(m.group(1)), int(m.group(2)))
    m = _QUARTER.match(raw)
    if m and 2000 <= int(m.group(1)) <= 2100:
        return Period("quarter", int(m.group(1)), int(m.group(2)))
    raise ValidationError(
        f"考核周期格式有误：{raw[:20]}（应为 2026-11 或 2026-Q4）", details={"period": "格式有误"}
    )


def containing(kind: str, when: dt.datetime | dt.date) -> Period:
    """The period of `kind` that holds `when`."""
    if kind == "month":
        return Period("month", when.year, when.month)
    return Period("quarter", when.year, (when.month - 1) // 3 + 1)


def just_ended(kind: str, now: dt.datetime) -> Period:
    """The last complete period of `kind` before `now` (what the worker scores at period end)."""
    return containing(kind, now).previous()
