"""The REST API: a whole order life over HTTP, and clear 4xx answers that write nothing."""

from __future__ import annotations

from node.intake.models import Contact
from node.workflow.models import OrderEvent, WorkOrder
from tests.factories import ORDER_DEFAULTS, make_order, make_unit

BODY = {k: v for k, v in ORDER_DEFAULTS.items()}
REPLY = {"basic": "经查属实", "process": "已约谈驾驶员", "basis": "《巡游出租汽车经营服务管理规定》"}


def counts() -> tuple[int, int, int]:
    return WorkOrder.select().count(), OrderEvent.select().count(), Contact.select().count()


def test_whole_life_over_the_api(client, token_for):
    unit = make_unit(code="CZC", name="出租汽车管理所")
    agent, reviewer, dispatcher = token_for("agent"), token_for("reviewer"), token_for("dispatcher")
    staff = token_for("unit_staff", unit)
    r = client.post(
        "/api/v1/contacts", json={"caller_phone": "13812345678", "summary": "投诉拒载"}, headers=agent
    )
    assert r.status_code == 201, r.get_json()
    contact_id = r.get_json()["id"]
    r = client.post("/api/v1/orders", json={**BODY, "contact_id": contact_id}, headers=agent)
    assert r.status_code == 201, r.get_json()
    order = r.get_json()
    number = order["number"]
    assert len(number) == 21 and number.startswith("320100") and order["state"] == "pending_review"
    assert order["caller_phone"] == "13812345678", "agents may see the number"
    assert client.get(f"/api/v1/contacts/{contact_id}", headers=agent).get_json()["order_number"] == number

    def act(headers, action, body=None, expect=200):
        resp = client.post(f"/api/v1/orders/{number}/actions/{action}", json=body or {}, headers=headers)
        assert resp.status_code == expect, resp.get_json()
        return resp.get_json()

    act(reviewer, "review")
    assert act(dispatcher, "dispatch", {"lead_unit": "CZC"})["state"] == "dispatched"
    seen = client.get(f"/api/v1/orders/{number}", headers=staff).get_json()
    assert seen["caller_phone"] == "*******5678", "unit staff see the number masked"
    assert {a["action"] for a in seen["actions"]} >= {"sign", "return"}
    act(staff, "sign")
    act(staff, "reply", REPLY)
    act(reviewer, "accept_reply")
    assert act(reviewer, "close")["state"] == "closed"
    assert (
        act(agent, "callback", {"result_satisfaction": "1", "service_satisfaction": "1"})["state"]
        == "visited"
    )
    history = client.get(f"/api/v1/orders/{number}/history", headers=agent).get_json()
    assert [h["action_label"] for h in history] == [
        "受理",
        "提交审核",
        "审核通过",
        "分派",
        "签收",
        "回复",
        "复核通过",
        "办结",
        "抽中回访",  # complaints are always sampled for a callback at closure (node/followup)
        "回访",
    ]
    lst = client.get("/api/v1/orders?category=closed&page_size=5", headers=agent).get_json()
    assert lst["total"] >= 1 and lst["page_size"] == 5
    found = client.get("/api/v1/orders?phone=13812345678", headers=agent).get_json()
    assert number in {o["number"] for o in found["items"]}
    by_word = client.get("/api/v1/orders?q=拒载", headers=agent).get_json()
    assert number in {o["number"] for o in by_word["items"]}


def test_bad_input_gets_clear_4xx_and_writes_nothing(client, token_for):
    agent = token_for("agent")
    before = counts()
    cases = [
        (dict(data="{not json", content_type="application/json"), 422, "JSON"),
        (dict(data="a=b", content_type="application/x-www-form-urlencoded"), 422, "JSON"),
        (dict(json=[1, 2]), 422, "JSON 对象"),
        (dict(json={**BODY, "business_type": "9"}), 422, "business_type"),
        (dict(json={**BODY, "domain": "99"}), 422, "未知的业务领域"),
        (dict(json={**BODY, "sub_business": "0101"}), 422, "不属于所选业务领域"),
        (dict(json={**BODY, "region_code": "999999"}), 422, "行政区划"),
        (dict(json={**BODY, "content": "长" * 5001}), 422, "5000"),
        (dict(json={**BODY, "content": ""}), 422, "content"),
        (dict(json={**BODY, "latitude": "north"}), 422, "数字"),
        (dict(json={**BODY, "confidential": "maybe"}), 422, "布尔"),
        (dict(json={**BODY, "caller_phone": "call me"}), 422, "电话号码"),
        (dict(json={**BODY, "hacker": 1}), 422, "不允许"),
        (dict(json={k: v for k, v in BODY.items() if k != "region_code"}), 422, "必填"),
        (dict(json={**BODY, "contact_id": 987654}), 422, "受理记录不存在"),
    ]
    for kwargs, status, fragment in cases:
        r = client.post("/api/v1/orders", headers=agent, **kwargs)
        body = r.get_json()
        assert r.status_code == status, (kwargs, body)
        assert fragment in body["message"] or fragment in str(body.get("details")), (fragment, body)
    assert counts() == before


def test_transition_errors(client, token_for):
    order = make_order("accepted")
    dispatcher, agent = token_for("dispatcher"), token_for("agent")
    before = counts()
    r = client.post(
        f"/api/v1/orders/{order.number}/actions/dispatch", json={"lead_unit": "X"}, headers=dispatcher
    )
    assert r.status_code == 409 and "已受理" in r.get_json()["message"]
    r = client.post(f"/api/v1/orders/{order.number}/actions/fly", json={}, headers=dispatcher)
    assert r.status_code == 404 and "未知的工单操作" in r.get_json()["message"]
    r = client.post(f"/api/v1/orders/{order.number}/actions/dispatch", json={}, headers=agent)
    assert r.status_code in (403, 422)
    r = client.post(f"/api/v1/orders/{order.number}/actions/review", json={}, headers=agent)
    assert r.status_code == 403 and "权限" in r.get_json()["message"]
    r = client.get("/api/v1/orders/320100202601011000001", headers=agent)
    assert r.status_code == 404
    r = client.post(
        f"/api/v1/orders/{order.number}/actions/reject",
        json={"reason_code": "01"},
        headers=token_for("reviewer"),
    )
    assert r.status_code == 422 and "reason" in r.get_json()["details"]
    make_unit(code="PAUSED", name="停用单位")
    assert counts() == before


def test_auth_pagination_and_docs(client, token_for):
    assert client.get("/api/v1/orders").status_code == 401
    r = client.get("/api/v1/orders", headers={"Authorization": "Bearer hl_wrong"})
    assert r.status_code == 401 and "令牌" in r.get_json()["message"]
    agent = token_for("agent")
    for bad in (
        "page=0",
        "page_size=500",
        "page=abc",
        "state=flying",
        "queue=nope",
        "accepted_from=yesterday",
    ):
        r = client.get(f"/api/v1/orders?{bad}", headers=agent)
        assert r.status_code == 422, bad
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and "/api/v1/orders/{number}/actions/{action}" in spec["paths"]
    assert "OrderCreate" in spec["components"]["schemas"]
    assert "工单" in client.get("/api/docs").get_data(as_text=True)
    cat = client.get("/api/v1/catalog", headers=agent).get_json()
    assert len(cat["domains"]) == 10 and cat["domains"][3]["sub_businesses"][2]["name"] == "出租汽车"
    assert client.get("/api/v1/regions?q=南京", headers=agent).get_json()[0]["code"] == "320100"


def test_session_writes_need_csrf_and_login_is_throttled(client, login_as):
    csrf = login_as("agent")
    r = client.post("/api/v1/orders", json=BODY)
    assert r.status_code == 403 and r.get_json()["code"] == "csrf"
    r = client.post("/api/v1/orders", json=BODY, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 201
    client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
    for _ in range(5):
        r = client.post("/api/v1/auth/login", json={"username": "ghost", "password": "wrong-password"})
        assert r.status_code == 401
    r = client.post("/api/v1/auth/login", json={"username": "ghost", "password": "wrong-password"})
    assert r.status_code == 429 and "15分钟" in r.get_json()["message"]


def test_admin_endpoints(client, token_for):
    admin, agent = token_for("admin"), token_for("agent")
    unit = {
        "code": "GJJT",
        "name": "公交集团",
        "region_code": "320100",
        "contacts": [{"name": "王主任", "phone": "025-1"}],
    }
    assert client.post("/api/v1/units", json=unit, headers=agent).status_code == 403
    r = client.post("/api/v1/units", json=unit, headers=admin)
    assert r.status_code == 201 and r.get_json()["contacts"][0]["name"] == "王主任"
    assert client.post("/api/v1/units", json=unit, headers=admin).status_code == 409
    r = client.post(
        "/api/v1/users",
        json={"username": "u1", "display_name": "承办人", "password": "longenough", "roles": ["unit_staff"]},
        headers=admin,
    )
    assert r.status_code == 422 and "承办单位" in r.get_json()["message"]
    r = client.post(
        "/api/v1/users",
        json={
            "username": "u1",
            "display_name": "承办人",
            "password": "longenough",
            "roles": ["unit_staff"],
            "unit_code": "GJJT",
        },
        headers=admin,
    )
    assert r.status_code == 201
    r = client.put(
        "/api/v1/calendar/2027-02-06", json={"is_workday": True, "note": "调休上班"}, headers=admin
    )
    assert r.status_code == 200
    days = client.get("/api/v1/calendar?from=2027-02-06&to=2027-02-07", headers=agent).get_json()
    assert days[0]["is_workday"] is True and days[1]["is_workday"] is False
    r = client.put(
        "/api/v1/sla-policies",
        json={"business_type": "1", "domain_code": "04", "limit_value": 10},
        headers=admin,
    )
    assert r.status_code == 200 and r.get_json()["limit_value"] == 10
    assert (
        client.put("/api/v1/calendar/2027-13-01", json={"is_workday": True}, headers=admin).status_code == 422
    )
