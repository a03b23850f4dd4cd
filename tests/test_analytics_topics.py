"""专题报告: a saved keyword set is the indicator engine's `topic` filter — known answers on SQLite
and PostgreSQL for matching (synonyms, AND / OR, exclusions, the topic's own filters), the
engine's indicators restricted to the topic, trend buckets with share and 环比, drill-down, the
screens, exports, API, permission and audit."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook

from node import clock
from node.analytics import compute, drill, parse_period, topics
from node.analytics.models import Topic
from node.audit.models import AuditEntry
from node.errors import Conflict, PermissionDenied, ValidationError
from tests.factories import actor, stat_call_leg, stat_order

NOV = parse_period("2026-11")
NOW = dt.datetime(2026, 12, 2, 10, 0)
TAXI = {
    "name": "出租车拒载",
    "keywords": [["出租车", "的士"], ["拒载", "拒绝载客"]],
    "mode": "all",
    "exclude": ["网约车"],
}


def _orders() -> dict[str, Any]:
    d = dt.datetime
    due = d(2026, 11, 14, 17, 30)
    return {
        "o1": stat_order(
            d(2026, 11, 10, 9),
            "visited",
            title="出租车拒载",
            content="司机拒载乘客",
            dispatched_at=d(2026, 11, 10, 10),
            due_at=due,
            closed_at=d(2026, 11, 12, 9),
            callback_at=d(2026, 11, 13, 9),
            callback_result_satisfaction="1",
        ),
        "o2": stat_order(
            d(2026, 11, 11, 9),
            "visited",
            title="的士拒绝载客",
            content="的士司机拒绝载客",
            region_code="320104",
            domain="05",
            dispatched_at=d(2026, 11, 11, 10),
            due_at=due,
            closed_at=d(2026, 11, 16, 9),
            callback_at=d(2026, 11, 17, 9),
            callback_result_satisfaction="3",
        ),
        "o3": stat_order(d(2026, 11, 12, 9), title="网约车拒载", content="网约车司机拒载"),
        "o4": stat_order(d(2026, 11, 12, 10), title="公交车晚点", content="公交车晚点"),
        "o5": stat_order(d(2026, 10, 20, 9), title="出租车拒载", content="出租车拒载"),
        "o6": stat_order(d(2026, 11, 13, 9), title="出租车拒载", content="出租车拒载", is_spot_check=True),
        "o7": stat_order(d(2026, 11, 15, 9), title="出租车绕路", content="出租车司机绕路"),
    }


@pytest.fixture
def orders(db: str) -> dict[str, Any]:
    return _orders()


def v(name: str, topic: Topic, period: Any = NOV, **kw: Any) -> dict[str, Any]:
    return compute([name], period, filters={"topic": str(topic.id)}, **kw)[0]["values"][name]


def test_topic_is_an_engine_filter_with_known_answers(orders: dict[str, Any]) -> None:
    boss = actor("supervisor")
    taxi = topics.create(boss, TAXI)
    # o1 (出租车…拒载) and o2 (的士…拒绝载客); not o3 (网约车 excluded), o4, o7 (no 拒载), o6 (spot check)
    assert v("volume", taxi)["value"] == 2
    assert {i["ref"] for i in drill("volume", NOV, {"topic": str(taxi.id)})} == {
        orders["o1"].number,
        orders["o2"].number,
    }
    assert v("volume_mom", taxi) == {"value": 1.0, "numerator": 2, "denominator": 1}  # October: o5
    assert v("on_time_rate", taxi) == {"value": 0.5, "numerator": 1, "denominator": 2}
    assert v("callback_satisfaction", taxi) == {"value": 0.5, "numerator": 1, "denominator": 2}
    assert v("callback_rate", taxi)["value"] == 1.0
    # calls are not orders: call figures do not apply to a topic
    stat_call_leg(dt.datetime(2026, 11, 10, 9), answered_at=dt.datetime(2026, 11, 10, 9), wait_s=3)
    assert v("connection_rate", taxi)["value"] is None
    # the same figure as a breakdown by region, and a drill of one row
    rows = compute(["volume", "on_time_rate"], NOV, ["region"], {"topic": str(taxi.id)})
    assert {r["group"]["region"]: r["values"]["volume"]["value"] for r in rows} == {"320102": 1, "320104": 1}
    late = drill("on_time_rate", NOV, {"topic": str(taxi.id), "region": "320104"}, part="denominator")
    assert [i["ref"] for i in late] == [orders["o2"].number]

    # OR: either group; the topic's own filters narrow it
    anyone = topics.create(boss, {"name": "拒载或绕路", "keywords": [["拒载"], ["绕路"]], "mode": "any"})
    assert v("volume", anyone)["value"] == 3  # o1, o3, o7
    narrow = topics.create(boss, {**TAXI, "name": "秦淮区的士", "filters": {"region": ["320104"]}})
    assert v("volume", narrow)["value"] == 1
    # two topics at once: orders of either
    both = compute(["volume"], NOV, filters={"topic": [str(taxi.id), str(anyone.id)]})[0]["values"]["volume"]
    assert both["value"] == 4  # o1, o2, o3, o7


def test_trend_share_and_growth_per_bucket(orders: dict[str, Any]) -> None:
    taxi = topics.create(actor("supervisor"), TAXI)
    days = {b["key"]: b for b in topics.trend(taxi, NOV, "day")}
    assert len(days) == 30
    assert days["2026-11-10"]["volume"] == 1 and days["2026-11-10"]["mom"] is None  # 9 Nov: none
    assert days["2026-11-11"]["volume"] == 1 and days["2026-11-11"]["mom"] == 0.0
    assert days["2026-11-12"]["volume"] == 0 and days["2026-11-12"]["all"] == 2
    assert days["2026-11-12"]["mom"] == -1.0
    weeks = topics.trend(taxi, NOV, "week")
    assert weeks[0]["key"] == "2026-W44" and weeks[0]["period"] == "2026-11-01~2026-11-01"  # cut to the month
    w46 = next(b for b in weeks if b["key"] == "2026-W46")
    assert (w46["volume"], w46["all"], w46["share"], w46["period"]) == (2, 5, 0.4, "2026-W46")
    months = topics.trend(taxi, parse_period("2026-Q4"), "month")
    assert [(b["key"], b["volume"], b["mom"]) for b in months] == [
        ("2026-10", 1, None),
        ("2026-11", 2, 1.0),
        ("2026-12", 0, -1.0),
    ]
    report = topics.report(taxi, NOV, "week")
    assert report["share"] == {"volume": 2, "all": 5, "value": 0.4}
    assert report["indicators"]["volume_yoy"]["value"] is None  # nothing a year before
    assert {r["group"]["domain"] for r in report["breakdowns"]["domain"]} == {"04", "05"}
    with pytest.raises(ValidationError):
        topics.trend(taxi, NOV, "hour")


def test_definitions_are_checked_and_edits_audited(orders: dict[str, Any]) -> None:
    boss = actor("supervisor")
    for bad, message in [
        ({**TAXI, "name": ""}, "专题名称"),
        ({**TAXI, "keywords": []}, "至少填写一个关键词"),
        ({**TAXI, "keywords": [["，。"]]}, "没有可检索的词"),
        ({**TAXI, "mode": "xor"}, "组合方式"),
        ({**TAXI, "filters": {"unit": ["1"]}}, "不能按"),
        ({**TAXI, "keywords": [["拒载"]] * 13}, "最多"),
        ({**TAXI, "colour": "red"}, "未知的字段"),
    ]:
        with pytest.raises(ValidationError, match=message):
            topics.create(boss, bad)
    with pytest.raises(PermissionDenied):
        topics.create(actor("agent"), TAXI)
    with pytest.raises(PermissionDenied):
        topics.list_topics(actor("agent"))
    taxi = topics.create(boss, TAXI)
    with pytest.raises(Conflict):
        topics.create(boss, TAXI)
    assert topics.parse_keywords("出租车 | 的士\n\n拒载、拒绝载客\n") == [
        ["出租车", "的士"],
        ["拒载", "拒绝载客"],
    ]
    topics.update(boss, taxi.id, {"keywords": "出租车|的士\n拒载", "active": False})
    taxi = Topic.get_by_id(taxi.id)
    assert taxi.keywords == [["出租车", "的士"], ["拒载"]] and taxi.active is False
    assert v("volume", taxi)["value"] == 1  # o2 said 拒绝载客, no longer a keyword
    entries = list(
        AuditEntry.select().where(AuditEntry.event == "stats.topic_changed").order_by(AuditEntry.seq)
    )
    assert [e.details["action"] for e in entries] == ["create", "update"]
    assert entries[1].details["changes"]["active"] == {"before": True, "after": False}
    for missing in ("999999", "99999999999", "x1"):  # unknown, beyond a 32-bit id, not an id
        with pytest.raises(ValidationError, match="专题不存在"):
            compute(["volume"], NOV, filters={"topic": missing})


def text(resp: Any) -> str:
    return re.sub(r"\s+", " ", resp.get_data(as_text=True))


def test_screens_api_and_exports(client: FlaskClient, login_as: Any, orders: dict[str, Any]) -> None:
    csrf = login_as("supervisor")
    # a bad definition keeps what was typed and says why
    resp = client.post(
        "/stats/topic-reports/new",
        data={"csrf_token": csrf, "name": "出租车拒载", "keywords": "，。", "mode": "all", "active": "1"},
    )
    assert resp.status_code == 422
    assert "没有可检索的词" in text(resp) and 'value="出租车拒载"' in text(resp)
    resp = client.post(
        "/stats/topic-reports/new",
        data={
            "csrf_token": csrf,
            "name": "出租车拒载",
            "keywords": "出租车 | 的士\n拒载 | 拒绝载客",
            "mode": "all",
            "exclude": "网约车",
            "active": "1",
        },
    )
    assert resp.status_code == 302
    topic_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    page = text(client.get(f"/stats/topic-reports/{topic_id}?period=2026-11&grain=week"))
    assert "专题受理量 <b>2</b> 件" in page and ">40.00%<" in page
    assert f"f_topic={topic_id}" in page and "限时办结率" in page and "按承办单位" in page
    with clock.frozen(NOW):
        listing = text(client.get("/stats/topic-reports?period=2026-11"))
    assert "出租车拒载" in listing and "（出租车 或 的士） 并且 （拒载 或 拒绝载客），不含 网约车" in listing
    drill_page = text(client.get(f"/stats/drill?indicator=volume&period=2026-11&f_topic={topic_id}"))
    assert orders["o1"].number in drill_page and orders["o3"].number not in drill_page
    assert "专题：出租车拒载" in drill_page
    # Excel holds the page's numbers; CSV one table
    wb = load_workbook(
        io.BytesIO(client.get(f"/stats/topic-reports/{topic_id}?period=2026-11&format=xlsx").data)
    )
    cells = [r for r in wb.active.iter_rows(values_only=True)]
    assert ("2026年11月", 2, 5, 0.4) in [tuple(r[:4]) for r in cells]
    rows = list(
        csv.reader(
            io.StringIO(
                client.get(f"/stats/topic-reports/{topic_id}?period=2026-11&format=csv&section=1")
                .get_data(as_text=True)
                .lstrip("\ufeff")
            )
        )
    )
    assert rows[0] == ["指标", "数值", "分子", "分母"] and ["受理量", "2", "2", "—"] in rows
    assert client.get(f"/stats/topic-reports/{topic_id}?period=2026-11&format=pdf").status_code == 422
    assert client.get("/stats/topic-reports/99999999999").status_code == 404
    assert (
        client.get("/api/v1/stats/compute?indicators=volume&period=2026-11&f_topic=99999999999").status_code
        == 422
    )
    # API: list, report, patch, the engine's compute with f_topic
    headers = {"X-CSRF-Token": csrf}
    assert [t["name"] for t in client.get("/api/v1/stats/topics").get_json()] == ["出租车拒载"]
    report = client.get(f"/api/v1/stats/topics/{topic_id}/report?period=2026-11&grain=month").get_json()
    assert report["share"] == {"volume": 2, "all": 5, "value": 0.4}
    assert report["indicators"]["on_time_rate"]["value"] == 0.5
    computed = client.get(
        f"/api/v1/stats/compute?indicators=volume&period=2026-11&f_topic={topic_id}"
    ).get_json()
    assert computed["rows"][0]["values"]["volume"]["value"] == 2
    resp = client.patch(f"/api/v1/stats/topics/{topic_id}", json={"mode": "any"}, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["mode"] == "any"
    resp = client.post("/api/v1/stats/topics", json={"name": "空", "keywords": [["。"]]}, headers=headers)
    assert resp.status_code == 422 and "没有可检索的词" in resp.get_json()["message"]
    resp = client.post("/api/v1/stats/topics", json={"name": "绕路", "keywords": [["绕路"]]}, headers=headers)
    assert resp.status_code == 201
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "/api/v1/stats/topics/{topic_id}/report" in spec["paths"] or any(
        p.startswith("/api/v1/stats/topics/") and p.endswith("/report") for p in spec["paths"]
    )


def test_viewers_without_the_edit_permission(
    app: Any, client: FlaskClient, login_as: Any, token_for: Any, orders: dict[str, Any]
) -> None:
    topic = topics.create(actor("supervisor"), TAXI)
    csrf = login_as("auditor")  # stats.view, not stats.topics
    assert client.get(f"/stats/topic-reports/{topic.id}?period=2026-11").status_code == 200
    assert client.get("/stats/topic-reports/new").status_code == 403
    resp = client.patch(
        f"/api/v1/stats/topics/{topic.id}", json={"active": False}, headers={"X-CSRF-Token": csrf}
    )
    assert resp.status_code == 403
    with app.test_client() as other:
        assert other.get("/api/v1/stats/topics", headers=token_for("agent")).status_code == 403
