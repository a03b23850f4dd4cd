"""外呼回访 in Chromium with real SIP: agent1's softphone (PJSUA2, registered at Kamailio) and the
citizen (PJSUA2 behind the PSTN gateway port). The button warns while the softphone is
unregistered; a click rings the softphone, then the citizen; the screen follows the call live over
the push channel (disabled while it is up, the call id put into the form once the citizen answered,
enabled again when it ended); the saved attempt is linked to the call and its recording."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from node import db
from node.auth import service as auth
from node.auth.models import User
from node.auth.service import SYSTEM
from node.demo import walk
from node.followup.models import VisitAttempt
from node.telephony import service
from node.telephony.models import Agent, Call
from node.workflow import service as workflow
from tests import factories
from tests.browser.conftest import LiveNode, login, shot
from tests.telephony.harness import Stack, agent_password, wait_until
from tests.telephony.test_sip import all_offline

pytestmark = [
    pytest.mark.browser,
    pytest.mark.sip,
    pytest.mark.slow,
    pytest.mark.skipif(
        not shutil.which("kamailio") and not Path("/usr/sbin/kamailio").exists(), reason="kamailio 未安装"
    ),
]

CITIZEN = "13900139077"


def _actor(username: str) -> auth.Actor:
    return auth.actor_for(User.get(User.username == username))


def _registered(extension: str, value: bool) -> bool:
    with db.connection():
        return bool(Agent.get(Agent.extension == extension).sip_registered is value)


def test_click_to_dial_button_follows_the_call_live(new_page, live_node: LiveNode, phone_stack) -> None:  # type: ignore[no-untyped-def]
    stack: Stack = phone_stack(ring_timeout_s=10)
    all_offline()
    people = {"agent": "agent1", "reviewer": "review", "dispatcher": "dispatch", "unit": "taxi"}
    with db.connection():
        user = User.get(User.username == "agent1")
        service.enroll_agent(
            SYSTEM, user.id, "8521", password=agent_password("8521"), realm=stack.cfg.sip_realm
        )
        order = workflow.create_order(
            _actor("agent1"), {**factories.ORDER_DEFAULTS, "caller_phone": CITIZEN, "submit": False}
        )
        number = walk(order, "closed", lambda role: _actor(people[role]), "CZC", factories.PATH_BODIES).number
    stack.sync_credentials()

    page: Page = new_page()
    login(page, "agent1")
    wait_until(lambda: _registered("8521", False), 20, "the node to see the softphone unregistered")
    page.goto(f"/followup/callbacks/{number}")
    button = page.locator("#click-dial")
    expect(page.locator("#click-dial-warning")).to_contain_text("软电话未注册")
    expect(button).to_be_enabled()
    assert CITIZEN not in page.content()  # the number is never on the screen
    shot(page, "followup-click-dial-unregistered")

    softphone = stack.agent_ua({"8521": {"answer_after": 1.5, "tone": 1400}}, "cd-softphone")
    citizen = stack.gateway_ua({CITIZEN: {"answer_after": 1.0, "talk": 4.0, "tone": 1000}}, "cd-citizen")
    wait_until(lambda: _registered("8521", True), 20, "the node to see the softphone registered")
    page.goto(f"/orders/{number}")  # the order page offers the same button
    expect(page.locator("#order-dial #click-dial")).to_be_enabled()
    shot(page, "order-click-dial-button")
    page.goto(f"/followup/callbacks/{number}")
    expect(page.locator("#click-dial-warning")).to_have_count(0)
    button.click()
    expect(page.locator(".flash.ok")).to_contain_text("正在呼叫您的软电话")
    state = page.locator("#dial-state")
    expect(button).to_be_disabled()
    softphone.wait(lambda e: e["ev"] == "incoming", 15)
    expect(state).to_contain_text("通话中（录音中）")  # pushed: agent answered, citizen answered
    with db.connection():
        uuid = Call.get(Call.order_number == number).uuid
    expect(page.locator("#cb-call-id")).to_have_value(uuid)
    expect(state).to_contain_text("*******9077")
    shot(page, "followup-click-dial-talking")
    citizen.wait(lambda e: e["ev"] == "disconnected", 20)
    expect(state).to_contain_text("通话已结束，请填写回访结果并保存")
    expect(button).to_be_enabled()
    expect(page.locator("#click-dial-reason")).to_be_hidden()
    page.check('input[name="result"][value="1"]')
    page.check('input[name="service"][value="2"]')
    page.check('input[name="solved"][value="1"]')
    page.fill("#cb-note", "市民表示满意")
    page.click("#callback-submit")
    expect(page.locator(".flash.ok")).to_contain_text("回访已记录")
    with db.connection():
        attempt = VisitAttempt.get(VisitAttempt.call_id == uuid)
        assert (attempt.outcome, attempt.reached) == ("reached", True)
    page.goto(f"/orders/{number}")
    expect(page.locator(f"#call-{uuid}")).to_contain_text("呼出")
    expect(page.locator(f"#call-{uuid} audio")).to_have_count(1)
    shot(page, "order-click-dial-recording", full_page=True)
    assert softphone.close() == 0 and citizen.close() == 0
