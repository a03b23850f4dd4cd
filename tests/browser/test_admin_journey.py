"""The administrator's journey in the real browser: a unit and a user made on the screens, the user
signs in, the administrator disables them and their open session ends at once."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import login, shot

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_admin_creates_unit_and_user_then_disables_them(new_page):
    admin = new_page()
    login(admin, "admin")
    expect(admin).to_have_url(re.compile(r"/admin/$"))
    expect(admin.locator("h1")).to_contain_text("运行管理")

    # a new handling unit under 交通运输局
    admin.click("text=承办单位")
    admin.fill("#n-code", "YZK")
    admin.fill("#n-name", "运输管理科")
    admin.select_option("#n-parent", "JTJ")
    admin.fill("#n-region", "320102")
    admin.click("#unit-new button[type=submit]")
    expect(admin.locator(".flash.ok")).to_contain_text("已新建承办单位 YZK")
    admin.fill("#c-name", "钱主任")
    admin.fill("#c-phone", "025-83001234")
    admin.click("text=添加联系人")
    expect(admin.locator("table.list").first).to_contain_text("钱主任")
    admin.goto("/admin/units")
    expect(admin.locator("#unit-tree")).to_contain_text("运输管理科")
    shot(admin, "admin-units", full_page=True)

    # a user of that unit with the unit-staff role
    admin.goto("/admin/users")
    admin.click("text=新建用户")
    expect(admin.locator("h1")).to_contain_text("新建用户")
    admin.fill("#username", "qian")
    admin.fill("#display_name", "钱科长")
    admin.fill("#password", "qian-pass-2026")
    admin.select_option("#unit", label="YZK 运输管理科")
    admin.check("input[name=roles][value=unit_staff]")
    admin.keyboard.press("Enter")
    expect(admin.locator(".flash.ok")).to_contain_text("已新建用户 qian")
    shot(admin, "admin-user", full_page=True)

    # the user signs in (another browser) and lands on the unit desk
    user = new_page()
    login(user, "qian", "qian-pass-2026")
    expect(user).to_have_url(re.compile(r"/unit$"))
    expect(user.locator(".who")).to_contain_text("钱科长")

    # the administrator disables the account: confirm dialog, then the session ends
    admin.once("dialog", lambda d: d.accept())
    admin.click("#op-disable")
    expect(admin.locator(".flash.ok")).to_contain_text("已停用 qian")
    expect(admin.locator("#user-status")).to_have_text("停用")
    user.reload()
    expect(user).to_have_url(re.compile(r"/login"))
    user.fill("#username", "qian")
    user.fill("#password", "qian-pass-2026")
    user.click("button[type=submit]")
    expect(user.locator(".flash.error")).to_contain_text("用户名或密码错误")

    # the audit log shows what happened
    admin.goto("/audit?target=qian")
    expect(admin.locator("#audit-table")).to_contain_text("停用账号")
    expect(admin.locator("#audit-table")).to_contain_text("新建用户")
    shot(admin, "admin-audit", full_page=True)


def test_calendar_and_settings_screens(new_page):
    page = new_page()
    login(page, "admin")
    page.goto("/admin/calendar?year=2026")
    expect(page.locator("#cal-year .cal-month")).to_have_count(12)
    shot(page, "admin-calendar", full_page=True)
    page.goto("/admin/calendar?year=2027")
    expect(page.locator(".flash.error")).to_contain_text("尚未包含2027年")
