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
    spec = client.get("/api/v1/openapi.json").get_json()
    assert {"/api/v1/stats/compute", "/api/v1/stats/drill", "/api/v1/stats/indicators"} <= set(spec["paths"])


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


def test_province_rollup_equals_the_sum_of_its_cities_and_ranks_them(db: str) -> None:
    import datetime as _dt

    from federation import codec, reports

    day = _dt.date(2026, 11, 3)

    def send(node: str, closed_due: int, on_time: int) -> None:
        counts = [
            ("accepted", "1", "04", "01", closed_due + 1),
            ("closed_due", "1", "04", "01", closed_due),
            ("closed_on_time", "1", "04", "01", on_time),
        ]
        reports.apply_report("320000", node, codec.daily_report(node, day, counts, revision=1))

    send("320100", 4, 3)
    send("320200", 10, 5)
    data = reports.rollup_period("320000", _dt.date(2026, 11, 1), _dt.date(2026, 12, 1))
    children = {c["region"]: c["indicators"]["on_time_rate"] for c in data["children"]}
    assert children["320100"]["value"] == 0.75 and children["320200"]["value"] == 0.5
    total = data["indicators"]["on_time_rate"]
    assert (total["numerator"], total["denominator"]) == (8, 14)  # summed, not averaged
    assert data["indicators"]["complaint_on_time_rate"]["denominator"] == 14
    assert data["indicators"]["volume"]["value"] == 16


def test_regions_screen(client: FlaskClient, login_as: Any, db: str) -> None:
    import datetime as _dt

    from federation import reports

    counts = [
        ("accepted", "1", "04", "01", 5),
        ("closed_due", "1", "04", "01", 4),
        ("closed_on_time", "1", "04", "01", 3),
    ]
    reports.store("320100", _dt.date(2026, 11, 3), 1, 0, counts)
    login_as("supervisor")
    page = text(client.get("/stats/regions?period=2026-11"))
    assert "辖区统计" in page and "75.00%" in page and "（本级）" in page
    assert client.get("/stats/regions?period=2026-11&region=440300").status_code == 403
    assert client.get("/stats/regions?period=2026-11&rank=nope").status_code == 422


def test_forms_generated_once_per_finished_period_and_kept(db: str, settings: Any) -> None:
    from node.analytics import jobs

    stat_order(T, "closed", dispatched_at=T, due_at=T, closed_at=T)
    keys = [p.key for p in jobs.finished_periods(dt.date(2026, 12, 2))]
    assert keys == ["2026-11", "2026-Q3", "2025"]
    written = jobs.generate(settings, dt.date(2026, 12, 2))
    assert [p.name for p in written] == [f"12328统计报表-{k}.xlsx" for k in keys]
    ws = load_workbook(written[0]).active
    cells = {r[0]: r for r in ws.iter_rows(values_only=True) if r and r[0]}
    assert cells["受理量"][1] == 1
    assert jobs.generate(settings, dt.date(2026, 12, 3)) == []  # kept, not regenerated


def test_hot_topics_screen(client: FlaskClient, login_as: Any, db: str) -> None:
    for i in range(6):
        stat_order(
            T + dt.timedelta(hours=i),
            title="电动自行车充电桩起火",
            content="小区电动自行车充电桩起火隐患",
            search_text="电动自行车 充电桩 起火 隐患",
        )
    login_as("supervisor")
    page = text(client.get("/stats/topics?period=2026-11&periods=2"))
    assert "热点分析" in page and "2026年11月 · 受理 6 件" in page
    assert client.get("/stats/topics?period=2026-11&periods=99").status_code == 422


def test_dashboard_targets_are_run_time_settings(
    client: FlaskClient, login_as: Any, data: dict[str, Any]
) -> None:
    """The administrator edits the targets on 运行参数 (统计目标): audited, in force at once, bad
    values refused in Chinese; node.toml's value or the built-in one is the default."""
    csrf = login_as("admin")
    with clock.frozen(NOW):
        page = text(client.get("/stats"))
    assert "目标 95.00%" in page  # 限时办结率 built in
    settings_page = text(client.get("/admin/settings", headers={"Accept": "text/html"}))
    assert "统计目标" in settings_page and "目标：限时办结率（%）" in settings_page
    resp = client.post("/admin/settings", data={"csrf_token": csrf, "target_on_time_rate": "abc"})
    assert resp.status_code == 422 and "应为数字" in text(resp)
    resp = client.post("/admin/settings", data={"csrf_token": csrf, "target_on_time_rate": "120"})
    assert resp.status_code == 422 and "0 到 100" in text(resp)
    resp = client.post("/admin/settings", data={"csrf_token": csrf, "target_on_time_rate": "42.5"})
    assert resp.status_code == 302
    with clock.frozen(NOW):
        page = text(client.get("/stats"))
    assert "目标 42.50%" in page and "目标 95.00%" not in page
    entry = (
        AuditEntry.select().where(AuditEntry.event == "config.changed").order_by(AuditEntry.seq.desc()).get()
    )
    assert entry.details == {"target_on_time_rate": {"from": 95.0, "to": 42.5}}
