"""#17 the daily desk, walked in real Chromium against a live node: errors that show, a picker that
knows how callers talk, the portal on a 390 px phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from node.workflow.models import WorkOrder
from tests.browser.conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_workstation_shows_errors_and_asks_before_discarding(new_page, live_node):
    page = new_page()
    login(page, "agent1")
    page.goto("/workstation")
    page.fill("#caller_phone", "13905551234")
    page.fill("#content", "出租车拒载，司机态度恶劣，要求处理。")
    page.fill("#category_text", "")
    page.keyboard.press("Alt+o")
    page.keyboard.press("Control+Enter")
    error = page.locator("#intake-error")
    expect(error).to_contain_text("生成工单须选择业务领域")
    expect(page.locator("#content")).to_have_value("出租车拒载，司机态度恶劣，要求处理。")  # kept
    shot(page, "desk-workstation-error")
    dialogs: list[str] = []

    def dismiss(dialog):  # the agent says no: the draft stays
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", dismiss)
    page.keyboard.press("F2")
    expect(page.locator("#content")).to_have_value("出租车拒载，司机态度恶劣，要求处理。")
    assert dialogs and "放弃" in dialogs[0]
    page.once("dialog", lambda d: d.accept())
    page.keyboard.press("F2")
    page.wait_for_function(
        "document.querySelector('#content') && document.querySelector('#content').value === ''"
    )
    assert page.locator("#intake-error").count() == 0


@pytest.mark.parametrize(
    ("typed", "first"),
    [
        ("公交", "城市客运 › 公共汽电车"),
        ("公交车", "城市客运 › 公共汽电车"),
        ("网约车", "城市客运 › 出租汽车"),
        ("地铁", "城市客运 › 城市轨道"),
        ("wyc", "城市客运 › 出租汽车"),
        ("dt", "城市客运 › 城市轨道"),
        ("gj", "城市客运 › 公共汽电车"),
        ("czqc", "城市客运 › 出租汽车"),
    ],
)
def test_category_picker_knows_how_callers_talk(new_page, live_node, typed, first):
    page = new_page()
    login(page, "agent2")
    page.goto("/workstation")
    page.keyboard.press("Alt+c")
    page.keyboard.type(typed)
    options = page.locator("#cat-list li")
    expect(options.first).to_contain_text(first)
    if typed == "gj":
        shot(page, "desk-picker-gj")
    page.keyboard.press("Enter")
    expect(page.locator("#category_text")).to_have_value(first)
    expect(page.locator("input[name=domain]")).to_have_value("04")


def test_portal_on_a_phone(browser, live_node):
    ctx = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        base_url=live_node.url,
    )
    ctx.set_default_timeout(10_000)
    try:
        page = ctx.new_page()
        page.goto("/portal")  # the address the README and leaflets gave
        expect(page).to_have_url(re.compile(r"/public/$"))
        links = page.locator(".portal-top nav a")
        assert links.count() == 5
        for i in range(links.count()):
            box = links.nth(i).bounding_box()
            assert box is not None and box["height"] < 30, f"导航链接折行：{links.nth(i).inner_text()} {box}"
            assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        number = page.locator("#q-number")
        width = number.bounding_box()["width"]
        assert width >= 300, f"工单编号输入框过窄：{width}px"
        digits = number.evaluate(
            "el => { const c = document.createElement('canvas').getContext('2d');"
            " c.font = getComputedStyle(el).font; return c.measureText('320100202612020000001').width; }"
        )
        assert digits < width - 8, "21位工单编号放不下"
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, "页面横向溢出"
        shot(page, "desk-portal-phone", full_page=True)
        order = WorkOrder.select().first()
        page.fill("#q-number", order.number if order else "320100202612020000001")
        page.fill("#q-code", "123456")
        page.click("#quick-query button[type=submit]")
        page.wait_for_load_state()
        assert "123456" not in page.url and "code=" not in page.url
        page.goto("/public/submit?type=1")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        shot(page, "desk-portal-phone-submit", full_page=True)
    finally:
        ctx.close()
