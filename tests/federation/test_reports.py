"""Daily reports from database state, their revisions and catch-up, rollups with drill-down, and
the REST endpoint and CLI-facing service errors (SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient

from federation import codec, flows, reports
from federation.models import NodeReport, OutboxMessage, ReportCount
from federation.v1 import federation_pb2 as pb
from node import clock
from node import settings as node_settings
from node.analytics.engine import MEASURES
from node.errors import PermissionDenied, ValidationError
from node.workflow import service
from node.workflow.models import WorkOrder
from tests import factories
from tests.federation.helpers import sum_counts

DAY = dt.date(2025, 3, 3)
CITY, CITY2, PROV, MINISTRY = "320100", "320200", "320000", "000000"


@pytest.fixture
def frozen(db: str, settings: node_settings.Settings) -> Iterator[clock.FrozenClock]:
    flows.install()
    with clock.frozen(dt.datetime(2025, 3, 3, 9, 0)) as fc:
        yield fc
    node_settings.configure(settings)


def by(counts: list[codec.Count], metric: str, btype: str) -> int:
    return sum(v for m, t, _d, _c, v in counts if m == metric and t == btype)


def make_day(fc: clock.FrozenClock) -> dict[str, WorkOrder]:
    """Orders and calls of 2025-03-03 (and one of the day before)."""
    fc.set(dt.datetime(2025, 3, 2, 16, 0))
    orders = {"yesterday": factories.make_order("accepted")}
    fc.set(dt.datetime(2025, 3, 3, 9, 0))
    orders["closed"] = factories.make_order("closed")
    orders["visited"] = factories.make_order("closed")
    service.perform(
        factories.actor("agent"),
        orders["visited"].number,
        "callback",
        {"result_satisfaction": "3", "service_satisfaction": "2"},
    )
    orders["answered"] = service.create_order(
        factories.actor("agent"),
        {
            **factories.ORDER_DEFAULTS,
            "business_type": "2",
            "domain": "04",
            "sub_business": "",
            "immediate_answer": "已告知办理流程",
        },
    )
    orders["due_open"] = factories.make_order("dispatched")
    orders["due_closed"] = factories.make_order("closed")
    fc.set(dt.datetime(2025, 3, 3, 10, 0))
    orders["sent_away"] = factories.make_order("pending_dispatch")
    service.perform(
        factories.actor("dispatcher"),
        orders["sent_away"].number,
        "transfer",
        {"region_code": "320505", "reason": "外市"},
    )
    due = dt.datetime(2025, 3, 3, 17, 0)
    for key in ("due_open", "due_closed", "sent_away"):
        WorkOrder.update(due_at=due).where(WorkOrder.id == orders[key].id).execute()
    base = dt.datetime(2025, 3, 3, 11, 0)
    factories.stat_call_leg(base, answered_at=base, wait_s=5, talk_s=60, wrapup_s=10)
    factories.stat_call_leg(base, answered_at=base, wait_s=20, talk_s=100, wrapup_s=0)
    factories.stat_call_leg(base, outcome="abandoned", wait_s=30)
    factories.stat_call_leg(base - dt.timedelta(days=1), outcome="abandoned", wait_s=3)  # the day before
    return orders


def test_counts_from_database_state(frozen: clock.FrozenClock) -> None:
    make_day(frozen)
    counts = reports.compute(CITY, DAY)
    totals = sum_counts(counts)
    assert totals["accepted"] == 6 and by(counts, "accepted", "2") == 1 and by(counts, "accepted", "1") == 5
    assert totals["instant_answered"] == 1 and by(counts, "instant_answered", "2") == 1
    assert (totals["cohort"], totals["cohort_done"]) == (6, 4)  # the instant answer is done
    assert (totals["closed"], totals["closed_handled"], totals["closed_reviewed"]) == (4, 3, 3)
    assert totals["dispatched"] == 4  # the order sent to another city was never dispatched here
    assert totals["transferred_out"] == 1
    assert (totals["closed_due"], totals["closed_on_time"]) == (3, 3)  # the transferred one is not ours
    assert (totals["callback_due"], totals["callback_done"]) == (3, 1)
    assert (totals["cb_rated"], totals.get("cb_good", 0), totals["cb_bad"]) == (1, 0, 1)
    assert (totals["cb_service_rated"], totals["cb_service_good"]) == (1, 1)
    assert (totals["legs_offered"], totals["legs_answered"], totals["legs_answered_n"]) == (3, 2, 1)
    assert (totals["legs_abandoned"], totals["wait_s_ms"], totals["handle_s_ms"]) == (1, 25_000, 170_000)
    # every order count carries its type, domain and channel
    calls = {m for m, i in MEASURES.items() if i.source == "legs"}
    assert all(t and d and c for m, t, d, c, _ in counts if m.removesuffix("_ms") not in calls)
    assert sum_counts(reports.compute(CITY, DAY - dt.timedelta(days=1))) == {
        "accepted": 1,
        "cohort": 1,
        "legs_offered": 1,
        "legs_abandoned": 1,
    }


def test_rollup_indicators_are_the_engines(frozen: clock.FrozenClock) -> None:
    """One way to compute each indicator: the daily report's counts, summed and turned into
    indicators by the rollup, give the engine's own figures for the same day."""
    from node.analytics import compute, engine, periods

    make_day(frozen)
    reports.generate(CITY, DAY, send=False)
    rolled = reports.rollup(CITY, DAY)["indicators"]
    names = [n for n, i in engine.INDICATORS.items() if i.kind != "growth"]
    direct = compute(names, periods.day(DAY))[0]["values"]
    assert rolled == {n: direct[n]["value"] for n in names}
    assert rolled["callback_rate"] == round(1 / 3, 6) and rolled["closure_rate"] == round(4 / 6, 6)
    assert rolled["connection_rate"] == round(2 / 3, 6) and rolled["asa"] == 12.5


def test_generate_revises_and_queues_upward(frozen: clock.FrozenClock) -> None:
    make_day(frozen)
    first = reports.generate(CITY, DAY)
    rows = list(OutboxMessage.select().where(OutboxMessage.payload_type == "federation.v1.DailyReport"))
    assert [(r.destination, r.next_hop) for r in rows] == [(MINISTRY, PROV)]
    sent = pb.DailyReport.FromString(bytes(rows[0].payload))
    assert (sent.node, sent.report_date, sent.revision) == (CITY, "2025-03-03", first.revision)
    stored = ReportCount.select().count()
    factories.make_order("accepted")  # a late change, then an on-demand push
    second = reports.generate(CITY, DAY)
    assert second.revision > first.revision
    assert NodeReport.get().revision == second.revision
    assert ReportCount.select().count() == stored  # replaced, not added (same combinations)
    assert reports.rollup(CITY, DAY)["totals"]["accepted"] == 7
    assert not reports.store(CITY, DAY, first.revision, 0, [("accepted", "1", "04", "01", 99)])  # older loses


def test_catch_up_once_per_day(frozen: clock.FrozenClock) -> None:
    make_day(frozen)
    done = reports.catch_up(CITY, dt.date(2025, 3, 5))
    assert done == [dt.date(2025, 3, 2), dt.date(2025, 3, 3), dt.date(2025, 3, 4)]
    assert reports.catch_up(CITY, dt.date(2025, 3, 5)) == []  # idempotent per date
    assert reports.catch_up(CITY, dt.date(2025, 3, 6)) == [dt.date(2025, 3, 5)]  # the next day only
    assert NodeReport.select().count() == 4


def test_province_and_ministry_rollups_with_drill_down(frozen: clock.FrozenClock) -> None:
    def report(node: str, accepted: int, closed: int, channel: str = "01") -> pb.DailyReport:
        counts = [("accepted", "1", "04", channel, accepted), ("closed", "1", "04", channel, closed)]
        counts.append(("accepted", "2", "01", channel, 1))
        return codec.daily_report(node, DAY, counts, revision=1)

    for node, acc, clo in ((CITY, 10, 4), (CITY2, 5, 5), (PROV, 2, 1)):
        reports.apply_report(PROV, node, report(node, acc, clo))
    reports.apply_report(MINISTRY, "440300", report("440300", 7, 0, channel="02"))
    prov = reports.rollup(PROV, DAY)
    assert prov["totals"] == {"accepted": 20, "closed": 10}
    assert prov["by_type"] == {"1": {"accepted": 17, "closed": 10}, "2": {"accepted": 3}}
    assert prov["by_channel"] == {"01": {"accepted": 20, "closed": 10}}
    children = {c["region"]: c for c in prov["children"]}
    assert set(children) == {CITY, CITY2, PROV} and children[PROV]["own"]
    assert children[CITY]["totals"] == {"accepted": 11, "closed": 4}
    assert (prov["indicators"]["volume"], prov["indicators"]["closed"]) == (20, 10)
    # a province sees its cities; the city figures drill down
    assert reports.rollup(PROV, DAY, CITY2)["totals"] == {"accepted": 6, "closed": 5}
    with pytest.raises(PermissionDenied):
        reports.rollup(CITY, DAY, CITY2)
    with pytest.raises(PermissionDenied):
        reports.rollup(PROV, DAY, "440300")
    with pytest.raises(ValidationError):
        reports.rollup(PROV, "2025-02-30")
    with pytest.raises(ValidationError):
        reports.rollup(PROV, DAY, "3201")
    # the ministry: nation → province → city
    nation = reports.rollup(MINISTRY, DAY)
    assert nation["totals"] == {"accepted": 28, "closed": 10}
    provinces = {c["region"]: c["totals"] for c in nation["children"]}
    assert provinces == {PROV: {"accepted": 20, "closed": 10}, "440000": {"accepted": 8, "closed": 0}}
    assert nation["by_channel"]["02"] == {"accepted": 8, "closed": 0}
    guangdong = {c["region"]: c["reported"] for c in reports.rollup(MINISTRY, DAY, "440000")["children"]}
    assert guangdong == {"440000": False, "440300": True}  # the province's own report is missing
    assert reports.rollup(MINISTRY, DAY, "440300")["totals"] == {"accepted": 8, "closed": 0}


def test_report_handler_refuses_other_names(frozen: clock.FrozenClock) -> None:
    with pytest.raises(ValueError):
        reports.apply_report(PROV, CITY, codec.daily_report(CITY2, DAY, [], 1))
    with pytest.raises(ValueError):
        reports.apply_report(PROV, "440300", codec.daily_report("440300", DAY, [], 1))
    assert NodeReport.select().count() == 0


# ---- REST ----------------------------------------------------------------------------------------


@pytest.fixture
def province_client(client: FlaskClient, settings: node_settings.Settings) -> Iterator[FlaskClient]:
    prov = dataclasses.replace(settings, region=PROV, level="province")
    client.application.config["NODE"] = prov
    node_settings.configure(prov)
    yield client
    node_settings.configure(settings)


def test_rollup_endpoint(province_client: FlaskClient, token_for: Any) -> None:
    reports.apply_report(PROV, CITY, codec.daily_report(CITY, DAY, [("accepted", "1", "04", "01", 3)], 1))
    headers = token_for("supervisor")
    resp = province_client.get("/api/v1/federation/rollup?date=2025-03-03", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["totals"] == {"accepted": 3}
    city = province_client.get(f"/api/v1/federation/rollup?date=2025-03-03&region={CITY}", headers=headers)
    assert city.get_json()["level"] == "city"
    assert province_client.get("/api/v1/federation/rollup", headers=headers).status_code == 422
    assert province_client.get("/api/v1/federation/rollup?date=2025-3-x", headers=headers).status_code == 422
    other = province_client.get("/api/v1/federation/rollup?date=2025-03-03&region=440300", headers=headers)
    assert other.status_code == 403 and "无权" in other.get_json()["message"]
    assert province_client.get("/api/v1/federation/rollup?date=2025-03-03").status_code == 401
    agent = province_client.get("/api/v1/federation/rollup?date=2025-03-03", headers=token_for("agent"))
    assert agent.status_code == 403


def test_push_report_endpoint(province_client: FlaskClient, token_for: Any) -> None:
    url = "/api/v1/federation/reports"
    assert (
        province_client.post(url, json={"date": "2025-03-03"}, headers=token_for("supervisor")).status_code
        == 403
    )
    admin = token_for("admin")
    assert province_client.post(url, json={"date": "03/03/2025"}, headers=admin).status_code == 422
    resp = province_client.post(url, json={"date": "2025-03-03"}, headers=admin)
    assert resp.status_code == 202 and resp.get_json()["node"] == PROV
    assert OutboxMessage.get().destination == MINISTRY


def test_orders_and_transfers_endpoints(province_client: FlaskClient, token_for: Any) -> None:
    record = pb.OrderRecord(
        order_number="320100202503031000001",
        origin_node=CITY,
        handling_node=CITY,
        region_code="320102",
        business_type=pb.COMPLAINT,
        channel_code="01",
        state="handling",
        accepted_at_ms=clock.to_epoch_ms(dt.datetime(2025, 3, 3, 9)),
        revision=2,
    )
    flows.apply_records(PROV, CITY, pb.OrderRecordBatch(records=[record]))
    headers = token_for("supervisor")
    resp = province_client.get(f"/api/v1/federation/orders?date=2025-03-03&region={CITY}", headers=headers)
    assert resp.status_code == 200 and resp.get_json()["total"] == 1
    assert resp.get_json()["items"][0]["state"] == "handling"
    none = province_client.get("/api/v1/federation/orders?date=2025-03-03&region=320200", headers=headers)
    assert none.get_json()["total"] == 0
    assert (
        province_client.get("/api/v1/federation/orders?date=2025-03-03&page=0", headers=headers).status_code
        == 422
    )
    links = province_client.get(
        "/api/v1/federation/transfers/320100202503031000001", headers=token_for("dispatcher")
    )
    assert links.status_code == 200 and links.get_json() == {"items": []}
