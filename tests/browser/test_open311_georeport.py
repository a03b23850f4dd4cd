"""#17 item 12: Open311 conformance against a live node with the `georeport` client library from
PyPI (GET calls in JSON and XML), and a spec-minimal POST sent as a GeoReport v2 client sends it
(form-encoded: api_key, jurisdiction_id, service_code, lat/long or address_string, description)."""

from __future__ import annotations

import requests
from georeport import GeoReport

from node import db as node_db
from node.auth import service as auth
from node.auth.models import User
from tests.browser.conftest import LiveNode


def _api_key() -> str:
    with node_db.connection():
        return auth.issue_token(User.get(User.username == "agent1"), "open311-conformance")


def test_georeport_client_works_unchanged(live_node: LiveNode) -> None:
    root = f"{live_node.url}/open311/v2"
    region = live_node.settings.region
    key = _api_key()
    # a spec-minimal POST (no business type, no phone), once with lat/long, once with an address
    created = []
    for place in ({"lat": "32.0415", "long": "118.7781"}, {"address_string": "南京市鼓楼区中山北路1号"}):
        resp = requests.post(
            f"{root}/requests.json",
            data={
                "api_key": key,
                "jurisdiction_id": region,
                "service_code": "0403",
                "description": "出租车司机拒载，态度恶劣，电话13812345678。",
                **place,
            },
            timeout=30,
        )
        assert resp.status_code == 201, resp.text
        created.append(resp.json()[0]["service_request_id"])
    refused = requests.post(
        f"{root}/requests.json",
        data={"service_code": "0403", "description": "出租车拒载", "lat": "32", "long": "118"},
        timeout=30,
    )
    assert refused.status_code == 403 and refused.json()[0]["code"] == 403

    for fmt in ("json", "xml"):
        client = GeoReport(root, jurisdiction=region, output_format=fmt)
        services = client.get_service_list()
        assert "0403" in {s["service_code"] for s in services}
        definition = client.get_service_definition("0403")
        assert definition["service_code"] == "0403"  # one level, not nested twice
        attributes = definition["attributes"]
        codes = (
            [a["code"] for a in attributes] if fmt == "json" else [a["code"] for a in attributes["attribute"]]
        )
        assert codes[0] == "business_type"
        by_coords = client.get_service_request(created[0])
        assert by_coords["service_request_id"] == created[0]
        assert by_coords["description"] == "出租车司机拒载，态度恶劣，电话*******5678。"
        assert float(by_coords["lat"]) == 32.0415 and float(by_coords["long"]) == 118.7781
        by_address = client.get_service_request(created[1])
        assert "中山北路1号" in by_address["address"]
        assert by_coords["agency_responsible"] == by_address["agency_responsible"] == "南京市12328中心"
        listed = client.get_service_requests(service_request_id=",".join(created))
        listed = listed if isinstance(listed, list) else [listed]
        assert {r["service_request_id"] for r in listed} == set(created)
    wrong = GeoReport(root, jurisdiction="110000")
    try:
        wrong.get_service_list()
    except requests.HTTPError as exc:
        assert exc.response.status_code == 404
    else:
        raise AssertionError("another jurisdiction must be refused")
    for fmt in ("json", "xml"):
        doc = requests.get(f"{live_node.url}/open311/discovery.{fmt}", timeout=30)
        assert doc.status_code == 200 and root in doc.text
