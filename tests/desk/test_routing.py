"""#17 item 8 on both databases: routing rules edited by the administrator pre-fill the dispatch
dialog (the lead unit never offered as co-handler) and dispatch by themselves when marked so."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from node.audit.models import AuditEntry
from node.errors import PermissionDenied, ValidationError
from node.routing import service as routing
from node.routing.models import RoutingRule
from node.workflow import service as workflow
from node.workflow.models import Assignment, OrderEvent, WorkOrder
from tests import factories
from tests.web.conftest import csrf_of


@pytest.fixture
def installed(db: str):
    routing.install()
    yield
    if routing.on_order_change in workflow.ON_CHANGE:
        workflow.ON_CHANGE.remove(routing.on_order_change)


def test_most_specific_rule_wins_and_validation(db: str) -> None:
    admin = factories.actor("admin")
    taxi_unit, gulou_unit, company_unit, assist = (factories.make_unit() for _ in range(4))
    routing.create_rule(
        admin,
        {
            "name": "出租汽车",
            "sub_business": "0403",
            "lead_unit": taxi_unit.code,
            "assist_units": [assist.code],
        },
    )
    routing.create_rule(
        admin,
        {"name": "鼓楼出租", "sub_business": "0403", "region_code": "320106", "lead_unit": gulou_unit.code},
    )
    routing.create_rule(
        admin, {"name": "东方出租", "domain": "04", "respondent": "东方", "lead_unit": company_unit.code}
    )
    taxi = factories.make_order(region_code="320102")
    assert routing.suggest(taxi).lead_unit == taxi_unit.code and routing.suggest(taxi).assist_units == [
        assist.code
    ]
    gulou = factories.make_order(region_code="320106")
    assert routing.suggest(gulou).lead_unit == gulou_unit.code
    dongfang = factories.make_order(region_code="320106", respondent_name="南京东方出租汽车公司")
    assert routing.suggest(dongfang).lead_unit == company_unit.code  # respondent is the most specific
    bus = factories.make_order(sub_business="0401", domain="04", respondent_name="公交集团")
    assert routing.suggest(bus) is None
    with pytest.raises(ValidationError, match="至少要有一个条件"):
        routing.create_rule(admin, {"name": "空", "lead_unit": taxi_unit.code})
    with pytest.raises(ValidationError, match="不能重复"):
        routing.create_rule(
            admin,
            {"name": "重", "domain": "04", "lead_unit": taxi_unit.code, "assist_units": [taxi_unit.code]},
        )
    with pytest.raises(ValidationError, match="业务领域"):
        routing.create_rule(
            admin, {"name": "错", "domain": "01", "sub_business": "0403", "lead_unit": taxi_unit.code}
        )
    with pytest.raises(ValidationError):
        routing.create_rule(
            admin, {"name": "x\x00", "domain": "04", "lead_unit": taxi_unit.code, "priority": 10**12}
        )
    with pytest.raises(PermissionDenied):
        routing.create_rule(
            factories.actor("dispatcher"), {"name": "派", "domain": "04", "lead_unit": taxi_unit.code}
        )
    assert AuditEntry.select().where(AuditEntry.event == "routing.changed").count() == 3


def test_auto_dispatch_when_an_order_reaches_pending_dispatch(db: str, installed: None) -> None:
    admin = factories.actor("admin")
    unit, other = factories.make_unit(), factories.make_unit()
    rule = routing.create_rule(
        admin,
        {
            "name": "地铁自动",
            "sub_business": "0402",
            "lead_unit": unit.code,
            "assist_units": [other.code],
            "auto_dispatch": True,
        },
    )
    metro = factories.make_order("pending_review", domain="04", sub_business="0402", content="地铁站电梯停运")
    workflow.perform(factories.actor("reviewer"), metro.number, "review", {})
    metro = WorkOrder.get_by_id(metro.id)
    assert metro.state == "dispatched"
    roles = {(a.unit_id, a.role) for a in Assignment.select().where(Assignment.order == metro.id)}
    assert roles == {(unit.id, "lead"), (other.id, "assist")}
    event = OrderEvent.get(OrderEvent.order == metro.id, OrderEvent.action == "dispatch")
    assert "地铁自动" in event.reason and event.actor_name == "系统"
    routing.update_rule(
        admin,
        rule.id,
        {"name": "地铁预填", "sub_business": "0402", "lead_unit": unit.code, "auto_dispatch": False},
    )
    later = factories.make_order("pending_dispatch", domain="04", sub_business="0402")
    assert WorkOrder.get_by_id(later.id).state == "pending_dispatch"
    assert routing.suggest(later).lead_unit == unit.code


def test_admin_screen_and_prefilled_dialog(client: FlaskClient, db: str, web_login) -> None:
    unit, assist = factories.make_unit(name="南京市客运管理处"), factories.make_unit(name="鼓楼区交通运输局")
    _, csrf = web_login("admin")
    page = client.get("/admin/routing")
    assert page.status_code == 200 and "分派规则" in page.get_data(as_text=True)
    bad = client.post(
        "/admin/routing/save", data={"csrf_token": csrf, "name": "", "lead_unit": unit.code, "enabled": "1"}
    )
    assert bad.status_code == 422 and "名称" in bad.get_data(as_text=True)
    ok = client.post(
        "/admin/routing/save",
        data={
            "csrf_token": csrf,
            "name": "出租汽车投诉",
            "sub_business": "0403",
            "lead_unit": unit.code,
            "assist_units": [assist.code],
            "enabled": "1",
            "priority": "10",
        },
    )
    assert ok.status_code == 302
    rule = RoutingRule.get(RoutingRule.name == "出租汽车投诉")
    assert rule.domain == "04" and rule.assist_units == assist.code and not rule.auto_dispatch
    listing = client.get("/admin/routing").get_data(as_text=True)
    assert "南京市客运管理处" in listing and "鼓楼区交通运输局" in listing
    order = factories.make_order("pending_dispatch")
    _, csrf = web_login("dispatcher")
    html = client.get(f"/orders/{order.number}").get_data(as_text=True)
    assert "出租汽车投诉" in html and f'<option value="{unit.code}" selected>' in html
    assert f'value="{unit.code}"  disabled' in html or f'value="{unit.code}" disabled' in html.replace(
        "  ", " "
    )
    assert client.get("/admin/routing").status_code == 403
    _, csrf = web_login("admin")
    gone = client.post(f"/admin/routing/{rule.id}/delete", data={"csrf_token": csrf})
    assert gone.status_code == 302 and not RoutingRule.select().exists()
    assert csrf_of(listing)
