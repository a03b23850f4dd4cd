"""专题报告 (topic reports): a saved keyword set tracked over time.

A topic names keyword groups — each group a keyword with its synonyms, any one of which matches —
combined with AND ("all": every group) or OR ("any": one of them), words that must not appear, and
optional order filters (type, domain, sub-business, road class, channel, region). Matching is the
node's full-text search over the jieba tokens of an order's title and content
(`node.text.search.SearchBackend.boolean_ids_sql`): a keyword is cut like a search query and all its
words must be among the order's tokens.

The figures are the indicator engine's: a topic is the engine filter `topic` (`engine.compute(...,
filters={"topic": "<id>"})`, `engine.drill(...)`), so volume, growth, on-time closure or
satisfaction of a topic are the same definitions restricted to the topic's orders. Call figures
(calls are not orders) do not apply to a topic.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from functools import reduce
from typing import Any

import peewee as pw

from node import clock, db
from node.analytics import engine, periods
from node.analytics.models import Topic
from node.errors import Conflict, NotFound, ValidationError

VIEW = "stats.view"
EDIT = "stats.topics"
MODES = {"all": "全部关键词组都出现（并且）", "any": "任一关键词组出现（或者）"}
FILTER_DIMS = ("business_type", "domain", "sub_business", "road_class", "channel", "region")
MAX_GROUPS = 12
MAX_SYNONYMS = 12
MAX_EXCLUDE = 20
MAX_PHRASE = 40
MAX_ID = 2**31 - 1  # ids are 32-bit on PostgreSQL: anything larger names no topic
GRAINS = {"day": "日", "week": "周", "month": "月"}
INDICATORS = [
    "volume",
    "volume_mom",
    "volume_yoy",
    "closed",
    "closure_rate",
    "on_time_rate",
    "callback_rate",
    "result_satisfaction",
    "callback_satisfaction",
    "portal_satisfaction",
    "rectification_rate",
]
BREAKDOWN_DIMS = ("domain", "region", "unit")
BREAKDOWN_INDICATORS = ["volume", "closed", "on_time_rate", "callback_rate", "result_satisfaction"]
_SPLIT_SYNONYMS = re.compile(r"[|｜、,，;；/]")


# ---- definition ------------------------------------------------------------------------------------


def parse_keywords(text: str) -> list[list[str]]:
    """The screen's keyword box: one group per line, synonyms separated by | 、 ， ; or /."""
    groups = []
    for line in str(text or "").splitlines():
        group = [p.strip() for p in _SPLIT_SYNONYMS.split(line) if p.strip()]
        if group:
            groups.append(group)
    return groups


def parse_words(text: str) -> list[str]:
    """The screen's exclusion box: words separated by spaces, new lines, | 、 ， ; or /."""
    return [p for p in re.split(r"[\s|｜、,，;；/]+", str(text or "")) if p]


def _phrase(text: Any, what: str) -> str:
    from node.text.search import SearchBackend

    if not isinstance(text, str):
        raise ValidationError(f"{what}必须是文本")
    phrase = text.strip()
    if not phrase or "\x00" in phrase or len(phrase) > MAX_PHRASE:
        raise ValidationError(f"{what}“{phrase[:20]}”无效：应为 1–{MAX_PHRASE} 个字")
    if not SearchBackend._words(phrase):
        raise ValidationError(f"{what}“{phrase}”没有可检索的词（标点、空白不能检索）")
    return phrase


def clean(data: Mapping[str, Any], partial: bool = False) -> dict[str, Any]:
    """Check a topic definition (create: all of it; update: the fields given). Chinese errors."""
    known = {"name", "keywords", "mode", "exclude", "filters", "note", "active", "owner"}
    unknown = set(data) - known
    if unknown:
        raise ValidationError(f"未知的字段：{'、'.join(sorted(unknown))}")
    out: dict[str, Any] = {}
    if "name" in data or not partial:
        name = str(data.get("name") or "").strip()
        if not name or len(name) > 60 or "\x00" in name:
            raise ValidationError("专题名称不能为空，最多 60 个字")
        out["name"] = name
    if "keywords" in data or not partial:
        raw = data.get("keywords")
        groups = parse_keywords(raw) if isinstance(raw, str) else raw
        if not isinstance(groups, list) or not groups:
            raise ValidationError("请至少填写一个关键词")
        if len(groups) > MAX_GROUPS:
            raise ValidationError(f"关键词组最多 {MAX_GROUPS} 组")
        cleaned = []
        for group in groups:
            group = [group] if isinstance(group, str) else group
            if not isinstance(group, list) or not group or len(group) > MAX_SYNONYMS:
                raise ValidationError(f"每组关键词（含同义词）应为 1–{MAX_SYNONYMS} 个")
            cleaned.append(list(dict.fromkeys(_phrase(p, "关键词") for p in group)))
        out["keywords"] = cleaned
    if "mode" in data or not partial:
        mode = data.get("mode") or "all"
        if mode not in MODES:
            raise ValidationError("关键词组合方式应为 all（并且）或 any（或者）")
        out["mode"] = mode
    if "exclude" in data or not partial:
        raw = data.get("exclude") or []
        words = parse_words(raw) if isinstance(raw, str) else raw
        if not isinstance(words, list) or len(words) > MAX_EXCLUDE:
            raise ValidationError(f"排除词最多 {MAX_EXCLUDE} 个")
        out["exclude"] = list(dict.fromkeys(_phrase(w, "排除词") for w in words))
    if "filters" in data or not partial:
        raw = data.get("filters") or {}
        if not isinstance(raw, Mapping):
            raise ValidationError("筛选条件格式错误")
        bad = [d for d in raw if d not in FILTER_DIMS]
        if bad:
            raise ValidationError(
                f"专题不能按 {str(bad[0])[:20]} 筛选（可选：{'、'.join(engine.DIMENSIONS[d] for d in FILTER_DIMS)}）"
            )
        checked = engine.check_filters({d: v for d, v in raw.items() if v not in (None, "", [])})
        out["filters"] = {d: list(v) for d, v in checked.items()}
    if "note" in data or not partial:
        note = str(data.get("note") or "").strip()
        if len(note) > 200 or "\x00" in note:
            raise ValidationError("说明最多 200 个字，且不能含控制字符")
        out["note"] = note
    if "active" in data:
        if not isinstance(data["active"], bool):
            raise ValidationError("启用状态必须为是或否")
        out["active"] = data["active"]
    if "owner" in data and data["owner"] is not None:
        from node.auth.models import User

        try:
            owner = int(data["owner"])
        except (TypeError, ValueError):
            raise ValidationError("负责人无效") from None
        if not 1 <= owner <= MAX_ID or User.get_or_none(User.id == owner) is None:
            raise ValidationError("负责人不存在")
        out["owner"] = owner
    return out


def describe(topic: Topic) -> dict[str, Any]:
    return {
        "id": topic.id,
        "name": topic.name,
        "keywords": topic.keywords,
        "mode": topic.mode,
        "exclude": topic.exclude or [],
        "filters": topic.filters or {},
        "note": topic.note,
        "owner": topic.owner_id,
        "owner_name": _user_name(topic.owner_id),
        "active": topic.active,
        "created_at": topic.created_at.isoformat(sep=" ", timespec="seconds"),
        "updated_at": topic.updated_at.isoformat(sep=" ", timespec="seconds"),
        "expression": expression(topic),
    }


def expression(topic: Topic) -> str:
    """The keyword set as a person reads it: (拒载 或 拒绝载客) 并且 出租车，不含 网约车."""
    joiner = " 并且 " if topic.mode == "all" else " 或者 "
    text = joiner.join(("（" + " 或 ".join(g) + "）") if len(g) > 1 else g[0] for g in (topic.keywords or []))
    if topic.exclude:
        text += "，不含 " + "、".join(topic.exclude)
    filters = topic.filters or {}
    if filters:
        text += "；" + "；".join(
            f"{engine.DIMENSIONS[d]}：" + "、".join(engine.label(d, v) for v in vs)
            for d, vs in filters.items()
        )
    return text


def _user_name(user_id: int | None) -> str:
    if user_id is None:
        return ""
    from node.auth.models import User

    user = User.get_or_none(User.id == user_id)
    return (user.display_name or user.username) if user else ""


def _snapshot(topic: Topic) -> dict[str, Any]:
    return {
        k: getattr(topic, k)
        for k in ("name", "keywords", "mode", "exclude", "filters", "note", "active", "owner_id")
    }


def _audit(actor: Any, action: str, topic: Topic, before: dict[str, Any] | None) -> None:
    from node.audit.service import record

    after = _snapshot(topic)
    changed = (
        {k: {"before": before.get(k), "after": v} for k, v in after.items() if before.get(k) != v}
        if before
        else after
    )
    record(
        actor, "stats.topic_changed", f"专题 {topic.id} {topic.name}", {"action": action, "changes": changed}
    )


def list_topics(actor: Any, include_inactive: bool = True) -> list[Topic]:
    actor.require(VIEW)
    query = Topic.select().order_by(Topic.active.desc(), Topic.name)
    if not include_inactive:
        query = query.where(Topic.active == True)  # noqa: E712
    return list(query)


def get(actor: Any, topic_id: int) -> Topic:
    actor.require(VIEW)
    topic = _by_code(str(topic_id))
    if topic is None:
        raise NotFound(f"专题 {topic_id} 不存在")
    return topic


def create(actor: Any, data: Mapping[str, Any]) -> Topic:
    actor.require(EDIT)
    fields = clean(data)
    now = clock.now()
    with db.write_tx():
        if Topic.get_or_none(Topic.name == fields["name"]) is not None:
            raise Conflict(f"已有名为“{fields['name']}”的专题")
        topic = Topic.create(
            **{k: v for k, v in fields.items() if k != "owner"},
            owner=fields.get("owner", actor.user_id),
            created_at=now,
            updated_at=now,
            updated_by=actor.user_id,
        )
        _audit(actor, "create", topic, None)
    return topic


def update(actor: Any, topic_id: int, data: Mapping[str, Any]) -> Topic:
    actor.require(EDIT)
    fields = clean(data, partial=True)
    if not fields:
        raise ValidationError("没有要修改的内容")
    with db.write_tx():
        topic = get(actor, topic_id)
        before = _snapshot(topic)
        renamed = "name" in fields and fields["name"] != topic.name
        if renamed and Topic.get_or_none(Topic.name == fields["name"]) is not None:
            raise Conflict(f"已有名为“{fields['name']}”的专题")
        for key, value in fields.items():
            setattr(topic, "owner_id" if key == "owner" else key, value)
        if _snapshot(topic) == before:
            return topic
        topic.updated_at = clock.now()
        topic.updated_by = actor.user_id
        topic.save()
        _audit(actor, "update", topic, before)
    return topic


# ---- the engine's `topic` filter ---------------------------------------------------------------------


def _groups(topic: Topic) -> list[list[str]]:
    groups = [list(g) for g in topic.keywords or []]
    return groups if topic.mode == "all" else [[p for g in groups for p in g]]


def order_condition(values: Sequence[str], dims: Mapping[str, Any]) -> Any:
    """The condition the engine adds for `filters={"topic": ids}`: the order belongs to one of the
    topics (its keyword set matches and its own filters hold). `dims` maps the order dimensions to
    the source query's columns."""
    from node.workflow.models import WorkOrder
    from node.workflow.search import backend

    parts = []
    for value in values:
        topic = _by_code(value)
        if topic is None:
            raise ValidationError(f"专题不存在：{value[:20]}")
        sub = backend().boolean_ids_sql(_groups(topic), topic.exclude or [])
        if sub is None:
            parts.append(pw.SQL("1 = 0"))
            continue
        sql, params = sub
        # SQLite: `+id` keeps the planner on the period's time index, checking each row against the
        # matching ids, instead of looking up every matching order of all time (3–4× slower for a
        # topic that is common over the years; PostgreSQL chooses by its statistics)
        column = pw.NodeList((pw.SQL("+"), WorkOrder.id), glue="") if db.is_sqlite() else WorkOrder.id
        condition = column.in_(pw.SQL(f"({sql})", params))
        for dim, codes in (topic.filters or {}).items():
            condition &= dims[dim].in_(tuple(codes))
        parts.append(condition)
    return reduce(lambda a, b: a | b, parts)


def _by_code(value: str) -> Topic | None:
    """The topic a filter value names (its id), None for anything else."""
    if not value.isdigit() or len(value) > 10 or not 1 <= int(value) <= MAX_ID:
        return None
    return Topic.get_or_none(Topic.id == int(value))


def topic_name(value: str) -> str:
    topic = _by_code(value)
    return topic.name if topic else value


# ---- the report ----------------------------------------------------------------------------------------


def _share(part: float | None, whole: float | None) -> float | None:
    return round(part / whole, 6) if part is not None and whole else None


def _monday(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _bucket_period(day: dt.date, grain: str) -> periods.Period:
    """The whole day / ISO week / month containing `day`."""
    if grain == "day":
        return periods.day(day)
    if grain == "month":
        return periods.month(day.year, day.month)
    monday = _monday(day)
    return periods.Period(monday, monday + dt.timedelta(days=7), "week")


def _clip(bucket: periods.Period, period: periods.Period) -> periods.Period:
    start, end = max(bucket.start, period.start), min(bucket.end, period.end)
    return bucket if (start, end) == (bucket.start, bucket.end) else periods.Period(start, end, "range")


def _bucket_key(day: dt.date, grain: str) -> str:
    if grain == "day":
        return day.isoformat()
    if grain == "month":
        return day.strftime("%Y-%m")
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _volumes(period: periods.Period, grain: str, flt: Mapping[str, Any]) -> dict[str, float]:
    """The engine's volume per bucket; a week is the sum of its days."""
    dim = "month" if grain == "month" else "day"
    out: dict[str, float] = {}
    for r in engine.compute(["volume"], period, [dim], flt):
        code = r["group"][dim]
        key = code if grain != "week" else _bucket_key(dt.date.fromisoformat(code), grain)
        out[key] = out.get(key, 0) + (r["values"]["volume"]["value"] or 0)
    return out


def trend(topic: Topic, period: periods.Period, grain: str) -> list[dict[str, Any]]:
    """Per day / ISO week / month of the period (the first and last cut to the period): the topic's
    volume, all orders' volume, the share, and 环比 against the bucket before (the first against
    the whole bucket before the period)."""
    if grain not in GRAINS:
        raise ValidationError("趋势粒度应为 day（日）、week（周）或 month（月）")
    if grain == "day" and period.days > 370:
        raise ValidationError("按日的趋势最多 370 天，请按周或按月查看")
    flt = {"topic": str(topic.id)}
    mine = _volumes(period, grain, flt)
    everything = _volumes(period, grain, {})
    before = _bucket_period(period.start - dt.timedelta(days=1), grain)
    previous: float = engine.compute(["volume"], before, filters=flt)[0]["values"]["volume"]["value"] or 0
    out = []
    day = period.start
    while day < period.end:
        whole = _bucket_period(day, grain)
        bucket = _clip(whole, period)
        key = _bucket_key(day, grain)
        volume = mine.get(key, 0)
        label = (
            bucket.label
            if grain != "week"
            else f"{whole.label}（{bucket.start.month}/{bucket.start.day}–{(bucket.end - dt.timedelta(days=1)).month}/{(bucket.end - dt.timedelta(days=1)).day}）"
        )
        out.append(
            {
                "key": key,
                "label": label,
                "period": bucket.key,
                "volume": volume,
                "all": everything.get(key, 0),
                "share": _share(volume, everything.get(key, 0)),
                "mom": round((volume - previous) / previous, 6) if previous else None,
            }
        )
        previous = volume
        day = bucket.end
    return out


def report(topic: Topic, period: periods.Period, grain: str = "day") -> dict[str, Any]:
    """Everything the topic page, its Excel/CSV export and the API show, from the engine."""
    flt = {"topic": str(topic.id)}
    values = engine.compute(INDICATORS, period, filters=flt)[0]["values"]
    whole = engine.compute(["volume"], period)[0]["values"]
    volume = values["volume"]["value"] or 0
    breakdowns = {d: engine.compute(BREAKDOWN_INDICATORS, period, [d], flt) for d in BREAKDOWN_DIMS}
    return {
        "topic": describe(topic),
        "period": period.key,
        "period_label": period.label,
        "grain": grain,
        "indicators": values,
        "share": {
            "volume": volume,
            "all": whole["volume"]["value"] or 0,
            "value": _share(volume, whole["volume"]["value"]),
        },
        "trend": trend(topic, period, grain),
        "breakdowns": breakdowns,
    }


def form(data: dict[str, Any]) -> dict[str, Any]:
    """The report as a form (title and sections, node.analytics.forms) for Excel and CSV."""
    t = data["topic"]
    values = data["indicators"]
    grain = GRAINS[data["grain"]]
    sections = [
        {
            "title": "一、专题指标",
            "headers": ["指标", "数值", "分子", "分母"],
            "formats": ["text", "indicator", "num", "num"],
            "rows": [
                {
                    "cells": [
                        engine.indicator_label(n),
                        values[n]["value"],
                        values[n]["numerator"],
                        values[n]["denominator"],
                    ],
                    "indicator": n,
                }
                for n in INDICATORS
            ],
        },
        {
            "title": "二、占全部受理量的比例",
            "headers": ["统计周期", "专题受理量", "全部受理量", "占比"],
            "formats": ["text", "int", "int", "pct"],
            "rows": [
                {
                    "cells": [
                        data["period_label"],
                        data["share"]["volume"],
                        data["share"]["all"],
                        data["share"]["value"],
                    ]
                }
            ],
        },
        {
            "title": f"三、受理量趋势（按{grain}）",
            "headers": [grain, "专题受理量", "全部受理量", "占比", "环比"],
            "formats": ["text", "int", "int", "pct", "pct"],
            "rows": [
                {"cells": [b["label"], b["volume"], b["all"], b["share"], b["mom"]]} for b in data["trend"]
            ],
        },
    ]
    numbers = "四五六七八"
    for i, dim in enumerate(BREAKDOWN_DIMS):
        sections.append(
            {
                "title": f"{numbers[i]}、按{engine.DIMENSIONS[dim]}",
                "headers": [
                    engine.DIMENSIONS[dim],
                    *(engine.indicator_label(n) for n in BREAKDOWN_INDICATORS),
                ],
                "formats": ["text", *(f"ind:{n}" for n in BREAKDOWN_INDICATORS)],
                "rows": [
                    {"cells": [r["labels"][dim], *(r["values"][n]["value"] for n in BREAKDOWN_INDICATORS)]}
                    for r in data["breakdowns"][dim]
                ],
            }
        )
    return {
        "title": f"专题报告：{t['name']}（{data['period_label']}）",
        "period": data["period"],
        "period_label": f"{data['period_label']}　关键词：{t['expression']}",
        "sections": sections,
    }
