"""Security in the real browser: order content with HTML and script is shown as text, never run."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAYLOAD = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2"><b>加粗</b>'


def test_script_in_order_content_is_escaped_everywhere(new_page, live_node):
    page = new_page()
    login(page, "agent1")
    page.goto("/workstation")
    page.fill("#caller_phone", "13711112222")
    page.keyboard.press("Alt+1")
    page.fill("#title", "<i>标题</i>")
    page.fill("#content", PAYLOAD)
    page.fill("#respondent_name", '"><svg onload="window.__xss=3">')
    page.keyboard.press("Alt+o")
    page.keyboard.press("Alt+c")
    page.keyboard.type("czqc")
    page.keyboard.press("Enter")
    page.click("#intake-submit")
    banner = page.locator("#intake-result")
    expect(banner).to_contain_text("已生成工单")
    number = banner.locator("b").first.inner_text()
    page.goto(f"/orders/{number}")
    expect(page.locator("#order-content")).to_have_text(PAYLOAD)
    assert page.evaluate("window.__xss") is None
    assert page.locator("#order-content b, #order-content img, #order-content script").count() == 0
    page.goto("/queues?queue=mine")
    expect(page.locator("#queue-table")).to_contain_text("<i>标题</i>")
    assert page.evaluate("window.__xss") is None
    page.goto("/workstation")
    page.fill("#caller_phone", "13711112222")  # caller history and duplicate panels render the same text
    page.fill("#content", "标题 加粗")
    expect(page.locator("#caller-panel")).to_contain_text("<i>标题</i>")
    page.wait_for_timeout(900)
    assert page.evaluate("window.__xss") is None
    shot(page, "security-escaped-history")


def test_unit_user_sees_a_chinese_404_for_another_units_order(new_page, live_node):
    from node.auth import service as auth
    from node.auth.models import User
    from node.workflow import service

    agent = auth.actor_for(User.get(User.username == "agent1"))
    order = service.create_order(
        agent,
        {
            "business_type": "1",
            "domain": "04",
            "sub_business": "0403",
            "region_code": "320102",
            "content": "出租车绕路",
        },
    )
    service.perform(auth.actor_for(User.get(User.username == "review")), order.number, "review", {})
    service.perform(
        auth.actor_for(User.get(User.username == "dispatch")), order.number, "dispatch", {"lead_unit": "CZC"}
    )
    page = new_page()
    login(page, "bus")
    resp = page.goto(f"/orders/{order.number}")
    assert resp is not None and resp.status == 404
    expect(page.locator("main")).to_contain_text("工单不存在或无权查看")
    expect(page.locator("main")).not_to_contain_text("出租车绕路")
