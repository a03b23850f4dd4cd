"""The agent sees the automatic categorisation while typing, with the deciding words, and takes it
with one key (Alt+S); the order keeps the categories and the choice is stored next to the
suggestion. Real Chromium against a live node."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from node.text.models import CategoryChoice
from node.workflow.models import WorkOrder
from tests.browser.conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# the complaint of the issue, as a bus company wrote it down
BUS_COMPLAINT = (
    "乘客反映提前按了门铃，司机到站没停，乘客问司机怎么不停车，司机说乘客没站起来就不停，沟通中司机态度不好。"
)


def test_agent_sees_the_suggestion_with_its_words_and_takes_it_with_one_key(new_page, live_node):
    page = new_page()
    login(page, "agent1")
    page.goto("/workstation")
    page.keyboard.type("13905551234")
    panel = page.locator("#suggest-panel")
    expect(panel).to_contain_text("录入诉求内容后")
    page.keyboard.press("Alt+n")
    page.keyboard.type("今天天气不错")
    expect(panel).to_contain_text("未识别出交通运输业务词语")
    page.fill("#content", "")
    page.keyboard.type(BUS_COMPLAINT)
    expect(panel.locator("#sg-category")).to_contain_text("城市客运 › 公共汽电车")
    expect(panel.locator("#sg-category .words")).to_contain_text("门铃")
    expect(panel.locator("#sg-type")).to_contain_text("投诉举报")
    expect(panel.locator("#sg-type .words")).to_contain_text("态度不好")
    expect(panel.locator("#sg-category .conf")).to_have_text(re.compile(r"^\d{1,2}%$"))
    shot(page, "suggest-panel")
    page.keyboard.press("Alt+s")
    expect(page.locator("input[name=business_type][value='1']")).to_be_checked()
    expect(page.locator("#category_text")).to_have_value("城市客运 › 公共汽电车")
    expect(page.locator("input[name=sub_business]")).to_have_value("0401")
    expect(panel.locator("[data-accept-suggestion]")).to_have_text("已采用")
    page.keyboard.press("Alt+r")
    page.keyboard.type("xw")
    expect(page.locator("#region-list li").first).to_contain_text("玄武区")
    page.keyboard.press("Enter")
    page.keyboard.press("Alt+o")
    page.keyboard.press("Control+Enter")
    banner = page.locator("#intake-result")
    expect(banner).to_contain_text("已生成工单")
    number = re.search(r"\d{21}", banner.inner_text()).group(0)
    order = WorkOrder.get(WorkOrder.number == number)
    assert (order.business_type, order.domain, order.sub_business) == ("1", "04", "0401")
    choices = {c.kind: c for c in CategoryChoice.select().where(CategoryChoice.order_number == number)}
    assert choices["sub_business"].suggested == choices["sub_business"].chosen == "0401"
    assert choices["business_type"].suggested == "1" and 0 < choices["business_type"].confidence <= 1


def test_an_alternative_is_taken_with_a_click(new_page, live_node):
    page = new_page()
    login(page, "agent2")
    page.goto("/workstation")
    page.keyboard.press("Alt+n")
    page.keyboard.type("出租车司机拒载，公交站牌也被撞歪了")
    panel = page.locator("#suggest-panel")
    alternative = panel.locator("[data-accept-category]", has_text="公共汽电车")
    expect(alternative).to_be_visible()
    alternative.click()
    expect(page.locator("#category_text")).to_have_value("城市客运 › 公共汽电车")
    expect(page.locator("input[name=domain]")).to_have_value("04")
