"""Intake records over the API: every contact is recorded, whatever its outcome."""

from __future__ import annotations

from node.intake.models import Contact
from tests.factories import make_order


def test_contact_outcomes(client, token_for):
    agent = token_for("agent")

    def new(**kw):
        r = client.post("/api/v1/contacts", json={"caller_phone": "025-83331234", **kw}, headers=agent)
        assert r.status_code == 201, r.get_json()
        return r.get_json()

    c = new(summary="咨询火车票退票", call_id="call-1", recording_ref="2026/11/28/call-1.wav")
    assert (
        c["outcome"] == "pending" and c["caller_phone_masked"] == "*******1234" and c["call_id"] == "call-1"
    )
    r = client.post(f"/api/v1/contacts/{c['id']}/finish", json={"outcome": "transferred"}, headers=agent)
    assert r.status_code == 422 and "转接去向" in r.get_json()["message"]
    r = client.post(
        f"/api/v1/contacts/{c['id']}/finish",
        json={"outcome": "transferred", "transfer_target": "12306"},
        headers=agent,
    )
    assert r.get_json()["outcome_name"] == "已转接"
    r = client.post(f"/api/v1/contacts/{c['id']}/finish", json={"outcome": "invalid"}, headers=agent)
    assert r.status_code == 409, "a finished contact stays finished"

    c = new()
    assert (
        client.post(
            f"/api/v1/contacts/{c['id']}/finish",
            json={"outcome": "invalid", "note": "无声电话"},
            headers=agent,
        ).get_json()["outcome"]
        == "invalid"
    )
    order = make_order("pending_dispatch")
    c = new(summary="催办")
    r = client.post(
        f"/api/v1/contacts/{c['id']}/finish",
        json={"outcome": "linked", "order_number": order.number},
        headers=agent,
    )
    assert r.get_json()["order_number"] == order.number
    c = new()
    r = client.post(
        f"/api/v1/contacts/{c['id']}/finish",
        json={"outcome": "linked", "order_number": "1" * 21},
        headers=agent,
    )
    assert r.status_code == 404 and Contact.get_by_id(c["id"]).outcome == "pending"

    c = new(summary="地铁末班车")
    body = {
        "business_type": "2",
        "domain": "04",
        "sub_business": "0402",
        "region_code": "320102",
        "content": "地铁末班车几点？",
        "contact_id": c["id"],
        "immediate_answer": "2号线末班车22:30",
    }
    order = client.post("/api/v1/orders", json=body, headers=agent).get_json()
    assert order["state"] == "answered"
    assert client.get(f"/api/v1/contacts/{c['id']}", headers=agent).get_json()["outcome"] == "answered"
    again = client.post("/api/v1/orders", json=body, headers=agent)
    assert again.status_code == 409, "a contact becomes at most one order"

    history = client.get("/api/v1/callers/025-83331234/history", headers=agent).get_json()
    assert len(history["contacts"]) == 5 and history["orders"][0]["number"] == order["number"]
    listed = client.get("/api/v1/contacts?outcome=invalid", headers=agent).get_json()
    assert listed["total"] == 1
    for bad in ({"channel": "77"}, {"caller_phone": "abc"}, {"summary": "x" * 2001}, {"call_id": 5}):
        assert client.post("/api/v1/contacts", json=bad, headers=agent).status_code == 422
    assert client.post("/api/v1/contacts", json={}, headers=token_for("unit_staff")).status_code == 403


def test_no_connection_before_fork(settings):
    """The app factory opens no database connection (gunicorn forks after it, with preload)."""
    from node import db
    from node.app import create_app

    previous = db.database.obj
    db.database.initialize(None)
    try:
        create_app(settings)
        assert db.database.obj is not None and db.database.is_closed()
    finally:
        db.database.initialize(previous)
