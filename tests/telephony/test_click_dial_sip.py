"""回访外呼 and the IVR query's rating with real SIP peers on 127.0.0.1: Kamailio, an engine
process, the agent's softphone (a PJSUA2 UA registered with its digest password) and the citizen
(a PJSUA2 UA behind the PSTN gateway port). What each side heard is checked in its own recording,
the call's recording in the node's file; attempts, legs and ratings in the node's database."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from node import db
from node.audit.models import AuditEntry
from node.auth.service import actor_for
from node.errors import Conflict
from node.followup import service as followup
from node.followup.models import Dissatisfaction, Rating, VisitAttempt, VisitTask
from node.telephony import audio, control, floor, service
from node.telephony.models import Agent, CallEvent, CallLeg, Recording
from node.workflow import service as workflow
from tests import factories, pg
from tests.conftest import BACKENDS
from tests.telephony.harness import Stack, wait_until
from tests.telephony.test_sip import (
    all_offline,
    dial_in,
    ended,
    event,
    finalized_recording,
    make_agent,
    pytestmark,  # noqa: F401  (sip, slow, kamailio present)
    q,
    query_order,
)


@pytest.fixture(scope="module", params=BACKENDS)
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Kamailio and an engine on a throwaway SQLite file or PostgreSQL database (both backends:
    the engine's DB thread records the attempts through the work-order engine)."""
    url = pg.create_database("t_clickdial") if request.param == "postgresql" else ""
    st = Stack(
        tmp_path_factory.mktemp("clickdial"), engines=1, database_url=url, ring_timeout_s=3, citizen_ring_s=4
    )
    try:
        if url:  # the engines join an existing database: make it first
            st.init_db()
        st.start()
        followup.install()  # closures are sampled for callback in this (the web's) process
        yield st
    finally:
        st.stop()
        if url:
            if hasattr(db.database.obj, "close_all"):  # the pool's connections, before the drop
                db.database.obj.close_all()
            pg.drop_database(url)


def closed_order(phone: str) -> Any:
    return q(lambda: factories.make_order("closed", caller_phone=phone))


def agent_actor(agent: Agent) -> Any:
    return q(lambda: actor_for(Agent.get_by_id(agent.id).user))


def task_of(order: Any) -> VisitTask:
    return q(lambda: VisitTask.get(VisitTask.order == order.id))  # type: ignore[no-any-return]


def heard(ua: Any, pred: Any, t0: float, t1: float) -> np.ndarray:
    """What `ua` heard between two wall-clock times (its own recording of the call)."""
    rec = ua.wait(lambda e: e["ev"] == "recording" and pred(e), 5)
    rate, samples = audio.read_samples(Path(rec["path"]))
    return samples[max(0, int((t0 - rec["t"]) * rate)) : max(0, int((t1 - rec["t"]) * rate))]


def test_click_to_dial_rings_agent_then_citizen_with_two_way_audio_and_a_linked_recording(
    stack: Stack, tmp_path: Path
) -> None:
    all_offline()
    agent = make_agent(stack, "8901")
    seat = stack.agent_ua(
        {"8901": {"answer_after": 0.5, "tone": 1400, "record": str(tmp_path / "agent")}}, "cd-agent"
    )
    citizen = stack.gateway_ua(
        {
            "13900139001": {
                "answer_after": 1.5,
                "talk": 4.0,
                "tone": 1000,
                "record": str(tmp_path / "citizen"),
            }
        },
        "cd-citizen",
    )
    order = closed_order("13900139001")
    actor = agent_actor(agent)
    t_click = time.time()
    reply = q(lambda: control.click_dial(actor, order.number))
    uuid = reply["call_id"]
    rang = seat.wait(lambda e: e["ev"] == "incoming", 10)
    agent_up = seat.wait(lambda e: e["ev"] == "confirmed", 10)
    dialled = citizen.wait(lambda e: e["ev"] == "incoming" and e["user"] == "13900139001", 10)
    citizen_up = citizen.wait(lambda e: e["ev"] == "confirmed", 10)
    # the agent's softphone first; the citizen only once the agent answered (after 0.5 s)
    assert dialled["t"] - rang["t"] >= 0.45 and agent_up["t"] < citizen_up["t"]
    # figures (printed with -s, never asserted): click → the softphone rings; the softphone's
    # 200 OK (sent 0.5 s after it rang) → the citizen's INVITE
    print(
        f"\n回访外呼: click → agent INVITE {1000 * (rang['t'] - t_click):.1f} ms; "
        f"agent answer → citizen INVITE {1000 * (dialled['t'] - rang['t'] - 0.5):.1f} ms"
    )
    citizen.wait(lambda e: e["ev"] == "disconnected", 15)  # the citizen hangs up after 4 s
    seat.wait(lambda e: e["ev"] == "disconnected", 10)
    done = ended(uuid)
    assert (done.direction, done.end_reason, done.order_number, done.agent_id) == (
        "outbound",
        "completed",
        order.number,
        agent.id,
    )
    assert done.caller_masked == "*******9001" and done.bridged_at is not None
    kinds = [
        e.kind
        for e in q(lambda: list(CallEvent.select().where(CallEvent.call == done).order_by(CallEvent.seq)))
    ]
    assert (
        kinds.index("click_dial")
        < kinds.index("click_agent")
        < kinds.index("answered")
        < kinds.index("bridged")
    )

    # two-way audio: each side heard the other's tone while bridged
    t0, t1 = citizen_up["t"] + 0.8, citizen_up["t"] + 3.5
    rate = 8000
    agent_heard = heard(seat, lambda e: "agent" in e["path"], t0, t1)
    citizen_heard = heard(citizen, lambda e: "citizen" in e["path"], t0, t1)
    assert len(agent_heard) > rate and len(citizen_heard) > rate
    assert audio.band_level(agent_heard, rate, 1000) > 0.05, "the agent did not hear the citizen"
    assert audio.band_level(citizen_heard, rate, 1400) > 0.05, "the citizen did not hear the agent"
    # while the citizen's phone rang (1.5 s) the agent heard 「正在为您呼叫市民」, not the citizen
    waiting = heard(seat, lambda e: "agent" in e["path"], agent_up["t"] + 0.4, dialled["t"] + 1.3)
    assert len(waiting) > rate // 2
    assert np.sqrt(np.mean(waiting.astype(np.float64) ** 2)) > 200, "the agent heard silence while it rang"
    assert audio.band_level(waiting, rate, 1000) < 0.05

    # the node's recording: both voices, as long as the conversation, linked to the order
    rec = finalized_recording(done)
    path = stack.cfg.recordings_dir / rec.path
    info = audio.inspect(path)
    talk = (done.ended_at - done.bridged_at).total_seconds()
    assert rec.order_number == order.number and rec.note == "" and not audio.needs_repair(path)
    assert rec.duration_s == round(info.duration_s, 3) and 3.0 < rec.duration_s < 5.5
    assert abs(rec.duration_s - talk) < 0.6, (rec.duration_s, talk)
    rate, samples = audio.read_samples(path)
    middle = samples[int(0.8 * rate) : int(3.0 * rate)]
    assert audio.band_level(middle, rate, 1000) > 0.1 and audio.band_level(middle, rate, 1400) > 0.1

    # the agent records the answers on the callback screen: the attempt carries the call
    body = {"reached": True, "result_satisfaction": "1", "service_satisfaction": "2", "call_id": uuid}
    q(lambda: workflow.perform(actor, order.number, "callback", body))
    attempt = q(lambda: VisitAttempt.get(VisitAttempt.call_id == uuid))
    assert (attempt.outcome, attempt.reached) == ("reached", True) and task_of(order).state == "done"
    assert q(lambda: Recording.get(Recording.call == done)).path == rec.path
    # playable on the order page for the agent who made it
    calls = q(lambda: floor.order_calls(actor, order.number))
    assert [(c["call_id"], c["direction"], c["can_listen"]) for c in calls] == [(uuid, "呼出", True)]
    leg = q(lambda: CallLeg.get(CallLeg.call == done))
    assert (leg.direction, leg.origin, leg.outcome, leg.agent_id) == (
        "outbound",
        "followup",
        "answered",
        agent.id,
    )
    assert leg.talk_s and leg.talk_s > 3.0 and leg.wait_s is not None
    audit = q(lambda: AuditEntry.get(AuditEntry.event == "call.placed", AuditEntry.target == f"call:{uuid}"))
    assert audit.actor_id == actor.user_id
    assert q(lambda: Agent.get_by_id(agent.id)).state in ("wrapup", "ready")
    for ua in (seat, citizen):
        assert ua.close() == 0


def test_agent_not_answering_places_nothing_and_a_busy_citizen_counts_as_a_try(stack: Stack) -> None:
    all_offline()
    agent = make_agent(stack, "8902")
    seat = stack.agent_ua({"8902": {"answer": False}}, "cd-lazy")
    citizen = stack.gateway_ua({"13900139002": {"reject": 486}}, "cd-busy")
    order = closed_order("13900139002")
    actor = agent_actor(agent)
    uuid = q(lambda: control.click_dial(actor, order.number))["call_id"]
    seat.wait(lambda e: e["ev"] == "incoming", 10)
    done = ended(uuid)  # the softphone rang for ring_timeout_s (3 s)
    assert done.end_reason == "not_placed"
    attempt = q(lambda: VisitAttempt.get(VisitAttempt.call_id == uuid))
    assert attempt.outcome == "not_placed" and "未接听" in attempt.note
    assert task_of(order).attempts == 0 and not citizen.find(lambda e: e["ev"] == "incoming")
    assert q(lambda: service.click_dial_state(actor, uuid))["text"].startswith("您的软电话未接听")
    assert q(lambda: Agent.get_by_id(agent.id)).state == "ready"
    assert not q(lambda: CallLeg.select().where(CallLeg.call == done).exists())
    seat.close()

    # now the agent answers, and the citizen's line is busy (486)
    seat = stack.agent_ua({"8902": {"answer_after": 0.3, "tone": 1400}}, "cd-seat2")
    uuid = q(lambda: control.click_dial(actor, order.number))["call_id"]
    citizen.wait(lambda e: e["ev"] == "incoming" and e["user"] == "13900139002", 10)
    seat.wait(lambda e: e["ev"] == "disconnected", 10)  # the engine lets the agent go
    done = ended(uuid)
    assert done.end_reason == "busy"
    attempt = q(lambda: VisitAttempt.get(VisitAttempt.call_id == uuid))
    assert (attempt.outcome, attempt.reached) == ("busy", False)
    task = task_of(order)
    assert task.attempts == 1 and task.state == "pending" and task.next_try_at is not None
    leg = q(lambda: CallLeg.get(CallLeg.call == done))
    assert (leg.direction, leg.origin, leg.outcome, leg.answered_at) == (
        "outbound",
        "followup",
        "unreached",
        None,
    )
    kinds = [
        e.kind
        for e in q(lambda: list(CallEvent.select().where(CallEvent.call == done).order_by(CallEvent.seq)))
    ]
    assert kinds[:3] == ["click_dial", "click_agent", "click_result"] and kinds[-1] == "ended"
    assert not q(lambda: Recording.select().where(Recording.call == done).exists())
    for ua in (seat, citizen):
        assert ua.close() == 0


def test_citizen_not_answering_is_unreached_after_citizen_ring_s(stack: Stack) -> None:
    all_offline()
    agent = make_agent(stack, "8903")
    seat = stack.agent_ua({"8903": {"answer_after": 0.3}}, "cd-seat3")
    citizen = stack.gateway_ua({"13900139003": {"answer": False}}, "cd-away")
    order = closed_order("13900139003")
    actor = agent_actor(agent)
    uuid = q(lambda: control.click_dial(actor, order.number))["call_id"]
    rang = citizen.wait(lambda e: e["ev"] == "incoming", 10)
    gone = citizen.wait(lambda e: e["ev"] == "disconnected", 15)
    assert 3.5 < gone["t"] - rang["t"] < 8  # citizen_ring_s = 4
    done = ended(uuid)
    assert done.end_reason == "no_answer"
    attempt = q(lambda: VisitAttempt.get(VisitAttempt.call_id == uuid))
    assert attempt.outcome == "no_answer" and task_of(order).attempts == 1
    with pytest.raises(Conflict, match="已记录"):  # the screen cannot record this call again
        q(lambda: workflow.perform(actor, order.number, "callback", {"reached": False, "call_id": uuid}))
    for ua in (seat, citizen):
        assert ua.close() == 0


def test_ivr_query_of_a_closed_order_takes_a_rating_by_dtmf(stack: Stack) -> None:
    order = closed_order("13900139004")
    caller, call = dial_in(stack, "rate-q", "rq", "13800138044")
    found = query_order(caller, "rq", call, order.number, order.query_code)
    assert found == {"order_number": order.number, "found": True, "label": "已办结"}
    time.sleep(0.5)
    caller.send(op="dtmf", id="rq", digits="3")  # 不满意
    rated = wait_until(lambda: event(call, "query_rated"), 15, "rating")
    assert rated.data["score"] == 3 and rated.data["recorded"] is True
    rating = q(lambda: Rating.get(Rating.order == order.id))
    assert (rating.source, rating.dimension, rating.value) == ("ivr_query", "result", "3")
    case = q(lambda: Dissatisfaction.get(Dissatisfaction.order == order.id))
    assert (case.source, case.state) == ("ivr_query", "open")
    # queried again in the same call: read out, no second offer, no second rating
    caller.send(op="dtmf", id="rq", digits="4")
    time.sleep(0.6)
    caller.send(op="dtmf", id="rq", digits=order.number + "#")
    time.sleep(0.3 * len(order.number) + 0.5)
    caller.send(op="dtmf", id="rq", digits=order.query_code + "#")
    wait_until(
        lambda: len(
            q(
                lambda: [
                    e
                    for e in CallEvent.select().where(CallEvent.call == call, CallEvent.kind == "ivr")
                    if e.data and e.data.get("found")
                ]
            )
        )
        == 2,
        30,
        "second lookup",
    )
    time.sleep(0.5)
    caller.send(op="dtmf", id="rq", digits="1")  # in the main menu now: 投诉举报 → queue
    wait_until(lambda: event(call, "queued"), 10, "back in the main menu")
    assert q(lambda: Rating.select().where(Rating.order == order.id).count()) == 1
    caller.send(op="hangup", id="rq")
    ended(call.uuid)
    assert caller.close() == 0
