"""Daily reports (日报) and rollups (汇总) with drill-down from nation to province to city.

A daily report holds one node's OWN figures for one date (Asia/Shanghai), computed from database
state, so a missed day is recomputed exactly (`catch_up`, idempotent per date through
`node.jobs.runner.run_once`). Each count is (metric, business type, domain, channel, value).

The figures are the indicator engine's measures (`node.analytics.engine.report_counts`: every
numerator and denominator of docs/INDICATORS.md, counted at the grain type × domain × channel;
call measures per queue; sums of seconds as `<measure>_ms`), so a rollup's indicators
(`engine.indicators_from_counts` over the summed counts) are the engine's definitions — there is
no second formula here. Beside them the report carries activity counts of the day's history
(spot-check orders excluded):

| metric | counted on the date |
|---|---|
| dispatched | orders dispatched to units here (分类转办) |
| transferred_out / transferred_in | cross-region transfers sent / received |
| returned / extended / urged / reopened | 退回, approved 延期, 催办, 重办 |

Orders sent to another node are counted where they are handled (the origin drops them from the
handling measures; callbacks and ratings stay with the origin, which owns the caller).
A received report replaces an earlier one of the same node and date only with a higher revision.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from typing import Any

import peewee as pw

from federation import bulk, codec, sender
from federation.models import NodeReport, Peer, ReportCount, TransferLink
from federation.routing import MINISTRY, check_node, in_subtree, level_of, parent_of, subtree_prefix
from federation.v1 import federation_pb2 as pb
from node import clock
from node.db import write_tx
from node.errors import PermissionDenied
from node.validation import parse_day

CATCH_UP_DAYS = 31
JOB_NAME = "federation_daily_report"


def parse_date(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return parse_day(str(value), "date")


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time())
    return start, start + dt.timedelta(days=1)


# ---- computing a node's own figures ---------------------------------------------------------------


def compute(me: str, day: dt.date) -> list[codec.Count]:
    """This node's own counts for `day`, from database state: the engine's measures plus the
    day's activity counts."""
    from node.analytics import engine, periods
    from node.workflow.models import Extension, OrderEvent, Urge, WorkOrder

    start, end = day_bounds(day)
    W = WorkOrder
    key = (W.business_type, W.domain, W.channel)
    real = W.is_spot_check == False  # noqa: E712
    sent_away = TransferLink.select(TransferLink.number).where(
        (TransferLink.direction == "out") & (TransferLink.status != "refused")
    )
    here = W.number.not_in(sent_away)
    counts: list[codec.Count] = list(engine.report_counts(me, periods.day(day)))

    def grouped(metric: str, query: pw.ModelSelect) -> None:
        for btype, domain, channel, value in query.group_by(*key).tuples():
            if value:
                counts.append((metric, btype or "", domain or "", channel or "", int(value)))

    def events(metric: str, actions: tuple[str, ...], where: Any = None) -> None:
        conditions = [
            OrderEvent.action.in_(actions),
            OrderEvent.at >= start,
            OrderEvent.at < end,
            OrderEvent.node == me,  # not the history a transferred order brought along
            real,
        ]
        grouped(
            metric,
            W.select(*key, pw.fn.COUNT(pw.fn.DISTINCT(W.id)))
            .join(OrderEvent, on=(OrderEvent.order == W.id))
            .where(*conditions, *([where] if where is not None else [])),
        )

    events("dispatched", ("dispatch",), here)
    events("transferred_out", ("transfer",))
    events("transferred_in", ("receive_transfer",))
    events("returned", ("return",), here)
    events("reopened", ("reopen",), here)
    grouped(
        "extended",
        W.select(*key, pw.fn.COUNT(Extension.id))
        .join(Extension, on=(Extension.order == W.id))
        .where(
            Extension.status == "approved", Extension.decided_at >= start, Extension.decided_at < end, real
        ),
    )
    grouped(
        "urged",
        W.select(*key, pw.fn.COUNT(Urge.id))
        .join(Urge, on=(Urge.order == W.id))
        .where(Urge.at >= start, Urge.at < end, real),
    )
    return counts


# ---- storing, sending, catching up ----------------------------------------------------------------


def store(node: str, day: dt.date, revision: int, generated_at_ms: int, counts: list[codec.Count]) -> bool:
    """Keep a report unless one with the same or a higher revision is stored. True if stored."""
    now = clock.now()
    with write_tx():
        existing = NodeReport.get_or_none((NodeReport.node == node) & (NodeReport.report_date == day))
        if existing is not None:
            if existing.revision >= revision:
                return False
            ReportCount.delete().where(ReportCount.report == existing.id).execute()
            NodeReport.update(revision=revision, generated_at_ms=generated_at_ms, received_at=now).where(
                NodeReport.id == existing.id
            ).execute()
            report_id = existing.id
        else:
            report_id = NodeReport.insert(
                node=node,
                report_date=day,
                revision=revision,
                generated_at_ms=generated_at_ms,
                received_at=now,
            ).execute()
        bulk.insert_rows(
            ReportCount,
            ("report", "node", "report_date", "metric", "business_type", "domain", "channel", "value"),
            [
                (report_id, node, day, metric, btype, domain, channel, value)
                for metric, btype, domain, channel, value in counts
            ],
        )
    return True


def generate(me: str, day: dt.date, *, send: bool = True) -> pb.DailyReport:
    """Compute, store and (unless this is the ministry) queue upward this node's report for `day`.
    Every call makes a new revision, so an on-demand push replaces the earlier figures."""
    with write_tx():
        counts = compute(me, day)
        revision = clock.to_epoch_ms(clock.now()) * 1000 + _revision_tick()
        report = codec.daily_report(me, day, counts, revision)
        store(me, day, revision, report.generated_at_ms, counts)
        if send and parent_of(me) is not None:
            sender.enqueue(report, origin=me, destination=MINISTRY)
    return report


_tick = [0]


def _revision_tick() -> int:
    _tick[0] = (_tick[0] + 1) % 1000
    return _tick[0]


def catch_up(me: str, today: dt.date | None = None, max_days: int = CATCH_UP_DAYS) -> list[dt.date]:
    """Generate every finished day's report not generated yet (idempotent per date); returns the
    dates generated now. Starts at the earliest order, at most `max_days` back."""
    from node.jobs.runner import run_once
    from node.workflow.models import WorkOrder

    today = today or clock.now().date()
    first = WorkOrder.select(pw.fn.MIN(WorkOrder.accepted_at)).scalar()
    earliest = first.date() if first is not None else today - dt.timedelta(days=1)
    day = max(earliest, today - dt.timedelta(days=max_days))
    done = []
    while day < today:
        if run_once(JOB_NAME, day.isoformat(), lambda d=day: generate(me, d).revision):
            done.append(day)
        day += dt.timedelta(days=1)
    return done


def apply_report(me: str, origin: str, report: pb.DailyReport) -> None:
    """Inbox handler: store a report of a node in our subtree (the receiver checked its name)."""
    if report.node != origin or not in_subtree(me, origin):
        raise ValueError(f"日报节点 {report.node} 与发送节点 {origin} 不符")
    store(
        origin,
        parse_date(report.report_date),
        report.revision,
        report.generated_at_ms,
        codec.report_counts(report),
    )


# ---- rollups --------------------------------------------------------------------------------------


def _child_of(scope: str, node: str) -> str:
    """The child of `scope` that `node` belongs to (the node itself for the scope's own figures)."""
    level = level_of(scope)
    if level == "ministry" and node != MINISTRY:
        return node[:2] + "0000"
    return node


def indicators(totals: dict[str, int], by_type: dict[str, dict[str, int]]) -> dict[str, float | None]:
    """The engine's indicators (node.analytics) from summed counts: name -> value."""
    from node.analytics import engine

    return {name: v["value"] for name, v in engine.indicators_from_counts(totals, by_type).items()}


def rollup(me: str, day: str | dt.date, region: str | None = None) -> dict[str, Any]:
    """Totals for `region` (default: this node's whole subtree) on `day`: by type, domain and
    channel, the derived indicators, and one entry per child for drill-down."""
    day = parse_date(day)
    region = check_node(region or me)
    if not in_subtree(me, region):
        raise PermissionDenied(f"本节点（{me}）无权查看 {region} 的汇总数据")
    prefix = subtree_prefix(region)
    query = ReportCount.select(
        ReportCount.node,
        ReportCount.metric,
        ReportCount.business_type,
        ReportCount.domain,
        ReportCount.channel,
        pw.fn.SUM(ReportCount.value),
    ).where(ReportCount.report_date == day)
    if prefix:
        query = query.where(ReportCount.node.startswith(prefix))
    totals: dict[str, int] = defaultdict(int)
    by_type: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_domain: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    by_channel: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    children: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    rows = query.group_by(
        ReportCount.node,
        ReportCount.metric,
        ReportCount.business_type,
        ReportCount.domain,
        ReportCount.channel,
    ).tuples()
    for node, metric, btype, domain, channel, value in rows:
        value = int(value)
        totals[metric] += value
        if btype:
            by_type[btype][metric] += value
        if domain:
            by_domain[domain][metric] += value
        if channel:
            by_channel[channel][metric] += value
        children[_child_of(region, node)][metric] += value
    reporting = NodeReport.select(NodeReport.node).where(NodeReport.report_date == day)
    if prefix:
        reporting = reporting.where(NodeReport.node.startswith(prefix))
    reported = sorted(n for (n,) in reporting.tuples())
    expected = {_child_of(region, n) for n in reported}
    if region == me:
        expected |= {p.region for p in Peer.select().where(Peer.relation == "child")}
    elif level_of(region) != "city":
        expected.add(region)
    reported_children = {_child_of(region, n) for n in reported}

    def plain(d: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        return {k: dict(v) for k, v in sorted(d.items())}

    return {
        "date": day.isoformat(),
        "region": region,
        "level": level_of(region),
        "nodes_reported": reported,
        "totals": dict(totals),
        "by_type": plain(by_type),
        "by_domain": plain(by_domain),
        "by_channel": plain(by_channel),
        "indicators": indicators(totals, by_type),
        "children": [
            {
                "region": child,
                "own": child == region,
                "reported": child in reported_children,
                "totals": dict(children.get(child, {})),
            }
            for child in sorted(expected | set(children))
        ],
    }
