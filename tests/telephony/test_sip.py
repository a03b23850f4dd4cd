"""End-to-end telephony with real SIP peers on 127.0.0.1: PJSUA2 callers and agent softphones,
Kamailio (registrar + dispatcher) and two engine processes sharing a throwaway SQLite database."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node import db
from node.auth.service import SYSTEM, actor_for
from node.errors import Conflict
from node.intake import service as intake
from node.push import service as push
from node.telephony import audio, control, floor, service
from node.telephony.models import (
    Agent,
    AgentStateLog,
    Call,
    CallbackTask,
    CallEvent,
    CallLeg,
    PhoneRating,
    Recording,
)
from tests import factories
from tests.telephony.harness import Stack, UserAgent, agent_password, wait_until

pytestmark = [
    pytest.mark.sip,
    pytest.mark.slow,
    pytest.mark.skipif(
        not shutil.which("kamailio") and not Path("/usr/sbin/kamailio").exists(), reason="kamailio 未安装"
    ),
]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    st = Stack(tmp_path_factory.mktemp("sip"), engines=2, callback_offer_s=3, ring_timeout_s=3)
    try:
        st.start()
        yield st
    finally:
        st.stop()


def q(fn: Any) -> Any:
    with db.connection():
        return fn()


def make_agent(stack: Stack, ext: str, ready: bool = True, role: str = "agent") -> Agent:
    """Enrol an agent (or a shift leader's seat) with the test SIP password and export the
    credentials to Kamailio."""

    def go() -> Agent:
        user = factories.make_user(role)
        agent = service.enroll_agent(
            SYSTEM, user.id, ext, password=agent_password(ext), realm=stack.cfg.sip_realm
        )
        if ready:  # before its softphone registers: engine-1's registration poll may already
            # have marked the new extension unregistered, which only asks for confirmation
            service.set_agent_state(SYSTEM, agent.id, "ready", confirm_unregistered=True)
        return agent

    agent = q(go)
    stack.sync_credentials()
    return agent  # type: ignore[no-any-return]


def all_offline() -> None:
    """Every agent offline, once no call of an earlier test still rings or talks to one (an agent
    left talking would go ready after its wrap-up and take the next test's call)."""
    busy = lambda: q(lambda: Agent.select().where(Agent.state.in_(("ringing", "talking"))).exists())  # noqa: E731
    wait_until(lambda: not busy(), 30, "earlier calls to end")

    def go() -> None:
        for a in Agent.select():
            if a.state not in ("ringing", "talking"):
                service.set_agent_state(SYSTEM, a.id, "offline")

    q(go)


def call_of(caller_number: str) -> Call:
    from node import pii

    digest = pii.codec().digest(caller_number)
    return wait_until(  # type: ignore[no-any-return]
        lambda: q(lambda: Call.select().where(Call.caller_digest == digest).order_by(Call.id.desc()).first()),
        10,
        "call row",
    )


def dial_in(stack: Stack, name: str, cid: str, number: str, **opts: Any) -> tuple[UserAgent, Call]:
    """A citizen `number` calls 12328 from a new UA `name` (call id `cid`); returns once the call
    is answered, logged and its greeting has started."""
    caller = stack.ua(name)
    caller.send(op="call", id=cid, uri=stack.uri, **{"from": number}, **opts)
    caller.wait(lambda e: e["ev"] == "confirmed", 5)
    call = call_of(number)
    time.sleep(0.8)
    return caller, call


def query_order(caller: UserAgent, cid: str, call: Call, number: str, code: str) -> dict[str, Any]:
    """In the IVR: key 4 (工单查询), the order number and its query code; returns the lookup's event."""
    caller.send(op="dtmf", id=cid, digits="4")
    time.sleep(0.6)
    caller.send(op="dtmf", id=cid, digits=number + "#")
    time.sleep(0.3 * len(number) + 0.5)
    caller.send(op="dtmf", id=cid, digits=code + "#")
    found = wait_until(
        lambda: q(
            lambda: [
                e.data
                for e in CallEvent.select().where(CallEvent.call == call, CallEvent.kind == "ivr")
                if e.data and "found" in e.data
            ]
        ),
        30,
        "lookup",
    )
    return found[0]  # type: ignore[no-any-return]


def finalized_recording(call: Call) -> Recording:
    return wait_until(  # type: ignore[no-any-return]
        lambda: q(
            lambda: Recording.get_or_none((Recording.call == call) & (Recording.status == "finalized"))
        ),
        10,
        "recording",
    )


def kinds(call: Call) -> list[str]:
    return q(
        lambda: [e.kind for e in CallEvent.select().where(CallEvent.call == call).order_by(CallEvent.seq)]
    )


def ended(uuid: str, timeout: float = 20) -> Call:
    return wait_until(  # type: ignore[no-any-return]
        lambda: q(lambda: Call.get_or_none((Call.uuid == uuid) & (Call.state == "ended"))),
        timeout,
        "call end",
    )


def event(call: Call, kind: str) -> CallEvent | None:
    return q(
        lambda: CallEvent.select()
        .where(CallEvent.call == call, CallEvent.kind == kind)
        .order_by(CallEvent.seq)
        .first()
    )


def offer_started(call: Call) -> bool:
    return any((e.data or {}).get("action") == "callback_offer" for e in q(lambda: list(call.events)))


def test_call_walks_ivr_queue_agent_rating_and_recording_holds_both_tones(stack: Stack) -> None:
    all_offline()
    agent = make_agent(stack, "8001")
    user_id = agent.user_id
    agents = stack.agent_ua({"8001": {"answer_after": 1.0, "talk": 3.0, "tone": 1400}}, "agents1")
    caller, call = dial_in(stack, "caller1", "c1", "13800138001", tone=1000)
    caller.send(op="dtmf", id="c1", digits="1")  # 投诉举报 → queue
    agents.wait(lambda e: e["ev"] == "confirmed", 10)
    wait_until(lambda: event(call, "agent_hangup"), 10, "agent hangup")
    time.sleep(0.5)
    caller.send(op="dtmf", id="c1", digits="2")  # rating: 满意
    caller.wait(lambda e: e["ev"] == "disconnected", 15)
    done = ended(call.uuid)

    seq = kinds(call)
    for k in (
        "incoming",
        "ivr_key",
        "queued",
        "offered",
        "answered",
        "bridged",
        "agent_hangup",
        "rated",
        "ended",
    ):
        assert k in seq, (k, seq)
    assert seq.index("queued") < seq.index("offered") < seq.index("answered") <= seq.index("bridged")
    assert done.business == "1" and done.end_reason == "completed" and done.agent_id == agent.id
    assert done.queued_at and done.answered_at and done.bridged_at and done.ended_at
    rating = q(lambda: PhoneRating.get(PhoneRating.call == done))
    assert (rating.score, rating.agent_id) == (2, agent.id)
    states = q(
        lambda: [
            r.state
            for r in AgentStateLog.select().where(AgentStateLog.agent == agent.id).order_by(AgentStateLog.id)
        ]
    )
    assert states[-3:] == ["ringing", "talking", "wrapup"]

    rec = finalized_recording(done)
    path = stack.cfg.recordings_dir / rec.path
    assert audio.inspect(path).format_tag == audio.FORMAT_ALAW
    # a normal hang-up: the engine's own header, not a repair, and the stored length is the file's
    assert rec.note == "" and not audio.needs_repair(path)
    assert (
        rec.duration_s == round(audio.inspect(path).duration_s, 3) and rec.size_bytes == path.stat().st_size
    )
    # the call leg: queued, answered by this agent, handled, wrap-up planned
    leg = q(lambda: CallLeg.get(CallLeg.call == done))
    assert (leg.origin, leg.queue, leg.outcome, leg.agent_id, leg.user_id) == (
        "ivr",
        "1",
        "answered",
        agent.id,
        user_id,
    )
    assert leg.wait_s is not None and leg.talk_s and leg.talk_s > 2 and leg.wrapup_s == stack.cfg.wrapup_s
    assert leg.offers == 1 and leg.day == done.started_at.date()
    rate, samples = audio.read_samples(path)
    bridged = event(done, "bridged")
    started = q(lambda: Recording.get(Recording.call == done).started_at)
    offset = (bridged.at - started).total_seconds()
    talk = samples[int((offset + 0.5) * rate) : int((offset + 2.5) * rate)]
    assert len(talk) > rate
    assert audio.band_level(talk, rate, 1000) > 0.15, "caller tone missing from recording"
    assert audio.band_level(talk, rate, 1400) > 0.15, "agent tone missing from recording"
    before = samples[: int(max(0.1, offset - 1.5) * rate)]
    assert audio.band_level(before, rate, 1400) < 0.05, "agent tone recorded before the bridge"

    # screen-pop for the agent who took it, and the intake record carrying the call id
    service.register_hooks()  # what the web app's init_app does
    user = q(lambda: Agent.get_by_id(agent.id).user)
    pushed = q(lambda: [e for e in push.after(0) if e.kind == "screen_pop" and e.topic == f"user:{user.id}"])
    assert [e.data["call"] for e in pushed] == [done.uuid]
    pop = q(lambda: floor.call_pop(actor_for(user), done.uuid))
    assert pop["caller"] == "13800138001" and pop["business_label"] == "投诉举报"
    contact = q(
        lambda: intake.create_contact(
            actor_for(user),
            {"caller_phone": "13800138001", "call_id": done.uuid, "recording_ref": pop["recording_ref"]},
        )
    )
    # the hooks linked the record to the call (and its recording) inside create_contact
    assert q(lambda: Call.get_by_id(done.id).contact_id) == contact.id
    assert q(service.sync_links) == 0
    assert q(lambda: Recording.get(Recording.call == done).contact_id) == contact.id
    agents.close()
    caller.close()


def test_order_progress_query_reads_back_state(stack: Stack) -> None:
    from node.workflow import states

    order = q(lambda: factories.make_order())
    label = states.label(order.state)
    caller, call = dial_in(stack, "caller2", "c2", "13800138002")
    found = query_order(caller, "c2", call, order.number, order.query_code)
    assert found == {"order_number": order.number, "found": True, "label": label}
    # a wrong query code is refused
    caller.send(op="dtmf", id="c2", digits="4")
    time.sleep(0.6)
    caller.send(op="dtmf", id="c2", digits=order.number + "#")
    time.sleep(0.3 * len(order.number) + 0.5)
    caller.send(op="dtmf", id="c2", digits="0000#")
    wait_until(
        lambda: q(
            lambda: [
                e
                for e in CallEvent.select().where(CallEvent.call == call, CallEvent.kind == "ivr")
                if e.data and e.data.get("found") is False
            ]
        ),
        30,
        "not found",
    )
    caller.send(op="hangup", id="c2")
    assert ended(call.uuid).end_reason == "caller_hangup"
    caller.close()


def test_agent_who_does_not_answer_is_skipped(stack: Stack) -> None:
    all_offline()
    lazy = make_agent(stack, "8101")
    time.sleep(0.05)
    good = make_agent(stack, "8102")
    agents = stack.agent_ua(
        {"8101": {"answer": False}, "8102": {"answer_after": 0.5, "talk": 1.5, "tone": 1400}}, "agents3"
    )
    caller, call = dial_in(stack, "caller3", "c3", "13800138003")
    caller.send(op="dtmf", id="c3", digits="2")
    wait_until(lambda: event(call, "bridged"), 20, "bridge to second agent")
    assert event(call, "bridged").agent_id == good.id
    no_answer = event(call, "no_answer")
    assert no_answer is not None and no_answer.agent_id == lazy.id
    seq = kinds(call)
    assert seq.index("no_answer") < seq.index("answered")
    assert seq.count("queued") == 2  # back at the head of the queue
    lazy_now = q(lambda: Agent.get_by_id(lazy.id))
    assert (lazy_now.state, lazy_now.reason) == ("not_ready", "振铃未接听")
    caller.send(op="hangup", id="c3")
    ended(call.uuid)
    agents.close()
    caller.close()


def test_caller_hanging_up_in_queue_is_abandoned(stack: Stack) -> None:
    all_offline()
    caller, call = dial_in(stack, "caller4", "c4", "13800138004")
    caller.send(op="dtmf", id="c4", digits="3")
    wait_until(lambda: event(call, "queued"), 5, "queued")
    time.sleep(1.0)
    caller.send(op="hangup", id="c4")
    done = ended(call.uuid)
    assert done.abandoned and done.end_reason == "abandoned"
    assert "abandoned" in kinds(call) and "offered" not in kinds(call)
    leg = q(lambda: CallLeg.get(CallLeg.call == done))
    assert (leg.outcome, leg.answered_at, leg.queue) == ("abandoned", None, "3") and leg.wait_s >= 1.0
    caller.close()


def test_long_wait_leaves_number_then_outbound_callback_reaches_agent(stack: Stack) -> None:
    all_offline()
    caller, call = dial_in(stack, "caller5", "c5", "13800138005")
    caller.send(op="dtmf", id="c5", digits="2")
    wait_until(lambda: offer_started(call), 20, "callback offer")  # after 3 s in the queue
    caller.send(op="dtmf", id="c5", digits="1")
    time.sleep(1.0)
    caller.send(op="dtmf", id="c5", digits="13912345678#")
    caller.wait(lambda e: e["ev"] == "disconnected", 25)
    done = ended(call.uuid)
    assert done.end_reason == "callback_left" and not done.abandoned
    task = q(lambda: CallbackTask.get(CallbackTask.call == done))
    assert (task.status, task.number_masked, task.business) == ("pending", "*******5678", "2")

    agent = make_agent(stack, "8201")
    agents = stack.agent_ua({"8201": {"answer_after": 0.5, "talk": 1.5, "tone": 1400}}, "agents5")
    phones = stack.gateway_ua({"13912345678": {"answer_after": 0.3, "tone": 1000}}, "citizen")
    reply = q(lambda: control.dial_callback(task.id))
    out_uuid = reply["call_id"]
    incoming = phones.wait(lambda e: e["ev"] == "incoming" and e["user"] == "13912345678", 10)
    phones.wait(lambda e: e["ev"] == "confirmed" and e["id"] == incoming["id"], 5)
    time.sleep(1.0)
    phones.send(op="dtmf", id=incoming["id"], digits="1")
    out = q(lambda: Call.get(Call.uuid == out_uuid))
    wait_until(lambda: event(out, "bridged"), 15, "callback bridged")
    assert out.direction == "outbound" and event(out, "bridged").agent_id == agent.id
    assert q(lambda: CallbackTask.get_by_id(task.id)).status == "done"
    phones.close()
    agents.close()
    caller.close()


def test_engine_killed_mid_call_is_recovered_on_restart(stack: Stack) -> None:
    all_offline()
    caller, call = dial_in(stack, "caller6", "c6", "13800138006")
    caller.send(op="dtmf", id="c6", digits="2")
    wait_until(lambda: event(call, "queued"), 5, "queued")
    time.sleep(1.5)
    index = int(call.engine.rsplit("-", 1)[1]) - 1
    stack.kill_engine(index)
    rec = q(lambda: Recording.get(Recording.call == call))
    path = stack.cfg.recordings_dir / rec.path
    assert audio.needs_repair(path)  # the killed writer never wrote the WAV sizes
    stack.start_engine(index)
    done = ended(call.uuid, 10)
    assert done.end_reason == "dropped"
    rec = q(lambda: Recording.get(Recording.call == call))
    assert rec.status == "finalized" and rec.duration_s and rec.duration_s > 1.0
    assert not audio.needs_repair(path)
    caller.close()


def test_register_needs_the_agents_digest_credentials(stack: Stack) -> None:
    make_agent(stack, "8401", ready=False)
    registrar = f"sip:127.0.0.1:{stack.kam_port}"
    ua = stack.ua("registrations")
    ua.send(op="register", user="8401", registrar=registrar)  # no credentials
    ua.send(op="register", user="8499", registrar=registrar, password="not-an-agent-1")  # unknown
    ua.wait(lambda e: e["ev"] == "registered" and e["user"] == "8401", 10)
    ua.wait(lambda e: e["ev"] == "registered" and e["user"] == "8499", 10)
    wrong = stack.ua("registrations-wrong")
    wrong.send(op="register", user="8401", registrar=registrar, password="wrong-password")
    refused = wrong.wait(lambda e: e["ev"] == "registered", 10)
    codes = {e["user"]: e["code"] for e in ua.find(lambda e: e["ev"] == "registered")}
    assert codes == {"8401": 401, "8499": 401} and refused["code"] == 401
    # an outside number cannot be reached through the node without credentials either
    ua.send(op="call", id="toll", uri=f"sip:13700009999@127.0.0.1:{stack.kam_port}", **{"from": "8499"})
    assert ua.wait(lambda e: e["ev"] == "disconnected" and e["id"] == "toll", 10)["code"] == 407
    good = stack.agent_ua({"8401": {}}, "registrations-ok")
    assert good.find(lambda e: e["ev"] == "registered")[0]["code"] == 200
    # a new password replaces the old HA1: the old one no longer registers
    q(
        lambda: service.set_sip_password(
            SYSTEM, Agent.get(Agent.extension == "8401").id, "new-pass-8401", stack.cfg.sip_realm
        )
    )
    stack.sync_credentials()
    old = stack.ua("registrations-old")
    old.send(op="register", user="8401", registrar=registrar, password=agent_password("8401"))
    assert old.wait(lambda e: e["ev"] == "registered", 10)["code"] == 401
    for u in (ua, wrong, good, old):
        assert u.close() == 0


def test_agent_transfers_to_agent_then_queue_then_outside_number(stack: Stack) -> None:
    all_offline()
    first = make_agent(stack, "8301")
    second = make_agent(stack, "8302", ready=False)
    third = make_agent(stack, "8303", ready=False)
    agents = stack.agent_ua(
        {
            "8301": {"answer_after": 0.3, "tone": 1400},
            "8302": {"answer_after": 0.3, "tone": 1400},
            "8303": {"answer_after": 0.3, "tone": 1400},
        },
        "agents7",
    )
    outside = stack.gateway_ua({"13700001111": {"answer_after": 0.3, "talk": 2.5, "tone": 1800}}, "pstn7")
    caller, call = dial_in(stack, "caller7", "c7", "13800138007", tone=1000)
    caller.send(op="dtmf", id="c7", digits="1")
    wait_until(lambda: event(call, "bridged"), 15, "bridged to 8301")

    def transfer(**target: str) -> dict[str, Any]:
        return q(lambda: control.engine_command(call.uuid, {"cmd": "transfer", **target}))  # type: ignore[no-any-return]

    def talking_with(agent_id: int | None) -> Call:
        return wait_until(  # type: ignore[no-any-return]
            lambda: q(
                lambda: Call.get_or_none(
                    Call.uuid == call.uuid, Call.state == "talking", Call.agent == agent_id
                )
            ),
            15,
            f"talking with {agent_id}",
        )

    def transfers() -> list[dict[str, Any]]:
        return q(
            lambda: [
                {**(e.data or {}), "from": e.agent_id}
                for e in CallEvent.select()
                .where(CallEvent.call == call, CallEvent.kind == "transferred")
                .order_by(CallEvent.seq)
            ]
        )

    # to a named agent (must be ready), then to a queue, then to an outside number
    with pytest.raises(Conflict, match="不能转接"):
        transfer(extension="8302")  # 8302 is not ready
    q(lambda: service.set_agent_state(SYSTEM, second.id, "ready"))
    assert transfer(extension="8302")["ok"]
    talking_with(second.id)
    assert q(lambda: Agent.get_by_id(first.id)).state == "wrapup"
    q(lambda: service.set_agent_state(SYSTEM, first.id, "offline"))  # the queue must pick 8303
    q(lambda: service.set_agent_state(SYSTEM, third.id, "ready"))
    assert transfer(queue="2")["ok"]
    done_queue = talking_with(third.id)
    assert done_queue.business == "2"
    time.sleep(0.5)
    assert transfer(number="13700001111")["ok"]
    outside.wait(lambda e: e["ev"] == "confirmed", 10)
    wait_until(lambda: event(call, "agent_hangup"), 15, "outside party hangs up")
    time.sleep(0.5)
    caller.send(op="dtmf", id="c7", digits="1")
    caller.wait(lambda e: e["ev"] == "disconnected", 15)
    done = ended(call.uuid)

    assert [(t["target"], t["from"]) for t in transfers()] == [
        ("agent", first.id),
        ("queue", second.id),
        ("number", third.id),
    ]
    assert transfers()[0]["to_agent_id"] == second.id and transfers()[1]["queue"] == "2"
    assert transfers()[2]["number"] == "*******1111"
    seq = kinds(done)
    assert seq.count("bridged") == 4 and seq.count("answered") == 4
    assert done.end_reason == "completed" and done.agent_id == third.id
    assert q(lambda: PhoneRating.get(PhoneRating.call == done)).score == 1
    states = {a.id: q(lambda a=a: Agent.get_by_id(a.id)).state for a in (second, third)}
    assert all(s in ("wrapup", "ready") for s in states.values()), states
    # the engine stayed in the media path: the outside party's tone is in the recording
    rec = finalized_recording(done)
    rate, samples = audio.read_samples(stack.cfg.recordings_dir / rec.path)
    last_bridge = q(
        lambda: CallEvent.select()
        .where(CallEvent.call == done, CallEvent.kind == "bridged")
        .order_by(CallEvent.seq.desc())
        .first()
    )
    offset = (last_bridge.at - rec.started_at).total_seconds()
    outside_part = samples[int((offset + 0.3) * rate) : int((offset + 1.8) * rate)]
    assert audio.band_level(outside_part, rate, 1800) > 0.1, "outside party missing from recording"
    for ua in (agents, outside, caller):
        assert ua.close() == 0, f"{ua.name} did not exit cleanly"


def test_menu_edit_reaches_new_calls_without_restart(stack: Stack) -> None:
    """An administrator changes the main menu on the screen (the "ivr" counter moves); every
    running engine swaps the menus in within a few seconds and the next caller walks the new one."""
    from node.config import service as config
    from node.telephony import ivr, ivr_admin

    all_offline()
    main = q(lambda: service.load_menus()[ivr.MAIN])
    changed = {
        "prompt": "您好，这里是交通运输服务监督热线。意见建议请按1，人工服务请按0。",
        "options": {
            "1": {"action": "queue", "business": "3", "label": "意见建议"},
            "0": {"action": "agent", "label": "人工服务"},
        },
    }
    ports = stack.control_ports[: stack.cfg.engines]
    try:
        q(lambda: ivr_admin.save(SYSTEM, ivr.MAIN, changed))
        version = q(lambda: (config.forget("ivr"), config.version("ivr"))[1])
        for port in ports:
            wait_until(
                lambda p=port: control.send(p, {"cmd": "ping"}).get("menus_version") == version, 20, "reload"
            )
        caller, call = dial_in(stack, "caller-menu", "cm", "13800138077")
        caller.send(op="dtmf", id="cm", digits="1")
        wait_until(lambda: event(call, "queued"), 10, "queued")
        assert q(lambda: Call.get_by_id(call.id)).business == "3"
        caller.send(op="hangup", id="cm")
        ended(call.uuid)
    finally:
        q(lambda: ivr_admin.save(SYSTEM, ivr.MAIN, {"prompt": main.prompt, "options": main.options}))
