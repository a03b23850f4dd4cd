"""The text module over REST: duplicates, decisions, suggestions, choices, hot topics."""

from __future__ import annotations

from tests.factories import make_order


def test_duplicates_suggestions_and_decisions(client, token_for):
    master = make_order(
        "pending_dispatch", content="出租车司机拒载，车牌苏A12345，在南京南站", respondent_plate="苏A12345"
    )
    other = make_order(
        "pending_dispatch",
        content="公交车站台破损需要维修",
        respondent_plate="",
        caller_phone="13900000000",
        domain="04",
        sub_business="0401",
    )
    agent, reviewer = token_for("agent"), token_for("reviewer")
    draft = {
        "content": "南京南站出租车拒载乘客",
        "respondent_plate": "苏A12345",
        "caller_phone": "13812345678",
        "region_code": "320102",
        "domain": "04",
    }
    r = client.post("/api/v1/text/duplicates", json=draft, headers=agent)
    assert r.status_code == 200, r.get_json()
    found = r.get_json()
    assert found and found[0]["number"] == master.number
    assert other.number not in [c["number"] for c in found[:1]]
    assert any("车牌" in reason or "来电人" in reason for reason in found[0]["reasons"])
    r = client.post(
        f"/api/v1/text/orders/{other.number}/duplicate-decisions",
        json={"candidate": master.number, "is_duplicate": False, "rank": 2},
        headers=reviewer,
    )
    assert r.status_code == 201 and r.get_json()["is_duplicate"] is False
    assert (
        client.get("/api/v1/text/duplicate-precision", headers=token_for("supervisor")).get_json()[
            "decisions"
        ]
        == 1
    )

    r = client.post(
        "/api/v1/text/suggest", json={"title": "出租车拒载", "content": "出租汽车司机拒载乘客"}, headers=agent
    )
    body = r.get_json()
    assert r.status_code == 200 and body["domain"][0]["name"] == "城市客运"
    assert body["sub_business"][0]["name"] == "出租汽车" and 0 < body["domain"][0]["confidence"] <= 1
    r = client.post(
        f"/api/v1/text/orders/{master.number}/category-choice",
        json={"kind": "domain", "chosen": "04", "suggested": "04", "confidence": 0.8},
        headers=agent,
    )
    assert r.status_code == 201


def test_text_endpoints_refuse_bad_input(client, token_for):
    agent = token_for("agent")
    assert client.post("/api/v1/text/duplicates", json={}, headers=agent).status_code == 422
    assert (
        client.post(
            "/api/v1/text/duplicates", json={"content": "x", "region_code": "12"}, headers=agent
        ).status_code
        == 422
    )
    assert (
        client.post("/api/v1/text/suggest", json={"title": "", "content": ""}, headers=agent).status_code
        == 422
    )
    assert (
        client.post("/api/v1/text/suggest", json={"content": "x", "top": 99}, headers=agent).status_code
        == 422
    )
    assert client.get("/api/v1/text/hot-topics", headers=agent).status_code == 403
    sup = token_for("supervisor")
    assert client.get("/api/v1/text/hot-topics?start=2026-13-01", headers=sup).status_code == 422
    r = client.get("/api/v1/text/hot-topics?start=2026-11-01&end=2026-11-08", headers=sup)
    assert r.status_code == 200 and "volume" in r.get_json()
    assert client.post("/api/v1/text/suggest", json={"content": "x"}).status_code == 401
