"""统计分析 in the real browser: the dashboard draws its charts, a tile opens the drill-down with
the order behind the figure, the breakdown's chart opens a drill-down on click."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from node import clock
from node.db import connection
from tests.browser.conftest import login, shot
from tests.factories import stat_order

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_dashboard_and_drill_down(new_page):
    now = clock.now()
    with connection():
        order = stat_order(
            now - dt.timedelta(minutes=5),
            "answered",
            business_type="2",
            immediate_answer="已答复",
            closed_at=now,
            title="统计下钻测试工单",
        )
    page = new_page()
    login(page, "monitor")
    page.goto("/stats")
    expect(page.locator("h1")).to_contain_text("统计分析")
    expect(page.locator("[data-chart][data-ready='1']")).to_have_count(2, timeout=30_000)
    shot(page, "stats-dashboard", full_page=True)
    page.locator(".stats-tiles").first.locator("a.tile", has_text="即时答复率").click()
    expect(page).to_have_url(re.compile(r"/stats/drill\?indicator=instant_answer_rate"))
    expect(page.locator("table.list")).to_contain_text(order.number)
    expect(page.locator("table.list")).to_contain_text("统计下钻测试工单")
    shot(page, "stats-drill")
    page.goto(f"/stats/breakdown?period={now:%Y-%m}&group_by=business_type&indicators=volume")
    chart = page.locator("[data-chart][data-ready='1']")
    expect(chart).to_have_count(1, timeout=30_000)
    expect(page.locator("table.list")).to_contain_text("信息咨询")
    page.locator("table.list tr", has_text="信息咨询").locator("a").first.click()
    expect(page).to_have_url(re.compile(r"/stats/drill\?indicator=volume"))
    expect(page.locator("table.list")).to_contain_text(order.number)
