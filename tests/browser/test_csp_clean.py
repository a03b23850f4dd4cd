"""Every screen works under the page's Content-Security-Policy (script-src 'self'): no inline
handler, no javascript: link, no script error. The merge dialog's suggested numbers and the 返回
links were once inline and silently did nothing; here a user clicks them."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import login, shot


def _watch(page: Page) -> list[str]:
    problems: list[str] = []
    page.on(
        "console",
        lambda m: problems.append(f"{page.url}: {m.text}")
        if m.type == "error" and "Content Security Policy" in m.text
        else None,
    )
    page.on("pageerror", lambda e: problems.append(f"{page.url}: {e}"))
    return problems


def _order(**fields):
    from tests.browser.test_desk import _order as make

    return make("pending_review", **fields)


def test_every_menu_screen_of_each_role_runs_under_the_csp(new_page, live_node):
    number = _order().number
    for user in ("leader", "admin", "taxi", "editor"):
        page = new_page()
        problems = _watch(page)
        login(page, user)
        links = page.locator("header.topbar nav a[href^='/'], nav.admin-side a[href^='/']")
        paths = sorted({h for h in links.evaluate_all("els => els.map(e => e.getAttribute('href'))")})
        if user == "admin":
            page.goto("/admin/")
            more = page.locator("nav.admin-side a[href^='/']")
            paths = sorted(set(paths) | set(more.evaluate_all("els => els.map(e => e.getAttribute('href'))")))
        assert len(paths) >= 3, (user, paths)
        for path in [*paths, f"/orders/{number}"]:
            page.goto(path)
            page.wait_for_load_state("load")
        assert problems == [], problems


def test_merge_suggestion_fills_the_master_number_and_back_returns(new_page, live_node):
    first = _order(content="南京南站出租车司机拒载去江宁，态度恶劣，要求处理。", caller_phone="13900001111")
    second = _order(content="南京南站出租车司机拒载去江宁，态度很差，要求处理。", caller_phone="13900001111")
    page = new_page()
    problems = _watch(page)
    login(page, "review")
    page.goto("/queues")
    page.goto(f"/orders/{second.number}")
    page.click("button[data-dialog='dlg-merge']")
    suggestion = page.locator(f"#dlg-merge a[data-fill-value='{first.number}']")
    suggestion.click()
    expect(page.locator("#merge-master")).to_have_value(first.number)
    shot(page, "csp-merge-suggestion")
    page.locator("#dlg-merge button[data-close]").first.click()
    page.click("a[data-back]")
    page.wait_for_url(lambda url: url.rstrip("/").endswith("/queues"))
    assert problems == [], problems
