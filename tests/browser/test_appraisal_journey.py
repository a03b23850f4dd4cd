"""The appraisal journey in the real browser: an inspector samples and scores a recorded call with a
time-stamped mark while the order is beside it; the month's run ranks the agents; the units' run is
published; a unit sees only itself and objects; a leader decides; the Excel export holds the same
numbers as the screen."""

from __future__ import annotations

import datetime as dt
import io
import re
import wave
from pathlib import Path

import pytest
from openpyxl import load_workbook
from playwright.sync_api import expect

from node import clock
from node.auth.models import User
from node.catalog.models import Unit
from node.telephony import config as tconfig
from node.telephony.models import Agent
from tests.appraisal import helpers
from tests.browser.conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _month_before() -> tuple[str, dt.datetime]:
    first = clock.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    prev = (first - dt.timedelta(days=1)).replace(day=3, hour=10)
    return f"{prev:%Y-%m}", prev


def _floor(live_node) -> str:  # type: ignore[no-untyped-def]
    """Calls, recordings and unit orders of last month in the live node's database."""
    period, at = _month_before()
    rec_dir = tconfig.load(live_node.settings).recordings_dir
    with live_node.database.connection_context():
        a1, a2 = User.get(User.username == "agent1"), User.get(User.username == "agent2")
        s1, s2 = (Agent.get_or_none(Agent.user == u) or helpers.seat(u) for u in (a1, a2))
        order = helpers.unit_order(Unit.get(Unit.code == "CZC"), at, signed_after_h=5)
        helpers.unit_order(Unit.get(Unit.code == "GJJT"), at)
        calls = [
            helpers.call(s1, at, rating=3, order=order),
            helpers.call(s1, at + dt.timedelta(hours=2), rating=1),
            helpers.call(s2, at + dt.timedelta(hours=3), wait_s=25, talk_s=400, rating=1),
        ]
        for c in calls:
            path = rec_dir / f"2026/11/01/{c.uuid}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            with wave.open(str(path), "wb") as w:
                w.setnchannels(1)
                w.setsampwidth(2)
                w.setframerate(8000)
                w.writeframes(b"\x00\x00" * 8000 * 3)
    return period


def test_inspect_rank_object_decide_export(new_page, live_node) -> None:  # type: ignore[no-untyped-def]
    period = _floor(live_node)
    leader = new_page()
    login(leader, "leader")

    # 质检: sample (every 不满意 call + 1 random per agent, seeded), score the unhappy call
    leader.goto(f"/appraisal/qa?period={period}")
    leader.fill("#s-per", "1")
    leader.fill("#s-seed", "journey")
    leader.click("#sample-form button[type=submit]")
    expect(leader.locator(".flash.ok")).to_contain_text("抽样完成")
    row = leader.locator("#qa-table tr", has_text="不满意评价").first
    row.locator("a").click()
    expect(leader.locator("#qa-audio")).to_be_visible()
    expect(leader.locator("section[aria-label=工单]")).to_contain_text("测试工单")
    audio = leader.locator("#qa-audio")
    for _ in range(150):  # the recording's metadata loads from /telephony/recordings/<call>
        if audio.evaluate("a => a.readyState") >= 1:
            break
        leader.wait_for_timeout(100)
    audio.evaluate("a => { a.currentTime = 1.5; }")
    leader.fill("#qa-mark-note", "未使用规范开头语")
    leader.click("#qa-mark")
    expect(leader.locator("#qa-marks")).to_contain_text("0:01 未使用规范开头语")
    for key, val in {
        "greeting": "10",
        "accuracy": "28",
        "attitude": "22",
        "script": "14",
        "order": "15",
    }.items():
        leader.fill(f"#score-{key}", val)
    leader.fill("#qa-comment", "整体规范，开头语缺失")
    leader.click("#qa-save")
    expect(leader.locator(".flash.ok")).to_contain_text("评分已保存")
    expect(leader.locator("#qa-marks")).to_contain_text("未使用规范开头语")
    shot(leader, "appraisal-inspection", full_page=True)

    # the month's run ranks the agents
    leader.goto(f"/appraisal/rankings?population=agent&period={period}")
    leader.click("#score-run")
    expect(leader.locator(".flash.ok")).to_contain_text("已评分")
    expect(leader.locator("#ranking-table")).to_contain_text("王晓燕")
    expect(leader.locator("#ranking-table")).to_contain_text("李明")
    leader.wait_for_selector("#ranking-chart canvas")
    shot(leader, "appraisal-ranking-agents", full_page=True)

    # units: score and publish
    leader.goto(f"/appraisal/rankings?population=unit&period={period}")
    leader.click("#score-run")
    expect(leader.locator(".flash.ok")).to_contain_text("已评分")
    leader.click("#publish-run")
    expect(leader.locator(".flash.ok")).to_contain_text("已发布")

    # a unit sees only itself and objects
    unit = new_page()
    login(unit, "taxi")
    unit.goto(f"/appraisal/rankings?population=unit&period={period}")
    expect(unit.locator("#ranking-table tbody tr")).to_have_count(1)
    expect(unit.locator("#ranking-table")).to_contain_text("出租汽车管理所")
    unit.click("#ranking-table a")
    expect(unit.locator("#card-table")).to_contain_text("签收及时率")
    before = float(unit.locator("#card-total").inner_text())
    unit.select_option("#o-item", "sign_on_time_rate")
    unit.fill("#o-text", "该件签收超时系平台故障所致")
    unit.click("#objection-form button[type=submit]")
    expect(unit.locator(".flash.ok")).to_contain_text("申诉已提交")
    shot(unit, "appraisal-unit-card", full_page=True)

    # the leader decides: upheld, +3
    leader.goto("/appraisal/objections")
    form = leader.locator("#objections-table tr", has_text="平台故障").locator("form")
    form.locator("select[name=decision_kind]").select_option("upheld")
    form.locator("input[name=points]").fill("3")
    form.locator("input[name=decision]").fill("核实为平台故障，予以更正")
    form.locator("button").click()
    expect(leader.locator(".flash.ok")).to_contain_text("更正 +3 分")
    unit.reload()
    expect(unit.locator("#card-total")).to_have_text(f"{before + 3:.2f}")

    # Excel export holds the screen's numbers
    leader.goto(f"/appraisal/rankings?population=unit&period={period}")
    names = leader.locator("#ranking-table tbody td:nth-child(2)").all_inner_texts()
    totals = leader.locator("#ranking-table tbody strong").all_inner_texts()
    with leader.expect_download() as dl:
        leader.click("#export-ranking")
    ws = load_workbook(io.BytesIO(Path(dl.value.path()).read_bytes())).active
    header = [c.value for c in ws[3]]
    rows = list(ws.iter_rows(min_row=4, values_only=True))
    assert [r[1] for r in rows] == names
    assert [f"{r[header.index('总分')]:.2f}" for r in rows] == totals
    assert re.search(r"考核排名（已发布", ws["A1"].value)
    shot(leader, "appraisal-ranking-units", full_page=True)
