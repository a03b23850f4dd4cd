"""The public portal and Open311: submission, progress query (public-safe fields only), rating after
closure, abuse limits, and the GeoReport v2 endpoints in JSON and XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from node.auth import service as auth
from node.intake.models import Contact
from node.portal import service as portal
from node.workflow import service
from node.workflow.models import OrderEvent, WorkOrder
from tests import factories
from tests.factories import make_order, make_unit
from tests.web.conftest import HTML, csrf_of

SUBMISSION = {
    "business_type": "1",
    "sub_business": "0403",
    "region_code": "320102",
    "address": "南京站北广场",
    "title": "出租车拒载",
    "content": "在南京站北广场打车，出租车司机拒载。",
    "caller_name": "赵女士",
    "caller_phone": "13344445555",
}
SECRETS = ("13344445555", "*******5555", "赵女士")


def submit_form(client, **overrides):
    token = csrf_of(client.get("/public/submit?type=1").get_data(as_text=True))
    return client.post("/public/submit", data={**SUBMISSION, **overrides, "csrf_token": token})


def receipt_of(client, resp):
    assert resp.status_code == 302, resp.get_data(as_text=True)[:800]
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    import re

    number = re.search(r'id="receipt-number">(\d{21})<', html).group(1)
    code = re.search(r'id="receipt-code">(\d{6})<', html).group(1)
    return number, code


def close(number: str) -> None:
    unit = make_unit()
    staff = factories.actor("unit_staff", unit)
    service.perform(factories.actor("reviewer"), number, "review", {})
    service.perform(factories.actor("dispatcher"), number, "dispatch", {"lead_unit": unit.code})
    service.perform(staff, number, "sign", {})
    service.perform(staff, number, "reply", {"basic": "属实", "process": "已约谈驾驶员", "basis": "规定"})
    service.perform(factories.actor("reviewer"), number, "accept_reply", {})
    service.perform(factories.actor("reviewer"), number, "close", {})
    service.perform(factories.actor("dispatcher"), number, "note", {"text": "内部备注：驾驶员是经理亲戚"})


def test_citizen_submits_and_gets_number_and_query_code(client, db):
    number, code = receipt_of(client, submit_form(client))
    order = WorkOrder.get(WorkOrder.number == number)
    assert order.query_code == code and order.channel == "02" and order.domain == "04"
    assert order.state == "pending_review", "a classified web order goes straight to review"
    contact = Contact.get_by_id(order.contact_id)
    assert contact.channel == "02" and contact.outcome == "order_created"
    created = OrderEvent.get(OrderEvent.order == order, OrderEvent.action == "create")
    assert created.actor_name == "公众网站"
    assert client.get("/public/receipt").status_code == 302, "the receipt shows once (no resubmit on reload)"


def test_unclassified_submission_waits_for_an_agent(client, db):
    number, _ = receipt_of(client, submit_form(client, sub_business=""))
    assert WorkOrder.get(WorkOrder.number == number).state == "accepted"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"content": "短"}, "content"),
        ({"caller_phone": ""}, "caller_phone"),
        ({"caller_phone": "abc-xyz"}, "电话号码格式不正确"),
        ({"region_code": "999999"}, "未知的行政区划代码"),
        ({"business_type": "9"}, "business_type"),
    ],
)
def test_bad_submissions_are_refused_clearly(client, db, overrides, message):
    before = WorkOrder.select().count(), Contact.select().count()
    resp = submit_form(client, **overrides)
    assert resp.status_code == 422 and message in resp.get_data(as_text=True)
    assert (WorkOrder.select().count(), Contact.select().count()) == before


def test_out_of_scope_domain_is_referred(db):
    with pytest.raises(Exception, match="12306"):
        portal.submit("10.0.0.9", {**SUBMISSION, "domain": "08", "sub_business": ""})


def test_progress_query_shows_public_fields_only(client, db):
    number, code = receipt_of(client, submit_form(client))
    close(number)
    token = csrf_of(client.get("/public/query").get_data(as_text=True))
    html = client.post("/public/query", data={"number": number, "code": code, "csrf_token": token}).get_data(
        as_text=True
    )
    assert "已办结" in html and "已约谈驾驶员" in html
    for secret in (*SECRETS, "内部备注", "驾驶员是经理亲戚", "南京站北广场", "在南京站北广场打车"):
        assert secret not in html, secret
    assert 'id="rate-form"' in html


def test_wrong_code_reveals_nothing(client, db):
    number, code = receipt_of(client, submit_form(client))
    wrong = "000000" if code != "000000" else "111111"
    token = csrf_of(client.get("/public/query").get_data(as_text=True))
    resp = client.post("/public/query", data={"number": number, "code": wrong, "csrf_token": token})
    assert resp.status_code == 404 and "工单编号或查询码不正确" in resp.get_data(as_text=True)
    assert "出租车拒载" not in resp.get_data(as_text=True)
    short = client.post("/public/query", data={"number": "123", "code": code, "csrf_token": token})
    assert short.status_code == 422


def test_query_code_never_read_from_the_url(client, db):
    number, code = receipt_of(client, submit_form(client))
    page = client.get(f"/public/query?number={number}&code={code}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="progress"' not in html and f'value="{code}"' not in html
    assert f'value="{number}"' in html  # the number may be linked; the code is typed
    home = client.get("/public/").get_data(as_text=True)
    assert 'id="quick-query"' in home and 'method="post"' in home.split('id="quick-query"')[0][-200:]
    old = client.get("/portal")
    assert old.status_code == 301 and old.headers["Location"].endswith("/public/")
    assert client.get("/portal/query").status_code == 301


def test_rating_only_after_closure_and_only_once(client, db):
    number, code = receipt_of(client, submit_form(client))
    token = csrf_of(client.get("/public/query").get_data(as_text=True))
    rating = {"number": number, "code": code, "result": "3", "service": "2", "csrf_token": token}
    early = client.post("/public/rate", data=rating)
    assert early.status_code == 409 and "办结后才能评价" in early.get_data(as_text=True)
    close(number)
    ok = client.post("/public/rate", data=rating)
    assert ok.status_code == 200 and "感谢您的评价" in ok.get_data(as_text=True)
    order = WorkOrder.get(WorkOrder.number == number)
    assert (order.public_result_satisfaction, order.public_service_satisfaction) == ("3", "2")
    event = OrderEvent.get(OrderEvent.order == order, OrderEvent.action == "public_rate")
    assert event.data == {"result": "3", "service": "2", "channel": "02"}
    again = client.post("/public/rate", data=rating)
    assert again.status_code == 409 and "已评价" in again.get_data(as_text=True)
    bad = client.post("/public/rate", data={**rating, "result": "5"})
    assert bad.status_code == 422


def other_page(client):
    return client.get("/public/query").get_data(as_text=True)


def test_submissions_and_queries_are_limited_per_address(client, db):
    for _ in range(portal.LIMITS["submit"][0]):
        assert submit_form(client).status_code == 302
    resp = submit_form(client)
    assert resp.status_code == 429 and "每小时最多提交5件" in resp.get_data(as_text=True)
    other = client.post(
        "/public/submit",
        data={**SUBMISSION, "csrf_token": csrf_of(client.get("/public/submit").get_data(as_text=True))},
        environ_base={"REMOTE_ADDR": "10.9.9.9"},
    )
    assert other.status_code == 302, "another address is not affected"
    query = {"number": "320100202601010000001", "code": "123456", "csrf_token": csrf_of(other_page(client))}
    for _ in range(portal.LIMITS["query"][0]):
        client.post("/public/query", data=query)
    resp = client.post("/public/query", data=query)
    assert resp.status_code == 429 and "查询过于频繁" in resp.get_data(as_text=True)


# ---- Open311 GeoReport v2 -------------------------------------------------------------------------


def test_open311_services_in_json_and_xml(client, db):
    services = client.get("/open311/v2/services.json").get_json()
    codes = {s["service_code"] for s in services}
    assert {"0403", "0107", "0501"} <= codes and "08" not in codes, "out-of-scope domains are not offered"
    taxi = next(s for s in services if s["service_code"] == "0403")
    assert taxi["service_name"] == "出租汽车" and taxi["group"] == "城市客运" and taxi["metadata"] is True
    root = ET.fromstring(client.get("/open311/v2/services.xml").data)
    assert root.tag == "services" and len(root.findall("service")) == len(services)
    definition = client.get("/open311/v2/services/0403.json").get_json()
    attr = definition["attributes"][0]
    assert attr["code"] == "business_type" and attr["required"] is False  # defaults from the text
    assert [v["name"] for v in attr["values"]] == ["投诉举报", "信息咨询", "意见建议"]
    xml_def = ET.fromstring(client.get("/open311/v2/services/0403.xml").data)
    assert xml_def.tag == "service_definition" and xml_def.find("service_definition") is None
    assert xml_def.find("attributes/attribute/code").text == "business_type"
    missing = client.get("/open311/v2/services/9999.json")
    assert missing.status_code == 404 and missing.get_json()[0]["code"] == 404
    assert client.get("/open311/v2/services.yaml").status_code == 404


def _api_key(role: str = "agent") -> str:
    return auth.issue_token(factories.make_user(role), "open311")


def test_open311_post_then_token_then_request(client, db):
    form = {
        "api_key": _api_key(),
        "service_code": "0403",
        "attribute[business_type]": "1",
        "description": "出租车拒载，司机态度恶劣。",
        "phone": "13988887777",
        "first_name": "明",
        "last_name": "李",
        "email": "li@example.com",
        "attribute[region_code]": "320104",
        "lat": "32.05",
        "long": "118.78",
    }
    resp = client.post("/open311/v2/requests.json", data=form)
    assert resp.status_code == 201, resp.get_json()
    item = resp.get_json()[0]
    number, token = item["service_request_id"], item["token"]
    order = WorkOrder.get(WorkOrder.number == number)
    assert order.channel == "02" and order.region_code == "320104" and order.caller_name == "李 明"
    assert order.query_code in item["service_notice"]
    assert client.get(f"/open311/v2/tokens/{token}.json").get_json() == [
        {"service_request_id": number, "token": token}
    ]
    got = client.get(f"/open311/v2/requests/{number}.json").get_json()[0]
    assert (
        got["status"] == "open"
        and got["service_code"] == "0403"
        and got["expected_datetime"].endswith("+08:00")
    )
    text = client.get(f"/open311/v2/requests/{number}.json").get_data(as_text=True)
    xml_text = client.get(f"/open311/v2/requests/{number}.xml").get_data(as_text=True)
    for secret in ("13988887777", "李 明", "li@example.com"):
        assert secret not in text and secret not in xml_text
    assert (
        got["description"] == "出租车拒载，司机态度恶劣。" and got["lat"] == 32.05 and got["long"] == 118.78
    )
    assert ET.fromstring(xml_text).find("request/service_request_id").text == number


_PLACE = {"address_string": "南京市玄武区中山路1号"}


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"attribute[business_type]": "1", "description": "内容内容内容", **_PLACE}, 400, "service_code"),
        (
            {
                "service_code": "0403",
                "attribute[business_type]": "9",
                "description": "内容内容内容",
                **_PLACE,
            },
            400,
            "business_type",
        ),
        ({"service_code": "0403", "description": "内容内容内容"}, 400, "address_string"),
        (
            {"service_code": "0403", "phone": "1390000", "description": "短", **_PLACE},
            400,
            "description（诉求内容）",
        ),
        (
            {"service_code": "0403", "phone": "12", "description": "内容内容内容", **_PLACE},
            400,
            "phone（来电号码）",
        ),
        ({"service_code": "0403", "description": "内容内容内容", "lat": "abc"}, 400, "lat"),
        (
            {"service_code": "0403", "description": "内容内容内容", **_PLACE, "api_key": "hl_wrong"},
            403,
            "api_key",
        ),
        ({"service_code": "0403", "description": "内容内容内容", **_PLACE, "api_key": ""}, 403, "api_key"),
        (
            {"service_code": "0403", "description": "内容内容内容", **_PLACE, "jurisdiction_id": "110000"},
            404,
            "jurisdiction_id",
        ),
    ],
)
def test_open311_post_errors_in_both_formats(client, db, form, status, message):
    form = {"api_key": _api_key(), **form}
    before = WorkOrder.select().count()
    resp = client.post("/open311/v2/requests.json", data=form)
    assert resp.status_code == status and message in resp.get_json()[0]["description"], resp.get_json()
    assert resp.get_json()[0]["code"] == status
    xml = client.post("/open311/v2/requests.xml", data=form)
    assert xml.status_code == status and ET.fromstring(xml.data).tag == "errors"
    assert WorkOrder.select().count() == before


def test_open311_api_key_must_allow_creating_orders(client, db):
    form = {"service_code": "0403", "description": "出租车拒载，要求处理。", **_PLACE}
    resp = client.post("/open311/v2/requests.json", data={**form, "api_key": _api_key("auditor")})
    assert resp.status_code == 403 and "无权" in resp.get_json()[0]["description"]
    ok = client.post(
        "/open311/v2/requests.json", data={**form, "api_key": _api_key(), "jurisdiction_id": "320100"}
    )
    assert ok.status_code == 201, ok.get_json()
    order = WorkOrder.get(WorkOrder.number == ok.get_json()[0]["service_request_id"])
    assert (
        order.business_type == "1"
        and not order.caller_phone_digest
        and order.address == _PLACE["address_string"]
    )


def test_open311_list_filters_pages_and_hides_confidential(client, db):
    unit = make_unit(name="南京市出租汽车管理所")
    dispatched = make_order("dispatched", unit=unit)
    closed = make_order("closed", domain="01", sub_business="0107")
    secret = make_order("pending_dispatch", confidential=True)
    items = client.get("/open311/v2/requests.json?page_size=200").get_json()
    numbers = {i["service_request_id"] for i in items}
    assert {dispatched.number, closed.number} <= numbers and secret.number not in numbers
    row = next(i for i in items if i["service_request_id"] == dispatched.number)
    assert row["agency_responsible"] == "南京市出租汽车管理所" and row["status"] == "open"
    only_closed = client.get("/open311/v2/requests.json?status=closed").get_json()
    assert {i["status"] for i in only_closed} == {"closed"}
    by_code = client.get("/open311/v2/requests.json?service_code=0107").get_json()
    assert {i["service_code"] for i in by_code} == {"0107"}
    by_id = client.get(f"/open311/v2/requests.json?service_request_id={closed.number}").get_json()
    assert [i["service_request_id"] for i in by_id] == [closed.number]
    page = client.get("/open311/v2/requests.json?page_size=1&page=2").get_json()
    assert len(page) == 1
    assert client.get("/open311/v2/requests.json?page_size=0").status_code == 400
    assert client.get("/open311/v2/requests.json?status=pending").status_code == 400
    assert client.get("/open311/v2/requests.json?start_date=yesterday").status_code == 400
    assert client.get(f"/open311/v2/requests/{secret.number}.json").status_code == 404
    assert client.get("/open311/v2/tokens/abc.json").status_code == 404


def test_portal_pages_render_for_anonymous_visitors(client, db):
    for path in ("/public/", "/public/submit?type=2", "/public/query"):
        resp = client.get(path, headers=HTML)
        assert resp.status_code == 200 and "12328" in resp.get_data(as_text=True)


def test_pages_name_the_icon_and_favicon_ico_leads_to_it(client, db):
    page = client.get("/public/").get_data(as_text=True)
    assert 'rel="icon"' in page and "favicon.svg" in page
    moved = client.get("/favicon.ico")
    assert moved.status_code == 301 and moved.headers["Location"].endswith("/static/favicon.svg")
    with client.get("/static/favicon.svg") as icon:
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
