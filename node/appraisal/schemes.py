"""Appraisal schemes as versioned data: saving a version, the version in force for a period, and
the default schemes a fresh node starts with."""

from __future__ import annotations

import datetime as dt
from typing import Any

import peewee as pw

from node import clock
from node.appraisal import measures, periods, rules
from node.appraisal.models import POPULATIONS, Scheme
from node.audit import service as audit
from node.auth.service import Actor
from node.db import write_tx
from node.errors import NotFound, ValidationError

EPOCH = dt.date(2000, 1, 1)

DEFAULTS: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "agent": (
        "话务员月度考核方案",
        [
            {"indicator": "calls_handled", "weight": 25, "rule": "linear", "floor": 0, "target": 600},
            {"indicator": "asa", "weight": 10, "rule": "linear", "floor": 30, "target": 10},
            {"indicator": "aht", "weight": 10, "rule": "linear", "floor": 600, "target": 240},
            {
                "indicator": "qa_score",
                "weight": 35,
                "rule": "thresholds",
                "bands": [[95, 35], [90, 30], [80, 24], [60, 12]],
            },
            {"indicator": "phone_satisfaction", "weight": 20, "rule": "linear", "floor": 0.8, "target": 0.98},
        ],
    ),
    "unit": (
        "承办单位月度考核方案",
        [
            {"indicator": "sign_on_time_rate", "weight": 15, "rule": "linear", "floor": 0.6, "target": 1},
            {"indicator": "on_time_rate", "weight": 30, "rule": "linear", "floor": 0.6, "target": 1},
            {
                "indicator": "result_satisfaction",
                "weight": 25,
                "rule": "linear",
                "floor": 0.6,
                "target": 0.95,
            },
            {"indicator": "returns", "weight": 10, "rule": "deduction", "per_event": 1, "missing": "full"},
            {"indicator": "reopens", "weight": 10, "rule": "deduction", "per_event": 2, "missing": "full"},
            {
                "indicator": "urges_received",
                "weight": 10,
                "rule": "deduction",
                "per_event": 1,
                "missing": "full",
            },
        ],
    ),
    "centre": (
        "下级中心月度考核方案",
        [
            {"indicator": "connection_rate", "weight": 15, "rule": "linear", "floor": 0.7, "target": 0.95},
            {"indicator": "service_level", "weight": 10, "rule": "linear", "floor": 0.6, "target": 0.9},
            {"indicator": "instant_answer_rate", "weight": 10, "rule": "linear", "floor": 0.5, "target": 0.8},
            {"indicator": "closure_rate", "weight": 15, "rule": "linear", "floor": 0.8, "target": 1},
            {"indicator": "on_time_rate", "weight": 20, "rule": "linear", "floor": 0.7, "target": 1},
            {"indicator": "callback_rate", "weight": 10, "rule": "linear", "floor": 0.5, "target": 0.9},
            {
                "indicator": "result_satisfaction",
                "weight": 20,
                "rule": "linear",
                "floor": 0.7,
                "target": 0.95,
            },
        ],
    ),
}


def _check_population(population: str) -> str:
    if population not in POPULATIONS:
        raise ValidationError("考核对象应为 话务员 / 承办单位 / 下级中心", details={"population": "未知"})
    return population


def _cap(raw: Any, label: str) -> float:
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValidationError(f"{label}须为数字", details={label: "应为数字"}) from None
    if not 0 <= value <= 100:
        raise ValidationError(f"{label}须在0到100之间", details={label: "超出范围"})
    return value


def save(
    actor: Actor | None,
    population: str,
    *,
    name: Any,
    period_kind: Any = "month",
    effective_from: Any,
    items: Any,
    bonus_cap: Any = 10,
    penalty_cap: Any = 20,
    note: Any = "",
) -> Scheme:
    """A new version of the population's scheme, in force from `effective_from` (the first day of a
    period). Earlier versions stay and keep scoring the periods before it."""
    if actor is not None:
        actor.require("appraisal.scheme")
    _check_population(population)
    title = str(name or "").strip()
    if not title or len(title) > 60 or "\x00" in title:
        raise ValidationError("方案名称须为1-60字", details={"name": "有误"})
    if period_kind not in periods.KINDS:
        raise ValidationError("考核周期应为 月度 或 季度", details={"period_kind": "有误"})
    if isinstance(effective_from, str):
        try:
            effective_from = dt.date.fromisoformat(effective_from.strip()[:10])
        except ValueError:
            raise ValidationError(
                "生效日期格式有误（应为 2026-01-01）", details={"effective_from": "有误"}
            ) from None
    if not isinstance(effective_from, dt.date) or not EPOCH <= effective_from <= dt.date(2100, 12, 31):
        raise ValidationError("生效日期有误", details={"effective_from": "有误"})
    first = periods.containing(str(period_kind), effective_from).start.date()
    if effective_from != first:
        raise ValidationError(
            f"生效日期须为考核周期的第一天（如 {first.isoformat()}）",
            details={"effective_from": "应为周期首日"},
        )
    parsed = rules.parse_items(items, measures.for_population(population))
    if actor is not None:
        ensure_defaults()  # version 1 is always the default scheme
    clean_note = str(note or "").strip()[:200].replace("\x00", "")
    with write_tx():
        last = Scheme.select(pw.fn.MAX(Scheme.version)).where(Scheme.population == population).scalar() or 0
        scheme = Scheme.create(
            population=population,
            name=title,
            period_kind=period_kind,
            version=last + 1,
            effective_from=effective_from,
            items=[i.as_dict() for i in parsed],
            bonus_cap=_cap(bonus_cap, "加分上限"),
            penalty_cap=_cap(penalty_cap, "扣分上限"),
            note=clean_note,
            created_by=actor.user_id if actor else None,
            created_at=clock.now(),
        )
        if actor is not None:
            audit.record(
                actor,
                "appraisal.scheme",
                target=f"scheme:{population}:v{scheme.version}",
                details={"name": title, "effective_from": effective_from.isoformat(), "items": scheme.items},
            )
    return scheme


def ensure_defaults() -> None:
    """Version 1 of each population's scheme (in force since 2000), where none exists yet."""
    for population, (name, items) in DEFAULTS.items():
        if not Scheme.select().where(Scheme.population == population).exists():
            save(None, population, name=name, effective_from=EPOCH, items=items, note="系统默认方案")


def in_force(population: str, period: periods.Period) -> Scheme:
    """The scheme version that scores `period`: the latest of its kind in force on its first day."""
    _check_population(population)
    ensure_defaults()
    scheme = (
        Scheme.select()
        .where(
            Scheme.population == population,
            Scheme.period_kind == period.kind,
            Scheme.effective_from <= period.start.date(),
        )
        .order_by(Scheme.effective_from.desc(), Scheme.version.desc())
        .first()
    )
    if scheme is None:
        raise NotFound(
            f"{period.label}没有适用的{POPULATIONS[population]}{periods.KINDS[period.kind]}考核方案"
        )
    return scheme


def versions(population: str) -> list[Scheme]:
    _check_population(population)
    ensure_defaults()
    return list(Scheme.select().where(Scheme.population == population).order_by(Scheme.version.desc()))


def get(scheme_id: int) -> Scheme:
    scheme = Scheme.get_or_none(Scheme.id == scheme_id)
    if scheme is None:
        raise NotFound("考核方案不存在")
    return scheme


def items_of(scheme: Scheme) -> list[rules.Item]:
    return rules.items_from_json(scheme.items)


def register_events() -> None:
    audit.EVENTS.setdefault("appraisal.scheme", "考核方案变更")


register_events()
