"""Urges and 督办 on the unit desk in Chromium, as the unit's staff: the desk shows the 催办 and the
督办 with who sent them, when, and 未读; the 有未读催办/督办 filter narrows the list to them; 标为已读
on the desk and on the order page records the read receipts the centre sees."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from node import db
from node.auth import service as auth
from node.auth.models import User
from node.demo import walk
from node.followup import supervision
from node.notices import service as notices
from node.workflow import service as workflow
from node.workflow.models import Urge
from tests import factories
from tests.browser.conftest import LiveNode, login, shot

pytestmark = [pytest.mark.browser]


def _actor(username: str) -> auth.Actor:
    return auth.actor_for(User.get(User.username == username))


def test_unit_staff_see_urges_and_mark_them_read(new_page, live_node: LiveNode) -> None:  # type: ignore[no-untyped-def]
    people = {"agent": "agent1", "reviewer": "review", "dispatcher": "dispatch", "unit": "taxi"}
    with db.connection():
        numbers = []
        for content in ("出租车司机拒载，要求处理。", "出租车绕路多收费，要求退款。"):
            order = workflow.create_order(
                _actor("agent1"), {**factories.ORDER_DEFAULTS, "content": content, "submit": False}
            )
            numbers.append(walk(order, "handling", lambda role: _actor(people[role]), "CZC", {}).number)
        urged, supervised = numbers
        workflow.perform(_actor("review"), urged, "urge", {"note": "市民第三次来电催促，请尽快联系"})
        sup = supervision.supervise(_actor("dispatch"), supervised, 1, "请于今日17时前回复市民并报中心")
        urge = Urge.select().where(Urge.note == "市民第三次来电催促，请尽快联系").get()

    page: Page = new_page()
    login(page, "taxi")
    page.goto("/unit?tab=all&urged=unread")
    row = page.locator(f'tr[data-order="{urged}"]')
    expect(row).to_contain_text("催办")
    expect(row).to_contain_text("未读")
    sup_row = page.locator(f'tr[data-order="{supervised}"]')
    expect(sup_row).to_contain_text("督办·一级（督办承办单位）")
    expect(sup_row).to_contain_text("请于今日17时前回复市民")
    expect(page.locator("tbody tr[data-order]")).to_have_count(2)
    shot(page, "desk-urges", full_page=True)

    row.get_by_role("button", name="标为已读").click()
    expect(page.locator(".flash.ok")).to_contain_text("已标为已读")
    expect(page.locator(f'tr[data-order="{urged}"]')).to_have_count(0)  # the unread filter is kept
    expect(page.locator(f'tr[data-order="{supervised}"]')).to_be_visible()

    page.goto(f"/orders/{supervised}")
    card = page.locator("#unit-urges")
    expect(card).to_contain_text("1 条未读")
    shot(page, "order-unit-urges")
    card.get_by_role("button", name="标为已读").click()
    expect(page.locator(".flash.ok")).to_contain_text("已标为已读")
    expect(page.locator("#unit-urges")).to_contain_text("已读")
    expect(page.locator("#unit-urges")).not_to_contain_text("未读")
    with db.connection():
        for u in (urge.id, sup.id):
            receipts = {r.display_name: r.read_at for r in notices.receipts(f"urge:{u}")}
            assert receipts["赵磊（出租汽车管理所）"] is not None

    centre: Page = new_page()
    login(centre, "dispatch")
    centre.goto(f"/followup/orders/{supervised}")
    sup_line = centre.locator("#urge-table tr", has_text="请于今日17时前回复市民")
    expect(sup_line).to_be_visible()
    expect(sup_line).not_to_contain_text("未读")  # the first read time is there
