"""回访外呼 (click-to-dial) and the IVR query's rating without SIP: the web side places the call,
the engine's events (the real event format, fed to `service.record_event`) move it on; attempts,
call legs, agent states, audit, push and the screens (SQLite and PostgreSQL via the `db` fixture).
The SIP round trips are in test_click_dial_sip.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask.testing import FlaskClient

from node import clock
from node.audit.models import AuditEntry
from node.auth.service import SYSTEM, Actor, actor_for
from node.errors import Conflict, PermissionDenied
from node.followup import service as followup
from node.followup.models import Dissatisfaction, Rating, VisitAttempt, VisitTask
from node.push import service as push
from node.settings import current
from node.telephony import config as tconfig
from node.telephony import floor, service
from node.telephony.models import Agent, AgentStateLog, Call, CallEvent, CallLeg
from node.workflow import service as workflow
from node.workflow.models import WorkOrder
from tests import factories
from tests.web.conftest import web_login  # noqa: F401

T0 = dt.datetime(2026, 11, 25, 10, 0)  # a Wednesday


@pytest.fixture(autouse=True)
def _hooks(db: str) -> None:
    followup.install()
    service.register_hooks()


def seat(ext: str, state: str = "ready", registered: bool | None = True) -> tuple[Actor, Agent]:
    user = factories.make_user("agent")
    agent = service.enroll_agent(SYSTEM, user.id, ext, password="seat-pass-1", realm="hotline12328")
    if state == "not_ready":
        service.set_agent_state(SYSTEM, agent.id, "not_ready", "小休")
    elif state != "offline":
        service.set_agent_state(SYSTEM, agent.id, state)
    Agent.update(sip_registered=registered).where(Agent.id == agent.id).execute()
    return actor_for(user), Agent.get_by_id(agent.id)


def closed_order(**overrides: Any) -> WorkOrder:
    order = factories.make_order("closed", **overrides)  # a complaint: always sampled
    assert followup.open_task(order) is not None
    return order


def ev(kind: str, uuid: str, **data: Any) -> None:
    service.record_event({"kind": kind, "call": uuid, "at": clock.now(), **data})


def task_of(order: WorkOrder) -> VisitTask:
    return VisitTask.get(VisitTask.order == order.id)


def test_placing_rings_the_agent_first_audits_and_never_shows_the_number(db: str) -> None:
    actor, agent = seat("8801")
    order = closed_order(confidential=True)
    since = push.last_id()
    with clock.frozen(T0):
        uuid = service.place_click_dial(actor, order.number, "engine-1")
    call = Call.get(Call.uuid == uuid)
    assert (call.direction, call.state, call.engine, call.order_number, call.visit_task) == (
        "outbound",
        "offered",
        "engine-1",
        order.number,
        task_of(order).id,
    )
    assert call.caller_masked == "*******5678" and "13812345678" not in call.caller_cipher
    assert call.agent_id == agent.id
    now = Agent.get_by_id(agent.id)
    assert (now.state, now.reason, now.current_call) == ("ringing", "回访外呼", uuid)
    placed = CallEvent.get(CallEvent.call == call, CallEvent.kind == "click_dial")
    assert placed.data["prev_state"] == "ready" and placed.data["number"] == "*******5678"
    audit = (
        AuditEntry.select().where(AuditEntry.event == "call.placed").order_by(AuditEntry.id.desc()).first()
    )
    assert audit.target == f"call:{uuid}" and audit.actor_id == actor.user_id
    assert audit.details["order_number"] == order.number and "13812345678" not in str(audit.details)
    events = [e for e in push.after(since) if e.kind == service.CLICK_DIAL]
    assert events and events[-1].topic == f"user:{actor.user_id}"
    assert events[-1].data == {"call": uuid, "kind": "click_dial", "state": "offered", "order": order.number}
    # the engine reads the number for itself; the screens only ever get the masked one
    assert service.click_dial_info(uuid) == (agent.id, "8801", "13812345678")
    state = service.click_dial_state(actor, uuid)
    assert state["number"] == "*******5678" and "13812345678" not in str(state)
    assert state["text"] == "正在呼叫您的软电话，请接听"
    # the phone bar shows it as an outbound 回访外呼, the number masked
    bar = floor.phone_bar(actor, tconfig.load(current()))["call"]
    assert (bar["outbound"], bar["business"], bar["caller"]) == (True, "回访外呼", "*******5678")
    # a second click while it rings is refused
    with pytest.raises(Conflict, match="正在通话或振铃"):
        service.place_click_dial(actor, order.number, "engine-1")


def test_refusals_are_chinese_and_an_unregistered_softphone_is_recorded_as_not_placed(db: str) -> None:
    order = closed_order()
    no_seat = factories.actor("agent")
    with pytest.raises(Conflict, match="没有坐席分机"):
        service.place_click_dial(no_seat, order.number, "engine-1")
    offline_phone, agent = seat("8802", registered=False)
    with pytest.raises(Conflict, match="软电话未注册") as err:
        service.place_click_dial(offline_phone, order.number, "engine-1")
    assert err.value.code == "softphone_unregistered"
    attempt = VisitAttempt.get(VisitAttempt.task == task_of(order).id)
    assert (attempt.outcome, attempt.reached, attempt.by_id) == ("not_placed", False, offline_phone.user_id)
    assert task_of(order).attempts == 0 and task_of(order).state == "pending"  # not a try
    assert Agent.get_by_id(agent.id).state == "ready" and not Call.select().exists()
    anonymous = closed_order(anonymous=True)
    ok_actor, _ = seat("8803")
    with pytest.raises(Conflict, match="匿名工单"):
        service.place_click_dial(ok_actor, anonymous.number, "engine-1")
    pending = factories.make_order("accepted")
    with pytest.raises(Conflict, match="没有待回访任务"):
        service.place_click_dial(ok_actor, pending.number, "engine-1")
    leader = factories.actor("unit_staff")
    with pytest.raises(PermissionDenied, match=r"order\.callback"):
        service.place_click_dial(leader, order.number, "engine-1")


def test_reached_call_is_recorded_as_an_outbound_leg_and_the_form_links_the_attempt(db: str) -> None:
    actor, agent = seat("8804")
    order = closed_order()
    with clock.frozen(T0):
        uuid = service.place_click_dial(actor, order.number, "engine-1")
    with clock.frozen(T0 + dt.timedelta(seconds=3)):
        ev("click_agent", uuid, agent_id=agent.id)
    assert Call.get(Call.uuid == uuid).state == "dialing" and Agent.get_by_id(agent.id).state == "talking"
    assert service.click_dial_state(actor, uuid)["text"] == "您已接听，正在呼叫市民"
    since = push.last_id()
    with clock.frozen(T0 + dt.timedelta(seconds=8)):
        ev("click_result", uuid, agent_id=agent.id, outcome="reached", note="市民已接听")
        ev("answered", uuid, agent_id=agent.id)
        ev("bridged", uuid, agent_id=agent.id, recording="2026/11/25/x.wav")
    assert not [e for e in push.after(since) if e.kind == service.SCREEN_POP]  # nothing pops
    with clock.frozen(T0 + dt.timedelta(seconds=68)):
        ev("ended", uuid, agent_id=agent.id, reason="completed", wrapup_s=15)
    leg = CallLeg.get(CallLeg.call == Call.get(Call.uuid == uuid).id)
    assert (leg.direction, leg.origin, leg.outcome, leg.agent_id, leg.user_id) == (
        "outbound",
        "followup",
        "answered",
        agent.id,
        actor.user_id,
    )
    assert (leg.wait_s, leg.talk_s, leg.wrapup_s) == (5.0, 60.0, 15.0)
    assert Agent.get_by_id(agent.id).state == "wrapup"  # ready before it: wrap-up, then ready
    state = service.click_dial_state(actor, uuid)
    assert state["ended"] and state["reached"] and state["outcome"] == "reached"
    assert not VisitAttempt.select().exists()  # the agent records the answers
    body = {"reached": True, "result_satisfaction": "2", "service_satisfaction": "1", "call_id": uuid}
    workflow.perform(actor, order.number, "callback", body)
    attempt = VisitAttempt.get(VisitAttempt.call_id == uuid)
    assert (attempt.outcome, attempt.reached) == ("reached", True)
    assert task_of(order).state == "done"
    assert Call.get(Call.uuid == uuid).order_number == order.number  # its recording is the order's


def test_busy_citizen_counts_as_a_try_and_the_agent_goes_back_to_not_ready(db: str) -> None:
    actor, agent = seat("8805", state="not_ready")
    order = closed_order()
    with clock.frozen(T0):
        uuid = service.place_click_dial(actor, order.number, "engine-1")
        ev("click_agent", uuid, agent_id=agent.id)
    with clock.frozen(T0 + dt.timedelta(seconds=2)):
        ev("click_result", uuid, agent_id=agent.id, outcome="busy", note="对方忙")
        ev("ended", uuid, agent_id=agent.id, reason="busy", wrapup_s=15)
    task = task_of(order)
    attempt = VisitAttempt.get(VisitAttempt.task == task.id)
    assert (attempt.outcome, attempt.reached, attempt.call_id) == ("busy", False, uuid)
    assert task.attempts == 1 and task.state == "pending" and task.next_try_at is not None
    leg = CallLeg.get(CallLeg.call == Call.get(Call.uuid == uuid).id)
    assert (leg.outcome, leg.answered_at, leg.wait_s) == ("unreached", None, 2.0)
    now = Agent.get_by_id(agent.id)
    assert (now.state, now.reason) == ("not_ready", "小休")
    call = Call.get(Call.uuid == uuid)
    assert (call.state, call.end_reason) == ("ended", "busy")
    assert service.click_dial_state(actor, uuid)["text"] == "市民电话占线，已记为未接通"
    # the form cannot record the same call a second time
    with pytest.raises(Conflict, match="已记录"):
        workflow.perform(actor, order.number, "callback", {"reached": False, "call_id": uuid})
    assert task_of(order).attempts == 1


def test_unanswered_retries_run_out_into_unreachable(db: str) -> None:
    actor, agent = seat("8806")
    order = closed_order()
    for i in range(3):  # the default plan: 3 tries
        with clock.frozen(T0 + dt.timedelta(days=i)):
            uuid = service.place_click_dial(actor, order.number, "engine-1")
            ev("click_agent", uuid, agent_id=agent.id)
            ev("click_result", uuid, agent_id=agent.id, outcome="no_answer", note="无人接听（487）")
            ev("ended", uuid, agent_id=agent.id, reason="no_answer", wrapup_s=0)
            service.set_agent_state(SYSTEM, agent.id, "ready")
    assert task_of(order).state == "unreachable" and task_of(order).attempts == 3
    assert [a.outcome for a in VisitAttempt.select().order_by(VisitAttempt.id)] == ["no_answer"] * 3
    with pytest.raises(Conflict, match="没有待回访任务"):
        service.place_click_dial(actor, order.number, "engine-1")


def test_agent_not_answering_or_no_engine_is_not_placed(db: str) -> None:
    actor, agent = seat("8807")
    order = closed_order()
    with clock.frozen(T0):
        uuid = service.place_click_dial(actor, order.number, "engine-1")
        ev(
            "click_result",
            uuid,
            agent_id=agent.id,
            outcome="not_placed",
            note="坐席软电话未接听（408），未外呼",
        )
        ev("ended", uuid, agent_id=agent.id, reason="not_placed", wrapup_s=15)
    assert Agent.get_by_id(agent.id).state == "ready"
    assert not CallLeg.select().exists()  # no call reached the citizen
    with clock.frozen(T0 + dt.timedelta(minutes=1)):
        second = service.place_click_dial(actor, order.number, "engine-1")
        service.click_dial_failed(second, "未外呼：呼叫引擎不可用")
    rows = list(VisitAttempt.select().order_by(VisitAttempt.id))
    assert [(a.outcome, a.call_id) for a in rows] == [("not_placed", uuid), ("not_placed", second)]
    assert task_of(order).attempts == 0
    assert service.click_dial_state(actor, uuid)["text"] == "您的软电话未接听，未外呼（不计回访次数）"
    states = [r.state for r in AgentStateLog.select().where(AgentStateLog.agent == agent.id)]
    assert states[-4:] == ["ringing", "ready", "ringing", "ready"]


def test_ivr_query_offers_and_records_a_rating_once(db: str) -> None:
    order = closed_order()
    open_order = factories.make_order("accepted")
    assert service.order_query(order.number, order.query_code) == ("已办结", True)
    assert service.order_query(open_order.number, open_order.query_code)[1] is False
    assert service.order_query(order.number, "000000") == (None, False)
    with clock.frozen(T0):
        uid = "q" * 32
        ev("incoming", uid, engine="engine-1", caller="13800138011", dialed="12328", answered_at=T0)
        ev("query_rated", uid, order_number=order.number, score=3)
    rating = Rating.get(Rating.order == order.id)
    assert (rating.source, rating.dimension, rating.value) == ("ivr_query", "result", "3")
    case = Dissatisfaction.get(Dissatisfaction.order == order.id)
    assert (case.source, case.state) == ("ivr_query", "open")
    assert service.order_query(order.number, order.query_code)[1] is False  # rated: not offered again
    ev("query_rated", uid, order_number=order.number, score=1)  # a second call: kept once
    assert Rating.select().where(Rating.order == order.id).count() == 1
    logged = [
        e.data for e in CallEvent.select().where(CallEvent.kind == "query_rated").order_by(CallEvent.id)
    ]
    assert [(d["score"], d["recorded"]) for d in logged] == [(3, True), (1, False)]


# ---- screens --------------------------------------------------------------------------------------


def test_callback_screen_and_order_page_show_the_button(
    client: FlaskClient,
    web_login: Any,  # noqa: F811  (tests.web.conftest's sign-in fixture)
) -> None:
    user, csrf = web_login("agent")
    agent = service.enroll_agent(SYSTEM, user.id, "8808", password="seat-pass-1", realm="hotline12328")
    order = closed_order()
    page = client.get(f"/followup/callbacks/{order.number}").get_data(as_text=True)
    assert 'id="click-dial"' in page and "disabled" not in page.split('id="click-dial"')[1].split(">")[0]
    assert "13812345678" not in page
    assert 'id="order-dial"' in client.get(f"/orders/{order.number}").get_data(as_text=True)
    Agent.update(sip_registered=False).where(Agent.id == agent.id).execute()
    page = client.get(f"/followup/callbacks/{order.number}").get_data(as_text=True)
    assert "软电话未注册" in page
    # a click with no engine running: a Chinese message on the screen, the call not placed
    Agent.update(sip_registered=True).where(Agent.id == agent.id).execute()
    resp = client.post(
        f"/followup/callbacks/{order.number}/dial", data={"csrf_token": csrf}, follow_redirects=True
    )
    assert "呼叫引擎未运行，无法外呼" in resp.get_data(as_text=True)
    assert Agent.get_by_id(agent.id).state == "offline" and not Call.select().exists()
    anonymous = closed_order(anonymous=True)  # the order's own refusal comes before the engines'
    resp = client.post(
        f"/followup/callbacks/{anonymous.number}/dial", data={"csrf_token": csrf}, follow_redirects=True
    )
    assert "匿名工单不外呼回访" in resp.get_data(as_text=True)
    # no seat, no button state to read of someone else's call
    other, _ = seat("8809")
    uuid = service.place_click_dial(other, order.number, "engine-1")
    assert client.get(f"/telephony/click-dial/{uuid}").status_code == 403
    page = client.get(f"/followup/callbacks/{order.number}?call={uuid}").get_data(as_text=True)
    assert 'data-call=""' in page
    # a node without telephony ([telephony] enabled = false): no button, callbacks are made by hand

    extra = current().extra
    saved = extra.get("telephony")
    extra["telephony"] = {**(saved or {}), "enabled": False}
    try:
        assert 'id="click-dial"' not in client.get(f"/followup/callbacks/{order.number}").get_data(
            as_text=True
        )
        assert 'id="order-dial"' not in client.get(f"/orders/{order.number}").get_data(as_text=True)
    finally:
        if saved is None:
            extra.pop("telephony", None)
        else:
            extra["telephony"] = saved
