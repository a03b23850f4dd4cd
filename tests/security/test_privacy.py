"""Caller privacy (issue 18, holes 1-6): phone search only for roles that see phones, whole numbers,
throttled and audited; the last four digits only; confidential callers' names; a unit that gave an
order back loses it; personal data in free text masked; the portal's rating is no code oracle."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from node import pii
from node.audit.models import AuditEntry
from node.portal import service as portal
from node.workflow import service
from node.workflow.models import WorkOrder
from tests import factories
from tests.factories import make_order, make_unit
from tests.web.conftest import csrf_of

NO_PHONE_ROLES = [
    "unit_staff",
    "knowledge_editor",
    "auditor",
    "admin",
    "supervisor",
    "reviewer",
    "dispatcher",
]


def test_mask_shows_only_the_last_four_digits(settings):
    assert pii.mask_phone("13800138000") == "*******8000"
    assert pii.codec().protect("025-83456789").masked == "*******6789"


def test_phone_search_is_refused_to_roles_that_may_not_see_phones(client, token_for):
    make_order(caller_phone="13800138000")
    for role in NO_PHONE_ROLES:
        headers = token_for(role)
        assert client.get("/api/v1/orders?phone=13800138000", headers=headers).status_code == 403, role
        assert client.get("/api/v1/callers/13800138000/history", headers=headers).status_code == 403, role


def test_phone_search_takes_whole_numbers_only_and_is_audited_and_throttled(client, token_for, monkeypatch):
    order = make_order(caller_phone="13800138000")
    agent = token_for("agent")
    for fragment in ("1380013", "138001380", "8000"):
        resp = client.get(f"/api/v1/orders?phone={fragment}", headers=agent)
        assert resp.status_code == 422 and "完整" in resp.get_json()["message"]
    resp = client.get("/api/v1/orders?phone=13800138000", headers=agent)
    assert resp.status_code == 200 and [o["number"] for o in resp.get_json()["items"]] == [order.number]
    assert resp.get_json()["items"][0]["caller_phone_masked"] == "*******8000"
    searches = AuditEntry.select().where(AuditEntry.event == "pii.phone_search")
    assert [e.target for e in searches] == ["*******8000"]
    monkeypatch.setattr(pii, "PHONE_SEARCH_LIMIT", 3)
    codes = [client.get(f"/api/v1/orders?phone=1380013{i:04d}", headers=agent).status_code for i in range(4)]
    assert codes == [200, 200, 429, 429]


def _dispatched(unit, **overrides):
    return make_order("dispatched", unit, **overrides)


def test_confidential_caller_name_is_hidden_from_unit_staff(client, token_for):
    unit = make_unit()
    order = _dispatched(unit, confidential=True, caller_name="李秘密")
    staff = client.get(f"/api/v1/orders/{order.number}", headers=token_for("unit_staff", unit)).get_json()
    assert staff["caller_name"] == "（保密）" and "李秘密" not in str(staff)
    agent = client.get(f"/api/v1/orders/{order.number}", headers=token_for("agent")).get_json()
    assert agent["caller_name"] == "李秘密"
    plain = _dispatched(unit, caller_name="王公开")
    assert (
        client.get(f"/api/v1/orders/{plain.number}", headers=token_for("unit_staff", unit)).get_json()[
            "caller_name"
        ]
        == "王公开"
    )


def test_a_unit_loses_the_order_once_its_return_is_accepted(client, token_for):
    first, second = make_unit(), make_unit()
    order = _dispatched(first)
    staff = factories.actor("unit_staff", first)
    service.perform(staff, order.number, "return", {"reason_code": "01", "reason": "不属本单位"})
    service.perform(factories.actor("dispatcher"), order.number, "accept_return", {})
    service.perform(factories.actor("dispatcher"), order.number, "dispatch", {"lead_unit": second.code})
    other = factories.actor("unit_staff", second)
    service.perform(other, order.number, "sign", {})
    service.perform(other, order.number, "reply", factories.PATH_BODIES["reply"])
    old = token_for("unit_staff", first)
    assert client.get(f"/api/v1/orders/{order.number}", headers=old).status_code == 404
    assert client.get(f"/api/v1/orders/{order.number}/history", headers=old).status_code == 404
    resp = client.post(f"/api/v1/orders/{order.number}/actions/note", json={"text": "还想看看"}, headers=old)
    assert resp.status_code == 404
    listed = client.get("/api/v1/orders", headers=old).get_json()["items"]
    assert order.number not in [o["number"] for o in listed]
    now = client.get(f"/api/v1/orders/{order.number}", headers=token_for("unit_staff", second))
    assert now.status_code == 200


def test_personal_data_in_the_complaint_text_is_masked_without_phone_access(client, token_for):
    unit = make_unit()
    text = "我是张三，电话13912348000，身份证320102199001011234，请回电。"
    order = _dispatched(unit, content=text, title="回电13912348000")
    staff = client.get(f"/api/v1/orders/{order.number}", headers=token_for("unit_staff", unit)).get_json()
    assert "13912348000" not in str(staff) and "199001011234" not in str(staff)
    assert "*******8000" in staff["content"] and staff["title"] == "回电*******8000"
    listed = client.get("/api/v1/orders", headers=token_for("unit_staff", unit)).get_json()["items"]
    assert "13912348000" not in str(listed)
    agent = client.get(f"/api/v1/orders/{order.number}", headers=token_for("agent")).get_json()
    assert agent["content"] == text


def test_a_reviewer_saving_the_masked_text_unchanged_keeps_the_original(token_for):
    text = "电话13912348000，要求处理。"
    order = make_order("pending_review", content=text)
    reviewer = factories.actor("reviewer")
    from node.text.normalize import mask_pii

    service.perform(reviewer, order.number, "edit", {"content": mask_pii(text), "priority": "urgent"})
    assert WorkOrder.get(WorkOrder.number == order.number).content == text


# ---- portal rating --------------------------------------------------------------------------------


def _closed_public_order():
    order = make_order("closed", channel="02")
    return order.number, order.query_code


def _rate(client, number, code, address="203.0.113.5", **rating):
    token = csrf_of(client.get("/public/query").get_data(as_text=True))
    data = {"number": number, "code": code, "csrf_token": token, **rating}
    return client.post("/public/rate", data=data, environ_base={"REMOTE_ADDR": address})


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def test_an_empty_rating_never_checks_the_code(client, db):
    number, code = _closed_public_order()
    for guess in (code, _wrong(code)):
        resp = _rate(client, number, guess)
        html = resp.get_data(as_text=True)
        assert resp.status_code == 422 and number not in html.split('name="number"')[0]
        assert "已办结" not in html, "the order is never shown for an unchecked code"
    assert portal._code_failures(number) == 0


def test_a_right_code_with_a_bad_rating_confirms_nothing(client, db):
    number, code = _closed_public_order()
    right = _rate(client, number, code, result="9", service="1").get_data(as_text=True)
    wrong = _rate(client, number, _wrong(code), result="9", service="1").get_data(as_text=True)
    assert "已办结" not in right and "已办结" not in wrong


def _query(client, number, code, address):
    token = csrf_of(client.get("/public/query").get_data(as_text=True))
    data = {"number": number, "code": code, "csrf_token": token}
    return client.post("/public/query", data=data, environ_base={"REMOTE_ADDR": address})


def test_an_orders_code_locks_after_repeated_failures_from_any_address(client, db):
    number, code = _closed_public_order()
    for i in range(portal.CODE_MAX_FAILURES):
        resp = _query(client, number, _wrong(code), f"10.0.{i}.1")
        assert resp.status_code == 404
    locked = _query(client, number, code, "10.1.1.1")
    assert locked.status_code == 429 and "锁定" in locked.get_data(as_text=True)
    assert _rate(client, number, code, "10.2.2.2", result="3", service="3").status_code == 429
    events = [e.event for e in AuditEntry.select().where(AuditEntry.target == number)]
    assert (
        events.count("portal.code_failed") == portal.CODE_MAX_FAILURES - 1 and "portal.code_locked" in events
    )


def test_ratings_are_throttled_per_order_across_addresses(client, db):
    order = make_order("dispatched", channel="02")  # not closed yet: every rating is refused (409)
    limit = portal.LIMITS["rate_order"][0]
    codes = [
        _rate(client, order.number, order.query_code, f"10.3.{i}.1", result="3", service="1").status_code
        for i in range(limit + 1)
    ]
    assert set(codes[:limit]) == {409} and codes[limit] == 429


def test_the_node_database_is_private(tmp_path: Path):
    from node import db as node_db

    path = tmp_path / "node.db"
    database = node_db.open_database(f"sqlite:///{path}")
    database.connect()
    database.execute_sql("CREATE TABLE t (x)")
    database.execute_sql("INSERT INTO t VALUES (1)")
    files = [p for p in tmp_path.iterdir() if p.name.startswith("node.db")]
    assert {p.name for p in files} >= {"node.db", "node.db-wal", "node.db-shm"}
    modes = {p.name: stat.S_IMODE(os.stat(p).st_mode) for p in files}
    database.close()
    assert set(modes.values()) == {0o600}, modes


def test_titles_in_the_unit_desk_are_masked(client, db):
    from tests.web.conftest import post_login

    unit = make_unit()
    order = _dispatched(unit, title="请回电13912348000")
    staff = factories.make_user("unit_staff", unit)
    assert post_login(client, staff.username).status_code == 302
    html = client.get("/unit?tab=inbox").get_data(as_text=True)
    assert order.number in html and "13912348000" not in html and "*******8000" in html
