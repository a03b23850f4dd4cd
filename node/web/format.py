"""Chinese display conventions for templates: dates (2026年11月28日 14:05), numbers, remaining time."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from flask import Flask

from node import clock
from node.catalog import service as catalog
from node.workflow import states
from node.workflow.deadlines import DEADLINE_LABELS


def _as_datetime(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    try:
        return dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None


def cn_datetime(value: Any) -> str:
    """2026年11月28日 14:05 (empty string for no value)."""
    d = _as_datetime(value)
    return f"{d.year}年{d.month}月{d.day}日 {d:%H:%M}" if d else ""


def cn_date(value: Any) -> str:
    d = _as_datetime(value)
    return f"{d.year}年{d.month}月{d.day}日" if d else ""


def cn_short(value: Any, now: dt.datetime | None = None) -> str:
    """Compact form for tables: 14:05 today, 11月27日 09:30 this year, else the full date."""
    d = _as_datetime(value)
    if d is None:
        return ""
    now = now or clock.now()
    if d.date() == now.date():
        return f"今天 {d:%H:%M}"
    if d.year == now.year:
        return f"{d.month}月{d.day}日 {d:%H:%M}"
    return cn_datetime(d)


def cn_number(value: Any) -> str:
    """Thousands separated (12,345); 10万 and above also shows the 万 form (102,345 → 10.2万)."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        return str(value)
    if abs(n) >= 100_000:
        return f"{n / 10_000:.1f}万".replace(".0万", "万")
    return f"{n:,}"


def span_text(delta: dt.timedelta) -> str:
    minutes = int(abs(delta.total_seconds()) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时{mins}分" if mins else f"{hours}小时"
    return f"{mins}分钟"


def due_text(due: Any) -> str:
    """剩余 2天3小时 / 超期 5小时, against the node clock."""
    d = _as_datetime(due)
    if d is None:
        return "无时限"
    delta = d - clock.now()
    return f"剩余 {span_text(delta)}" if delta.total_seconds() >= 0 else f"超期 {span_text(delta)}"


def merge_page(args: dict[str, Any], page: int) -> str:
    """Query string of the current filters with another page number."""
    return urlencode({**{k: v for k, v in args.items() if k != "page" and v not in (None, "")}, "page": page})


def state_category(state: str) -> str:
    return states.category(state) if state in states.STATES else "open"


def state_label(state: str) -> str:
    return states.label(state) if state in states.STATES else state


def domain_name(code: str) -> str:
    return catalog.domain_name(code) if code else "未分类"


def pii_text(text: str | None) -> str:
    """Free text of an order (a title in a list) as the signed-in reader may see it: phones,
    ID-card and bank numbers masked without `pii.view` (the rule of workflow.present.text_for)."""
    from node.auth.web import optional_actor
    from node.text.normalize import mask_pii

    if not text:
        return text or ""
    actor = optional_actor()
    return text if actor is not None and actor.can("pii.view") else mask_pii(text)


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        cn_datetime=cn_datetime,
        cn_date=cn_date,
        cn_short=cn_short,
        cn_number=cn_number,
        due_text=due_text,
        merge_page=merge_page,
        state_category=state_category,
        state_label=state_label,
        type_name=catalog.type_name,
        domain_name=domain_name,
        pii_text=pii_text,
    )
    app.jinja_env.globals["DEADLINE_LABELS"] = DEADLINE_LABELS
