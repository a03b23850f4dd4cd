"""Where the raw value of each appraisal indicator comes from.

Indicators of the indicator engine (node.analytics.engine, issue #10) are read through its
`compute(...)` API grouped by agent or unit — never computed a second time here. The appraisal-only
measures live in this module: the mean QA score (质检得分), sign-for in time (签收及时率), returns
(退回次数), urges received (被催办次数) and upheld objections against the unit's earlier results.
`evidence(...)` lists the orders or calls behind a raw value (the engine's `drill` for engine
indicators).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import peewee as pw

from node.appraisal import periods
from node.appraisal.models import Inspection
from node.catalog.models import Unit
from node.workflow.models import Assignment, ReturnRequest, Urge, WorkOrder


@dataclass(frozen=True)
class Source:
    code: str
    label: str
    unit: str  # "%", "分", "件", "秒", "次"
    populations: tuple[str, ...]
    engine: str = ""  # indicator name in node.analytics.engine; "" = appraisal-only (this module)


SOURCES: dict[str, Source] = {
    s.code: s
    for s in [
        Source("calls_handled", "接听量", "件", ("agent",), engine="calls_handled"),
        Source("asa", "平均应答速度", "秒", ("agent",), engine="asa"),
        Source("aht", "平均处理时长", "秒", ("agent",), engine="aht"),
        Source("phone_satisfaction", "电话服务满意度", "%", ("agent",), engine="phone_satisfaction"),
        Source("volume", "受理量", "件", ("agent", "centre"), engine="volume"),
        Source("instant_answer_rate", "即时答复率", "%", ("agent", "centre"), engine="instant_answer_rate"),
        Source("qa_score", "质检得分", "分", ("agent",)),
        Source("on_time_rate", "限时办结率", "%", ("unit", "centre"), engine="on_time_rate"),
        Source("closure_rate", "办结率", "%", ("unit", "centre"), engine="closure_rate"),
        Source("result_satisfaction", "处理满意率", "%", ("unit", "centre"), engine="result_satisfaction"),
        Source("callback_rate", "回访率", "%", ("centre",), engine="callback_rate"),
        Source("connection_rate", "人工接通率", "%", ("centre",), engine="connection_rate"),
        Source("service_level", "10秒内接通率", "%", ("centre",), engine="service_level"),
        Source("sign_on_time_rate", "签收及时率", "%", ("unit",)),
        Source("returns", "退回次数", "次", ("unit",)),
        Source("reopens", "重办件数", "件", ("unit",)),
        Source("urges_received", "被催办次数", "次", ("unit",)),
        Source("objections_upheld", "申诉成立次数", "次", ("unit",)),
    ]
}


def for_population(population: str) -> dict[str, str]:
    """Indicator code → name, for the scheme editor of a population."""
    return {s.code: s.label for s in SOURCES.values() if population in s.populations}


def show(code: str, value: float | None) -> str:
    """A raw value as people read it (rates as percentages)."""
    if value is None:
        return "无数据"
    src = SOURCES.get(code)
    if src and src.unit == "%":
        return f"{value * 100:.2f}%"
    if src and src.unit in ("件", "次"):
        return f"{value:g}"
    return f"{value:.2f}"


# ---- engine-backed values ---------------------------------------------------------------------


def engine_period(period: periods.Period) -> Any:
    return period.base


def register_engine_indicators() -> None:
    """接听量 per agent is an indicator (a count of handled calls), so it is added to the engine as
    one: a count of the engine's own `handled_legs` measure."""
    from node.analytics import engine

    if "calls_handled" not in engine.INDICATORS:
        engine.INDICATORS["calls_handled"] = engine.Indicator(
            "calls_handled",
            "接听量",
            "count",
            ("handled_legs",),
            unit="件",
            definition="统计期内由该话务员处理完毕的人工通话（含转接、回电转人工）",
        )


def engine_values(names: list[str], period: periods.Period, dim: str) -> dict[str, dict[str, float | None]]:
    """indicator → {group code (user id / unit id / region): value} from the engine."""
    if not names:
        return {}
    from node.analytics import engine

    register_engine_indicators()
    rows = engine.compute(names, engine_period(period), group_by=(dim,))
    out: dict[str, dict[str, float | None]] = {n: {} for n in names}
    for row in rows:
        code = str(row["group"].get(dim) or "")
        if not code:
            continue
        for name in names:
            out[name][code] = row["values"][name]["value"]
    return out


# ---- appraisal-only values -------------------------------------------------------------------------


def _qa(period: periods.Period) -> dict[str, float | None]:
    rows = (
        Inspection.select(Inspection.agent_user, pw.fn.AVG(Inspection.total))
        .where(Inspection.period == period.code, Inspection.status == "scored")
        .group_by(Inspection.agent_user)
        .tuples()
    )
    return {str(uid): round(float(avg), 2) for uid, avg in rows}


def _sign_on_time(period: periods.Period) -> dict[str, float | None]:
    """Assignments dispatched to the unit in the period: share signed by their sign-for deadline
    (withdrawn ones excluded)."""
    rows = (
        Assignment.select(
            Assignment.unit,
            pw.fn.COUNT(Assignment.id),
            pw.fn.SUM(
                pw.Case(
                    None,
                    [
                        (
                            (Assignment.signed_at.is_null(False))
                            & (Assignment.signed_at <= Assignment.sign_due_at),
                            1,
                        )
                    ],
                    0,
                )
            ),
        )
        .where(
            Assignment.dispatched_at >= period.start,
            Assignment.dispatched_at < period.end,
            Assignment.status != "withdrawn",
        )
        .group_by(Assignment.unit)
        .tuples()
    )
    return {str(u): round(int(ok or 0) / n, 6) for u, n, ok in rows if n}


def _count_by_unit(query: pw.Select) -> dict[str, float | None]:
    return {str(u): float(n) for u, n in query.tuples() if u is not None}


def _returns(period: periods.Period) -> dict[str, float | None]:
    return _count_by_unit(
        ReturnRequest.select(ReturnRequest.unit, pw.fn.COUNT(ReturnRequest.id))
        .where(ReturnRequest.requested_at >= period.start, ReturnRequest.requested_at < period.end)
        .group_by(ReturnRequest.unit)
    )


def _reopens(period: periods.Period) -> dict[str, float | None]:
    """Orders reopened (重办) in the period, charged to the lead unit that handled them."""
    from node.workflow.models import OrderEvent

    return _count_by_unit(
        Assignment.select(Assignment.unit, pw.fn.COUNT(pw.fn.DISTINCT(OrderEvent.order)))
        .join(OrderEvent, on=(OrderEvent.order == Assignment.order))
        .where(
            OrderEvent.action == "reopen",
            OrderEvent.at >= period.start,
            OrderEvent.at < period.end,
            Assignment.role == "lead",
            Assignment.dispatched_at <= OrderEvent.at,
        )
        .group_by(Assignment.unit)
    )


def _urges(period: periods.Period) -> dict[str, float | None]:
    return _count_by_unit(
        Urge.select(Urge.unit, pw.fn.COUNT(Urge.id))
        .where(Urge.at >= period.start, Urge.at < period.end, Urge.automatic == False)  # noqa: E712
        .group_by(Urge.unit)
    )


def _objections(period: periods.Period) -> dict[str, float | None]:
    from node.appraisal.models import Objection, Result

    return _count_by_unit(
        Result.select(Result.unit, pw.fn.COUNT(Objection.id))
        .join(Objection, on=(Objection.result == Result.id))
        .where(
            Objection.status == "upheld",
            Objection.decided_at >= period.start,
            Objection.decided_at < period.end,
        )
        .group_by(Result.unit)
    )


LOCAL: dict[str, Callable[[periods.Period], dict[str, float | None]]] = {
    "qa_score": _qa,
    "sign_on_time_rate": _sign_on_time,
    "returns": _returns,
    "reopens": _reopens,
    "urges_received": _urges,
    "objections_upheld": _objections,
}
COUNTS = ("returns", "reopens", "urges_received", "objections_upheld")  # zero when nothing happened

DIMENSION = {"agent": "agent", "unit": "unit", "centre": "region"}


def values(population: str, codes: list[str], period: periods.Period) -> dict[str, dict[str, float | None]]:
    """Raw value of each indicator per subject code for the period."""
    engine_names = sorted({SOURCES[c].engine for c in codes if SOURCES[c].engine})
    from_engine = engine_values(engine_names, period, DIMENSION[population])
    out: dict[str, dict[str, float | None]] = {}
    for c in codes:
        src = SOURCES[c]
        out[c] = from_engine[src.engine] if src.engine else LOCAL[c](period)
    return out


# ---- evidence --------------------------------------------------------------------------------------


def evidence(
    population: str, code: str, subject: str, period: periods.Period, limit: int = 200
) -> list[dict[str, Any]]:
    """The orders or calls behind a subject's raw value: [{"kind": "order"|"call"|"inspection",
    "ref": ..., "at": datetime, "note": ...}]."""
    src = SOURCES[code]
    if src.engine:
        from node.analytics import engine

        register_engine_indicators()
        dim = DIMENSION[population]
        rows = engine.drill(
            src.engine,
            engine_period(period),
            filters={dim: subject},
            part="denominator" if engine.INDICATORS[src.engine].denominator else "numerator",
            limit=limit,
        )
        if engine.INDICATORS[src.engine].denominator:
            good = {
                (r["ref"])
                for r in engine.drill(src.engine, engine_period(period), filters={dim: subject}, limit=5000)
            }
            return [
                {
                    "kind": r["kind"],
                    "ref": r["ref"],
                    "at": r["at"],
                    "note": ("计入分子" if r["ref"] in good else "仅计入分母"),
                }
                for r in rows
            ]
        return [{"kind": r["kind"], "ref": r["ref"], "at": r["at"], "note": r["measure_label"]} for r in rows]
    if code == "qa_score":
        q = (
            Inspection.select()
            .where(
                Inspection.period == period.code,
                Inspection.status == "scored",
                Inspection.agent_user == int(subject),
            )
            .limit(limit)
        )
        return [
            {"kind": "inspection", "ref": i.id, "at": i.scored_at, "note": f"{i.total:g}分 {i.order_number}"}
            for i in q
        ]
    unit_id = int(subject) if subject.isdigit() else 0
    if code == "sign_on_time_rate":
        q = (
            Assignment.select(Assignment, WorkOrder.number)
            .join(WorkOrder)
            .where(
                Assignment.unit == unit_id,
                Assignment.dispatched_at >= period.start,
                Assignment.dispatched_at < period.end,
                Assignment.status != "withdrawn",
            )
            .order_by(Assignment.dispatched_at)
            .limit(limit)
        )
        return [
            {
                "kind": "order",
                "ref": a.order.number,
                "at": a.dispatched_at,
                "note": "按时签收" if a.signed_at and a.signed_at <= a.sign_due_at else "超时或未签收",
            }
            for a in q
        ]
    if code == "returns":
        q = (
            ReturnRequest.select(ReturnRequest, WorkOrder.number)
            .join(WorkOrder)
            .where(
                ReturnRequest.unit == unit_id,
                ReturnRequest.requested_at >= period.start,
                ReturnRequest.requested_at < period.end,
            )
            .limit(limit)
        )
        return [
            {"kind": "order", "ref": r.order.number, "at": r.requested_at, "note": r.reason[:60]} for r in q
        ]
    if code == "urges_received":
        q = (
            Urge.select(Urge, WorkOrder.number)
            .join(WorkOrder)
            .where(Urge.unit == unit_id, Urge.at >= period.start, Urge.at < period.end, not Urge.automatic)
            .limit(limit)
        )
        return [{"kind": "order", "ref": u.order.number, "at": u.at, "note": u.note[:60]} for u in q]
    if code == "reopens":
        from node.workflow.models import OrderEvent

        q = (
            OrderEvent.select(OrderEvent, WorkOrder.number)
            .join(WorkOrder)
            .join(Assignment, on=(Assignment.order == WorkOrder.id))
            .where(
                OrderEvent.action == "reopen",
                OrderEvent.at >= period.start,
                OrderEvent.at < period.end,
                Assignment.unit == unit_id,
                Assignment.role == "lead",
                Assignment.dispatched_at <= OrderEvent.at,
            )
            .limit(limit)
        )
        return [{"kind": "order", "ref": e.order.number, "at": e.at, "note": e.reason[:60]} for e in q]
    return []


def unit_names() -> dict[str, str]:
    return {str(u.id): u.name for u in Unit.select(Unit.id, Unit.name)}
