"""The 消息 badge in a real browser: a notice sent while the page is open shows up without a reload
(push channel), the inbox lists it, and opening it records the read receipt."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from node import db
from node.auth.models import User
from node.notices import service as notices
from node.notices.models import Notice
from tests.browser.conftest import LiveNode, login, shot

pytestmark = [pytest.mark.browser]


def test_badge_updates_live_and_inbox_marks_read(new_page, live_node: LiveNode) -> None:  # type: ignore[no-untyped-def]
    page: Page = new_page()
    login(page, "dispatch")
    page.goto("/queues", wait_until="domcontentloaded")
    badge = page.locator("#notice-count")
    # a locator, not wait_for_function: the page's CSP forbids the eval a polled predicate needs
    expect(page.locator("body")).to_have_attribute("data-push-state", "open")
    with db.connection():
        user = User.get(User.username == "dispatch")
        before = notices.unread_count(user.id)
        notices.notify("return", "工单被退回：非本单位职责", users=[user.id], link="/notices", ref="t:badge")
    expect(badge).to_have_text(str(before + 1), timeout=8_000)  # no reload: the push event did it
    shot(page, "notices-badge")
    page.click("#notice-badge")
    expect(page.locator("#notice-table")).to_contain_text("工单被退回：非本单位职责")
    shot(page, "notices-inbox")
    page.locator("#notice-table tr", has_text="工单被退回").locator("button").click()
    expect(badge).to_have_text(str(before), timeout=8_000) if before else expect(badge).to_be_hidden()
    with db.connection():
        assert Notice.get(Notice.ref == "t:badge").read_at is not None
