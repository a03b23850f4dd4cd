"""The follow-up journey in Chromium: a complaint is closed and sampled; the agent's callback
records 不满意; the shift leader reopens it to the unit from the 不满意整改 queue (archiving is
refused before); the unit handles it again; the second callback is 满意; the leader archives; the
citizen's SMS log shows the receipt, the closure and the rating invitation, and the closure and the
invitation as WeChat template messages to the follower who bound the order."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from node import db
from node.auth import service as auth
from node.auth.models import User
from node.demo import walk
from node.followup.models import Dissatisfaction, VisitTask
from node.outbox import service as outbox
from node.workflow import service as workflow
from node.workflow.models import WorkOrder
from tests import factories
from tests.browser.conftest import LiveNode, login, shot

pytestmark = [pytest.mark.browser]


def _actor(username: str) -> auth.Actor:
    return auth.actor_for(User.get(User.username == username))


def _callback(page: Page, number: str, result: str, service: str, solved: str, note: str) -> None:
    page.goto("/followup/callbacks")
    page.locator(f'tr[data-order="{number}"]').get_by_role("link", name="回访").click()
    page.check('input[name="reached"][value="1"]')
    page.check(f'input[name="result"][value="{result}"]')
    page.check(f'input[name="service"][value="{service}"]')
    page.check(f'input[name="solved"][value="{solved}"]')
    page.fill("#cb-note", note)
    page.click("#callback-submit")
    expect(page.locator(".flash.ok")).to_contain_text("回访已记录")


def test_complaint_dissatisfied_reopened_then_satisfied_and_archived(new_page, live_node: LiveNode) -> None:  # type: ignore[no-untyped-def]
    people = {"agent": "agent1", "reviewer": "review", "dispatcher": "dispatch", "unit": "taxi"}
    with db.connection():
        agent = _actor("agent1")
        order = workflow.create_order(
            agent, {**factories.ORDER_DEFAULTS, "caller_phone": "13912345678", "submit": False}
        )
        # the citizen also follows the Official Account and binds the order (number + query code)
        bound = outbox.handle_inbound(
            "wechat", "oWX_journey01", f"{order.number} {order.query_code}", "wx:j1"
        )
        assert bound.outcome == "bound"
        order = walk(order, "closed", lambda role: _actor(people[role]), "CZC", factories.PATH_BODIES)
        number = order.number
        assert VisitTask.get(VisitTask.order == order).sampled  # a complaint: always called back

    page: Page = new_page()
    login(page, "agent1")
    _callback(page, number, "3", "2", "0", "司机仍然拒载，问题没有解决")
    shot(page, "followup-callbacks")

    leader: Page = new_page()
    login(leader, "leader")
    leader.goto("/followup/dissatisfied")
    row = leader.locator("#dissatisfied-table tr", has_text=number)
    expect(row).to_contain_text("处理结果")
    shot(leader, "followup-dissatisfied")
    with db.connection():  # archiving is refused while the case is open
        with pytest.raises(Exception, match="不满意"):
            workflow.perform(_actor("leader"), number, "archive", {})
    row.locator('input[name="reason"]').first.fill("市民反映仍被拒载，请重新核查并约谈驾驶员")
    row.get_by_role("button", name="重办", exact=True).click()
    expect(leader.locator(".flash.ok")).to_contain_text("已重办")
    with db.connection():
        assert WorkOrder.get(WorkOrder.number == number).state == "dispatched"
        assert (
            Dissatisfaction.get(Dissatisfaction.order == WorkOrder.get(WorkOrder.number == number)).state
            == "reopened"
        )
        walk(
            WorkOrder.get(WorkOrder.number == number),
            "closed",
            lambda role: _actor(people[role]),
            "CZC",
            factories.PATH_BODIES,
        )

    _callback(page, number, "2", "1", "1", "已解决，满意")
    leader.goto(f"/orders/{number}")
    leader.click('button[data-action="archive"]')
    leader.locator("#dlg-archive button[type=submit]").click()
    with db.connection():
        assert WorkOrder.get(WorkOrder.number == number).state == "archived"

    leader.goto(f"/followup/orders/{number}")
    log = leader.locator("#sms-log")
    for label in ("受理回执", "办结告知", "评价邀请"):
        expect(log).to_contain_text(label)
    expect(log).to_contain_text("*******5678")
    wechat = log.locator("tr", has_text="微信 oWX_jo…")  # closure and invitation as template messages
    expect(wechat).to_have_count(4)  # and again after the reopened order closed
    expect(wechat.first).to_contain_text("您的工单已办结")
    shot(leader, "followup-tracking", full_page=True)
    leader.goto(f"/followup/callbacks/{number}")
    expect(leader.locator("#rating-table")).to_contain_text("不满意")
    expect(leader.locator("#rating-table")).to_contain_text("第 2 轮")
    shot(leader, "followup-callback-form", full_page=True)
