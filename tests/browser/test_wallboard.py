"""The supervisor wallboard in a real browser, updated live over the push channel while real SIP
calls are queued, abandoned and answered (PJSUA2 caller and softphone, Kamailio, one engine)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from node import db
from node.auth.models import User
from node.auth.service import SYSTEM
from node.telephony import service
from tests.browser.conftest import LiveNode, login, shot
from tests.telephony.harness import Stack, agent_password
from tests.telephony.test_sip import all_offline

pytestmark = [
    pytest.mark.browser,
    pytest.mark.sip,
    pytest.mark.slow,
    pytest.mark.skipif(
        not shutil.which("kamailio") and not Path("/usr/sbin/kamailio").exists(), reason="kamailio 未安装"
    ),
]
LIVE = 6_000  # well under the page's own 10 s reload: only a push can make it in time


def _count(page: Page, col: str) -> int:
    return int(page.locator(f'tr[data-queue="3"] td[data-col="{col}"]').inner_text())


def test_wallboard_follows_a_call_queued_abandoned_and_answered(
    new_page, live_node: LiveNode, phone_stack
) -> None:  # type: ignore[no-untyped-def]
    floor_stack: Stack = phone_stack(ring_timeout_s=10, wrapup_s=30)
    all_offline()
    page: Page = new_page()
    login(page, "monitor")
    page.goto("/telephony/wallboard", wait_until="domcontentloaded")
    row = page.locator('tr[data-queue="3"]')
    expect(row.locator('td[data-col="waiting"]')).to_have_text("0")
    answered, abandoned = _count(page, "answered"), _count(page, "abandoned")

    caller = floor_stack.ua("wb-caller")
    caller.send(op="call", id="w1", uri=floor_stack.uri, **{"from": "13800138601"})
    caller.wait(lambda e: e["ev"] == "confirmed", 15)
    page.wait_for_timeout(800)
    caller.send(op="dtmf", id="w1", digits="3")  # 意见建议, nobody ready
    expect(row.locator('td[data-col="waiting"]')).to_have_text("1", timeout=LIVE)
    shot(page, "telephony-wallboard-queued")
    caller.send(op="hangup", id="w1")
    expect(row.locator('td[data-col="abandoned"]')).to_have_text(str(abandoned + 1), timeout=LIVE)
    expect(row.locator('td[data-col="waiting"]')).to_have_text("0", timeout=LIVE)

    with db.connection():
        user = User.get(User.username == "agent2")
        agent = service.enroll_agent(
            SYSTEM, user.id, "8702", password=agent_password("8702"), realm=floor_stack.cfg.sip_realm
        )
        service.set_agent_state(SYSTEM, agent.id, "ready", confirm_unregistered=True)
    floor_stack.sync_credentials()
    softphone = floor_stack.agent_ua({"8702": {"answer_after": 0.3, "tone": 1400}}, "wb-softphone")
    tile = page.locator('.wb-agent[data-extension="8702"]')
    expect(tile).to_have_attribute("data-state", "ready", timeout=LIVE)
    caller2 = floor_stack.ua("wb-caller2")
    caller2.send(op="call", id="w2", uri=floor_stack.uri, **{"from": "13800138602"})
    caller2.wait(lambda e: e["ev"] == "confirmed", 15)
    page.wait_for_timeout(800)
    caller2.send(op="dtmf", id="w2", digits="3")
    softphone.wait(lambda e: e["ev"] == "confirmed", 30)
    expect(tile).to_have_attribute("data-state", "talking", timeout=LIVE)
    expect(row.locator('td[data-col="answered"]')).to_have_text(str(answered + 1), timeout=LIVE)
    expect(tile.locator("button[data-monitor=listen]")).to_be_visible()
    shot(page, "telephony-wallboard-talking")
    caller2.send(op="hangup", id="w2")
    expect(tile).to_have_attribute("data-state", "wrapup", timeout=LIVE)
    assert softphone.close() == 0 and caller.close() == 0 and caller2.close() == 0
