"""The phone bar (话务条) in a real browser with a real call: agent1 signed in on the workstation,
a PJSUA2 softphone registered at Kamailio, a PJSUA2 caller. The bar asks before going ready while
the softphone is unregistered, shows the call (number, timer) and holds / hangs up through the
engine; the bridged call fills the intake form (screen-pop over the push channel)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Page, expect

from node import db, pii
from node.auth.models import User
from node.auth.service import SYSTEM
from node.telephony import service
from node.telephony.models import Agent, Call, CallEvent
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

CALLER = "13800138555"


def _kinds(call_uuid: str) -> list[str]:
    with db.connection():
        call = Call.get(Call.uuid == call_uuid)
        return [e.kind for e in CallEvent.select().where(CallEvent.call == call).order_by(CallEvent.seq)]


def test_agent_goes_ready_takes_holds_and_hangs_up_a_call_from_the_phone_bar(
    new_page, live_node: LiveNode, phone_stack
) -> None:  # type: ignore[no-untyped-def]
    stack: Stack = phone_stack(ring_timeout_s=10, wrapup_s=60)
    all_offline()
    with db.connection():
        user = User.get(User.username == "agent1")
        agent = service.enroll_agent(
            SYSTEM, user.id, "8501", password=agent_password("8501"), realm=stack.cfg.sip_realm
        )
    stack.sync_credentials()

    page: Page = new_page()
    login(page, "agent1")
    page.goto("/workstation", wait_until="domcontentloaded")
    bar = page.locator("#phonebar")
    expect(bar.locator('[data-pb="extension"]')).to_have_text("8501")
    expect(bar.locator('[data-pb="state"]')).to_have_text("离线")
    # engine-1 reports the missing registration; going ready asks first (refused here)
    expect(bar.locator('[data-pb="registered"]')).to_have_text("软电话未注册", timeout=20_000)
    asked: list[str] = []

    def refuse(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", refuse)
    page.keyboard.press("F4")
    for _ in range(50):  # Playwright delivers the dialog while the page is being waited on
        if asked:
            break
        page.wait_for_timeout(200)
    page.remove_listener("dialog", refuse)
    assert asked and "软电话未注册" in asked[0]
    expect(bar.locator('[data-pb="state"]')).to_have_text("离线")

    softphone = stack.agent_ua({"8501": {"answer_after": 0.5, "tone": 1400}}, "softphone")
    expect(bar.locator('[data-pb="registered"]')).to_have_text("软电话已注册", timeout=20_000)
    page.keyboard.press("F4")
    expect(bar.locator('[data-pb="state"]')).to_have_text("就绪")
    expect(page.locator("#caller_phone")).to_have_value("")

    caller = stack.ua("citizen")
    caller.send(op="call", id="c1", uri=stack.uri, tone=1000, **{"from": CALLER})
    caller.wait(lambda e: e["ev"] == "confirmed", 15)
    wait_until(lambda: _call_uuid() is not None, 10, "call row")
    caller.send(op="dtmf", id="c1", digits="1")  # 投诉举报 → queue → agent 8501
    softphone.wait(lambda e: e["ev"] == "confirmed", 30)

    expect(bar.locator('[data-pb="state"]')).to_have_text("通话中", timeout=15_000)
    expect(bar.locator('[data-pb="caller"]')).to_have_text(CALLER)
    expect(page.locator("#caller_phone")).to_have_value(CALLER, timeout=15_000)
    uuid = _call_uuid()
    assert uuid is not None
    expect(page.locator("input[name=call_id]")).to_have_value(uuid)
    expect(page.locator("#channel")).to_have_value("01")
    expect(page.locator("input[name=business_type][value='1']")).to_be_checked()
    expect(bar.locator('[data-pb="call-time"]')).not_to_have_text("00:00", timeout=5_000)
    shot(page, "telephony-phone-bar-call")

    page.keyboard.press("F9")  # hold
    expect(bar.locator('[data-pb="hold"]')).to_be_visible()
    wait_until(lambda: "hold" in _kinds(uuid), 10, "hold event")
    bar.locator('[data-pb-action="hold"]').click()  # take the caller back
    expect(bar.locator('[data-pb="hold"]')).to_be_hidden()
    wait_until(lambda: "unhold" in _kinds(uuid), 10, "unhold event")

    page.keyboard.press("Alt+Shift+X")  # the agent's side hangs up; the caller is asked to rate
    expect(bar.locator('[data-pb="state"]')).to_have_text("话后整理", timeout=15_000)
    wait_until(lambda: "agent_hangup" in _kinds(uuid), 10, "agent hangup")
    softphone.wait(lambda e: e["ev"] == "disconnected", 10)
    caller.send(op="dtmf", id="c1", digits="1")
    caller.wait(lambda e: e["ev"] == "disconnected", 20)
    with db.connection():
        assert Agent.get_by_id(agent.id).state == "wrapup"
    assert softphone.close() == 0 and caller.close() == 0


def _call_uuid() -> str | None:
    digest = pii.codec().digest(CALLER)
    with db.connection():
        call = Call.select().where(Call.caller_digest == digest).order_by(Call.id.desc()).first()
        return call.uuid if call else None
