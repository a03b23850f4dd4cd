"""统计分析 screens, exports and API: the same numbers on screen, in CSV, in Excel and in JSON;
drill-down; clear Chinese errors (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook

from node import clock
from node.audit.models import AuditEntry
from tests.factories import stat_call_leg, stat_order

NOW = dt.datetime(2026, 12, 2, 10, 0)
T = dt.datetime(2026, 11, 10, 9, 0)


@pytest.fixture
def data(db: str) -> Iterator[dict[str, Any]]:
    with clock.frozen(NOW):
        due = T + dt.timedelta(days=5)
        a = stat_order(
            T, "closed", dispatched_at=T, due_at=due, closed_at=T + dt.timedelta(days=1), channel="01"
        )
        b = stat_order(
            T, "closed", dispatched_at=T, due_at=due, closed_at=due + dt.timedelta(days=1), channel="02"
        )
        stat_order(T, "answered", business_type="2", immediate_answer="已答复", closed_at=T, channel="01")
        stat_order(dt.datetime(2026, 10, 3), channel="01")
        stat_order(NOW - dt.timedelta(hours=1), channel="01")  # today
        stat_call_leg(NOW - dt.timedelta(hours=2), answered_at=NOW, wait_s=4, talk_s=90, wrapup_s=10)
        yield {"on_time": a, "late": b}


def text(resp: Any) -> str:
    return re.sub(r"\s+", " ", resp.get_data(as_text=True))


def test_dashboard_shows_today_and_month_with_drill_links(
    client: FlaskClient, login_as: Any, data: dict[str, Any]
) -> None:
    login_as("supervisor")
    with clock.frozen(NOW):
        resp = client.get("/stats")
    assert resp.status_code == 200
    page = text(resp)
    assert "今日（2026年12月2日）" in page and "本月（2026年12月）" in page
    assert "人工接通率" in page and "10秒内接通率" in page and "目标 90.00%" in page
    assert "/stats/drill?indicator=volume&amp;period=2026-12-02" in page
    assert 'href="/stats"' in page  # in the nav through NAV_EXTRA


def test_breakdown_screen_csv_and_excel_hold_the_same_numbers(
    client: FlaskClient, login_as: Any, data: dict[str, Any]
) -> None:
    login_as("supervisor")
    q = "/stats/breakdown?period=2026-11&group_by=channel&indicators=volume,on_time_rate"
    page = text(client.get(q))
    assert "2026年11月 · 按受理渠道" in page
    assert ">0.00%<" in page and ">100.00%<" in page  # channel 01: 1 of 1 on time; 02: 0 of 1
    rows = list(
        csv.reader(io.StringIO(client.get(q + "&format=csv").get_data(as_text=True).lstrip("\ufeff")))
    )
    assert rows[0] == ["受理渠道", "受理量", "分子", "分母", "限时办结率", "分子", "分母"]
    by_channel = {r[0]: r for r in rows[1:]}
    assert len(by_channel) == 2
    on_time = sorted(r[4] for r in rows[1:])
    assert on_time == ["0.00%", "100.00%"]
    resp = client.get(q + "&format=xlsx")
    assert resp.headers["Content-Disposition"].startswith("attachment")
    ws = load_workbook(io.BytesIO(resp.data)).active
    values = [[c for c in row] for row in ws.iter_rows(values_only=True)]
    table = [r for r in values if r and r[0] in by_channel]
    assert sorted(r[2] for r in table) == [0.0, 1.0]
    assert sum(r[1] for r in table) == 3  # volume 2 + 1 (the instant answer on channel 01)
    assert AuditEntry.select().where(AuditEntry.event == "data.export").count() == 2


def test_drill_page_lists_the_orders_behind_a_figure(
    client: FlaskClient, login_as: Any, data: dict[str, Any]
) -> None:
    login_as("supervisor")
    page = text(client.get("/stats/drill?indicator=on_time_rate&period=2026-11"))
    assert data["on_time"].number in page and data["late"].number not in page
    assert "分子 1，分母 2" in page
    page = text(client.get("/stats/drill?indicator=on_time_rate&period=2026-11&part=denominator"))
    assert data["on_time"].number in page and data["late"].number in page


def test_report_form_page_and_excel_agree(client: FlaskClient, login_as: Any, data: dict[str, Any]) -> None:
    login_as("supervisor")
    with clock.frozen(NOW):
        page = text(client.get("/stats/forms?period=2026-11"))
        resp = client.get("/stats/forms?period=2026-11&format=xlsx")
    assert "统计月报（2026年11月）" in page and "受理渠道分析（A.3）" in page and "话务统计（A.5）" in page
    ws = load_workbook(io.BytesIO(resp.data)).active
    assert "统计月报（2026年11月）" in ws["A1"].value
    assert any(rng.min_row == 1 and rng.max_col > 1 for rng in ws.merged_cells.ranges)
    cells = {r[0]: r for r in ws.iter_rows(values_only=True) if r and r[0]}
    assert cells["受理量"][1] == 3 and cells["限时办结率"][1] == 0.5
    assert "50.00%" in page
    # A.3: 合计 3, 环比 (3 − 1) ÷ 1 = 200 %
    total = next(r for r in ws.iter_rows(values_only=True) if r and r[0] == "合计")
    assert total[1] == 3 and total[2] == 1.0 and total[4] == 2.0
    assert "200.00%" in page


def test_stats_api(client: FlaskClient, token_for: Any, data: dict[str, Any]) -> None:
    h = token_for("supervisor")
    js = client.get(
        "/api/v1/stats/compute?indicators=volume,closure_rate&period=2026-11&group_by=business_type",
        headers=h,
    ).get_json()
    assert js["period_label"] == "2026年11月"
    rows = {r["group"]["business_type"]: r["values"] for r in js["rows"]}
    assert rows["2"]["closure_rate"] == {"value": 1.0, "numerator": 1, "denominator": 1}
    items = client.get("/api/v1/stats/drill?indicator=on_time_rate&period=2026-11", headers=h).get_json()[
        "items"
    ]
    assert [i["ref"] for i in items] == [data["on_time"].number]
    assert any(
        i["name"] == "service_level"
        for i in client.get("/api/v1/stats/indicators", headers=h).get_json()["indicators"]
    )
    assert "限时办结率" in client.get(
        "/api/v1/stats/compute.csv?indicators=on_time_rate&period=2026-11", headers=h
    ).get_data(as_text=True)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/stats/compute?indicators=nope&period=2026-11",
        "/api/v1/stats/compute?indicators=volume&period=2026-13",
        "/api/v1/stats/compute?indicators=volume&period=2026-11&group_by=colour",
        "/api/v1/stats/compute?indicators=volume&period=2026-11&f_channel=%00",
        "/api/v1/stats/compute?indicators=volume&period=2026-11&f_nope=1",
        "/api/v1/stats/compute?indicators=service_level&period=2026-11&n=999999999999999999999",
        "/api/v1/stats/compute?indicators=volume&period=99999999-11",
        "/api/v1/stats/drill?indicator=volume&period=2026-11&part=x",
        "/api/v1/stats/drill?indicator=volume&period=2026-11&limit=-1",
    ],
)
def test_bad_queries_are_refused_in_chinese(client: FlaskClient, token_for: Any, db: str, url: str) -> None:
    resp = client.get(url, headers=token_for("supervisor"))
    assert resp.status_code in (400, 422), resp.get_data(as_text=True)
    assert re.search(r"[\u4e00-\u9fff]", resp.get_data(as_text=True))


def test_screens_need_stats_view(client: FlaskClient, login_as: Any, token_for: Any, db: str) -> None:
    login_as("unit_staff")
    for url in ("/stats", "/stats/breakdown", "/stats/drill?indicator=volume", "/stats/forms"):
        assert client.get(url).status_code == 403
    assert (
        client.get("/api/v1/stats/compute?indicators=volume", headers=token_for("unit_staff")).status_code
        == 403
    )
