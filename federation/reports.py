"""Daily reports (日报) and rollups (汇总) with drill-down from nation to province to city.

A daily report holds one node's OWN figures for one date (Asia/Shanghai), computed from database
state, so a missed day is recomputed exactly (`catch_up`, idempotent per date through
`node.jobs.runner.run_once`). Each count is (metric, business type, domain, channel, value); order
metrics are counted at the finest grain (type × domain × channel) and summed by the reader, call
metrics per node ("all" for type/domain/channel). What the DOMAIN.md §5 indicators need:

| metric | counted on the date | indicator |
|---|---|---|
| accepted | orders accepted here | 受理量, 即时答复率 denominator (consultations) |
| instant_answered | of those, answered on the call | 即时答复率 |
| dispatched | orders dispatched to units here (分类转办) | 转办量 |
| transferred_out / transferred_in | cross-region transfers sent / received | 跨区域转办 |
| closed | orders closed (办结) here | 办结率 |
| due / closed_on_time | handled here and due on the date / of those closed by their due time | 限时办结率 |
| reviewed | replies accepted on review (复核) | 投诉举报类复核率 |
| returned / extended / urged / reopened | 退回, approved 延期, 催办, 重办 | 差评整改率 (reopened ÷ dissatisfied) |
| callback_due / callback_done | closed transferred orders accepted here / callbacks reached | 回访率 |
| result_rated / result_satisfied | callback ratings of the result (valid / 非常满意+满意) | 处理满意率 |
| service_rated / service_satisfied | callback ratings of the service | 回访满意率 |
| instant_rated / instant_satisfied | result ratings of orders answered on the call | 即时答复满意率 |
| dissatisfied | result ratings 不满意 | 差评整改率 denominator |
| calls_in / calls_to_agent / calls_answered / calls_answered_10s | inbound calls, asking for an agent, answered, within 10 s | 人工接通率, 10秒内接通率 |
| wait_ms / wait_ms_ivr / calls_abandoned | summed waits of answered calls (queue / from call start), abandoned | 平均等待时长 |

Orders sent to another node are counted where they are handled (the origin drops them from the
handling metrics; callbacks and ratings stay with the origin, which owns the caller).
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
CALL_METRICS = (
    "calls_in",
    "calls_to_agent",
    "calls_answered",
    "calls_answered_10s",
    "wait_ms",
    "wait_ms_ivr",
    "calls_abandoned",
)
_NOT_HANDLED = ("answered", "rejected", "merged", "split")


def parse_date(value: str | dt.date) -> dt.date:
    if isinstance(value, dt.date):
        return value
    return parse_day(str(value), "date")


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time())
    return start, start + dt.timedelta(days=1)


# ---- computing a node's own figures ---------------------------------------------------------------


def compute(me: str, day: dt.date) -> list[codec.Count]:
    """This node's own counts for `day`, from database state."""
    from node.workflow.models import Extension, OrderEvent, Urge, WorkOrder

    start, end = day_bounds(day)
    W = WorkOrder
    key = (W.business_type, W.domain, W.channel)
    sent_away = TransferLink.select(TransferLink.number).where(
        (TransferLink.direction == "out") & (TransferLink.status != "refused")
    )
    here = W.number.not_in(sent_away)
    mine = W.origin_node == me
    counts: list[codec.Count] = []

    def grouped(metric: str, query: pw.ModelSelect) -> None:
        for btype, domain, channel, value in query.group_by(*key).tuples():
            if value:
                counts.append((metric, btype or "", domain or "", channel or "", int(value)))

    def orders(metric: str, where: Any) -> None:
        grouped(metric, W.select(*key, pw.fn.COUNT(W.id)).where(where))

    def events(metric: str, actions: tuple[str, ...], where: Any = None) -> None:
        conditions = [
            OrderEvent.action.in_(actions),
            OrderEvent.at >= start,
            OrderEvent.at < end,
            OrderEvent.node == me,  # not the history a transferred order brought along
        ]
        grouped(
            metric,
            W.select(*key, pw.fn.COUNT(pw.fn.DISTINCT(W.id)))
            .join(OrderEvent, on=(OrderEvent.order == W.id))
            .where(*conditions, *([where] if where is not None else [])),
        )

    accepted = mine & (W.accepted_at >= start) & (W.accepted_at < end)
    orders("accepted", accepted)
    orders("instant_answered", accepted & (W.immediate_answer != ""))
    events("dispatched", ("dispatch",), here)
    events("transferred_out", ("transfer",))
    events("transferred_in", ("receive_transfer",))
    events("closed", ("close",), here)
    due = here & (W.due_at >= start) & (W.due_at < end) & W.state.not_in(_NOT_HANDLED)
    orders("due", due)
    orders("closed_on_time", due & W.closed_at.is_null(False) & (W.closed_at <= W.due_at))
    events("reviewed", ("accept_reply",), here)
    events("returned", ("return",), here)
    events("reopened", ("reopen",), here)
    grouped(
        "extended",
        W.select(*key, pw.fn.COUNT(Extension.id))
        .join(Extension, on=(Extension.order == W.id))
        .where(Extension.status == "approved", Extension.decided_at >= start, Extension.decided_at < end),
    )
    grouped(
        "urged",
        W.select(*key, pw.fn.COUNT(Urge.id))
        .join(Urge, on=(Urge.order == W.id))
        .where(Urge.at >= start, Urge.at < end),
    )
    transferred = W.dispatched_at.is_null(False) | W.number.in_(
        TransferLink.select(TransferLink.number).where(TransferLink.direction == "out")
    )
    orders(
        "callback_due",
        mine & (W.closed_at >= start) & (W.closed_at < end) & W.state.not_in(_NOT_HANDLED) & transferred,
    )
    called = mine & (W.callback_at >= start) & (W.callback_at < end)
    rated = W.callback_result_satisfaction.in_(("1", "2", "3"))
    good = W.callback_result_satisfaction.in_(("1", "2"))
    orders("callback_done", called & rated)
    orders("result_rated", called & rated)
    orders("result_satisfied", called & good)
    orders("service_rated", called & W.callback_service_satisfaction.in_(("1", "2", "3")))
    orders("service_satisfied", called & W.callback_service_satisfaction.in_(("1", "2")))
    orders("instant_rated", called & rated & (W.immediate_answer != ""))
    orders("instant_satisfied", called & good & (W.immediate_answer != ""))
    orders("dissatisfied", called & (W.callback_result_satisfaction == "3"))
    counts.extend(_call_counts(start, end))
    return counts


def _call_counts(start: dt.datetime, end: dt.datetime) -> list[codec.Count]:
    try:
        from node.telephony.models import Call
    except ImportError:  # a build without telephony has no call figures
        return []
    totals = dict.fromkeys(CALL_METRICS, 0)
    rows = (
        Call.select(Call.started_at, Call.queued_at, Call.answered_at, Call.abandoned)
        .where(Call.direction == "inbound", Call.started_at >= start, Call.started_at < end)
        .tuples()
    )
    for started, queued, answered, abandoned in rows.iterator():
        totals["calls_in"] += 1
        totals["calls_abandoned"] += bool(abandoned)
        if queued is None:
            continue
        totals["calls_to_agent"] += 1
        if answered is not None:
            wait = max(0, int((answered - queued).total_seconds() * 1000))
            totals["calls_answered"] += 1
            totals["calls_answered_10s"] += wait <= 10_000
            totals["wait_ms"] += wait
            totals["wait_ms_ivr"] += max(0, int((answered - started).total_seconds() * 1000))
    return [(m, "", "", "", v) for m, v in totals.items() if v]


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


def _ratio(num: int, den: int) -> float | None:
    return round(num / den, 4) if den else None


def indicators(totals: dict[str, int], by_type: dict[str, dict[str, int]]) -> dict[str, float | None]:
    """The DOMAIN.md §5 rates computable from the summed counts."""
    consult = by_type.get("2", {})
    complaint = by_type.get("1", {})
    return {
        "instant_answer_rate": _ratio(consult.get("instant_answered", 0), consult.get("accepted", 0)),
        "closure_rate": _ratio(totals.get("closed", 0), totals.get("accepted", 0)),
        "on_time_rate": _ratio(totals.get("closed_on_time", 0), totals.get("due", 0)),
        "complaint_on_time_rate": _ratio(complaint.get("closed_on_time", 0), complaint.get("due", 0)),
        "complaint_review_rate": _ratio(complaint.get("reviewed", 0), complaint.get("closed", 0)),
        "callback_rate": _ratio(totals.get("callback_done", 0), totals.get("callback_due", 0)),
        "result_satisfaction": _ratio(totals.get("result_satisfied", 0), totals.get("result_rated", 0)),
        "service_satisfaction": _ratio(totals.get("service_satisfied", 0), totals.get("service_rated", 0)),
        "instant_satisfaction": _ratio(totals.get("instant_satisfied", 0), totals.get("instant_rated", 0)),
        "rectification_rate": _ratio(totals.get("reopened", 0), totals.get("dissatisfied", 0)),
        "connection_rate": _ratio(totals.get("calls_answered", 0), totals.get("calls_to_agent", 0)),
        "answered_10s_rate": _ratio(totals.get("calls_answered_10s", 0), totals.get("calls_to_agent", 0)),
        "avg_wait_seconds": _ratio(totals.get("wait_ms", 0), totals.get("calls_answered", 0) * 1000),
        "avg_wait_seconds_ivr": _ratio(totals.get("wait_ms_ivr", 0), totals.get("calls_answered", 0) * 1000),
    }


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
