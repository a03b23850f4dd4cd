"""Indicator engine: known data → known figures, on SQLite and PostgreSQL (DOMAIN.md §5 and the
counter-examples of issue #10)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from federation.models import TransferLink
from node.analytics import compute, drill, parse_period
from node.analytics.periods import Period
from node.errors import ValidationError
from tests.factories import make_unit, make_user, stat_call_leg, stat_order, stat_phone_rating

NOV = parse_period("2026-11")
T = dt.datetime(2026, 11, 10, 9, 0)


def one(names: list[str], period: Period = NOV, **kw: Any) -> dict[str, dict[str, Any]]:
    rows = compute(names, period, **kw)
    assert len(rows) == 1
    return rows[0]["values"]


def val(name: str, period: Period = NOV, **kw: Any) -> Any:
    return one([name], period, **kw)[name]["value"]


def test_periods_parse_and_bases() -> None:
    assert parse_period("2026-11").bounds() == (dt.datetime(2026, 11, 1), dt.datetime(2026, 12, 1))
    assert parse_period("2026-11").previous().key == "2026-10"
    assert parse_period("2026-01").previous().key == "2025-12"
    assert parse_period("2026-Q1").previous().key == "2025-Q4"
    assert parse_period("2026-Q4").year_before().key == "2025-Q4"
    assert parse_period("2026-W48").start == dt.date(2026, 11, 23)
    assert parse_period("2028-02-29").year_before().start == dt.date(2027, 2, 28)
    assert parse_period("2026-11-01~2026-11-15").days == 15
    assert parse_period("2026-11-01~2026-11-15").previous().key == "2026-10-17~2026-10-31"
    assert parse_period("2026").label == "2026年"
    assert parse_period("2026-11-02").label == "2026年11月2日"
    for bad in [
        "",
        "2026-13",
        "2026-Q5",
        "x",
        "2026-11-31",
        "99999",
        "2026-W60",
        "2026-11-15~2026-11-01",
        "2026\x00",
    ]:
        with pytest.raises(ValidationError):
            parse_period(bad)


def test_instant_answers_close_on_the_call(db: str) -> None:
    # counter-example: 5 consultations answered on the call are 5 of 5 done (was 0.2)
    for i in range(5):
        stat_order(
            T + dt.timedelta(hours=i), "answered", business_type="2", immediate_answer="已答复", closed_at=T
        )
    v = one(["closure_rate", "instant_answer_rate", "volume", "closed"])
    assert v["closure_rate"] == {"value": 1.0, "numerator": 5, "denominator": 5}
    assert v["instant_answer_rate"]["value"] == 1.0
    assert v["volume"]["value"] == 5 and v["closed"]["value"] == 5


def test_closure_rate_counts_reopened_and_open_orders_as_not_done(db: str) -> None:
    stat_order(T, "closed", closed_at=T + dt.timedelta(days=2), dispatched_at=T)
    stat_order(T, "pending_dispatch", closed_at=T + dt.timedelta(days=1), reopen_count=1)  # reopened
    stat_order(T, "handling", dispatched_at=T)
    stat_order(T, "rejected")  # 不予受理: not a demand
    v = one(["closure_rate", "volume"])
    assert v["closure_rate"] == {"value": round(1 / 3, 6), "numerator": 1, "denominator": 3}
    assert v["volume"]["value"] == 4


def test_spot_check_orders_do_not_count(db: str) -> None:
    stat_order(T, "closed", closed_at=T, due_at=T, dispatched_at=T)
    stat_order(T, "closed", closed_at=T, due_at=T, dispatched_at=T, is_spot_check=True)
    v = one(["volume", "closed", "on_time_rate"])
    assert v["volume"]["value"] == 1 and v["closed"]["value"] == 1
    assert v["on_time_rate"]["denominator"] == 1


def test_callback_rate_never_exceeds_one(db: str) -> None:
    # counter-example: callbacks of instant answers made a node show 4.0
    for _ in range(4):
        stat_order(
            T,
            "visited",
            business_type="2",
            immediate_answer="答",
            closed_at=T,
            callback_at=T,
            callback_result_satisfaction="1",
        )
    stat_order(
        T,
        "visited",
        dispatched_at=T,
        closed_at=T + dt.timedelta(days=1),
        callback_at=T + dt.timedelta(days=2),
        callback_result_satisfaction="2",
    )
    stat_order(T, "closed", dispatched_at=T, closed_at=T + dt.timedelta(days=1))
    v = one(["callback_rate"])["callback_rate"]
    assert v == {"value": 0.5, "numerator": 1, "denominator": 2}


def test_transfer_closed_at_another_node(db: str) -> None:
    """Sent to 320200 for handling: the origin counts the callback over its own closed transferred
    order (closure applied from the remote update) but not the closure as handled here."""
    order = stat_order(
        T,
        "visited",
        closed_at=T + dt.timedelta(days=3),
        callback_at=T + dt.timedelta(days=4),
        callback_result_satisfaction="1",
    )
    now = dt.datetime(2026, 11, 10)
    TransferLink.create(
        transfer_id="x1",
        number=order.number,
        direction="out",
        peer="320200",
        status="closed",
        created_at=now,
        updated_at=now,
    )
    v = one(["callback_rate", "closed", "on_time_rate", "callback_satisfaction"])
    assert v["callback_rate"] == {"value": 1.0, "numerator": 1, "denominator": 1}
    assert v["closed"]["value"] == 0
    assert v["callback_satisfaction"]["value"] == 1.0
    # a province with nothing closed no longer shows a callback rate of 1.0 from a callback alone
    stat_order(
        T,
        "visited",
        business_type="2",
        immediate_answer="答",
        closed_at=T,
        callback_at=T,
        callback_result_satisfaction="1",
    )
    assert val("callback_rate") == 1.0 and one(["callback_rate"])["callback_rate"]["denominator"] == 1


def test_on_time_closure_with_extension_and_month_end(db: str) -> None:
    due = dt.datetime(2026, 11, 20, 17, 30)
    stat_order(T, "closed", dispatched_at=T, due_at=due, closed_at=due - dt.timedelta(hours=1))  # on time
    stat_order(T, "closed", dispatched_at=T, due_at=due, closed_at=due + dt.timedelta(hours=1))  # late
    # an approved extension moved the due time: closed after the original, before the new
    stat_order(
        T,
        "closed",
        dispatched_at=T,
        due_at=due + dt.timedelta(days=5),
        extension_days=5,
        closed_at=due + dt.timedelta(days=2),
    )
    stat_order(
        T, "closed", dispatched_at=T, due_at=due, closed_at=dt.datetime(2026, 11, 30, 23, 59, 59)
    )  # last second of Nov
    stat_order(
        T,
        "closed",
        dispatched_at=T,
        due_at=dt.datetime(2026, 12, 5),
        closed_at=dt.datetime(2026, 12, 1, 0, 0),
    )  # December
    stat_order(
        T, "answered", immediate_answer="答", due_at=due, closed_at=T
    )  # answered on the call: not 限时
    v = one(["on_time_rate"])["on_time_rate"]
    assert (v["numerator"], v["denominator"]) == (2, 4)
    dec = one(["on_time_rate"], parse_period("2026-12"))["on_time_rate"]
    assert (dec["numerator"], dec["denominator"]) == (1, 1)
    # per type through the grouping and through the fixed filter of the complaint indicator
    stat_order(T, "closed", business_type="3", dispatched_at=T, due_at=due, closed_at=T)
    rows = {
        r["group"]["business_type"]: r["values"]["on_time_rate"]
        for r in compute(["on_time_rate"], NOV, ["business_type"])
    }
    assert rows["1"]["denominator"] == 4 and rows["3"] == {"value": 1.0, "numerator": 1, "denominator": 1}
    assert one(["complaint_on_time_rate"])["complaint_on_time_rate"]["denominator"] == 4


def test_satisfaction_sources_separate_and_combined(db: str) -> None:
    stat_order(
        T,
        "visited",
        dispatched_at=T,
        closed_at=T,
        callback_at=T,
        callback_result_satisfaction="1",
        callback_service_satisfaction="1",
    )
    stat_order(
        T,
        "visited",
        dispatched_at=T,
        closed_at=T,
        callback_at=T,
        callback_result_satisfaction="2",
        callback_service_satisfaction="3",
    )
    stat_order(
        T,
        "visited",
        dispatched_at=T,
        closed_at=T,
        callback_at=T,
        callback_result_satisfaction="3",
        callback_service_satisfaction="2",
    )
    stat_order(
        T,
        "closed",
        dispatched_at=T,
        closed_at=T,
        public_result_satisfaction="1",
        public_service_satisfaction="1",
        events=[("public_rate", T + dt.timedelta(days=1))],
    )
    stat_order(
        T,
        "closed",
        dispatched_at=T,
        closed_at=T,
        public_result_satisfaction="3",
        public_service_satisfaction="3",
        events=[("public_rate", dt.datetime(2026, 12, 1, 8))],
    )
    for score in (1, 2, 3):
        stat_phone_rating(T, score)
    stat_phone_rating(dt.datetime(2026, 10, 31, 23, 59), 1)  # October
    v = one(
        [
            "callback_satisfaction",
            "portal_satisfaction",
            "phone_satisfaction",
            "result_satisfaction",
            "service_satisfaction",
            "overall_satisfaction",
        ]
    )
    assert v["callback_satisfaction"] == {"value": round(2 / 3, 6), "numerator": 2, "denominator": 3}
    assert v["portal_satisfaction"] == {"value": 1.0, "numerator": 1, "denominator": 1}
    assert v["phone_satisfaction"] == {"value": round(2 / 3, 6), "numerator": 2, "denominator": 3}
    assert v["result_satisfaction"] == {"value": 0.75, "numerator": 3, "denominator": 4}
    assert v["service_satisfaction"] == {"value": 0.75, "numerator": 3, "denominator": 4}
    assert v["overall_satisfaction"] == {"value": round(5 / 7, 6), "numerator": 5, "denominator": 7}


def test_rectification_counts_reopen_after_a_bad_rating(db: str) -> None:
    cb = T + dt.timedelta(days=2)
    stat_order(
        T,
        "pending_dispatch",
        dispatched_at=T,
        closed_at=T,
        callback_at=cb,
        callback_result_satisfaction="3",
        events=[("reopen", cb + dt.timedelta(hours=1))],
    )
    stat_order(
        T,
        "visited",
        dispatched_at=T,
        closed_at=T,
        callback_at=cb,
        callback_result_satisfaction="3",
        events=[("reopen", T)],
    )  # before: not for it
    assert one(["rectification_rate"])["rectification_rate"] == {
        "value": 0.5,
        "numerator": 1,
        "denominator": 2,
    }


def test_complaint_review_rate(db: str) -> None:
    stat_order(T, "closed", dispatched_at=T, closed_at=T, events=[("accept_reply", T)])
    stat_order(T, "closed", dispatched_at=T, closed_at=T)
    stat_order(T, "closed", business_type="2", dispatched_at=T, closed_at=T, events=[("accept_reply", T)])
    assert one(["complaint_review_rate"])["complaint_review_rate"] == {
        "value": 0.5,
        "numerator": 1,
        "denominator": 2,
    }


def test_call_indicators_with_configurable_service_level(db: str) -> None:
    agent = make_user("agent")
    stat_call_leg(T, answered_at=T, wait_s=5, talk_s=100, wrapup_s=20, queue="1", user=agent)
    stat_call_leg(T, answered_at=T, wait_s=15, talk_s=200, wrapup_s=None, queue="2", user=agent)
    stat_call_leg(T, outcome="abandoned", wait_s=40, queue="2")
    stat_call_leg(T, outcome="overflow", origin="overflow")
    stat_call_leg(
        T, origin="transfer", answered_at=T, wait_s=3, talk_s=60, wrapup_s=0, user=agent
    )  # second wait of a call
    stat_call_leg(dt.datetime(2026, 12, 1), answered_at=T, wait_s=1)
    names = ["calls_offered", "connection_rate", "service_level", "abandonment_rate", "asa", "aht"]
    v = one(names)
    assert v["calls_offered"]["value"] == 4
    assert v["connection_rate"]["value"] == 0.5
    assert v["service_level"]["value"] == 0.25
    assert v["abandonment_rate"]["value"] == 0.25
    assert v["asa"] == {"value": 10.0, "numerator": 20.0, "denominator": 2}
    assert v["aht"] == {"value": round(380 / 3, 2), "numerator": 380.0, "denominator": 3}
    assert val("service_level", options={"service_level_s": 20}) == 0.5
    rows = {
        r["group"]["business_type"]: r["values"]["connection_rate"]["value"]
        for r in compute(["connection_rate"], NOV, ["business_type"])
    }
    assert rows == {"1": 1.0, "2": 0.5, "": 0.0}
    by_agent = compute(["aht"], NOV, ["agent"])
    assert [r["labels"]["agent"] for r in by_agent] == [agent.display_name]
    # calls are not regional: a region filter makes them not applicable, not zero
    assert val("connection_rate", filters={"region": "320102"}) is None
    with pytest.raises(ValidationError):
        compute(["service_level"], NOV, options={"service_level_s": "99999"})


def test_growth_month_on_month_and_year_on_year(db: str) -> None:
    for _ in range(3):
        stat_order(T, channel="01")
    stat_order(T, channel="02")
    for _ in range(2):
        stat_order(dt.datetime(2026, 10, 31, 23, 0), channel="01")
    stat_order(dt.datetime(2025, 11, 5), channel="01")
    stat_order(dt.datetime(2025, 11, 5), channel="01")
    v = one(["volume", "volume_mom", "volume_yoy"])
    assert v["volume_mom"] == {"value": 1.0, "numerator": 4, "denominator": 2}
    assert v["volume_yoy"] == {"value": 1.0, "numerator": 4, "denominator": 2}
    rows = {r["group"]["channel"]: r["values"] for r in compute(["volume", "volume_mom"], NOV, ["channel"])}
    assert rows["01"]["volume_mom"]["value"] == 0.5
    assert rows["02"]["volume_mom"]["value"] is None  # no base: no growth figure
    by_month = compute(["volume", "volume_mom"], parse_period("2026-10-01~2026-11-30"), ["month"])
    assert [
        (r["group"]["month"], r["values"]["volume"]["value"], r["values"]["volume_mom"]["value"])
        for r in by_month
    ] == [
        ("2026-10", 2, None),
        ("2026-11", 4, 1.0),
    ]


def test_grouping_by_dimensions_and_unit(db: str) -> None:
    unit = make_unit(name="市客运管理处")
    from node.workflow.models import Assignment

    o = stat_order(
        T,
        "closed",
        channel="02",
        road_class="高速",
        dispatched_at=T,
        closed_at=T,
        due_at=T + dt.timedelta(days=1),
    )
    Assignment.create(order=o, unit=unit, role="lead", dispatched_at=T, sign_due_at=T)
    stat_order(T, "closed", dispatched_at=T, closed_at=T, due_at=T - dt.timedelta(days=1))
    rows = compute(["on_time_rate", "volume"], NOV, ["unit"])
    by_unit = {r["labels"]["unit"]: r["values"]["on_time_rate"]["value"] for r in rows}
    assert by_unit == {"（无）": 0.0, "市客运管理处": 1.0}
    rows = compute(["volume"], NOV, ["road_class", "channel"])
    assert {
        (r["group"]["road_class"], r["group"]["channel"]): r["values"]["volume"]["value"] for r in rows
    } == {("高速", "02"): 1, ("", "01"): 1}
    assert (
        compute(["volume"], NOV, ["channel"], filters={"unit": str(unit.id)})[0]["values"]["volume"]["value"]
        == 1
    )
    days = compute(["volume"], NOV, ["day"])
    assert [(r["group"]["day"], r["labels"]["day"]) for r in days] == [("2026-11-10", "2026年11月10日")]


def test_drill_down_lists_the_orders_behind_a_figure(db: str) -> None:
    due = T + dt.timedelta(days=3)
    a = stat_order(T, "closed", dispatched_at=T, due_at=due, closed_at=T)
    b = stat_order(T, "closed", dispatched_at=T, due_at=due, closed_at=due + dt.timedelta(days=1))
    num = drill("on_time_rate", NOV)
    den = drill("on_time_rate", NOV, part="denominator")
    assert [x["ref"] for x in num] == [a.number]
    assert {x["ref"] for x in den} == {a.number, b.number}
    assert drill("on_time_rate", NOV, filters={"business_type": "2"}) == []
    leg = stat_call_leg(T, outcome="abandoned", wait_s=30)
    assert [x["ref"] for x in drill("abandonment_rate", NOV)] == [leg.call.uuid]
    assert len(drill("volume", NOV, limit=1)) == 1


def test_bad_input_is_refused_in_chinese(db: str) -> None:
    for kwargs in (
        {"indicators": ["nope"]},
        {"indicators": []},
        {"indicators": ["volume"], "group_by": ["colour"]},
        {"indicators": ["volume"], "group_by": ["channel", "domain", "region", "unit"]},
        {"indicators": ["volume"], "filters": {"channel": "0\x001"}},
        {"indicators": ["volume"], "filters": {"day": "2026-11-01"}},
        {"indicators": ["volume"], "filters": {"channel": [str(i) for i in range(300)]}},
    ):
        with pytest.raises(ValidationError) as err:
            compute(period=NOV, **kwargs)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in str(err.value))
    with pytest.raises(ValidationError):
        drill("volume", NOV, part="all")
    with pytest.raises(ValidationError):
        drill("volume", NOV, limit=10**9)


def test_daily_facts_give_the_raw_figures_and_are_used_only_when_complete(db: str) -> None:
    from node import clock
    from node.analytics import engine, facts

    stat_order(T, "closed", channel="02", dispatched_at=T, due_at=T, closed_at=T + dt.timedelta(days=1))
    stat_order(T, "visited", dispatched_at=T, closed_at=T, callback_at=T, callback_result_satisfaction="1")
    stat_order(
        dt.datetime(2026, 10, 5),
        "answered",
        business_type="2",
        immediate_answer="答",
        closed_at=dt.datetime(2026, 10, 5),
    )
    stat_call_leg(T, answered_at=T, wait_s=12, talk_s=50, wrapup_s=5, queue="1")
    stat_phone_rating(T, 2)
    names = [n for n in engine.INDICATORS if n != "service_level"]
    questions = [
        ((), {}),
        (("channel",), {}),
        (("business_type", "month"), {}),
        (("day",), {"channel": "01"}),
    ]
    with clock.frozen(dt.datetime(2026, 12, 2, 10)):
        raw = [compute(names, NOV, list(g), f) for g, f in questions]
        assert not facts.usable(NOV, [], [])
        facts.refresh(parse_period("2026-10-01~2026-12-02").days_list())
        assert facts.usable(NOV, ["channel"], ["business_type"])
        assert not facts.usable(NOV, ["unit"], [])  # not a fact dimension: raw rows
        assert [compute(names, NOV, list(g), f) for g, f in questions] == raw
        # an order accepted now: facts are stale for at most MAX_STALE, then raw rows are read
        stat_order(dt.datetime(2026, 12, 2, 9), updated_at=dt.datetime(2026, 12, 2, 10))
        today = parse_period("2026-12-02")
        assert val("volume", today) == 0  # the 10-minute-old count
    with clock.frozen(dt.datetime(2026, 12, 2, 10, 11)):
        assert val("volume", today) == 1  # stale facts are not used
        assert facts.refresh_due(clock.now()) > 0
        assert facts.usable(today, [], []) and val("volume", today) == 1


def test_planner_statistics_refreshed_when_missing_or_stale(db: str) -> None:
    """Grouped-by-unit figures need SQLite's planner statistics; they are taken when missing or
    when the orders table changed by more than a fifth — not on every call (node.db)."""
    from node import db as node_db

    if db == "postgresql":
        assert node_db.planner_statistics() is False  # autovacuum's business
        assert node_db.planner_statistics(force=True) is True
        return
    node_db.database.execute_sql("ANALYZE")
    node_db.database.execute_sql("DELETE FROM sqlite_stat1")
    assert node_db.planner_statistics() is False  # no orders: nothing to measure
    for _ in range(10):
        stat_order(T)
    assert node_db.planner_statistics() is True  # missing
    assert node_db.planner_statistics() is False  # fresh
    stat_order(T)
    assert node_db.planner_statistics() is False  # 11 of 10: within a fifth
    for _ in range(2):
        stat_order(T)
    assert node_db.planner_statistics() is True  # 13 of 10: stale
    stat = node_db.database.execute_sql(
        "SELECT stat FROM sqlite_stat1 WHERE tbl = 'work_order' AND idx IS NOT NULL LIMIT 1"
    ).fetchone()[0]
    assert stat.split()[0] == "13"
