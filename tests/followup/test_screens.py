"""Follow-up screens: callback list and form, the dissatisfaction queue, plans; permissions and
bad input (Chinese errors, never 5xx)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from node.followup.models import CallbackPlan, Dissatisfaction, VisitTask
from node.workflow.models import WorkOrder
from tests import factories
from tests.web.conftest import HTML, csrf_of


def test_callback_screens_and_dissatisfaction_queue(client: FlaskClient, db: str, web_login) -> None:  # type: ignore[no-untyped-def]
    unit = factories.make_unit()
    order = factories.make_order("closed", unit=unit)
    _leader, token = web_login("shift_leader")
    page = client.get("/followup/callbacks", headers=HTML).get_data(as_text=True)
    assert order.number in page and "回访" in page and 'href="/followup/dissatisfied"' in page
    form = client.get(f"/followup/callbacks/{order.number}", headers=HTML).get_data(as_text=True)
    assert "对处理结果是否满意" in form and "问题是否已解决" in form
    resp = client.post(f"/followup/callbacks/{order.number}", data={"csrf_token": token, "reached": "0"})
    assert resp.status_code == 302 and VisitTask.get(VisitTask.order == order).attempts == 1
    resp = client.post(
        f"/followup/callbacks/{order.number}",
        data={
            "csrf_token": token,
            "reached": "1",
            "result": "3",
            "service": "2",
            "solved": "0",
            "note": "未解决",
        },
    )
    assert resp.status_code == 302 and WorkOrder.get_by_id(order.id).state == "visited"
    queue = client.get("/followup/dissatisfied", headers=HTML).get_data(as_text=True)
    case = Dissatisfaction.get(Dissatisfaction.order == order)
    assert f'data-case="{case.id}"' in queue and "处理结果" in queue
    resp = client.post(f"/followup/dissatisfied/{case.id}/reopen", data={"csrf_token": token, "reason": ""})
    assert resp.status_code == 422 and "理由" in resp.get_data(as_text=True)
    resp = client.post(
        f"/followup/dissatisfied/{case.id}/reopen",
        data={"csrf_token": token, "reason": "重新核查", "unit": unit.code},
    )
    assert resp.status_code == 302 and WorkOrder.get_by_id(order.id).state == "dispatched"
    assert (
        client.post(f"/followup/dissatisfied/{case.id}/bogus", data={"csrf_token": token}).status_code == 404
    )
    assert client.get("/followup/dissatisfied?state=nope", headers=HTML).status_code == 422
    assert client.get("/followup/dissatisfied?state=all", headers=HTML).status_code == 200


def test_order_page_shows_archive_held_by_a_callback_with_the_reason(
    client: FlaskClient, db: str, web_login
) -> None:  # type: ignore[no-untyped-def]
    order = factories.make_order("closed")
    _leader, token = web_login("shift_leader")
    page = client.get(f"/orders/{order.number}", headers=HTML).get_data(as_text=True)
    assert 'disabled title="该工单已抽中回访' in page and 'id="archive-held"' in page
    client.post(
        f"/followup/callbacks/{order.number}",
        data={"csrf_token": token, "reached": "1", "result": "1", "service": "1"},
    )
    page = client.get(f"/orders/{order.number}", headers=HTML).get_data(as_text=True)
    assert 'data-dialog="dlg-archive"' in page and 'id="archive-held"' not in page


def test_screens_refuse_roles_without_permission(client: FlaskClient, db: str, web_login) -> None:  # type: ignore[no-untyped-def]
    web_login("unit_staff")
    for url in ("/followup/callbacks", "/followup/dissatisfied", "/followup/plans"):
        assert client.get(url, headers=HTML).status_code == 403
    assert client.get("/followup/callbacks").status_code == 403


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("share_percent", "abc"),
        ("share_percent", "101"),
        ("share_percent", "1e999"),
        ("max_attempts", "0"),
        ("name", ""),
    ],
)
def test_plan_form_validation(client: FlaskClient, db: str, web_login, field: str, value: str) -> None:  # type: ignore[no-untyped-def]
    _admin, token = web_login("admin")
    data = {
        "csrf_token": token,
        "name": "客运抽查",
        "business_type": "2",
        "share_percent": "30",
        field: value,
    }
    resp = client.post("/followup/plans", data=data, headers=HTML)
    assert resp.status_code == 422, resp.get_data(as_text=True)[:300]
    assert not CallbackPlan.select().where(CallbackPlan.name == "客运抽查").exists()


def test_plan_create_and_deactivate(client: FlaskClient, db: str, web_login) -> None:  # type: ignore[no-untyped-def]
    _admin, token = web_login("admin")
    data = {
        "csrf_token": token,
        "name": "咨询抽查",
        "business_type": "2",
        "share_percent": "25",
        "questions": ["result", "service"],
    }
    assert client.post("/followup/plans", data=data).status_code == 302
    plan = CallbackPlan.get(CallbackPlan.name == "咨询抽查")
    assert plan.share_percent == 25.0 and plan.questions == "result,service"
    page = client.get("/followup/plans", headers=HTML).get_data(as_text=True)
    assert "咨询抽查" in page and "25%" in page
    assert (
        client.post(
            "/followup/plans", data={"csrf_token": csrf_of(page), "deactivate": str(plan.id)}
        ).status_code
        == 302
    )
    assert CallbackPlan.get_by_id(plan.id).active is False
    assert client.post("/followup/plans", data={"csrf_token": token, "deactivate": "x"}).status_code == 422


def test_tracking_page_supervise_waive_sms_log_and_overdue_history(
    client: FlaskClient, db: str, web_login
) -> None:  # type: ignore[no-untyped-def]
    import datetime as dt

    from node import clock
    from node.followup import supervision
    from node.outbox import service as outbox
    from node.tracking import service as tracking
    from node.workflow import service as workflow
    from node.workflow.models import Urge

    supervision.install()
    outbox.install()
    lead, assist = factories.make_unit(), factories.make_unit()
    with clock.frozen(dt.datetime(2026, 3, 2, 9, 0)):
        order = factories.make_order("pending_dispatch", caller_phone="13900005555")
        workflow.perform(
            factories.actor("dispatcher"),
            order.number,
            "dispatch",
            {"lead_unit": lead.code, "assist_units": [assist.code]},
        )
    with clock.frozen(dt.datetime(2026, 3, 2, 10, 0)):
        tracking.scan_sign(clock.now())
    _leader, token = web_login("shift_leader")
    page = client.get(f"/followup/orders/{order.number}", headers=HTML).get_data(as_text=True)
    assert "签收时限" in page and "协办单位未反馈" in page and "受理回执" in page and "*******5555" in page
    resp = client.post(
        f"/followup/orders/{order.number}/supervise", data={"csrf_token": token, "level": "9", "note": "x"}
    )
    assert resp.status_code == 422
    resp = client.post(
        f"/followup/orders/{order.number}/supervise",
        data={"csrf_token": token, "level": "2", "note": "今日内办结"},
    )
    assert resp.status_code == 302 and Urge.select().where(Urge.order == order, Urge.level == "sup2").exists()
    assert (
        client.post(
            f"/followup/orders/{order.number}/waive", data={"csrf_token": token, "reason": ""}
        ).status_code
        == 422
    )
    assert (
        client.post(
            f"/followup/orders/{order.number}/waive", data={"csrf_token": token, "reason": "协办已口头反馈"}
        ).status_code
        == 302
    )
    assert workflow.assist_pending(WorkOrder.get_by_id(order.id)) == []
    hist = client.get("/followup/overdue?from=2026-03-01&to=2026-03-03", headers=HTML).get_data(as_text=True)
    assert order.number in hist and "签收超期" in hist and lead.name in hist
    assert client.get("/followup/overdue?from=2026-13-01", headers=HTML).status_code == 422
    assert client.get("/followup/overdue?from=2026-03-05&to=2026-03-01", headers=HTML).status_code == 422
