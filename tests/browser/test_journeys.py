"""End-to-end journeys in the real browser, each saving a screenshot into tests/artifacts/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from node.catalog.models import Unit
from node.intake.models import Contact
from node.workflow.models import Assignment, WorkOrder
from tests import factories
from tests.browser.conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NUMBER_RE = re.compile(r"\d{21}")


def take_complaint(page: Page, phone: str, content: str, plate: str = "") -> str:
    """Agent fills the workstation by keyboard and creates an order; returns its number."""
    page.goto("/workstation")
    page.fill("#caller_phone", phone)
    page.fill("#caller_name", "王先生")
    page.keyboard.press("Alt+1")  # 投诉举报
    page.keyboard.press("Alt+c")
    page.keyboard.type("czqc")  # 出租汽车 by pinyin initials
    expect(page.locator("#cat-list li").first).to_contain_text("出租汽车")
    page.keyboard.press("Enter")
    page.keyboard.press("Alt+r")
    page.keyboard.type("xw")  # 玄武区
    expect(page.locator("#region-list li").first).to_contain_text("玄武区")
    page.keyboard.press("Enter")
    if plate:
        page.fill("#respondent_plate", plate)
    page.keyboard.press("Alt+n")
    page.keyboard.type(content)
    page.keyboard.press("Alt+o")  # 生成工单
    page.keyboard.press("Control+Enter")
    banner = page.locator("#intake-result")
    expect(banner).to_contain_text("已生成工单")
    return NUMBER_RE.search(banner.inner_text()).group(0)


def act(page: Page, action: str) -> None:
    page.click(f"#actions [data-action={action}]")


def test_complaint_dispatched_signed_replied_reviewed_closed(new_page, live_node):
    agent = new_page()
    login(agent, "agent1")
    number = take_complaint(
        agent, "13912345678", "晚上在南京站打车，出租车司机拒载并辱骂乘客，要求严肃处理。", "苏A·T8888"
    )
    shot(agent, "journey1-1-agent-workstation")
    order = WorkOrder.get(WorkOrder.number == number)
    assert order.state == "pending_review" and order.channel == "01" and order.sub_business == "0403"
    assert order.region_code == "320102" and order.contact_id is not None
    assert Contact.get_by_id(order.contact_id).order_number == number

    reviewer = new_page()
    login(reviewer, "review")
    reviewer.goto(f"/orders/{number}")
    act(reviewer, "review")
    reviewer.click("#dlg-review button[type=submit]")
    expect(reviewer.locator(".flash.ok")).to_contain_text("审核通过")

    dispatcher = new_page()
    login(dispatcher, "dispatch")
    dispatcher.goto("/queues?queue=to_dispatch")
    dispatcher.click(f"text={number}")
    act(dispatcher, "dispatch")
    dispatcher.select_option("#lead_unit", "CZC")
    dispatcher.check("#dlg-dispatch input[name=assist_units][value=ZFZD]")
    dispatcher.fill("#dispatch-note", "请出租汽车管理所主办，执法支队协办。")
    shot(dispatcher, "journey1-2-dispatch-dialog")
    dispatcher.click("#dlg-dispatch button[type=submit]")
    expect(dispatcher.locator(".flash.ok")).to_contain_text("已分派")
    roles = {
        (a.unit.code, a.role) for a in Assignment.select().join(WorkOrder).where(WorkOrder.number == number)
    }
    assert roles == {("CZC", "lead"), ("ZFZD", "assist")}

    unit = new_page()
    login(unit, "taxi")
    assert "/unit" in unit.url
    row = unit.locator("tr", has_text=number)
    row.locator("button", has_text="签收").click()
    expect(unit.locator(".flash.ok")).to_contain_text("签收")
    # the co-handler signs and reports first: the lead's reply waits for it (issue 12)
    law = new_page()
    staff = factories.make_user("unit_staff", Unit.get(Unit.code == "ZFZD"))
    login(law, staff.username, factories.PASSWORD)
    law.locator("tr", has_text=number).locator("button", has_text="签收").click()
    expect(law.locator(".flash.ok")).to_contain_text("签收")
    law.goto(f"/orders/{number}")
    act(law, "assist_reply")
    law.fill("#assist-content", "执法支队已调取车载视频，拒载属实，已立案。")
    law.click("#dlg-assist_reply button[type=submit]")
    expect(law.locator(".flash.ok")).to_be_visible()

    unit.goto(f"/orders/{number}")
    act(unit, "reply")
    unit.fill("#reply-basic", "经调查，驾驶员拒载属实。")
    unit.fill("#reply-process", "已约谈驾驶员并依法处罚，向乘客致歉。")
    unit.fill("#reply-basis", "《巡游出租汽车经营服务管理规定》第四十六条。")
    unit.click("#dlg-reply button[type=submit]")
    expect(unit.locator(".flash.ok")).to_contain_text("回复")

    reviewer.goto("/queues?queue=replied")
    reviewer.click(f"text={number}")
    act(reviewer, "accept_reply")
    reviewer.click("#dlg-accept_reply button[type=submit]")
    # the next dialog belongs to the page the accepted reply leads to: wait for it, not for time
    expect(reviewer.locator(".flash.ok")).to_contain_text("复核通过")
    act(reviewer, "close")
    reviewer.click("#dlg-close button[type=submit]")
    expect(reviewer.locator(".badge.st-closed")).to_contain_text("已办结")
    expect(reviewer.locator("#timeline")).to_contain_text("复核通过")
    shot(reviewer, "journey1-3-closed-detail", full_page=True)
    assert WorkOrder.get(WorkOrder.number == number).state == "closed"


def test_unit_returns_dispatcher_rejects_then_redispatches(new_page, live_node):
    agent = new_page()
    login(agent, "agent1")
    number = take_complaint(agent, "13800001111", "公交车到站不停，司机不理会乘客招手，已等候四十分钟。")
    reviewer = new_page()
    login(reviewer, "review")
    reviewer.goto(f"/orders/{number}")
    act(reviewer, "review")
    reviewer.click("#dlg-review button[type=submit]")

    dispatcher = new_page()
    login(dispatcher, "dispatch")
    dispatcher.goto(f"/orders/{number}")
    act(dispatcher, "dispatch")
    dispatcher.select_option("#lead_unit", "CZC")
    dispatcher.click("#dlg-dispatch button[type=submit]")
    expect(dispatcher.locator(".flash.ok")).to_contain_text("已分派")

    unit = new_page()
    login(unit, "taxi")
    unit.goto(f"/orders/{number}")
    act(unit, "return")
    unit.select_option("#return-code", "05")  # 非本单位职责
    unit.fill("#return-reason", "反映的是公交车，不属于出租汽车管理所职责，建议转公交集团。")
    unit.click("#dlg-return button[type=submit]")
    expect(unit.locator(".flash.ok")).to_contain_text("已退回")

    dispatcher.goto("/queues?queue=returned")
    expect(dispatcher.locator("#queue-table")).to_contain_text(number)
    shot(dispatcher, "journey2-1-returned-queue")
    dispatcher.click(f"text={number}")
    expect(dispatcher.locator(".flash.info")).to_contain_text("非本单位职责")
    act(dispatcher, "reject_return")
    dispatcher.click("#dlg-reject_return button[type=submit]")  # empty reason: the dialog must refuse
    expect(dispatcher.locator("#dlg-reject_return")).to_be_visible()
    dispatcher.fill("#reject_return-reason", "请先核实车辆性质后再决定是否退回。")
    dispatcher.click("#dlg-reject_return button[type=submit]")
    expect(dispatcher.locator(".flash.ok")).to_contain_text("驳回退回")
    assert WorkOrder.get(WorkOrder.number == number).state == "dispatched"

    # the lead has not signed, so the dispatcher can withdraw and dispatch again to the right unit
    act(dispatcher, "withdraw")
    dispatcher.fill("#withdraw-reason", "核实为公交车辆，改派公交集团。")
    dispatcher.click("#dlg-withdraw button[type=submit]")
    # the page the withdrawal leads to, not the one it was sent from (under load it comes late)
    expect(dispatcher.locator(".flash.ok")).to_contain_text("已撤回")
    act(dispatcher, "dispatch")
    dispatcher.select_option("#lead_unit", "GJJT")
    dispatcher.click("#dlg-dispatch button[type=submit]")
    expect(dispatcher.locator(".flash.ok")).to_contain_text("已分派")
    expect(dispatcher.locator("#timeline")).to_contain_text("驳回退回")
    shot(dispatcher, "journey2-2-redispatched", full_page=True)
    active = [
        (a.unit.code, a.role)
        for a in Assignment.select()
        .join(WorkOrder)
        .where(WorkOrder.number == number, Assignment.active == True)  # noqa: E712
    ]
    assert active == [("GJJT", "lead")]

    bus = new_page()
    login(bus, "bus")
    expect(bus.locator("table.list")).to_contain_text(number)
    shot(bus, "journey2-3-unit-desk")
    taxi_inbox = unit
    taxi_inbox.goto("/unit")
    expect(taxi_inbox.locator("table.list")).not_to_contain_text(number)


def test_agent_answers_a_consultation_without_the_mouse(new_page, live_node):
    page = new_page()
    login(page, "agent2")
    page.goto("/workstation")
    expect(page.locator("#caller_phone")).to_be_focused()
    page.keyboard.type("025-84561234")
    page.keyboard.press("Tab")
    page.keyboard.type("李女士")
    page.keyboard.press("Alt+2")  # 信息咨询
    page.keyboard.press("Alt+c")
    page.keyboard.type("ggqdc")  # 公共汽电车
    expect(page.locator("#cat-list li").first).to_contain_text("公共汽电车")
    page.keyboard.press("Enter")
    expect(page.locator("#category_text")).to_have_value("城市客运 › 公共汽电车")
    page.keyboard.press("Alt+n")
    page.keyboard.type("请问65路公交车首末班时间是几点？")
    page.keyboard.press("Alt+a")  # 即时答复: focus jumps to the answer box
    expect(page.locator("#answer")).to_be_focused()
    page.keyboard.type("已告知：65路首班6:00，末班22:30，节假日不变。")
    page.keyboard.press("Control+Enter")
    banner = page.locator("#intake-result")
    expect(banner).to_contain_text("已即时答复")
    number = NUMBER_RE.search(banner.inner_text()).group(0)
    expect(page.locator("#caller_phone")).to_be_focused()  # ready for the next call
    shot(page, "journey3-consultation-answered")
    order = WorkOrder.get(WorkOrder.number == number)
    assert order.state == "answered" and order.business_type == "2" and order.sub_business == "0401"
    assert "22:30" in order.immediate_answer
    assert Contact.get_by_id(order.contact_id).outcome == "answered"


def _close_through_engine(number: str) -> None:
    """The center handles the citizen's order with the real engine (the staff screens are covered above)."""
    from node.auth import service as auth
    from node.auth.models import User
    from node.workflow import service

    def who(username: str) -> auth.Actor:
        return auth.actor_for(User.get(User.username == username))

    service.perform(who("review"), number, "review", {})
    service.perform(who("dispatch"), number, "dispatch", {"lead_unit": "GLC"})
    service.perform(who("road"), number, "sign", {})
    service.perform(
        who("road"),
        number,
        "reply",
        {
            "basic": "经现场核查，该路段确有坑槽12处。",
            "process": "已于次日完成修补并设置警示标志。",
            "basis": "《公路养护技术规范》。",
        },
    )
    service.perform(who("review"), number, "accept_reply", {})
    service.perform(who("review"), number, "close", {})


def test_citizen_submits_queries_and_rates_after_closure(new_page, live_node):
    page = new_page()
    page.goto("/public/")
    page.click("a.tile >> text=投诉举报")
    page.select_option("#p-sub", "0107")  # 公路 · 养护保通
    page.select_option("#p-region", "320115")  # 江宁区
    page.fill("#p-address", "312国道江宁段")
    page.fill("#p-title", "国道路面坑洼")
    page.fill("#p-content", "312国道江宁段路面坑洼严重，夜间行车非常危险，希望尽快修补。")
    page.fill("#p-name", "张先生")
    page.fill("#p-phone", "13655556666")
    page.click("button[type=submit]")
    number = page.locator("#receipt-number").inner_text().strip()
    code = page.locator("#receipt-code").inner_text().strip()
    assert NUMBER_RE.fullmatch(number) and re.fullmatch(r"\d{6}", code)
    shot(page, "journey4-1-portal-receipt")
    order = WorkOrder.get(WorkOrder.number == number)
    assert order.channel == "02" and order.state == "pending_review" and order.sub_business == "0107"
    assert Contact.get_by_id(order.contact_id).channel == "02"

    page.get_by_role("link", name="查询办理进度").click()
    page.fill("#q-code", code)
    page.click("form.card button[type=submit]")
    expect(page.locator("#progress")).to_contain_text("审核中")
    body = page.content()
    assert "13655556666" not in body and "655****" not in body and "张先生" not in body
    expect(page.locator("#rate-form")).to_have_count(0)

    _close_through_engine(number)
    page.fill("#q-code", code)
    page.click("form.card button[type=submit]")
    expect(page.locator("#progress")).to_contain_text("已办结")
    expect(page.locator("#progress")).to_contain_text("已于次日完成修补")
    page.check("#rate-form input[name=result][value='1']")
    page.check("#rate-form input[name=service][value='2']")
    page.fill("#rate-comment", "修得很快，谢谢。")
    page.click("#rate-form button[type=submit]")
    expect(page.locator(".flash.ok")).to_contain_text("感谢您的评价")
    expect(page.locator("#progress")).to_contain_text("处理结果 非常满意")
    shot(page, "journey4-2-portal-rated", full_page=True)
    order = WorkOrder.get(WorkOrder.number == number)
    assert (order.public_result_satisfaction, order.public_service_satisfaction) == ("1", "2")
