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


def test_topic_report_create_trend_and_drill_down(new_page):
    """专题报告: a supervisor creates a topic from the screen, sees its trend chart and figures, and
    drills from a trend point's figure to the order behind it."""
    now = clock.now()
    early = dt.datetime.combine(now.date(), dt.time(0, 1))  # today, whatever the hour
    with connection():
        match = stat_order(early, title="电动车充电桩起火", content="小区电动车充电桩起火冒烟")
        stat_order(early, title="公交车晚点", content="公交车晚点半小时")
    page = new_page()
    login(page, "monitor")
    page.goto("/stats/topic-reports")
    page.get_by_role("link", name="新建专题").click()
    page.fill("input[name=name]", "充电桩安全")
    page.fill("textarea[name=keywords]", "充电桩 | 充电站\n起火 | 冒烟")
    page.fill("input[name=exclude]", "测试")
    shot(page, "stats-topic-edit")
    page.get_by_role("button", name="保存").click()
    expect(page.locator(".flash")).to_contain_text("已新建专题“充电桩安全”")
    expect(page.locator("h1")).to_contain_text("专题报告：充电桩安全")
    expect(page.locator("[data-chart][data-ready='1']")).to_have_count(2, timeout=30_000)
    expect(page.locator("#topic-tiles")).to_contain_text("限时办结率")
    today = f"{now.month}月{now.day}日"
    row = page.locator("#topic-trend tr", has_text=today)
    expect(row.locator("td").nth(1)).to_have_text("1")
    shot(page, "stats-topic", full_page=True)
    row.locator("a").first.click()
    expect(page).to_have_url(re.compile(r"/stats/drill\?indicator=volume.*f_topic="))
    expect(page.locator("table.list")).to_contain_text(match.number)
    expect(page.locator("section.card").first).to_contain_text("专题：充电桩安全")
    shot(page, "stats-topic-drill")
    # a definition that cannot be searched is refused with the reason, the typed text kept
    page.goto("/stats/topic-reports/new")
    page.fill("input[name=name]", "空专题")
    page.fill("textarea[name=keywords]", "，。")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#topic-error")).to_contain_text("没有可检索的词")
    expect(page.locator("input[name=name]")).to_have_value("空专题")
