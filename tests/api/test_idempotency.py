"""Idempotent order creation (issue 18, hole 11): a retry with the same Idempotency-Key gets the
first answer and stores nothing twice; an external number is unique per channel."""

from __future__ import annotations

from node.api.models import IdempotentRequest
from node.workflow.models import WorkOrder
from tests.factories import ORDER_DEFAULTS


def test_a_retry_with_the_same_key_gets_the_first_answer(client, token_for):
    agent = token_for("agent")
    before = WorkOrder.select().count()
    first = client.post("/api/v1/orders", json=ORDER_DEFAULTS, headers={**agent, "Idempotency-Key": "k-1"})
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = client.post("/api/v1/orders", json=ORDER_DEFAULTS, headers={**agent, "Idempotency-Key": "k-1"})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert WorkOrder.select().count() == before + 1
    other = client.post("/api/v1/orders", json=ORDER_DEFAULTS, headers={**agent, "Idempotency-Key": "k-2"})
    assert other.status_code == 201 and other.get_json()["number"] != first.get_json()["number"]
    plain = client.post("/api/v1/orders", json=ORDER_DEFAULTS, headers=agent)
    assert plain.status_code == 201 and WorkOrder.select().count() == before + 3


def test_a_key_reused_for_another_body_is_refused(client, token_for):
    agent = token_for("agent")
    headers = {**agent, "Idempotency-Key": "same"}
    assert client.post("/api/v1/orders", json=ORDER_DEFAULTS, headers=headers).status_code == 201
    resp = client.post(
        "/api/v1/orders", json={**ORDER_DEFAULTS, "content": "另一件事情，公交甩站"}, headers=headers
    )
    assert resp.status_code == 422 and "Idempotency-Key" in resp.get_json()["message"]
    bad = client.post("/api/v1/orders", json=ORDER_DEFAULTS, headers={**agent, "Idempotency-Key": "中文键"})
    assert bad.status_code == 422


def test_keys_are_per_caller_and_a_failed_request_stores_no_key(client, token_for):
    a, b = token_for("agent"), token_for("agent")
    one = client.post("/api/v1/orders", json=ORDER_DEFAULTS, headers={**a, "Idempotency-Key": "shared"})
    two = client.post("/api/v1/orders", json=ORDER_DEFAULTS, headers={**b, "Idempotency-Key": "shared"})
    assert one.get_json()["number"] != two.get_json()["number"]
    refused = client.post(
        "/api/v1/orders", json={**ORDER_DEFAULTS, "region_code": "1"}, headers={**a, "Idempotency-Key": "bad"}
    )
    assert refused.status_code == 422
    assert IdempotentRequest.get_or_none(IdempotentRequest.key == "bad") is None


def test_an_external_number_is_unique_per_channel(client, token_for):
    agent = token_for("agent")
    body = {**ORDER_DEFAULTS, "channel": "02", "external_number": "WX-2026-0001"}
    first = client.post("/api/v1/orders", json=body, headers=agent)
    assert first.status_code == 201
    again = client.post("/api/v1/orders", json=body, headers=agent)
    assert again.status_code == 200 and again.get_json()["number"] == first.get_json()["number"]
    elsewhere = client.post("/api/v1/orders", json={**body, "channel": "01"}, headers=agent)
    assert elsewhere.status_code == 201 and elsewhere.get_json()["number"] != first.get_json()["number"]
    assert WorkOrder.select().where(WorkOrder.external_number == "WX-2026-0001").count() == 2


def test_keys_are_forgotten_after_a_week(client, token_for):
    import datetime as dt

    from node import clock
    from node.api import idempotency

    agent = token_for("agent")
    client.post("/api/v1/orders", json=ORDER_DEFAULTS, headers={**agent, "Idempotency-Key": "old"})
    assert idempotency.purge(clock.now()) == 0
    later = clock.now() + dt.timedelta(days=idempotency.KEY_DAYS, minutes=1)
    assert idempotency.purge(later) == 1
    assert IdempotentRequest.get_or_none(IdempotentRequest.key == "old") is None
