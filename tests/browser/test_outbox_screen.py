"""告知市民 in Chromium: the centre sees a WeChat template message the platform refused (the follower
left), with the error, and queues it again with 重新发送."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from node import db
from node.auth import service as auth
from node.auth.models import User
from node.outbox import service as outbox
from node.outbox.models import CitizenMessage
from node.workflow import service as workflow
from tests import factories
from tests.browser.conftest import LiveNode, login, shot

pytestmark = [pytest.mark.browser]


def test_failed_message_is_shown_and_resent(new_page, live_node: LiveNode) -> None:  # type: ignore[no-untyped-def]
    with db.connection():
        row = outbox.handle_inbound("wechat", "oWX_browser1", "公交站牌信息错误，请更正", "wx:browser1")
        agent = auth.actor_for(User.get(User.username == "agent1"))
        order = workflow.create_order(
            agent,
            {
                **factories.ORDER_DEFAULTS,
                "contact_id": row.contact_id,
                "channel": "03",
                "caller_phone": "",
                "submit": False,
            },
        )

        # as the sender leaves a message the platform refused (tests/outbox test the sending itself)
        CitizenMessage.update(
            state="failed", attempts=1, error="微信接口返回错误 43004：require subscribe"
        ).where(CitizenMessage.order == order, CitizenMessage.channel == "wechat").execute()
        (msg,) = [m for m in outbox.sms_log(order) if m.channel == "wechat"]
        assert msg.state == "failed"

    page: Page = new_page()
    login(page, "dispatch")
    page.goto("/followup/outbox")
    line = page.locator(f'tr[data-message="{msg.id}"]')
    expect(line).to_contain_text("43004")
    expect(line).to_contain_text("微信 oWX_br…")
    shot(page, "followup-outbox")
    line.get_by_role("button", name="重新发送").click()
    expect(page.locator(".flash.ok")).to_contain_text("已重新排队发送")
    expect(page.locator(f'tr[data-message="{msg.id}"]')).to_have_count(0)  # no longer among the failed
    with db.connection():
        assert CitizenMessage.get_by_id(msg.id).state == "pending"
