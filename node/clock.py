"""Injectable time. Domain code asks here for "now" so tests can freeze and move time.

All stored datetimes are naive local China Standard Time (UTC+8, no daylight saving);
federation converts to epoch milliseconds at the wire.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")

_state = threading.local()
_global_frozen: list[dt.datetime] = []


def now() -> dt.datetime:
    """Current local time (naive, Asia/Shanghai), truncated to microseconds."""
    if _global_frozen:
        return _global_frozen[-1]
    return dt.datetime.now(TZ).replace(tzinfo=None)


def today() -> dt.date:
    return now().date()


def to_epoch_ms(value: dt.datetime) -> int:
    return int(value.replace(tzinfo=TZ).timestamp() * 1000)


def from_epoch_ms(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, TZ).replace(tzinfo=None)


@contextmanager
def frozen(at: dt.datetime) -> Iterator[FrozenClock]:
    """Freeze `now()` at `at` for the block (process-wide); `travel()` moves it."""
    clock = FrozenClock()
    _global_frozen.append(at)
    try:
        yield clock
    finally:
        _global_frozen.pop()


class FrozenClock:
    def travel(self, **delta: float) -> dt.datetime:
        _global_frozen[-1] = _global_frozen[-1] + dt.timedelta(**delta)
        return _global_frozen[-1]

    def set(self, at: dt.datetime) -> None:
        _global_frozen[-1] = at
