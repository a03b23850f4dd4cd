"""Appraisal periods: a month `2026-11` or a quarter `2026-Q4`. A thin view of the indicator
engine's periods (node.analytics.periods), limited to the two kinds a scheme can have, with the
datetime bounds the appraisal tables are queried with."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from node.analytics import periods as ap
from node.errors import ValidationError

KINDS: dict[str, str] = {"month": "月度", "quarter": "季度"}


@dataclass(frozen=True)
class Period:
    base: ap.Period  # the engine's period: what compute(...) and drill(...) take

    @property
    def kind(self) -> str:
        return self.base.kind

    @property
    def code(self) -> str:
        return self.base.key

    @property
    def label(self) -> str:
        return self.base.label

    @property
    def start(self) -> dt.datetime:
        return self.base.bounds()[0]

    @property
    def end(self) -> dt.datetime:
        """Exclusive end: the first moment of the next period."""
        return self.base.bounds()[1]

    def previous(self) -> Period:
        return Period(self.base.previous())


def parse(code: str) -> Period:
    """`2026-11` → November 2026, `2026-Q4` → the fourth quarter; anything else is a ValidationError."""
    raw = str(code or "").strip()
    try:
        base = ap.parse_period(raw)
    except ValidationError:
        base = None
    if base is None or base.kind not in KINDS or not 2000 <= base.start.year <= 2100:
        raise ValidationError(
            f"考核周期格式有误：{raw[:20]}（应为 2026-11 或 2026-Q4）", details={"period": "格式有误"}
        )
    return Period(base)


def containing(kind: str, when: dt.datetime | dt.date) -> Period:
    """The period of `kind` that holds `when`."""
    if kind == "month":
        return Period(ap.month(when.year, when.month))
    first = (when.month - 1) // 3 * 3 + 1
    start = dt.date(when.year, first, 1)
    return Period(ap.Period(start, ap.add_months(start, 3), "quarter"))


def just_ended(kind: str, now: dt.datetime) -> Period:
    """The last complete period of `kind` before `now` (what the worker scores at period end)."""
    return containing(kind, now).previous()
