"""#17 items 4 and 6 on both databases: no dead end after split and merge (staff and citizen), and
the full number for those who must call, one click, audited."""

from __future__ import annotations

from flask.testing import FlaskClient

from node.audit.models import AuditEntry
from node.portal import service as portal
from node.workflow import service as workflow
from node.workflow.models import WorkOrder
from tests import factories
from tests.web.conftest import csrf_of

PARTS = {
    "parts": [
        {"content": "公交车不停站。", "business_type": "1", "domain": "04", "sub_business": "0401"},
        {"content": "出租车拒载。", "business_type": "1", "domain": "04", "sub_business": "0403"},
    ]
}


def _close(order: WorkOrder) -> None:
    unit = factories.make_unit()
    staff = factories.actor("unit_staff", unit)
    factories.walk(
        order,
        "closed",
        lambda role: staff if role == "unit" else factories.actor(role),
        unit.code,
        factories.PATH_BODIES,
    )


def test_split_and_merge_link_both_ways_and_citizens_see_results(
    client: FlaskClient, db: str, web_login
) -> None:
    leader = factories.actor("shift_leader")
    parent = factories.make_order("pending_review", content="两件事：公交车不停站；出租车拒载。")
    workflow.perform(leader, parent.number, "split", PARTS)
    parts = list(WorkOrder.select().where(WorkOrder.parent == parent.id).order_by(WorkOrder.id))
    master = factories.make_order("pending_dispatch", caller_name="张先生", caller_phone="13811110000")
    dup = factories.make_order("pending_dispatch", caller_name="李女士", caller_phone="13922223333")
    workflow.perform(leader, dup.number, "merge", {"master": master.number})

    web_login("shift_leader")
    html = client.get(f"/orders/{parent.number}").get_data(as_text=True)
    assert 'id="related-orders"' in html and all(p.number in html for p in parts)
    assert parent.number in client.get(f"/orders/{parts[0].number}").get_data(as_text=True)
    html = client.get(f"/orders/{master.number}").get_data(as_text=True)
    assert dup.number in html and "李女士" in html and "合并进来的重复工单" in html
    assert "*******3333" in html and "13922223333" not in html  # full numbers only by the audited click
    assert master.number in client.get(f"/orders/{dup.number}").get_data(as_text=True)

    # the citizen of the split order sees both parts and rates each with the same query code
    view = portal.public_view(WorkOrder.get_by_id(parent.id))
    assert [p["number"] for p in view["parts"]] == [p.number for p in parts]
    assert not view["rateable"] and not any(p["rateable"] for p in view["parts"])
    _close(parts[1])
    view = portal.public_view(WorkOrder.get_by_id(parent.id))
    done = next(p for p in view["parts"] if p["number"] == parts[1].number)
    assert done["closed"] and done["result"]["basic"] == "经查属实" and done["rateable"]
    portal.rate("10.1.1.1", parts[1].number, parent.query_code, {"result": "1", "service": "1"})

    # the merged order's citizen sees the master and its result, and rates once it is closed
    view = portal.public_view(WorkOrder.get_by_id(dup.id))
    assert view["master"]["number"] == master.number and not view["rateable"]
    _close(WorkOrder.get_by_id(master.id))
    view = portal.public_view(WorkOrder.get_by_id(dup.id))
    assert view["master"]["closed"] and view["result"]["basic"] == "经查属实" and view["rateable"]
    rated = portal.rate("10.1.1.2", dup.number, dup.query_code, {"result": "2", "service": "1"})
    assert rated.public_result_satisfaction == "2"


def test_full_number_for_those_who_must_call_audited(client: FlaskClient, db: str, web_login) -> None:
    unit = factories.make_unit()
    order = factories.make_order("handling", unit=unit, caller_phone="13955556666")
    secret = factories.make_order("handling", unit=unit, caller_phone="13955557777", confidential=True)
    other_unit_order = factories.make_order("handling", caller_phone="13955558888")
    staff = factories.actor("unit_staff", unit)
    assert workflow.reveal_phones(staff, order.number)["caller_phone"] == "13955556666"
    entry = (
        AuditEntry.select()
        .where(AuditEntry.event == "pii.phone_viewed")
        .order_by(AuditEntry.id.desc())
        .first()
    )
    assert entry.target == order.number and entry.actor_name == staff.username
    for number in (secret.number, other_unit_order.number):
        try:
            workflow.reveal_phones(staff, number)
        except Exception as exc:  # refused: confidential, or not this unit's order
            assert type(exc).__name__ in ("PermissionDenied", "NotFound")
        else:
            raise AssertionError(f"{number} 的号码不应显示")
    reviewer = factories.actor("reviewer")
    assert workflow.reveal_phones(reviewer, order.number)["caller_phone"] == "13955556666"
    assert not workflow.may_call(factories.actor("supervisor"), order)

    _, csrf = web_login("unit_staff", unit)
    page = client.get(f"/orders/{order.number}").get_data(as_text=True)
    assert 'id="reveal-phone"' in page and "13955556666" not in page
    assert 'id="reveal-phone"' not in client.get(f"/orders/{secret.number}").get_data(as_text=True)
    resp = client.post(f"/orders/{order.number}/phone", headers={"HX-Request": "true", "X-CSRF-Token": csrf})
    assert resp.status_code == 200 and 'href="tel:13955556666"' in resp.get_data(as_text=True)
    refused = client.post(
        f"/orders/{secret.number}/phone", headers={"HX-Request": "true", "X-CSRF-Token": csrf}
    )
    assert refused.status_code == 403 and "13955557777" not in refused.get_data(as_text=True)
    assert client.post(f"/orders/{order.number}/phone").status_code == 403  # no CSRF token
    assert (
        AuditEntry.select()
        .where(AuditEntry.event == "pii.phone_viewed", AuditEntry.target == order.number)
        .count()
        == 3
    )
    assert csrf_of(page)
