"""Reading the State Council's yearly holiday notice (国务院办公厅关于 YYYY 年部分节假日安排的通知).

The notice is published each November or December, before `chinesecalendar` has the new year. An
administrator pastes its text; `parse_notice` turns each item — "二、春节：2月15日（农历腊月二十八、
周日）至23日（农历正月初七、周一）放假调休，共9天。2月14日（周六）、2月28日（周六）上班。" — into
days off (放假) and make-up working days (上班).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from node.errors import ValidationError

_PAREN = r"(?:[（(][^）)]*[）)])?"
_DAY = r"(?:(\d{4})年)?(?:(\d{1,2})月)?(\d{1,2})日" + _PAREN
RANGE_RE = re.compile(_DAY + r"(?:\s*(?:至|—|-|～|~)\s*" + _DAY + r")?\s*放假")
DATE_RE = re.compile(r"(?:(\d{4})年)?(\d{1,2})月(\d{1,2})日")
ITEM_RE = re.compile(r"[一二三四五六七八九十]+[、.．]\s*([^：:，。（）()\n\s]{1,12})[：:]")
YEAR_RE = re.compile(r"关于\s*(\d{4})\s*年")


@dataclass(frozen=True)
class NoticeDay:
    day: dt.date
    is_workday: bool
    note: str


def notice_year(text: str) -> int | None:
    m = YEAR_RE.search(text)
    return int(m.group(1)) if m else None


def _date(year: int, y: str | None, m: str | None, d: str, month_default: int | None) -> dt.date:
    month = int(m) if m else month_default
    if month is None:
        raise ValueError("missing month")
    return dt.date(int(y) if y else year, month, int(d))


def parse_notice(text: str, year: int | None = None) -> list[NoticeDay]:
    """Days off and make-up working days of every item in the notice, in date order. Raises a
    ValidationError naming the item that could not be read."""
    year = year or notice_year(text)
    if year is None:
        raise ValidationError("无法确定年份：请填写年份，或粘贴含“关于××××年部分节假日安排”的通知全文")
    heads = list(ITEM_RE.finditer(text))
    items = [
        (h.group(1), text[h.end() : heads[i + 1].start() if i + 1 < len(heads) else len(text)])
        for i, h in enumerate(heads)
    ]
    if not items:
        raise ValidationError("没有识别到节假日条目（应形如“一、元旦：1月1日至3日放假调休，共3天。”）")
    days: dict[dt.date, NoticeDay] = {}
    for name, body in items:
        name = name.strip()
        off = RANGE_RE.search(body)
        if off is None:
            raise ValidationError(f"“{name}”一项没有找到放假日期", details={"item": name})
        y1, m1, d1, y2, m2, d2 = off.groups()
        try:
            start = _date(year, y1, m1, d1, None)
            end = _date(start.year if not y2 else year, y2, m2, d2, start.month) if d2 else start
        except ValueError:
            raise ValidationError(f"“{name}”一项的日期有误", details={"item": name}) from None
        if end < start or (end - start).days > 15:
            raise ValidationError(f"“{name}”一项的放假起止日期有误", details={"item": name})
        day = start
        while day <= end:
            days[day] = NoticeDay(day, False, name)
            day += dt.timedelta(days=1)
        for sentence in re.split(r"[。；;]", body[off.end() :]):
            if "上班" not in sentence:
                continue
            for y, m, d in DATE_RE.findall(sentence):
                try:
                    work = _date(year, y, m, d, None)
                except ValueError:
                    raise ValidationError(f"“{name}”一项的调休上班日期有误", details={"item": name}) from None
                days[work] = NoticeDay(work, True, f"{name}调休上班")
    return sorted(days.values(), key=lambda n: n.day)
