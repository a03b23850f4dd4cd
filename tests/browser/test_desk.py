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
    expect(page.locator("#content")).to_have_value("")  # (CSP: no wait_for_function)
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


def _order(state: str, **fields):
    from node.auth import service as auth
    from node.auth.models import User
    from node.catalog.models import Unit
    from tests import factories

    unit = Unit.get(Unit.code == "CZC")
    staff = auth.actor_for(User.get(User.username == "taxi"))
    order = factories.service.create_order(
        factories.actor("agent"), {**factories.ORDER_DEFAULTS, "submit": False, **fields}
    )
    return factories.walk(
        order,
        state,
        lambda role: staff if role == "unit" else factories.actor(role),
        unit.code,
        factories.PATH_BODIES,
    )


def test_messages_name_fields_as_labelled(new_page, live_node):
    page = new_page()
    page.goto("/public/submit?type=1")
    page.fill("#p-content", "太短")
    page.fill("#p-phone", "12")
    page.evaluate("document.querySelector('#p-content').removeAttribute('required')")
    page.click("form.card button[type=submit]")
    alert = page.locator(".flash.error")
    expect(alert).to_contain_text("具体内容")  # as the portal form labels it
    expect(alert).to_contain_text("联系电话")
    text = alert.inner_text()
    for raw in ("content", "caller_phone", "body", "parts"):
        assert raw not in text, text
    shot(page, "desk-portal-field-labels")
    staff = new_page()
    login(staff, "agent1")
    staff.goto("/workstation")
    staff.fill("#caller_phone", "abc")
    staff.fill("#content", "出租车拒载")
    staff.keyboard.press("Alt+o")
    staff.keyboard.press("Control+Enter")
    error = staff.locator("#intake-error")
    expect(error).to_contain_text("来电号码")
    assert "caller_phone" not in error.inner_text()


def test_split_parent_links_its_parts_and_citizen_sees_them(new_page, live_node):
    from node.workflow import service as workflow
    from node.workflow.models import WorkOrder
    from tests import factories

    parent = _order("pending_review", content="两件事：65路公交车不停站；出租车拒载。")
    workflow.perform(
        factories.actor("shift_leader"),
        parent.number,
        "split",
        {
            "parts": [
                {
                    "content": "65路公交车不停站。",
                    "business_type": "1",
                    "domain": "04",
                    "sub_business": "0401",
                },
                {"content": "出租车拒载。", "business_type": "1", "domain": "04", "sub_business": "0403"},
            ]
        },
    )
    parts = [o.number for o in WorkOrder.select().where(WorkOrder.parent == parent.id).order_by(WorkOrder.id)]
    page = new_page()
    login(page, "leader")
    page.goto(f"/orders/{parent.number}")
    card = page.locator("#related-orders")
    for number in parts:
        expect(card).to_contain_text(number)
    shot(page, "desk-split-parent", full_page=True)
    card.get_by_role("link", name=parts[1]).click()
    expect(page.locator("#related-orders")).to_contain_text(parent.number)
    citizen = new_page()
    citizen.goto("/public/query")
    citizen.fill("#q-number", parent.number)
    citizen.fill("#q-code", parent.query_code)
    citizen.click("form.card button[type=submit]")
    expect(citizen.locator("#split-parts")).to_contain_text(parts[0])
    expect(citizen.locator("#split-parts")).to_contain_text("拆分为 2 件")
    shot(citizen, "desk-portal-split", full_page=True)


def test_unit_staff_reveal_the_number_in_one_click(new_page, live_node):
    from node.audit.models import AuditEntry

    order = _order("handling", caller_phone="13955551234")
    page = new_page()
    login(page, "taxi")
    page.goto(f"/orders/{order.number}")
    expect(page.locator("body")).not_to_contain_text("13955551234")
    page.click("#reveal-phone")
    tel = page.locator("#phone-reveal a.tel").first
    expect(tel).to_have_text("13955551234")
    assert tel.get_attribute("href") == "tel:13955551234"
    shot(page, "desk-phone-revealed")
    assert (
        AuditEntry.select()
        .where(AuditEntry.event == "pii.phone_viewed", AuditEntry.target == order.number)
        .count()
        == 1
    )


def test_portal_photo_reaches_the_order_as_a_download(new_page, live_node, tmp_path):
    from tests.files.conftest import png_bytes

    photo = tmp_path / "现场照片.png"
    photo.write_bytes(png_bytes())
    citizen = new_page()
    citizen.goto("/public/submit?type=1")
    citizen.select_option("#p-sub", "0403")
    citizen.fill("#p-content", "南京南站出租车拒载，照片为证。")
    citizen.fill("#p-phone", "13812340000")
    citizen.set_input_files("#p-photos", str(photo))
    citizen.click("form.card button[type=submit]")
    number = citizen.locator("#receipt-number").inner_text()
    page = new_page()
    login(page, "leader")
    page.goto(f"/orders/{number}")
    link = page.locator("#attachments a[data-file]")
    expect(link).to_have_text("现场照片.png")
    shot(page, "desk-order-attachments", full_page=True)
    resp = page.request.get(link.get_attribute("href"))
    assert resp.status == 200 and resp.body() == png_bytes()
    assert resp.headers["content-disposition"].startswith("attachment;")
    assert resp.headers["x-content-type-options"] == "nosniff"


def test_admin_rule_prefills_the_dispatch_dialog(new_page, live_node):
    from node.catalog.models import Unit

    gj = Unit.get(Unit.code == "GJJT")
    admin = new_page()
    login(admin, "admin")
    admin.goto("/admin/routing")
    admin.fill("#r-name", "城轨投诉→公交集团")
    admin.select_option("#r-sub", "0402")
    admin.select_option("#r-lead", "GJJT")
    admin.check("#routing-form input[name=assist_units][value=CZC]")
    admin.click("#routing-form button[type=submit]")
    expect(admin.locator("#routing-rules")).to_contain_text("城轨投诉→公交集团")
    shot(admin, "desk-routing-admin", full_page=True)
    order = _order("pending_dispatch", domain="04", sub_business="0402", content="地铁站电梯停运")
    page = new_page()
    login(page, "dispatch")
    page.goto(f"/orders/{order.number}")
    page.click("button[data-action=dispatch]")
    expect(page.locator("#routing-hint")).to_contain_text("城轨投诉→公交集团")
    expect(page.locator("#lead_unit")).to_have_value("GJJT")
    assert page.locator("[data-assist-list] input[value=GJJT]").is_disabled()
    expect(page.locator("[data-assist-list] input[value=CZC]")).to_be_checked()
    page.select_option("#lead_unit", "CZC")
    expect(page.locator("[data-assist-list] input[value=CZC]")).to_be_disabled()
    expect(page.locator("[data-assist-list] input[value=CZC]")).not_to_be_checked()
    shot(page, "desk-dispatch-prefilled")
    assert gj.name
    from node.routing.models import RoutingRule

    RoutingRule.delete().execute()  # the live node is shared by the session's other journeys


def test_archive_queue_in_one_click(new_page, live_node):
    order = _order("visited")
    page = new_page()
    login(page, "leader")
    page.goto("/queues?queue=to_archive")
    button = page.locator(f"button[data-archive='{order.number}']")
    expect(button).to_be_visible()
    shot(page, "desk-archive-queue")
    button.click()
    expect(page.locator(".flash")).to_contain_text("已归档")
    expect(page.locator(f"button[data-archive='{order.number}']")).to_have_count(0)
