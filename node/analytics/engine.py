"""The indicator engine (指标引擎): every figure of DOMAIN.md §5, from raw events, one definition each.

Stable API (other packages build on it — keep these signatures):

    compute(indicators, period, group_by=(), filters=None, options=None) -> list[Row]
    drill(indicator, period, filters=None, part="numerator", limit=500) -> list[DrillItem]
    measure_counts(measures, period, group_by=(), filters=None, options=None) -> dict[key, dict]
    INDICATORS, MEASURES, DIMENSIONS   (definitions, labels, units)

An indicator is a ratio (or a count, an average or a growth) of **measures**. A measure counts
(or sums) raw rows — work orders, history events, call legs, phone ratings — that satisfy one
condition, attributing each to the period by one time attribute. Every report, rollup, screen,
export and API endpoint reads figures through this module; docs/INDICATORS.md lists each
definition with a worked example.

A Row is {"group": {dimension: code}, "labels": {dimension: name}, "values": {indicator: Value}}
with Value = {"value": float|int|None, "numerator": number, "denominator": number|None}.
"""

from __future__ import annotations

import datetime as dt
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import reduce
from typing import Any

import peewee as pw

from node import db as node_db
from node.analytics.periods import Period, add_months
from node.errors import ValidationError

# ---- dimensions --------------------------------------------------------------------------------

DIMENSIONS: dict[str, str] = {
    "business_type": "业务类型",
    "domain": "业务领域",
    "sub_business": "子业务",
    "road_class": "道路类别",
    "channel": "受理渠道",
    "region": "行政区划",
    "unit": "承办单位",
    "agent": "话务员",
    "day": "日期",
    "month": "月份",
}
TIME_DIMENSIONS = ("day", "month")
# filters that are not dimensions (no grouping by them): `topic` = the orders of a saved keyword
# set (专题, node/analytics/topics.py); call figures do not apply to it
FILTER_ONLY: dict[str, str] = {"topic": "专题"}
FILTERS: dict[str, str] = {
    **{d: label for d, label in DIMENSIONS.items() if d not in TIME_DIMENSIONS},
    **FILTER_ONLY,
}
MAX_FILTER_VALUES = 200

DONE = ("answered", "closed", "visited", "archived")  # 办结 (an instant answer is finished on the call)
CLOSED_HANDLED = ("closed", "visited", "archived")  # closed after handling (not on the call)
NOT_DEMANDS = ("rejected", "merged", "split")  # 不予受理, duplicates merged away, split parents
RATED = ("1", "2", "3")  # 非常满意, 满意, 不满意
GOOD = ("1", "2")
OFFERED_ORIGINS = ("ivr", "overflow")  # legs of callers who asked the menu for an agent


def _bucket(expr: Any, dim: str) -> Any:
    """Day (YYYY-MM-DD) or month (YYYY-MM) of a date/time column, as text, on either backend."""
    if node_db.is_sqlite():
        return pw.fn.strftime("%Y-%m-%d" if dim == "day" else "%Y-%m", expr)
    # a literal format (not a bound parameter) so GROUP BY matches the selected expression
    return pw.fn.to_char(expr, pw.SQL("'YYYY-MM-DD'" if dim == "day" else "'YYYY-MM'"))


# ---- sources: what a measure counts, and how each dimension reads on it ------------------------


@dataclass
class _Query:
    query: Any  # peewee select without columns chosen yet (columns added by the caller)
    dims: dict[str, Any]  # dimension -> expression (absent: not applicable to this source)
    ref: Any  # expression naming the row for drill-down (order number / call uuid)
    ref_kind: str  # "order" | "call"


def _orders(with_unit: bool) -> _Query:
    from node.workflow.models import Assignment
    from node.workflow.models import WorkOrder as W

    query = W.select()
    dims = {
        "business_type": W.business_type,
        "domain": W.domain,
        "sub_business": W.sub_business,
        "road_class": W.road_class,
        "channel": W.channel,
        "region": W.region_code,
        "agent": W.agent,
    }
    if with_unit:
        lead = Assignment.alias("lead")
        query = query.join(
            lead,
            pw.JOIN.LEFT_OUTER,
            on=((lead.order == W.id) & (lead.role == "lead") & (lead.active == True)),  # noqa: E712
        )
        dims["unit"] = lead.unit
    return _Query(query.where(W.is_spot_check == False), dims, W.number, "order")  # noqa: E712


def _order_events(action: str, with_unit: bool) -> _Query:
    from node.workflow.models import OrderEvent

    q = _orders(with_unit)
    q.query = q.query.join_from(
        q.query.model, OrderEvent, on=((OrderEvent.order == q.query.model.id) & (OrderEvent.action == action))
    )
    return q


def _legs() -> _Query:
    from node.telephony.models import Call
    from node.telephony.models import CallLeg as L

    query = L.select().join(Call, on=(L.call == Call.id)).where(L.direction == "inbound")
    return _Query(query, {"business_type": L.queue, "agent": L.user}, Call.uuid, "call")


def _phone_ratings() -> _Query:
    from node.telephony.models import Agent, Call
    from node.telephony.models import PhoneRating as R

    query = (
        R.select()
        .join(Call, on=(R.call == Call.id))
        .switch(R)
        .join(Agent, pw.JOIN.LEFT_OUTER, on=(R.agent == Agent.id))
    )
    return _Query(query, {"business_type": Call.business, "agent": Agent.user}, Call.uuid, "call")


# ---- measures ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Measure:
    name: str
    label: str
    source: str  # orders | portal_rating | legs | phone_rating
    time: str  # which time attributes a row to the period (documented in INDICATORS.md)
    where: Callable[[Ctx], list[Any]]
    total: Callable[[Ctx], Any] | None = None  # summed expression; None = count rows


@dataclass
class Ctx:
    me: str
    start: dt.datetime
    end: dt.datetime
    period: Period
    options: dict[str, Any] = field(default_factory=dict)

    def within(self, expr: Any) -> Any:
        return (expr >= self.start) & (expr < self.end)


def _w() -> Any:
    from node.workflow.models import WorkOrder

    return WorkOrder


def _sent_away() -> Any:
    """Orders this node sent to another node for handling (counted where they are handled)."""
    from federation.models import TransferLink

    return TransferLink.select(TransferLink.number).where(
        (TransferLink.direction == "out") & (TransferLink.status != "refused")
    )


def _transferred() -> Any:
    """转办工单: dispatched to a handling unit here, or transferred to another node."""
    from federation.models import TransferLink

    W = _w()
    return W.dispatched_at.is_null(False) | W.number.in_(
        TransferLink.select(TransferLink.number).where(TransferLink.direction == "out")
    )


def _accepted(c: Ctx) -> list[Any]:
    W = _w()
    return [W.origin_node == c.me, c.within(W.accepted_at)]


def _closed_here(c: Ctx) -> list[Any]:
    W = _w()
    return [c.within(W.closed_at), W.number.not_in(_sent_away())]


def _called(c: Ctx) -> list[Any]:
    W = _w()
    return [W.origin_node == c.me, c.within(W.callback_at)]


def _portal(c: Ctx) -> list[Any]:
    from node.workflow.models import OrderEvent

    return [c.within(OrderEvent.at)]


def _reopened_after(at: Any) -> Any:
    from node.workflow.models import OrderEvent

    W = _w()
    later = OrderEvent.alias("reopen")
    return pw.fn.EXISTS(
        later.select(later.id).where((later.order == W.id) & (later.action == "reopen") & (later.at >= at))
    )


def _reviewed() -> Any:
    from node.workflow.models import OrderEvent

    W = _w()
    ev = OrderEvent.alias("review")
    return pw.fn.EXISTS(ev.select(ev.id).where((ev.order == W.id) & (ev.action == "accept_reply")))


def _legs_in(c: Ctx) -> list[Any]:
    from node.telephony.models import CallLeg as L

    return [L.day >= c.period.start, L.day < c.period.end, L.origin.in_(OFFERED_ORIGINS)]


def _leg() -> Any:
    from node.telephony.models import CallLeg

    return CallLeg


def _rating() -> Any:
    from node.telephony.models import PhoneRating

    return PhoneRating


def _cb(c: Ctx, field_: str, values: Sequence[str], *extra: Any) -> list[Any]:
    return [*_called(c), getattr(_w(), field_).in_(values), *extra]


def _pr(c: Ctx, field_: str, values: Sequence[str], *extra: Any) -> list[Any]:
    return [*_portal(c), getattr(_w(), field_).in_(values), *extra]


def _instant() -> Any:
    return _w().immediate_answer != ""


_M: list[Measure] = [
    # volume and handling
    Measure("accepted", "受理量", "orders", "受理时间", lambda c: _accepted(c)),
    Measure("instant_answered", "即时答复量", "orders", "受理时间", lambda c: [*_accepted(c), _instant()]),
    Measure(
        "cohort",
        "受理的有效诉求",
        "orders",
        "受理时间",
        lambda c: [*_accepted(c), _w().state.not_in(NOT_DEMANDS)],
    ),
    Measure(
        "cohort_done", "其中已办结", "orders", "受理时间", lambda c: [*_accepted(c), _w().state.in_(DONE)]
    ),
    Measure("closed", "办结量", "orders", "办结时间", lambda c: [*_closed_here(c), _w().state.in_(DONE)]),
    Measure(
        "closed_handled",
        "转办后办结量",
        "orders",
        "办结时间",
        lambda c: [*_closed_here(c), _w().state.in_(CLOSED_HANDLED)],
    ),
    Measure(
        "closed_due",
        "有办理时限的办结工单",
        "orders",
        "办结时间",
        lambda c: [*_closed_here(c), _w().state.in_(CLOSED_HANDLED), _w().due_at.is_null(False)],
    ),
    Measure(
        "closed_on_time",
        "按时办结",
        "orders",
        "办结时间",
        lambda c: [
            *_closed_here(c),
            _w().state.in_(CLOSED_HANDLED),
            _w().due_at.is_null(False),
            _w().closed_at <= _w().due_at,
        ],
    ),
    Measure(
        "closed_reviewed",
        "经复核的办结工单",
        "orders",
        "办结时间",
        lambda c: [*_closed_here(c), _w().state.in_(CLOSED_HANDLED), _reviewed()],
    ),
    # callbacks
    Measure(
        "callback_due",
        "应回访（已办结的转办工单）",
        "orders",
        "办结时间",
        lambda c: [
            _w().origin_node == c.me,
            c.within(_w().closed_at),
            _w().state.in_(CLOSED_HANDLED),
            _transferred(),
        ],
    ),
    Measure(
        "callback_done",
        "已回访",
        "orders",
        "办结时间",
        lambda c: [
            _w().origin_node == c.me,
            c.within(_w().closed_at),
            _w().state.in_(CLOSED_HANDLED),
            _transferred(),
            _w().callback_at.is_null(False),
        ],
    ),
    # ratings of the handling result / the service
    Measure(
        "cb_rated",
        "回访评价（结果）",
        "orders",
        "回访时间",
        lambda c: _cb(c, "callback_result_satisfaction", RATED),
    ),
    Measure(
        "cb_good",
        "回访满意（结果）",
        "orders",
        "回访时间",
        lambda c: _cb(c, "callback_result_satisfaction", GOOD),
    ),
    Measure(
        "cb_bad",
        "回访不满意（结果）",
        "orders",
        "回访时间",
        lambda c: _cb(c, "callback_result_satisfaction", ("3",)),
    ),
    Measure(
        "cb_bad_reopened",
        "回访不满意后重办",
        "orders",
        "回访时间",
        lambda c: _cb(c, "callback_result_satisfaction", ("3",), _reopened_after(_w().callback_at)),
    ),
    Measure(
        "cb_service_rated",
        "回访评价（服务）",
        "orders",
        "回访时间",
        lambda c: _cb(c, "callback_service_satisfaction", RATED),
    ),
    Measure(
        "cb_service_good",
        "回访满意（服务）",
        "orders",
        "回访时间",
        lambda c: _cb(c, "callback_service_satisfaction", GOOD),
    ),
    Measure(
        "cb_instant_rated",
        "即时答复回访评价",
        "orders",
        "回访时间",
        lambda c: _cb(c, "callback_result_satisfaction", RATED, _instant()),
    ),
    Measure(
        "cb_instant_good",
        "即时答复回访满意",
        "orders",
        "回访时间",
        lambda c: _cb(c, "callback_result_satisfaction", GOOD, _instant()),
    ),
    Measure(
        "pr_rated",
        "网上评价（结果）",
        "portal_rating",
        "评价时间",
        lambda c: _pr(c, "public_result_satisfaction", RATED),
    ),
    Measure(
        "pr_good",
        "网上满意（结果）",
        "portal_rating",
        "评价时间",
        lambda c: _pr(c, "public_result_satisfaction", GOOD),
    ),
    Measure(
        "pr_bad",
        "网上不满意（结果）",
        "portal_rating",
        "评价时间",
        lambda c: _pr(c, "public_result_satisfaction", ("3",)),
    ),
    Measure(
        "pr_bad_reopened",
        "网上不满意后重办",
        "portal_rating",
        "评价时间",
        lambda c: _pr(c, "public_result_satisfaction", ("3",), _reopened_after(_portal_at())),
    ),
    Measure(
        "pr_service_rated",
        "网上评价（服务）",
        "portal_rating",
        "评价时间",
        lambda c: _pr(c, "public_service_satisfaction", RATED),
    ),
    Measure(
        "pr_service_good",
        "网上满意（服务）",
        "portal_rating",
        "评价时间",
        lambda c: _pr(c, "public_service_satisfaction", GOOD),
    ),
    Measure(
        "pr_instant_rated",
        "即时答复网上评价",
        "portal_rating",
        "评价时间",
        lambda c: _pr(c, "public_result_satisfaction", RATED, _instant()),
    ),
    Measure(
        "pr_instant_good",
        "即时答复网上满意",
        "portal_rating",
        "评价时间",
        lambda c: _pr(c, "public_result_satisfaction", GOOD, _instant()),
    ),
    Measure(
        "ivr_rated",
        "按键评价",
        "phone_rating",
        "评价时间",
        lambda c: [c.within(_rating().at), _rating().score.in_((1, 2, 3))],
    ),
    Measure(
        "ivr_good",
        "按键满意",
        "phone_rating",
        "评价时间",
        lambda c: [c.within(_rating().at), _rating().score.in_((1, 2))],
    ),
    # calls (call legs of callers who asked for an agent)
    Measure("legs_offered", "请求人工的呼入", "legs", "进入排队日期", lambda c: _legs_in(c)),
    Measure(
        "legs_answered",
        "人工接通",
        "legs",
        "进入排队日期",
        lambda c: [*_legs_in(c), _leg().answered_at.is_null(False)],
    ),
    Measure(
        "legs_answered_n",
        "N秒内接通",
        "legs",
        "进入排队日期",
        lambda c: [
            *_legs_in(c),
            _leg().answered_at.is_null(False),
            _leg().wait_s <= c.options["service_level_s"],
        ],
    ),
    Measure(
        "legs_abandoned",
        "放弃",
        "legs",
        "进入排队日期",
        lambda c: [*_legs_in(c), _leg().outcome == "abandoned"],
    ),
    Measure(
        "wait_s",
        "接通前等待秒数合计",
        "legs",
        "进入排队日期",
        lambda c: [*_legs_in(c), _leg().answered_at.is_null(False)],
        lambda c: _leg().wait_s,
    ),
    Measure(
        "handled_legs",
        "处理完毕的人工通话",
        "legs",
        "进入排队日期",
        lambda c: [
            _leg().day >= c.period.start,
            _leg().day < c.period.end,
            _leg().answered_at.is_null(False),
            _leg().talk_s.is_null(False),
        ],
    ),
    Measure(
        "handle_s",
        "通话与话后处理秒数合计",
        "legs",
        "进入排队日期",
        lambda c: [
            _leg().day >= c.period.start,
            _leg().day < c.period.end,
            _leg().answered_at.is_null(False),
            _leg().talk_s.is_null(False),
        ],
        lambda c: _leg().talk_s + pw.fn.COALESCE(_leg().wrapup_s, 0),
    ),
]


def _portal_at() -> Any:
    from node.workflow.models import OrderEvent

    return OrderEvent.at


MEASURES: dict[str, Measure] = {m.name: m for m in _M}


# ---- indicators ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Indicator:
    name: str
    label: str
    kind: str  # rate | count | average | growth
    numerator: tuple[str, ...]
    denominator: tuple[str, ...] = ()
    fixed: tuple[tuple[str, str], ...] = ()  # filters the definition itself applies
    unit: str = ""  # "%", "件", "秒", "次"
    base: str = ""  # growth: "previous" (环比) | "year_before" (同比)
    definition: str = ""


INDICATORS: dict[str, Indicator] = {
    i.name: i
    for i in [
        Indicator(
            "volume",
            "受理量",
            "count",
            ("accepted",),
            unit="件",
            definition="本节点受理时间在统计期内的工单（不含抽检工单）",
        ),
        Indicator(
            "volume_mom",
            "受理量环比",
            "growth",
            ("accepted",),
            unit="%",
            base="previous",
            definition="(本期受理量 − 上期受理量) ÷ 上期受理量",
        ),
        Indicator(
            "volume_yoy",
            "受理量同比",
            "growth",
            ("accepted",),
            unit="%",
            base="year_before",
            definition="(本期受理量 − 去年同期受理量) ÷ 去年同期受理量",
        ),
        Indicator(
            "closed",
            "办结量",
            "count",
            ("closed",),
            unit="件",
            definition="办结时间在统计期内、在本节点办理的已办结工单（含即时答复）",
        ),
        Indicator(
            "instant_answer_rate",
            "即时答复率",
            "rate",
            ("instant_answered",),
            ("accepted",),
            fixed=(("business_type", "2"),),
            unit="%",
            definition="信息咨询类：通话中即时答复的 ÷ 受理的",
        ),
        Indicator(
            "closure_rate",
            "办结率",
            "rate",
            ("cohort_done",),
            ("cohort",),
            unit="%",
            definition="统计期内受理的有效诉求中，目前已办结（含即时答复）的比例",
        ),
        Indicator(
            "on_time_rate",
            "限时办结率",
            "rate",
            ("closed_on_time",),
            ("closed_due",),
            unit="%",
            definition="统计期内办结且有办理时限的转办工单中，在时限（含批准的延期）内办结的比例",
        ),
        Indicator(
            "complaint_on_time_rate",
            "投诉举报限时办结率",
            "rate",
            ("closed_on_time",),
            ("closed_due",),
            fixed=(("business_type", "1"),),
            unit="%",
            definition="投诉举报类的限时办结率",
        ),
        Indicator(
            "complaint_review_rate",
            "投诉举报类复核率",
            "rate",
            ("closed_reviewed",),
            ("closed_handled",),
            fixed=(("business_type", "1"),),
            unit="%",
            definition="统计期内办结的投诉举报转办工单中，答复经复核通过的比例",
        ),
        Indicator(
            "callback_rate",
            "回访率",
            "rate",
            ("callback_done",),
            ("callback_due",),
            unit="%",
            definition="本节点受理、统计期内办结的转办工单中，已回访的比例",
        ),
        Indicator(
            "result_satisfaction",
            "处理满意率",
            "rate",
            ("cb_good", "pr_good"),
            ("cb_rated", "pr_rated"),
            unit="%",
            definition="对办理结果的有效评价（回访 + 网上）中，非常满意与满意的比例",
        ),
        Indicator(
            "callback_satisfaction",
            "回访满意率",
            "rate",
            ("cb_good",),
            ("cb_rated",),
            unit="%",
            definition="回访中对办理结果的评价：非常满意 + 满意 ÷ 有效评价",
        ),
        Indicator(
            "portal_satisfaction",
            "网上评价满意率",
            "rate",
            ("pr_good",),
            ("pr_rated",),
            unit="%",
            definition="公众在网站/小程序对办理结果的评价：非常满意 + 满意 ÷ 有效评价",
        ),
        Indicator(
            "service_satisfaction",
            "服务满意率",
            "rate",
            ("cb_service_good", "pr_service_good"),
            ("cb_service_rated", "pr_service_rated"),
            unit="%",
            definition="对服务态度的有效评价（回访 + 网上）中，非常满意与满意的比例",
        ),
        Indicator(
            "phone_satisfaction",
            "电话服务满意度",
            "rate",
            ("ivr_good",),
            ("ivr_rated",),
            unit="%",
            definition="通话结束后按键评价：非常满意 + 满意 ÷ 有效按键评价",
        ),
        Indicator(
            "overall_satisfaction",
            "综合满意率",
            "rate",
            ("cb_good", "pr_good", "ivr_good"),
            ("cb_rated", "pr_rated", "ivr_rated"),
            unit="%",
            definition="回访、网上、按键三种来源的评价合并",
        ),
        Indicator(
            "instant_satisfaction",
            "即时答复满意率",
            "rate",
            ("cb_instant_good", "pr_instant_good"),
            ("cb_instant_rated", "pr_instant_rated"),
            unit="%",
            definition="即时答复工单的结果评价（回访 + 网上）中满意的比例",
        ),
        Indicator(
            "rectification_rate",
            "差评整改率",
            "rate",
            ("cb_bad_reopened", "pr_bad_reopened"),
            ("cb_bad", "pr_bad"),
            unit="%",
            definition="统计期内评价为不满意的工单中，评价后被重办的比例",
        ),
        Indicator(
            "calls_offered",
            "请求人工呼入量",
            "count",
            ("legs_offered",),
            unit="次",
            definition="统计期内从语音导航请求人工（含线路忙溢出）的呼入",
        ),
        Indicator(
            "connection_rate",
            "人工接通率",
            "rate",
            ("legs_answered",),
            ("legs_offered",),
            unit="%",
            definition="话务员接听的 ÷ 请求人工的",
        ),
        Indicator(
            "service_level",
            "N秒内接通率",
            "rate",
            ("legs_answered_n",),
            ("legs_offered",),
            unit="%",
            definition="等待不超过 N 秒即被接听的 ÷ 请求人工的（N 默认 10，可配置）",
        ),
        Indicator(
            "abandonment_rate",
            "放弃率",
            "rate",
            ("legs_abandoned",),
            ("legs_offered",),
            unit="%",
            definition="排队中挂机的 ÷ 请求人工的",
        ),
        Indicator(
            "asa",
            "平均应答速度",
            "average",
            ("wait_s",),
            ("legs_answered",),
            unit="秒",
            definition="接通前等待秒数合计 ÷ 人工接通数",
        ),
        Indicator(
            "aht",
            "平均处理时长",
            "average",
            ("handle_s",),
            ("handled_legs",),
            unit="秒",
            definition="（通话 + 话后处理）秒数合计 ÷ 处理完毕的人工通话",
        ),
    ]
}
DEFAULT_SERVICE_LEVEL_S = 10


def indicator_label(name: str, options: Mapping[str, Any] | None = None) -> str:
    ind = INDICATORS[name]
    if name == "service_level":
        n = int((options or {}).get("service_level_s", DEFAULT_SERVICE_LEVEL_S))
        return f"{n}秒内接通率"
    if ind.kind == "average":
        return f"{ind.label}（{ind.unit}）"
    return ind.label


# ---- input checks ----------------------------------------------------------------------------------


def check_indicators(names: Iterable[str]) -> list[str]:
    out = []
    for name in names:
        if name not in INDICATORS:
            raise ValidationError(
                f"未知的指标：{str(name)[:40]}", details={"indicator": "可选：" + "、".join(INDICATORS)}
            )
        if name not in out:
            out.append(name)
    if not out:
        raise ValidationError("请至少选择一项指标")
    return out


def check_group_by(dims: Iterable[str], limit: int = 3) -> list[str]:
    out = []
    for dim in dims:
        if dim not in DIMENSIONS:
            raise ValidationError(
                f"未知的分组维度：{str(dim)[:40]}", details={"group_by": "可选：" + "、".join(DIMENSIONS)}
            )
        if dim not in out:
            out.append(dim)
    if len(out) > limit:
        raise ValidationError(f"最多按 {limit} 个维度分组")
    return out


def check_filters(filters: Mapping[str, Any] | None) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for dim, raw in (filters or {}).items():
        if dim not in FILTERS:
            raise ValidationError(f"未知的筛选维度：{str(dim)[:40]}")
        values = tuple(str(v) for v in (raw if isinstance(raw, (list, tuple, set, frozenset)) else [raw]))
        if not values or len(values) > MAX_FILTER_VALUES:
            raise ValidationError(f"筛选条件 {FILTERS[dim]} 的取值个数应在 1–{MAX_FILTER_VALUES} 之间")
        for v in values:
            if "\x00" in v or len(v) > 40:
                raise ValidationError(f"筛选条件 {FILTERS[dim]} 的取值无效")
        out[dim] = values
    return out


def check_options(options: Mapping[str, Any] | None) -> dict[str, Any]:
    raw = dict(options or {})
    n = raw.get("service_level_s", DEFAULT_SERVICE_LEVEL_S)
    try:
        n = int(n)
    except (TypeError, ValueError):
        raise ValidationError("服务水平的秒数应为整数") from None
    if not 1 <= n <= 600:
        raise ValidationError("服务水平的秒数应在 1–600 之间")
    return {"service_level_s": n}


def _me() -> str:
    from node.settings import current

    return current().region


# ---- measures, computed --------------------------------------------------------------------------

Key = tuple[str, ...]


def _source(measure: Measure, with_unit: bool) -> _Query:
    if measure.source == "orders":
        return _orders(with_unit)
    if measure.source == "portal_rating":
        return _order_events("public_rate", with_unit)
    if measure.source == "legs":
        return _legs()
    return _phone_ratings()


def _time_expr(measure: Measure) -> Any:
    """The column whose day/month groups a measure (its attributing time)."""
    W = _w()
    return {
        "受理时间": lambda: W.accepted_at,
        "办结时间": lambda: W.closed_at,
        "回访时间": lambda: W.callback_at,
        "评价时间": lambda: _portal_at() if measure.source == "portal_rating" else _rating().at,
        "进入排队日期": lambda: _leg().day,
    }[measure.time]()


def _dim_expr(q: _Query, measure: Measure, dim: str) -> Any:
    if dim in TIME_DIMENSIONS:
        return _bucket(_time_expr(measure), dim)
    return q.dims.get(dim)


def _prepared(
    measure: Measure, ctx: Ctx, dims: Sequence[str], filters: Mapping[str, tuple[str, ...]]
) -> tuple[_Query, list[Any]] | None:
    """The source query of a measure with its conditions and filters, or None if a filter names a
    dimension the source does not have (e.g. calls filtered by region: not applicable)."""
    q = _source(measure, "unit" in dims or "unit" in filters)
    conditions = list(measure.where(ctx))
    for dim, values in filters.items():
        if dim == "topic":
            if q.ref_kind != "order":
                return None
            from node.analytics import topics

            conditions.append(topics.order_condition(values, q.dims))
            continue
        expr = q.dims.get(dim)
        if expr is None:
            return None
        if dim in ("unit", "agent"):
            ints = [int(v) for v in values if v.isdigit() and len(v) < 12]
            conditions.append(expr.in_(ints) if ints else pw.SQL("1 = 0"))
        else:
            conditions.append(expr.in_(values))
    return q, conditions


def _ctx(period: Period, options: Mapping[str, Any] | None, node: str | None = None) -> Ctx:
    start, end = period.bounds()
    return Ctx(node or _me(), start, end, period, check_options(options))


def measure_counts(
    measures: Iterable[str],
    period: Period,
    group_by: Sequence[str] = (),
    filters: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
    node: str | None = None,
    use_facts: bool = True,
) -> dict[str, dict[Key, float] | None]:
    """Each measure's count (or sum) per group key (a tuple of codes in `group_by` order; '' where
    the source has no such dimension). None for a measure a filter does not apply to. `node`
    overrides this node's region (the federation's multi-node tests run nodes in one process).
    Up to 4 dimensions (the daily facts count type × domain × channel × day)."""
    dims = check_group_by(group_by, 4)
    flt = check_filters(filters)
    ctx = _ctx(period, options, node)
    names = list(dict.fromkeys(measures))
    if use_facts and node is None and ctx.options["service_level_s"] == DEFAULT_SERVICE_LEVEL_S:
        from node.analytics import facts

        if facts.usable(period, dims, flt):
            return facts.read(names, period, dims, flt)
    out: dict[str, dict[Key, float] | None] = {}
    # measures of one source attributed by the same time are counted in ONE query (one scan of the
    # period's rows through the time index): SUM(CASE WHEN <measure's conditions> THEN 1 END)
    groups: dict[tuple[str, str], list[Measure]] = {}
    for name in dict.fromkeys(measures):
        m = MEASURES[name]
        groups.setdefault((m.source, m.time), []).append(m)
    for group in groups.values():
        first = group[0]
        prepared = _prepared(first, ctx, dims, flt)
        if prepared is None:
            out.update({m.name: None for m in group})
            continue
        q, _ = prepared
        filter_conditions = prepared[1][len(first.where(ctx)) :]
        exprs = [_dim_expr(q, first, d) for d in dims]
        present = [e for e in exprs if e is not None]
        sums = [
            pw.fn.SUM(
                pw.Case(
                    None, ((reduce(operator.and_, m.where(ctx)), 1 if m.total is None else m.total(ctx)),), 0
                )
            )
            for m in group
        ]
        query = q.query.select(*present, *sums).where(_time_range(first, ctx), *filter_conditions)
        if present:
            query = query.group_by(*present)
        values: dict[str, dict[Key, float]] = {m.name: {} for m in group}
        for row in query.tuples():
            it = iter(row[: len(present)])
            key = tuple("" if e is None else _text(next(it)) for e in exprs)
            for m, total in zip(group, row[len(present) :], strict=True):
                if total:
                    got = values[m.name]
                    got[key] = got.get(key, 0) + (float(total) if m.total is not None else int(total))
        out.update(values)
    return {name: out[name] for name in measures}


def _time_range(measure: Measure, ctx: Ctx) -> Any:
    """The period condition on a measure's attributing time (uses that column's index)."""
    if measure.source == "legs":
        leg = _leg()
        return (leg.day >= ctx.period.start) & (leg.day < ctx.period.end)
    return ctx.within(_time_expr(measure))


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    return str(value)


# ---- indicators, computed ------------------------------------------------------------------------


def _merge_fixed(
    indicator: Indicator, filters: dict[str, tuple[str, ...]]
) -> dict[str, tuple[str, ...]] | None:
    """The caller's filters narrowed by the indicator's own (None: they exclude each other)."""
    merged = dict(filters)
    for dim, value in indicator.fixed:
        if dim in merged and value not in merged[dim]:
            return None
        merged[dim] = (value,)
    return merged


def _sum(values: dict[str, dict[Key, float] | None], names: Sequence[str], key: Key) -> float | None:
    parts = [values[n] for n in names]
    if all(p is None for p in parts):
        return None
    return sum((p or {}).get(key, 0) for p in parts)


def _value(ind: Indicator, num: float | None, den: float | None) -> float | None:
    if num is None:
        return None
    if ind.kind == "count":
        return num
    if not den:
        return None
    if ind.kind == "growth":
        return round((num - den) / den, 6)
    if ind.kind == "average":
        return round(num / den, 2)
    return round(num / den, 6)


def value_of(indicator: str, numerator: float | None, denominator: float | None) -> float | None:
    """An indicator's value from its (summed) numerator and denominator, by its kind's rule."""
    return _value(INDICATORS[indicator], numerator, denominator)


def compute(
    indicators: Sequence[str],
    period: Period,
    group_by: Sequence[str] = (),
    filters: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Indicators for `period`, one row per group (a single total row without `group_by`), sorted
    by group key. Each value carries its numerator and denominator so a figure can be explained."""
    names = check_indicators(indicators)
    dims = check_group_by(group_by)
    flt = check_filters(filters)
    opts = check_options(options)
    per: dict[str, tuple[dict[str, dict[Key, float] | None], dict[str, dict[Key, float] | None] | None]] = {}
    keys: set[Key] = set()
    for name in names:
        ind = INDICATORS[name]
        merged = _merge_fixed(ind, flt)
        if merged is None:
            per[name] = ({n: None for n in ind.numerator}, None)
            continue
        current = measure_counts(ind.numerator + ind.denominator, period, dims, merged, opts)
        base = None
        if ind.kind == "growth":
            base_period, shift = _growth_base(period, ind.base, dims)
            raw = measure_counts(ind.numerator, base_period, dims, merged, opts)
            base = {m: None if v is None else {shift(k): x for k, x in v.items()} for m, v in raw.items()}
        per[name] = (current, base)
        for vals in current.values():
            keys.update(vals or {})
    if not dims:
        keys = {()}
    rows = []
    for key in sorted(keys):
        values: dict[str, dict[str, Any]] = {}
        for name in names:
            ind = INDICATORS[name]
            current, base = per[name]
            num = _sum(current, ind.numerator, key)
            if ind.kind == "growth":
                den = None if base is None else _sum(base, ind.numerator, key)
            else:
                den = _sum(current, ind.denominator, key) if ind.denominator else None
            values[name] = {"value": _value(ind, num, den), "numerator": num, "denominator": den}
        rows.append({"group": dict(zip(dims, key, strict=True)), "values": values})
    _label_rows(rows, dims)
    return rows


def _shift_bucket(code: str, dim: str, years: int, months: int, days: int) -> str:
    if dim == "month":
        y, m = int(code[:4]), int(code[5:7])
        index = (y + years) * 12 + m - 1 + months
        return f"{index // 12:04d}-{index % 12 + 1:02d}"
    d = dt.date.fromisoformat(code)
    if years:
        try:
            d = d.replace(year=d.year + years)
        except ValueError:
            d = d.replace(year=d.year + years, day=28)
    return (d + dt.timedelta(days=days)).isoformat()


def _growth_base(period: Period, base: str, dims: Sequence[str]) -> tuple[Period, Callable[[Key], Key]]:
    """The base period of a growth figure and how a base row's key maps onto the current row's.
    Without a time dimension: 环比 = the previous period, 同比 = a year earlier. Grouped by day or
    month, each bucket is compared with the bucket before it (环比) or a year before it (同比)."""
    time_dims = [d for d in dims if d in TIME_DIMENSIONS]
    if not time_dims:
        return (period.previous() if base == "previous" else period.year_before()), lambda k: k
    unit = "month" if "month" in time_dims else "day"
    if base == "year_before":
        years, months, days = 1, 0, 0
        shifted = period.year_before()
        base_period = Period(shifted.start, shifted.end, "range")
    elif unit == "month":
        years, months, days = 0, 1, 0
        base_period = Period(
            add_months(period.start, -1),
            add_months(period.end, -1) if period.end.day == 1 else period.end,
            "range",
        )
    else:
        years, months, days = 0, 0, 1
        base_period = Period(period.start - dt.timedelta(days=1), period.end - dt.timedelta(days=1), "range")

    def shift(key: Key) -> Key:
        return tuple(
            _shift_bucket(k, d, years, months, days) if d in TIME_DIMENSIONS and k else k
            for k, d in zip(key, dims, strict=True)
        )

    return base_period, shift


# ---- labels --------------------------------------------------------------------------------------


def label(dim: str, code: str) -> str:
    """The Chinese name of a dimension value (code tables, units, users)."""
    if code == "":
        return "（未填）" if dim not in ("unit", "agent") else "（无）"
    from node.catalog import service as catalog

    try:
        if dim == "business_type":
            return catalog.type_name(code) or code
        if dim == "domain":
            return catalog.domain_name(code) or code
        if dim == "sub_business":
            return catalog.sub_name(code) or code
        if dim == "channel":
            return catalog.channel_name(code) or code
        if dim == "region":
            return catalog.region_name(code) or code
    except Exception:
        return code
    if dim == "road_class":
        return code
    if dim == "topic":
        from node.analytics import topics

        return topics.topic_name(code)
    if dim == "month":
        return f"{code[:4]}年{int(code[5:7])}月"
    if dim == "day":
        return f"{code[:4]}年{int(code[5:7])}月{int(code[8:10])}日"
    return code


def _label_rows(rows: list[dict[str, Any]], dims: Sequence[str]) -> None:
    names: dict[str, dict[str, str]] = {}
    if "unit" in dims:
        from node.catalog.models import Unit

        ids = {int(r["group"]["unit"]) for r in rows if r["group"]["unit"].isdigit()}
        names["unit"] = (
            {str(u.id): u.name for u in Unit.select(Unit.id, Unit.name).where(Unit.id.in_(ids))}
            if ids
            else {}
        )
    if "agent" in dims:
        from node.auth.models import User

        ids = {int(r["group"]["agent"]) for r in rows if r["group"]["agent"].isdigit()}
        names["agent"] = (
            {str(u.id): (u.display_name or u.username) for u in User.select().where(User.id.in_(ids))}
            if ids
            else {}
        )
    for row in rows:
        row["labels"] = {
            d: names[d].get(v, v or "（无）") if d in names else label(d, v) for d, v in row["group"].items()
        }


# ---- drill-down ------------------------------------------------------------------------------------


def drill(
    indicator: str,
    period: Period,
    filters: Mapping[str, Any] | None = None,
    part: str = "numerator",
    limit: int = 500,
    options: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The orders (or calls) behind a figure: the rows its numerator (or denominator) counts,
    with the measure that counted each. Filters take the group values of the row drilled from
    (e.g. {"business_type": "1", "day": ...} is not allowed — use a day period instead)."""
    ind = INDICATORS[check_indicators([indicator])[0]]
    if part not in ("numerator", "denominator"):
        raise ValidationError("part 应为 numerator 或 denominator")
    if not 1 <= int(limit) <= 5000:
        raise ValidationError("limit 应在 1–5000 之间")
    flt = _merge_fixed(ind, check_filters(filters))
    if flt is None:
        return []
    names = ind.numerator if part == "numerator" or ind.kind == "growth" else ind.denominator
    p = (
        period
        if not (ind.kind == "growth" and part == "denominator")
        else (period.previous() if ind.base == "previous" else period.year_before())
    )
    ctx = _ctx(p, options)
    out: list[dict[str, Any]] = []
    for name in names:
        measure = MEASURES[name]
        prepared = _prepared(measure, ctx, (), flt)
        if prepared is None:
            continue
        q, conditions = prepared
        rows = (
            q.query.select(q.ref, _time_expr(measure))
            .where(*conditions)
            .order_by(_time_expr(measure), q.ref)
            .limit(limit - len(out))
        )
        for ref, at in rows.tuples():
            out.append(
                {"kind": q.ref_kind, "ref": ref, "at": at, "measure": name, "measure_label": measure.label}
            )
        if len(out) >= limit:
            break
    return out


# ---- counts sent upward (federation daily reports) and indicators from summed counts -------------

# Summed measures travel as integer milliseconds (the report's counts are integers).
MS_SUFFIX = "_ms"
REPORT_GROUPING = ("business_type", "domain", "channel")


def report_counts(node: str, period: Period) -> list[tuple[str, str, str, str, int]]:
    """A node's own measure counts for a period as (measure, type, domain, channel, value): every
    measure the non-growth indicators need, at the grain the federation's daily report sends
    (sums of seconds as `<measure>_ms`). Summed over nodes and days, `indicators_from_counts`
    gives the same figures as `compute` over the same orders and calls."""
    names = sorted(
        {m for i in INDICATORS.values() if i.kind != "growth" for m in (*i.numerator, *i.denominator)}
    )
    counts: list[tuple[str, str, str, str, int]] = []
    for name, values in measure_counts(names, period, REPORT_GROUPING, node=node).items():
        summed = MEASURES[name].total is not None
        for (btype, domain, channel), value in sorted((values or {}).items()):
            number = round(value * 1000) if summed else int(value)
            if number:
                counts.append((name + (MS_SUFFIX if summed else ""), btype, domain, channel, number))
    return counts


def indicators_from_counts(
    totals: Mapping[str, float], by_type: Mapping[str, Mapping[str, float]]
) -> dict[str, dict[str, Any]]:
    """The indicators (all but growth) from summed report counts: `totals` per metric and the same
    per business type (for indicators whose definition fixes a type)."""

    def get(source: Mapping[str, float], measure: str) -> float:
        if MEASURES[measure].total is not None:
            return source.get(measure + MS_SUFFIX, 0) / 1000
        return source.get(measure, 0)

    out: dict[str, dict[str, Any]] = {}
    for name, ind in INDICATORS.items():
        if ind.kind == "growth":
            continue
        fixed = dict(ind.fixed)
        source = by_type.get(fixed["business_type"], {}) if "business_type" in fixed else totals
        num = sum(get(source, m) for m in ind.numerator)
        den = sum(get(source, m) for m in ind.denominator) if ind.denominator else None
        out[name] = {"value": _value(ind, num, den), "numerator": num, "denominator": den}
    return out


def describe() -> list[dict[str, Any]]:
    """Every indicator with its definition and the measures it is made of (for docs and the API)."""
    return [
        {
            "name": i.name,
            "label": i.label,
            "kind": i.kind,
            "unit": i.unit,
            "definition": i.definition,
            "numerator": [
                {"measure": m, "label": MEASURES[m].label, "time": MEASURES[m].time} for m in i.numerator
            ],
            "denominator": [
                {"measure": m, "label": MEASURES[m].label, "time": MEASURES[m].time} for m in i.denominator
            ],
            "fixed": dict(i.fixed),
        }
        for i in INDICATORS.values()
    ]
