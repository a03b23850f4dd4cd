"""Period runs: score every subject of a population with the scheme in force, rank them, let a
leader adjust (with a reason, audited) and publish; units see their own published result and file
objections (申诉) that a leader decides."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import peewee as pw

from node import clock
from node import settings as node_settings
from node.appraisal import measures, periods, rules, schemes
from node.appraisal.models import POPULATIONS, Adjustment, Objection, Result, Run
from node.audit import service as audit
from node.auth.models import User
from node.auth.service import Actor
from node.catalog.models import Unit
from node.db import planner_statistics, write_tx
from node.errors import NotFound, PermissionDenied, ValidationError

MAX_REASON = 200
MAX_POINTS = 100.0


@dataclass(frozen=True)
class Subject:
    code: str
    name: str
    unit_id: int | None = None


def subjects(population: str) -> list[Subject]:
    """Who is scored: active users with the agent role; active handling units; this node's
    subordinate centres (province and ministry nodes: the children in its federation peers)."""
    if population == "agent":
        users = User.select(User.id, User.display_name, User.roles).where(User.active == True)  # noqa: E712
        return [Subject(str(u.id), u.display_name) for u in users if "agent" in u.roles.split(",")]
    if population == "unit":
        return [
            Subject(str(u.id), u.name, u.id)
            for u in Unit.select(Unit.id, Unit.name).where(Unit.active == True).order_by(Unit.id)  # noqa: E712
        ]
    from federation.models import Peer
    from node.catalog import service as catalog

    if node_settings.current().level == "city":
        return []
    peers = Peer.select().where(Peer.relation == "child", Peer.enabled == True).order_by(Peer.region)  # noqa: E712
    return [Subject(p.region, p.name or catalog.region_name(p.region) or p.region) for p in peers]


def _centre_values(
    codes: list[str], period: periods.Period, centres: list[Subject]
) -> dict[str, dict[str, float | None]]:
    """Each subordinate centre's indicators over the period from the daily reports it sent up
    (federation.reports.rollup_period: the engine's definitions applied to the summed counts)."""
    from federation import reports

    rollup = reports.rollup_period(node_settings.current().region, period.base.start, period.base.end)
    by_child = {c["region"]: c["indicators"] for c in rollup["children"] if not c["own"]}
    out: dict[str, dict[str, float | None]] = {}
    for code in codes:
        name = measures.SOURCES[code].engine
        out[code] = {
            s.code: by_child[s.code][name]["value"]
            for s in centres
            if s.code in by_child and name in by_child[s.code]
        }
    return out


def _score_subject(
    items: list[rules.Item], raw: dict[str, dict[str, float | None]], code: str
) -> tuple[list[dict[str, Any]], float]:
    points: list[float | None] = []
    rows: list[dict[str, Any]] = []
    for item in items:
        value = raw[item.indicator].get(code)
        if value is None and item.indicator in measures.COUNTS:
            value = 0.0  # no urge, no return: zero events, not missing
        pts = rules.score(item, value)
        points.append(pts)
        rows.append(
            {
                "key": item.key,
                "indicator": item.indicator,
                "label": item.label,
                "weight": item.weight,
                "raw": value,
                "shown": measures.show(item.indicator, value),
                "points": pts,
                "rule": item.describe(),
            }
        )
    return rows, rules.total(items, points)


def _rank(run: Run) -> None:
    """Competition ranking by total (1, 2, 2, 4 …)."""
    results = list(
        Result.select(Result.id, Result.total)
        .where(Result.run == run)
        .order_by(Result.total.desc(), Result.id)
    )
    rank, last = 0, None
    for n, r in enumerate(results, 1):
        if r.total != last:
            rank, last = n, r.total
        r.rank = rank
    for chunk in range(0, len(results), 500):
        Result.bulk_update(results[chunk : chunk + 500], fields=[Result.rank])


def score_period(actor: Actor | None, population: str, period_code: str) -> Run:
    """Score (or re-score, while still a draft) every subject of the population for the period.
    Hand adjustments of a re-scored draft are kept."""
    if actor is not None:
        actor.require("appraisal.manage")
    if population not in POPULATIONS:
        raise ValidationError("考核对象应为 话务员 / 承办单位 / 下级中心", details={"population": "未知"})
    period = periods.parse(period_code)
    if period.end > clock.now():
        raise ValidationError(f"{period.label}尚未结束，不能评分", details={"period": "未结束"})
    started = time.perf_counter()
    planner_statistics()  # without them SQLite groups by unit through a bad plan (node.db)
    scheme = schemes.in_force(population, period)
    items = schemes.items_of(scheme)
    who = subjects(population)
    codes = sorted({i.indicator for i in items})
    if population == "centre":
        raw = _centre_values(codes, period, who)
    else:
        raw = measures.values(population, codes, period)
    # A subject with no figure at all in the period (no calls, no orders: only zero counts) is
    # not ranked: it would otherwise get full marks for the deductions alone.
    figures = [c for c in codes if c not in measures.COUNTS]
    active = [s for s in who if not figures or any(raw[c].get(s.code) is not None for c in figures)]
    scored = [(s, *_score_subject(items, raw, s.code)) for s in active]
    with write_tx():
        run = Run.get_or_none(Run.population == population, Run.period == period.code)
        if run is not None and run.status == "published":
            raise ValidationError(f"{period.label}{POPULATIONS[population]}考核结果已发布，不能重新评分")
        kept: dict[str, list[dict[str, Any]]] = {}
        if run is None:
            run = Run.create(
                population=population,
                period=period.code,
                scheme=scheme,
                created_at=clock.now(),
                created_by=actor.username if actor else "系统",
            )
        else:
            for adj in Adjustment.select(Adjustment, Result.subject_id).join(Result).where(Result.run == run):
                kept.setdefault(adj.result.subject_id, []).append(
                    {
                        "points": adj.points,
                        "reason": adj.reason,
                        "by": adj.by_id,
                        "by_name": adj.by_name,
                        "at": adj.at,
                    }
                )
            Result.delete().where(Result.run == run).execute()
            run.scheme, run.created_at = scheme, clock.now()
        rows = []
        for s, item_rows, base in scored:
            extra = round(sum(a["points"] for a in kept.get(s.code, [])), 2)
            rows.append(
                {
                    "run": run.id,
                    "subject_id": s.code,
                    "subject_name": s.name[:100],
                    "unit": s.unit_id,
                    "items": item_rows,
                    "base": base,
                    "adjustment": extra,
                    "total": round(base + extra, 2),
                }
            )
        for chunk in range(0, len(rows), 200):
            Result.insert_many(rows[chunk : chunk + 200]).execute()
        if kept:
            ids = {
                r.subject_id: r.id
                for r in Result.select(Result.id, Result.subject_id).where(Result.run == run)
            }
            Adjustment.insert_many(
                [{"result": ids[code], **a} for code, adjs in kept.items() if code in ids for a in adjs]
            ).execute()
        _rank(run)
        run.skipped = len(who) - len(active)
        run.seconds = round(time.perf_counter() - started, 3)
        run.save()
    return run


def get_run(population: str, period_code: str) -> Run | None:
    period = periods.parse(period_code)
    return Run.get_or_none(Run.population == population, Run.period == period.code)


def _result(result_id: int) -> Result:
    r = Result.select(Result, Run).join(Run).where(Result.id == result_id).first()
    if r is None:
        raise NotFound("考核结果不存在")
    return r


def can_see(actor: Actor, result: Result) -> bool:
    """Viewers see every result; a unit's staff its own published one; an agent their own published one."""
    if actor.can("appraisal.view") or actor.can("appraisal.manage"):
        return True
    if not actor.can("appraisal.own") or result.run.status != "published":
        return False
    if result.run.population == "unit":
        return actor.unit_id is not None and result.unit_id == actor.unit_id
    if result.run.population == "agent":
        return result.subject_id == str(actor.user_id)
    return False


def result_for(actor: Actor, result_id: int) -> Result:
    r = _result(result_id)
    if not can_see(actor, r):
        raise PermissionDenied("只能查看本人或本单位已发布的考核结果")
    return r


def _check_reason(raw: Any, label: str = "调整理由") -> str:
    text = str(raw or "").strip()
    if "\x00" in text:
        raise ValidationError(f"{label}含有非法字符", details={"reason": "非法字符"})
    if not text:
        raise ValidationError(f"请填写{label}", details={"reason": "不能为空"})
    if len(text) > MAX_REASON:
        raise ValidationError(f"{label}不超过{MAX_REASON}字", details={"reason": "过长"})
    return text


def _points(raw: Any) -> float:
    if isinstance(raw, bool):
        raise ValidationError("分值须为数字", details={"points": "应为数字"})
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValidationError("分值须为数字", details={"points": "应为数字"}) from None
    if value != value or not -MAX_POINTS <= value <= MAX_POINTS or value == 0:
        raise ValidationError(f"分值须为非零数字，绝对值不超过{MAX_POINTS:g}", details={"points": "超出范围"})
    return round(value, 2)


def _apply(result: Result, actor: Actor, points: float, reason: str) -> Adjustment:
    adj = Adjustment.create(
        result=result,
        points=points,
        reason=reason,
        by=actor.user_id,
        by_name=actor.display_name[:40],
        at=clock.now(),
    )
    total = Adjustment.select(pw.fn.SUM(Adjustment.points)).where(Adjustment.result == result).scalar() or 0
    result.adjustment = round(float(total), 2)
    result.total = round(result.base + result.adjustment, 2)
    result.save()
    _rank(result.run)
    return adj


def adjust(actor: Actor, result_id: int, points: Any, reason: Any) -> Adjustment:
    """加分 (positive) or 扣分 (negative) by hand on a draft result, within the scheme's caps."""
    actor.require("appraisal.manage")
    value = _points(points)
    why = _check_reason(reason)
    with write_tx():
        result = _result(result_id)
        if result.run.status == "published":
            raise ValidationError("结果已发布，只能通过申诉处理更正")
        scheme = result.run.scheme
        adjs = [a.points for a in Adjustment.select(Adjustment.points).where(Adjustment.result == result)]
        bonus = sum(p for p in adjs if p > 0) + max(value, 0)
        penalty = -sum(p for p in adjs if p < 0) - min(value, 0)
        if bonus > scheme.bonus_cap:
            raise ValidationError(
                f"加分合计不能超过方案规定的{scheme.bonus_cap:g}分", details={"points": "超出加分上限"}
            )
        if penalty > scheme.penalty_cap:
            raise ValidationError(
                f"扣分合计不能超过方案规定的{scheme.penalty_cap:g}分", details={"points": "超出扣分上限"}
            )
        adj = _apply(result, actor, value, why)
        audit.record(
            actor,
            "appraisal.adjust",
            target=f"result:{result.id}",
            details={
                "period": result.run.period,
                "subject": result.subject_name,
                "points": value,
                "reason": why,
            },
        )
    return adj


def publish(actor: Actor, run_id: int) -> Run:
    actor.require("appraisal.manage")
    with write_tx():
        run = Run.get_or_none(Run.id == run_id)
        if run is None:
            raise NotFound("考核批次不存在")
        if run.status == "published":
            raise ValidationError("该批次已发布")
        run.status, run.published_at, run.published_by = "published", clock.now(), actor.user_id
        run.save()
        audit.record(
            actor,
            "appraisal.publish",
            target=f"run:{run.id}",
            details={"population": run.population, "period": run.period},
        )
    return run


def file_objection(actor: Actor, result_id: int, text: Any, item_key: Any = "") -> Objection:
    """申诉: a unit's staff dispute their unit's published result (one pending at a time)."""
    actor.require("appraisal.own")
    body = _check_reason(text, "申诉理由")
    key = str(item_key or "")[:40]
    with write_tx():
        result = _result(result_id)
        if result.run.population != "unit" or actor.unit_id is None or result.unit_id != actor.unit_id:
            raise PermissionDenied("只能对本单位的考核结果申诉")
        if result.run.status != "published":
            raise ValidationError("结果发布后才能申诉")
        if key and key not in {i["key"] for i in result.items}:
            raise ValidationError("申诉的考核项不存在", details={"item_key": "未知"})
        if Objection.select().where(Objection.result == result, Objection.status == "pending").exists():
            raise ValidationError("已有待处理的申诉，请等待处理结果")
        return Objection.create(
            result=result, item_key=key, text=body, filed_by=actor.user_id, filed_at=clock.now()
        )


def decide_objection(
    actor: Actor, objection_id: int, upheld: bool, decision: Any, points: Any = None
) -> Objection:
    """A leader upholds (optionally with a score correction) or rejects an objection (audited)."""
    actor.require("appraisal.manage")
    why = _check_reason(decision, "处理意见")
    value = _points(points) if upheld and points not in (None, "", 0, "0") else 0.0
    with write_tx():
        obj = Objection.get_or_none(Objection.id == objection_id)
        if obj is None:
            raise NotFound("申诉不存在")
        if obj.status != "pending":
            raise ValidationError("该申诉已处理")
        obj.status = "upheld" if upheld else "rejected"
        obj.decision, obj.points, obj.decided_by, obj.decided_at = why, value, actor.user_id, clock.now()
        obj.save()
        if value:
            _apply(_result(obj.result_id), actor, value, f"申诉成立：{why}"[:MAX_REASON])
        audit.record(
            actor,
            "appraisal.objection",
            target=f"objection:{obj.id}",
            details={"result": obj.result_id, "upheld": upheld, "points": value, "decision": why},
        )
    return obj


def objections(actor: Actor, status: str | None = None) -> list[Objection]:
    q = Objection.select(Objection, Result, Run).join(Result).join(Run)
    if not (actor.can("appraisal.manage") or actor.can("appraisal.view")):
        if not actor.can("appraisal.own") or actor.unit_id is None:
            raise PermissionDenied("无权查看申诉")
        q = q.where(Result.unit == actor.unit_id)
    if status in ("pending", "upheld", "rejected"):
        q = q.where(Objection.status == status)
    return list(q.order_by(Objection.filed_at.desc()).limit(500))


@dataclass
class RankingRow:
    result: Result
    previous_total: float | None
    previous_rank: int | None

    @property
    def trend(self) -> float | None:
        if self.previous_total is None:
            return None
        return round(self.result.total - self.previous_total, 2)


def ranking(actor: Actor, population: str, period_code: str) -> tuple[Run | None, list[RankingRow]]:
    """The period's results in rank order with the previous period's total and rank beside them
    (trend). Units and agents without appraisal.view see only their own published row."""
    period = periods.parse(period_code)
    if population not in POPULATIONS:
        raise ValidationError("考核对象有误", details={"population": "未知"})
    if not (actor.can("appraisal.view") or actor.can("appraisal.manage") or actor.can("appraisal.own")):
        raise PermissionDenied("无权查看考核结果")
    run = Run.get_or_none(Run.population == population, Run.period == period.code)
    if run is None:
        return None, []
    prev = Run.get_or_none(Run.population == population, Run.period == period.previous().code)
    before = {}
    if prev is not None and (
        prev.status == "published" or actor.can("appraisal.view") or actor.can("appraisal.manage")
    ):
        before = {
            r.subject_id: (r.total, r.rank)
            for r in Result.select(Result.subject_id, Result.total, Result.rank).where(Result.run == prev)
        }
    q = Result.select(Result, Run).join(Run).where(Result.run == run).order_by(Result.rank, Result.id)
    rows = [RankingRow(r, *(before.get(r.subject_id) or (None, None))) for r in q if can_see(actor, r)]
    return run, rows


def history(actor: Actor, population: str, subject_id: str, limit: int = 12) -> list[Result]:
    """A subject's results over past periods (for the score card's trend chart), oldest first."""
    q = (
        Result.select(Result, Run)
        .join(Run)
        .where(Run.population == population, Result.subject_id == subject_id)
        .order_by(Run.period.desc())
        .limit(limit)
    )
    return [r for r in reversed(list(q)) if can_see(actor, r)]


def register_events() -> None:
    audit.EVENTS.setdefault("appraisal.adjust", "考核结果调整")
    audit.EVENTS.setdefault("appraisal.publish", "考核结果发布")
    audit.EVENTS.setdefault("appraisal.objection", "考核申诉处理")


register_events()
