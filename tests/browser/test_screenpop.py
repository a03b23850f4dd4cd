"""Screen-pop in the real browser: an agent signed in on the workstation gets the caller's number
and call id filled in when a real SIP call (PJSUA2 caller → Kamailio → engine → the agent's
registered softphone) is bridged to their seat. The engine writes into the live node's database;
the workstation subscribes to /telephony/screen-pop (server-sent events)."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from node import db, pii
from node.auth.models import User
from node.auth.service import SYSTEM
from node.telephony import service
from node.telephony.models import Call, CallEvent
from tests.browser.conftest import LiveNode, login, shot
from tests.telephony.harness import Stack, agent_password, wait_until

pytestmark = [
    pytest.mark.browser,
    pytest.mark.sip,
    pytest.mark.slow,
    pytest.mark.skipif(
        not shutil.which("kamailio") and not Path("/usr/sbin/kamailio").exists(), reason="kamailio 未安装"
    ),
]

CALLER = "13800138555"


@pytest.fixture
def phone_stack(live_node: LiveNode, tmp_path: Path) -> Iterator[Stack]:
    """Kamailio and one engine writing into the live node's database."""
    st = Stack(
        tmp_path / "sip",
        engines=1,
        database_url=live_node.settings.database_url,
        data_key=live_node.settings.data_key,
        ring_timeout_s=10,
    )
    try:
        st.start()
        yield st
    finally:
        st.stop()


def test_agent_sees_screen_pop_when_call_is_bridged(
    new_page, live_node: LiveNode, phone_stack: Stack
) -> None:  # type: ignore[no-untyped-def]
    with db.connection():
        user = User.get(User.username == "agent1")
        agent = service.enroll_agent(
            SYSTEM, user.id, "8501", password=agent_password("8501"), realm=phone_stack.cfg.sip_realm
        )
        service.set_agent_state(SYSTEM, agent.id, "ready")
    phone_stack.sync_credentials()
    softphone = phone_stack.agent_ua({"8501": {"answer_after": 0.5, "tone": 1400}}, "softphone")

    page: Page = new_page()
    login(page, "agent1")
    page.goto("/workstation", wait_until="domcontentloaded")
    expect(page.locator("[data-screen-pop]")).to_have_attribute("data-screen-pop", "/telephony/screen-pop")
    expect(page.locator("#caller_phone")).to_have_value("")
    time.sleep(1.0)  # the EventSource is connected (it starts at the newest event)

    caller = phone_stack.ua("citizen")
    caller.send(op="call", id="c1", uri=phone_stack.uri, tone=1000, **{"from": CALLER})
    caller.wait(lambda e: e["ev"] == "confirmed", 10)
    time.sleep(0.8)
    caller.send(op="dtmf", id="c1", digits="1")  # 投诉举报 → queue → agent 8501
    softphone.wait(lambda e: e["ev"] == "confirmed", 15)

    expect(page.locator("#caller_phone")).to_have_value(CALLER, timeout=15_000)
    digest = pii.codec().digest(CALLER)
    with db.connection():
        call = Call.get(Call.caller_digest == digest)
        bridged = CallEvent.get((CallEvent.call == call) & (CallEvent.kind == "bridged"))
    assert bridged.agent_id == agent.id
    expect(page.locator("input[name=call_id]")).to_have_value(call.uuid)
    expect(page.locator("#channel")).to_have_value("01")
    expect(page.locator("input[name=recording_ref]")).to_have_value(f"/telephony/recordings/{call.uuid}")
    expect(page.locator("input[name=business_type][value='1']")).to_be_checked()
    shot(page, "telephony-screen-pop")

    caller.send(op="hangup", id="c1")
    wait_until(
        lambda: _state(call.uuid) == "ended",
        10,
        "call end",
    )
    assert softphone.close() == 0 and caller.close() == 0


def _state(uuid: str) -> str:
    with db.connection():
        return str(Call.get(Call.uuid == uuid).state)
