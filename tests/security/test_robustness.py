"""No 5xx from hostile input (issue 18, hole 9): NUL bytes (PostgreSQL refuses them in text), lone
surrogates, numbers beyond 2⁵³, far dates, deep JSON, oversized chunked bodies and addresses, and
regions outside the node, all answered with a clear Chinese 4xx by the one request guard."""

from __future__ import annotations

import io
import json
import re

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from node import validation
from node.workflow.models import WorkOrder
from tests.factories import ORDER_DEFAULTS
from tests.web.conftest import csrf_of

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _clear(resp, status: int) -> None:
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert CHINESE.search(resp.get_data(as_text=True)), resp.get_data(as_text=True)[:300]


def test_nul_bytes_anywhere_are_refused_not_500(client, token_for):
    agent = token_for("agent")
    before = WorkOrder.select().count()
    _clear(
        client.post("/api/v1/orders", json={**ORDER_DEFAULTS, "content": "拒载\x00拒载拒载"}, headers=agent),
        400,
    )
    for url in (
        "/api/v1/orders?q=%00",
        "/api/v1/orders?region_code=32%0001",
        "/api/v1/orders?unit=%00",
        "/api/v1/orders/%00",
        "/queues?q=%00",
    ):
        _clear(client.get(url, headers=agent), 400)
    # without signing in
    _clear(client.get("/open311/v2/requests/%00.json"), 400)
    _clear(client.get("/open311/v2/requests.json?service_request_id=%00"), 400)
    token = csrf_of(client.get("/public/submit").get_data(as_text=True))
    resp = client.post(
        "/public/submit",
        data={
            "business_type": "1",
            "region_code": "320102",
            "content": "出租车拒载\x00严重",
            "caller_phone": "13800138000",
            "csrf_token": token,
        },
    )
    _clear(resp, 400)
    assert WorkOrder.select().count() == before


def test_lone_surrogates_are_refused_in_chinese(client, token_for):
    agent = token_for("agent")
    body = json.dumps({**ORDER_DEFAULTS, "content": "拒载拒载\ud800拒载"}, ensure_ascii=True)
    resp = client.post("/api/v1/orders", data=body, content_type="application/json", headers=agent)
    _clear(resp, 400)
    for url in (
        "/api/v1/orders?q=%ED%A0%80",
        "/api/v1/orders/%ED%A0%80",
        "/open311/v2/requests/%ED%A0%80.json",
    ):
        resp = client.get(url, headers=agent)
        assert resp.status_code < 500, url
        assert resp.status_code < 400 or CHINESE.search(resp.get_data(as_text=True)), url


def test_huge_numbers_are_refused(client, token_for):
    agent = token_for("agent")
    for value in ("1e30", "123456789012345678901234567890", "-1e300"):
        body = (
            '{"contact_id": '
            + value
            + ', "business_type": "1", "region_code": "320102", "content": "出租车拒载拒载"}'
        )
        resp = client.post("/api/v1/orders", data=body, content_type="application/json", headers=agent)
        _clear(resp, 422)
    _clear(client.get("/api/v1/orders?page=99999999999999999999999", headers=agent), 422)


def test_row_ids_beyond_32_bits_name_nothing(client, token_for):
    """Every <int:…> route takes 1 … 2³¹−1 (as OpenAPI says): a larger id once reached PostgreSQL's
    integer column and came back a 500 (Schemathesis, PATCH /api/v1/text/lexicon/{entry_id})."""
    admin = token_for("admin")
    for entry in ("2147483648", "99999999999999", "0"):
        resp = client.patch(f"/api/v1/text/lexicon/{entry}", json={"weight": 1.0}, headers=admin)
        _clear(resp, 404)
        _clear(client.get(f"/api/v1/files/{entry}", headers=admin), 404)
    assert client.get("/api/v1/text/lexicon/2147483647", headers=admin).status_code == 404  # largest id: none


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/calendar?from=9999-12-01&to=9999-12-31",
        "/api/v1/calendar?from=0001-01-01&to=0001-01-31",
        "/api/v1/text/hot-topics?start=0001-01-01&end=0001-01-08",
        "/api/v1/text/hot-topics?start=9999-12-24&end=9999-12-31",
        "/api/v1/orders?accepted_from=9999-12-31T23:59:59",
        "/api/v1/federation/rollup?date=9999-12-31",
    ],
)
def test_far_dates_are_refused(client, token_for, url):
    _clear(client.get(url, headers=token_for(["admin", "shift_leader"])), 422)


def test_far_report_dates_are_refused(client, token_for):
    admin = token_for(["admin", "shift_leader"])
    for day in ("9999-12-31", "0001-01-01"):
        _clear(client.post("/api/v1/federation/reports", json={"date": day}, headers=admin), 422)


def test_deep_json_is_a_clear_400(client, token_for):
    agent = token_for("agent")
    deep = "[" * 50_000 + "]" * 50_000
    resp = client.post("/api/v1/orders", data=deep, content_type="application/json", headers=agent)
    _clear(resp, 400)
    assert "嵌套" in resp.get_json()["message"]
    assert validation.json_depth('{"a": "[[[[", "b": [[1]]}') == 3


def _chunked(path: str, body: bytes, headers: dict[str, str]) -> dict:
    environ = EnvironBuilder(
        path=path,
        method="POST",
        input_stream=io.BytesIO(body),
        headers={**headers, "Transfer-Encoding": "chunked", "Content-Type": "application/json"},
    ).get_environ()
    environ.pop("CONTENT_LENGTH")  # as the ASGI bridge passes a chunked body: no length
    return environ


def test_a_chunked_body_beyond_the_limit_is_413(app, token_for):
    # straight into the WSGI app: the test client would add a Content-Length
    agent = token_for("agent")
    for size in (10 * 1024 * 1024, 3 * 1024 * 1024):
        body = b'{"content": "' + b"x" * size + b'"}'
        _clear(Response.from_app(app, _chunked("/api/v1/orders", body, agent)), 413)
    small = json.dumps(ORDER_DEFAULTS).encode()
    resp = Response.from_app(app, _chunked("/api/v1/orders", small, agent))
    assert resp.status_code == 201, "a small chunked body is read whole"


def test_an_overlong_address_gets_a_chinese_414(client, token_for):
    resp = client.get("/api/v1/orders?q=" + "a" * 100_000, headers=token_for("agent"))
    _clear(resp, 414)


def test_regions_outside_the_node_are_refused(client, token_for):
    agent = token_for("agent")
    resp = client.post("/api/v1/orders", json={**ORDER_DEFAULTS, "region_code": "110101"}, headers=agent)
    _clear(resp, 422)
    assert "不属于本节点" in resp.get_json()["message"]
    ok = client.post("/api/v1/orders", json={**ORDER_DEFAULTS, "region_code": "320102"}, headers=agent)
    assert ok.status_code == 201


def test_contract_details(client, token_for):
    agent = token_for("agent")
    empty = client.post("/api/v1/contacts", headers=agent)
    _clear(empty, 422)
    _clear(client.post("/api/v1/contacts", json={}, headers=agent), 422)
    assert client.post("/api/v1/contacts", json={"summary": "咨询"}, headers=agent).status_code == 201
    # logout without a session is not a success
    assert client.post("/api/v1/auth/logout", headers=agent).status_code in (400, 401)
    assert client.post("/api/v1/auth/logout").status_code == 401
    # 405 says which methods the address takes
    wrong = client.delete("/api/v1/orders", headers=agent)
    assert wrong.status_code == 405 and set(wrong.headers["Allow"].split(", ")) >= {"GET", "POST"}
    _clear(wrong, 405)


def test_the_document_types_parameters_as_the_server_parses_them(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    params = {p["name"]: p for p in spec["paths"]["/api/v1/orders"]["get"]["parameters"]}
    assert params["page"]["schema"]["type"] == "integer" and params["page_size"]["schema"]["maximum"] == 200
    assert params["overdue"]["schema"]["type"] == "boolean" and "enum" in params["queue"]["schema"]
    rollup = {p["name"]: p for p in spec["paths"]["/api/v1/federation/rollup"]["get"]["parameters"]}
    assert rollup["date"]["required"] is True
    contact = spec["paths"]["/api/v1/contacts/{contact_id}"]["get"]["parameters"][0]
    assert contact["schema"]["type"] == "integer"
    assert (
        "schema"
        in spec["paths"]["/api/v1/orders/{number}"]["get"]["responses"]["200"]["content"]["application/json"]
    )
