"""Telephony services without SIP: event projections, ACD claims, agent states, menus, recordings,
live state and the web routes (SQLite and PostgreSQL via the `db` fixture)."""

from __future__ import annotations

import datetime as dt
import struct
import uuid as uuidlib
from pathlib import Path
from typing import Any

import pytest

from node import clock, pii
from node.auth.service import SYSTEM, actor_for
from node.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationError
from node.push import service as push
from node.telephony import service, views
from node.telephony.models import Agent, AgentStateLog, Call, CallbackTask, CallEvent, Recording
from tests import factories

T0 = dt.datetime(2026, 3, 2, 9, 0, 0)


def ev(kind: str, call: str, at: dt.datetime, **data: Any) -> None:
    service.record_event({"kind": kind, "call": call, "at": at, **data})


def new_call(at: dt.datetime, engine: str = "engine-1", caller: str = "13800138000") -> str:
    uid = uuidlib.uuid4().hex
    ev("incoming", uid, at, engine=engine, caller=caller, dialed="12328", answered_at=at)
    return uid


def agent(ext: str, ready_at: dt.datetime | None = None) -> Agent:
    user = factories.make_user("agent")
    a = service.enroll_agent(SYSTEM, user.id, ext)
    if ready_at is not None:
        with clock.frozen(ready_at):
            service.set_agent_state(SYSTEM, a.id, "ready")
    return Agent.get_by_id(a.id)


@pytest.fixture
def engines(db: str) -> None:
    with clock.frozen(T0):
        service.engine_started("engine-1", 5070, 5170, 1)
        service.engine_started("engine-2", 5071, 5171, 2)


def test_incoming_stores_caller_encrypted_and_masked(engines: None) -> None:
    with clock.frozen(T0):
        uid = new_call(T0)
    call = Call.get(Call.uuid == uid)
    assert call.caller_masked == "*******8000" and "13800138000" not in call.caller_cipher
    assert call.state == "ivr" and [e.kind for e in call.events] == ["incoming"]


def test_outbound_call_keeps_the_dialled_citizen_number_masked(engines: None) -> None:
    """留号回电: the engine reports the citizen's number as both caller and dialled number; only
    the encrypted copy and masks are stored (an inbound call keeps the hotline number it dialled)."""
    uid = uuidlib.uuid4().hex
    with clock.frozen(T0):
        ev(
            "incoming",
            uid,
            T0,
            engine="engine-1",
            caller="13912345678",
            dialed="13912345678",
            direction="outbound",
            callback_task=1,
        )
    call = Call.get(Call.uuid == uid)
    assert call.direction == "outbound" and call.dialed == call.caller_masked == "*******5678"
    assert pii.codec().reveal(call.caller_cipher) == "13912345678"
    assert Call.get(Call.uuid == new_call(T0)).dialed == "12328"


def test_migration_masks_clear_numbers_of_earlier_outbound_calls(engines: None) -> None:
    import importlib

    from node.db import database

    migration = importlib.import_module("node.migrations.0101_outbound_dialed_masked")
    rows = {
        "clear": ("outbound", "13912345678", "*******5678"),
        "uri": ("outbound", "+8613712345678@10.0.0.1", ""),
        "clicked": ("outbound", "*******4321", "*******4321"),
        "inbound": ("inbound", "12328", "*******8000"),
    }
    for uid, (direction, dialed, masked) in rows.items():
        Call.create(
            uuid=uid,
            direction=direction,
            engine="engine-1",
            dialed=dialed,
            caller_masked=masked,
            started_at=T0,
            state="ended",
        )
    migration.up(None, database)
    got = {c.uuid: c.dialed for c in Call.select().where(Call.uuid.in_(list(rows)))}
    assert got == {"clear": "*******5678", "uri": "*******5678", "clicked": "*******4321", "inbound": "12328"}


def test_longest_idle_agent_gets_head_of_queue_and_no_answer_requeues_at_head(engines: None) -> None:
    agent("8001", T0 - dt.timedelta(minutes=5))
    a2 = agent("8002", T0 - dt.timedelta(minutes=9))
    agent("8003")  # offline, never offered
    with clock.frozen(T0):
        first = new_call(T0)
        ev("queued", first, T0, business="1")
        second = new_call(T0)
        ev("queued", second, T0 + dt.timedelta(seconds=1), business="2")
        offer = service.claim_next("engine-1")
    assert offer is not None and (offer.call_uuid, offer.extension) == (first, "8002")
    assert Agent.get_by_id(a2.id).state == "ringing"
    with clock.frozen(T0 + dt.timedelta(seconds=5)):
        ev("no_answer", first, T0 + dt.timedelta(seconds=5), agent_id=a2.id, status=408)
        offer2 = service.claim_next("engine-1")
    assert Agent.get_by_id(a2.id).state == "not_ready" and Agent.get_by_id(a2.id).reason == "振铃未接听"
    assert offer2 is not None and (offer2.call_uuid, offer2.extension) == (first, "8001")  # head again
    assert Call.get(Call.uuid == first).queue_priority == 1
    assert service.queue_position(second) == 0


def test_claim_skips_calls_of_dead_engines_and_other_engines_calls(engines: None) -> None:
    agent("8001", T0 - dt.timedelta(minutes=1))
    with clock.frozen(T0):
        other = new_call(T0, engine="engine-2")
        ev("queued", other, T0)
        assert service.claim_next("engine-1") is None  # head belongs to engine-2
    with clock.frozen(T0 + dt.timedelta(seconds=30)):  # engine-2 stopped beating
        service.heartbeat("engine-1")
        mine = new_call(T0 + dt.timedelta(seconds=30))
        ev("queued", mine, T0 + dt.timedelta(seconds=30))
        offer = service.claim_next("engine-1")
    assert offer is not None and offer.call_uuid == mine


def test_the_key_after_the_call_rates_the_order_taken_on_it(engines: None) -> None:
    """电话按键 is a rating source of the order (服务态度): 不满意 opens the dissatisfaction case; a
    second phone rating of the same order (a later call about it) is not stored twice."""
    from node.followup.models import Dissatisfaction, Rating

    order = factories.make_order("closed")
    a = agent("8051", T0 - dt.timedelta(minutes=1))
    with clock.frozen(T0):
        for n, score in enumerate((3, 1)):
            uid = new_call(T0, caller=f"1380013805{n}")
            Call.update(order_number=order.number).where(Call.uuid == uid).execute()
            ev("queued", uid, T0, business="1")
            service.claim_next("engine-1")
            ev("answered", uid, T0, agent_id=a.id)
            ev("agent_hangup", uid, T0 + dt.timedelta(seconds=30), agent_id=a.id, wrapup_s=0)
            ev("rated", uid, T0 + dt.timedelta(seconds=32), score=score)
            ev("ended", uid, T0 + dt.timedelta(seconds=33), reason="completed")
            Agent.update(state="ready").where(Agent.id == a.id).execute()
    rows = [(r.source, r.dimension, r.value) for r in Rating.select().where(Rating.order == order.id)]
    assert rows == [("ivr", "service", "3")]
    case = Dissatisfaction.get(Dissatisfaction.order == order.id)
    assert case.state == "open"
    # a call that took no order rates only the agent (PhoneRating), as before
    with clock.frozen(T0):
        uid = new_call(T0, caller="13800138059")
        ev("rated", uid, T0, score=3)
    assert Rating.select().count() == 1


def test_answer_hangup_wrapup_rating_and_abandon(engines: None) -> None:
    a = agent("8001", T0 - dt.timedelta(minutes=1))
    with clock.frozen(T0):
        uid = new_call(T0)
        ev("queued", uid, T0, business="3")
        service.claim_next("engine-1")
        ev("answered", uid, T0 + dt.timedelta(seconds=3), agent_id=a.id)
        ev("bridged", uid, T0 + dt.timedelta(seconds=3), agent_id=a.id)
        ev("agent_hangup", uid, T0 + dt.timedelta(seconds=60), agent_id=a.id, wrapup_s=10)
        ev("rated", uid, T0 + dt.timedelta(seconds=65), score=3)
        ev("ended", uid, T0 + dt.timedelta(seconds=66), reason="completed", wrapup_s=10)
        with pytest.raises(ValidationError):
            ev("rated", uid, T0, score=7)
    call = Call.get(Call.uuid == uid)
    assert (call.state, call.end_reason, call.agent_id) == ("ended", "completed", a.id)
    assert call.ratings[0].score == 3 and call.ratings[0].agent_id == a.id
    row = Agent.get_by_id(a.id)
    assert row.state == "wrapup" and row.wrapup_until == T0 + dt.timedelta(seconds=70)
    log = [
        r.state for r in AgentStateLog.select().where(AgentStateLog.agent == a.id).order_by(AgentStateLog.id)
    ]
    assert log == ["ready", "ringing", "talking", "wrapup"]
    # still in wrap-up at +65 s, available again from +70 s
    with clock.frozen(T0 + dt.timedelta(seconds=65)):
        nxt = new_call(T0 + dt.timedelta(seconds=65))
        ev("queued", nxt, T0 + dt.timedelta(seconds=65))
        assert service.claim_next("engine-1") is None
    with clock.frozen(T0 + dt.timedelta(seconds=71)):
        service.heartbeat("engine-1")
        service.heartbeat("engine-2")
        assert service.claim_next("engine-1") is not None
        ev("abandoned", nxt, T0 + dt.timedelta(seconds=72), agent_id=a.id)
        ev("ended", nxt, T0 + dt.timedelta(seconds=72), reason="abandoned", agent_id=a.id)
    assert Call.get(Call.uuid == nxt).abandoned
    assert Agent.get_by_id(a.id).state == "ready"  # ringing agent freed when the caller left
    kinds = [e.kind for e in CallEvent.select().join(Call).where(Call.uuid == nxt).order_by(CallEvent.seq)]
    assert kinds == ["incoming", "queued", "offered", "abandoned", "ended"]


def test_unknown_event_and_unknown_call_are_refused(engines: None) -> None:
    with pytest.raises(NotFound):
        ev("queued", "nope", T0)
    uid = new_call(T0)
    with pytest.raises(ValidationError):
        ev("exploded", uid, T0)


def test_callback_left_creates_task_with_protected_number(engines: None) -> None:
    uid = new_call(T0)
    ev("queued", uid, T0, business="2")
    ev("callback_left", uid, T0 + dt.timedelta(seconds=70), number="13912345678")
    task = CallbackTask.get()
    assert (task.number_masked, task.status, task.business) == ("*******5678", "pending", "2")
    assert service.begin_callback(task.id)[0] == "13912345678"
    with pytest.raises(InvalidTransition):
        service.begin_callback(task.id)
    with pytest.raises(NotFound):
        service.begin_callback(99999)


def test_agent_state_rules(engines: None) -> None:
    a = agent("8001")
    own = actor_for(a.user)
    other = actor_for(factories.make_user("agent"))
    with pytest.raises(ValidationError):
        service.set_agent_state(own, a.id, "not_ready")  # reason required
    with pytest.raises(ValidationError):
        service.set_agent_state(own, a.id, "talking")
    with pytest.raises(PermissionDenied):
        service.set_agent_state(other, a.id, "ready")
    service.set_agent_state(own, a.id, "not_ready", "培训")
    assert (Agent.get_by_id(a.id).state, Agent.get_by_id(a.id).reason) == ("not_ready", "培训")
    leader = actor_for(factories.make_user("shift_leader"))
    service.set_agent_state(leader, a.id, "ready")
    uid = new_call(T0)
    ev("queued", uid, T0)
    with clock.frozen(clock.now()):
        service.heartbeat("engine-1")
        assert service.claim_next("engine-1") is not None
    with pytest.raises(InvalidTransition):
        service.set_agent_state(own, a.id, "offline")
    with pytest.raises(PermissionDenied):
        service.enroll_agent(own, a.user_id, "8009")
    with pytest.raises(ValidationError):
        service.enroll_agent(SYSTEM, a.user_id, "80a")
    with pytest.raises(Conflict):
        service.enroll_agent(SYSTEM, other.user_id or 0, "8001")


def test_menus_are_validated_data(db: str) -> None:
    admin = actor_for(factories.make_user("admin"))
    assert set(service.load_menus()) == {"main", "other_lines"}
    with pytest.raises(ValidationError) as bad:
        service.save_menu(admin, "main", {"options": {"1": {"action": "menu", "target": "nowhere"}}})
    assert "main.1" in bad.value.details
    with pytest.raises(ValidationError):
        service.save_menu(admin, "main", {"options": {"x": {"action": "repeat"}}})
    with pytest.raises(ValidationError):
        service.save_menu(admin, "main", {"colour": "red"})
    with pytest.raises(PermissionDenied):
        service.save_menu(actor_for(factories.make_user("agent")), "main", {"title": "x"})
    service.save_menu(
        admin,
        "night",
        {"title": "夜间", "prompt": "夜间请按0转人工。", "options": {"0": {"action": "agent"}}},
    )
    menus = service.load_menus()
    assert set(menus) == {"main", "other_lines", "night"} and menus["night"].options["0"]["action"] == "agent"


def _alaw_wav(path: Path, seconds: float, sizes: bool) -> None:
    data = bytes([0xD5]) * int(8000 * seconds)
    fmt = struct.pack("<HHIIHH", 6, 1, 8000, 8000, 1, 8) + b"\x00\x00"
    body = (
        b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data) if sizes else 0)
    )
    riff = struct.pack("<I", 4 + len(body) + len(data) if sizes else 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"RIFF" + riff + b"WAVE" + body + data)


def test_recovery_closes_calls_as_dropped_and_repairs_recordings(engines: None, tmp_path: Path) -> None:
    a = agent("8001", T0 - dt.timedelta(minutes=1))
    uid = new_call(T0)
    ev("recording", uid, T0, action="started", path=f"2026/03/02/{uid}.wav", retention_days=30)
    ev("queued", uid, T0)
    with clock.frozen(T0):
        service.claim_next("engine-1")
    ev("answered", uid, T0, agent_id=a.id)
    broken = new_call(T0)
    ev("recording", broken, T0, action="started", path=f"2026/03/02/{broken}.wav", retention_days=30)
    _alaw_wav(tmp_path / f"2026/03/02/{uid}.wav", 2.5, sizes=False)
    (tmp_path / f"2026/03/02/{broken}.wav").write_bytes(b"garbage")
    counts = service.recover_engine("engine-1", tmp_path)
    assert counts == {"calls": 2, "recordings": 2, "flagged": 1}
    call = Call.get(Call.uuid == uid)
    assert (call.state, call.end_reason) == ("ended", "dropped")
    rec = Recording.get(Recording.call == call)
    assert rec.status == "finalized" and rec.duration_s == pytest.approx(2.5)
    assert Recording.get(Recording.call == Call.get(Call.uuid == broken)).status == "flagged"
    assert Agent.get_by_id(a.id).state == "wrapup"
    assert service.recover_engine("engine-1", tmp_path) == {"calls": 0, "recordings": 0, "flagged": 0}


def test_recording_access_retention_and_links(engines: None, tmp_path: Path) -> None:
    a = agent("8001", T0 - dt.timedelta(minutes=1))
    uid = new_call(T0)
    ev("recording", uid, T0, action="started", path=f"2026/03/02/{uid}.wav", retention_days=30)
    _alaw_wav(tmp_path / f"2026/03/02/{uid}.wav", 1.0, sizes=True)
    ev("queued", uid, T0)
    with clock.frozen(T0):
        service.claim_next("engine-1")
    ev("answered", uid, T0, agent_id=a.id)
    supervisor = actor_for(factories.make_user("supervisor"))
    rec, path = service.recording_file(supervisor, uid, tmp_path)
    assert path.exists() and rec.retain_until == dt.date(2026, 4, 1)
    assert service.recording_file(actor_for(a.user), uid, tmp_path)[1] == path  # the agent who took it
    with pytest.raises(PermissionDenied):
        service.recording_file(actor_for(factories.make_user("agent")), uid, tmp_path)
    with pytest.raises(NotFound):
        service.recording_file(supervisor, "missing", tmp_path)
    service.link_call(uid, contact_id=7, order_number="320100202603021000001")
    assert Recording.get_by_id(rec.id).order_number == "320100202603021000001"
    assert service.purge_expired_recordings(tmp_path, dt.date(2026, 4, 2)) == 1
    assert not path.exists()
    with pytest.raises(NotFound):
        service.recording_file(supervisor, uid, tmp_path)


def test_order_progress_needs_matching_query_code(db: str) -> None:
    from node.workflow import states

    order = factories.make_order()
    assert service.order_progress(order.number, order.query_code) == states.label(order.state)
    wrong = "9" * len(order.query_code) if order.query_code != "9" * len(order.query_code) else "8" * 6
    assert service.order_progress(order.number, wrong) is None
    assert service.order_progress("123", order.query_code) is None
    assert service.order_progress(order.number, "abc") is None


def test_live_state_and_views(engines: None, app: Any, tmp_path: Path) -> None:
    views.init_app(app)
    a = agent("8001", T0 - dt.timedelta(minutes=1))
    uid = new_call(clock.now())
    ev("queued", uid, clock.now(), business="1")
    state = service.live_state()
    assert state["queue_length"] == 1 and state["agents_by_state"]["ready"] == 1

    def login(user: Any) -> tuple[Any, str]:
        c = app.test_client()
        resp = c.post("/api/v1/auth/login", json={"username": user.username, "password": factories.PASSWORD})
        assert resp.status_code == 200
        return c, str(resp.get_json()["csrf_token"])

    client, _ = login(factories.make_user("agent"))
    assert client.get("/telephony/live").status_code == 403
    assert client.get("/telephony/agent/me").get_json() == {"enrolled": False}
    client, _ = login(factories.make_user("supervisor"))
    body = client.get("/telephony/live").get_json()
    assert body["queue_length"] == 1 and body["agents"][0]["extension"] == "8001"
    metrics = client.get("/telephony/metrics").get_data(as_text=True)
    assert "hotline_queue_length 1.0" in metrics and 'hotline_agents{state="ready"} 1.0' in metrics
    # the bridged call is announced on the agent's push topic; the page fetches the pop
    with clock.frozen(clock.now()):
        service.heartbeat("engine-1")
        service.claim_next("engine-1")
    ev("answered", uid, clock.now(), agent_id=a.id)
    ev("bridged", uid, clock.now(), agent_id=a.id)
    pushed = [e for e in push.after(0) if e.kind == "screen_pop"]
    assert [(e.topic, e.data["call"]) for e in pushed] == [(f"user:{a.user_id}", uid)]
    client, csrf = login(a.user)
    pop = client.get(f"/telephony/calls/{uid}/pop").get_json()
    assert pop["caller"] == "13800138000" and pop["call_id"] == uid and pop["channel"] == "01"
    bar = client.get("/telephony/agent/me").get_json()
    assert (
        bar["state"] == "talking" and bar["call"]["call_id"] == uid and bar["call"]["caller"] == "13800138000"
    )
    other, _ = login(factories.make_user("agent"))
    assert other.get(f"/telephony/calls/{uid}/pop").status_code == 403
    assert client.post("/telephony/agent/state", json={"state": "ready"}).status_code == 403  # no CSRF token
    headers = {"X-CSRF-Token": csrf}
    resp = client.post("/telephony/agent/state", json={"state": "not_ready"}, headers=headers)
    assert resp.status_code == 422 and resp.get_json()["details"] == {"reason": "必填"}
    resp = client.post("/telephony/agent/state", json={"state": "ready"}, headers=headers)
    assert resp.status_code == 409  # talking
    assert client.get(f"/telephony/recordings/{uid}").status_code == 404  # no recording for this call


def _talking(a: Agent, at: dt.datetime) -> str:
    uid = new_call(at)
    ev("queued", uid, at, business="1")
    with clock.frozen(at):
        service.heartbeat("engine-1")
        assert service.claim_next("engine-1") is not None
    ev("answered", uid, at + dt.timedelta(seconds=2), agent_id=a.id)
    ev("bridged", uid, at + dt.timedelta(seconds=2), agent_id=a.id)
    return uid


def test_transfers_to_agent_queue_and_number_are_logged_and_keep_first_answer(engines: None) -> None:
    a1 = agent("8001", T0 - dt.timedelta(minutes=2))
    a2 = agent("8002")
    uid = _talking(a1, T0)
    with clock.frozen(T0 + dt.timedelta(seconds=30)):
        service.set_agent_state(SYSTEM, a2.id, "ready")
        offer = service.claim_agent("engine-1", uid, "8002")
        with pytest.raises(Conflict):
            service.claim_agent("engine-1", uid, "8002")  # already ringing
        with pytest.raises(NotFound):
            service.claim_agent("engine-1", uid, "8999")
    t1 = T0 + dt.timedelta(seconds=30)
    ev("transferred", uid, t1, target="agent", from_agent_id=a1.id, agent_id=offer.agent_id, wrapup_s=5)
    assert (Call.get(Call.uuid == uid).state, Agent.get_by_id(a1.id).state) == ("offered", "wrapup")
    ev("answered", uid, t1 + dt.timedelta(seconds=3), agent_id=a2.id)
    call = Call.get(Call.uuid == uid)
    assert (call.state, call.agent_id, call.answered_at) == ("talking", a2.id, T0 + dt.timedelta(seconds=2))
    t2 = t1 + dt.timedelta(seconds=20)
    ev("transferred", uid, t2, target="queue", queue="2", from_agent_id=a2.id, wrapup_s=5)
    ev("queued", uid, t2, business="2", requeue=True)
    call = Call.get(Call.uuid == uid)
    assert (call.state, call.business, call.queue_priority, call.agent_id) == ("queued", "2", 1, None)
    assert Agent.get_by_id(a2.id).state == "wrapup"
    ev("transferred", uid, t2, target="number", number="13700001111", from_agent_id=None)
    with pytest.raises(ValidationError):
        ev("transferred", uid, t2, target="moon")
    logged = [
        (e.data["target"], e.agent_id, e.data.get("to_agent_id"), e.data.get("queue"), e.data.get("number"))
        for e in CallEvent.select().join(Call).where(Call.uuid == uid, CallEvent.kind == "transferred")
    ]
    assert logged == [
        ("agent", a1.id, a2.id, None, None),
        ("queue", a2.id, None, "2", None),
        ("number", None, None, None, "*******1111"),
    ]


def test_transfer_requests_are_validated(engines: None) -> None:
    a = agent("8001", T0 - dt.timedelta(minutes=1))
    uid = _talking(a, T0)
    own = actor_for(a.user)
    assert service.transfer_target(own, uid, {"extension": "8002"}) == {"extension": "8002"}
    assert service.transfer_target(own, uid, {"queue": "3"}) == {"queue": "3"}
    assert service.transfer_target(own, uid, {"number": " 02584000000 "}) == {"number": "02584000000"}
    for body, field in (
        ({}, "target"),
        ({"extension": "8002", "queue": "2"}, "target"),
        ({"extension": "80a"}, "extension"),
        ({"queue": "7"}, "queue"),
        ({"number": "12a45"}, "number"),
        ({"number": "1234"}, "number"),
    ):
        with pytest.raises(ValidationError) as bad:
            service.transfer_target(own, uid, body)
        assert field in bad.value.details
    with pytest.raises(ValidationError):
        service.transfer_target(own, uid, None)
    with pytest.raises(PermissionDenied):
        service.transfer_target(
            actor_for(factories.make_user("agent")), uid, {"queue": "2"}
        )  # not their call
    with pytest.raises(PermissionDenied):
        service.transfer_target(actor_for(factories.make_user("unit_staff")), uid, {"queue": "2"})
    assert service.transfer_target(actor_for(factories.make_user("shift_leader")), uid, {"queue": "2"})
    with pytest.raises(NotFound):
        service.transfer_target(own, "missing", {"queue": "2"})
    ev("agent_hangup", uid, T0 + dt.timedelta(seconds=9), agent_id=a.id, wrapup_s=5)
    with pytest.raises(InvalidTransition):
        service.transfer_target(own, uid, {"queue": "2"})


def test_sip_passwords_are_kept_as_ha1_and_exported_for_kamailio(db: str, tmp_path: Path) -> None:
    import hashlib

    from node.telephony import config as tconfig
    from node.telephony import kamailio

    user = factories.make_user("agent")
    a = service.enroll_agent(SYSTEM, user.id, "8001", password="s3cret-pass", realm="hotline12328")
    assert a.sip_ha1 == hashlib.md5(b"8001:hotline12328:s3cret-pass").hexdigest()
    for bad in ("short", "x" * 65, "has space1", "中文密码中文密码中文"):
        with pytest.raises(ValidationError):
            service.enroll_agent(SYSTEM, user.id, "8001", password=bad, realm="hotline12328")
    with pytest.raises(ValidationError):
        service.enroll_agent(SYSTEM, user.id, "8001", password="s3cret-pass")  # no realm
    other = factories.make_user("agent")
    b = service.enroll_agent(SYSTEM, other.id, "8002")
    assert service.sip_accounts() == [("8001", a.sip_ha1)]  # 8002 has no password: cannot register
    with pytest.raises(PermissionDenied):
        service.set_sip_password(actor_for(other), a.id, "another-pass", "hotline12328")
    service.set_sip_password(actor_for(other), b.id, "another-pass", "hotline12328")
    service.enroll_agent(SYSTEM, user.id, "8011")  # new extension: the old HA1 no longer fits
    assert [ext for ext, _ in service.sip_accounts()] == ["8002"]

    cfg = tconfig.TelephonyConfig(run_dir=tmp_path)
    assert kamailio.write_credentials(cfg, service.sip_accounts()) is True
    assert kamailio.write_credentials(cfg, service.sip_accounts()) is False  # unchanged: not rewritten
    table = (tmp_path / "dbtext" / "subscriber").read_text().splitlines()
    assert table[1] == f"1:8002:hotline12328::{Agent.get_by_id(b.id).sip_ha1}:"
    assert "another-pass" not in "\n".join(table)
    assert (tmp_path / "dbtext" / "version").read_text().splitlines()[1] == "subscriber:7"
    assert oct((tmp_path / "dbtext" / "subscriber").stat().st_mode & 0o777) == "0o600"


def test_contacts_and_orders_made_for_a_call_are_linked_at_once(engines: None) -> None:
    from node.intake import service as intake

    service.register_hooks()
    service.register_hooks()  # idempotent
    from node.workflow import service as workflow

    assert workflow.ON_CHANGE.count(service.link_order) == 1
    assert intake.ON_CONTACT.count(service.link_contact) == 1
    uid = new_call(T0)
    ev("recording", uid, T0, action="started", path=f"2026/03/02/{uid}.wav", retention_days=30)
    agent_actor = actor_for(factories.make_user("agent"))
    contact = intake.create_contact(agent_actor, {"caller_phone": "13800138000", "call_id": uid})
    call = Call.get(Call.uuid == uid)
    assert call.contact_id == contact.id and Recording.get(Recording.call == call).contact_id == contact.id
    intake.create_contact(agent_actor, {"caller_phone": "13800138000", "call_id": "not-a-call"})  # ignored
    order = factories.make_order(call_id=uid)
    assert Call.get(Call.uuid == uid).order_number == order.number
    assert Recording.get(Recording.call == call).order_number == order.number
    factories.make_order(call_id=uid)  # a second order keeps the first link
    assert Call.get(Call.uuid == uid).order_number == order.number


def test_worker_jobs_purge_once_a_day_and_sync(db: str, tmp_path: Path) -> None:
    from node import settings as node_settings
    from node.telephony import jobs

    settings = node_settings.for_tests(tmp_path, f"sqlite:///{tmp_path}/unused.db")
    found = {j.name: j for j in jobs.jobs(settings)}
    assert set(found) == {"telephony_purge_recordings", "telephony_sync"}
    assert found["telephony_purge_recordings"].trigger == "cron"
    now = dt.datetime(2026, 3, 2, 3, 20)
    assert found["telephony_purge_recordings"].fn(now) is True
    assert found["telephony_purge_recordings"].fn(now) is False  # once per day
    result = found["telephony_sync"].fn(now)
    assert result == {"links": 0, "credentials_changed": True}  # first export writes the table
    assert (settings.run_dir / "telephony" / "dbtext" / "subscriber").exists()
    assert found["telephony_sync"].fn(now)["credentials_changed"] is False  # nothing new to export


def test_transfer_and_sip_password_routes_validate_input(engines: None, app: Any) -> None:
    a = agent("8001", T0 - dt.timedelta(minutes=1))
    uid = _talking(a, clock.now())
    client = app.test_client()
    resp = client.post(
        "/api/v1/auth/login", json={"username": a.user.username, "password": factories.PASSWORD}
    )
    headers = {"X-CSRF-Token": resp.get_json()["csrf_token"]}
    resp = client.post(
        f"/telephony/calls/{uid}/transfer", json={"queue": "2", "number": "13700001111"}, headers=headers
    )
    assert resp.status_code == 422 and "target" in resp.get_json()["details"]
    resp = client.post(f"/telephony/calls/{uid}/transfer", json=["x"], headers=headers)
    assert resp.status_code == 422
    # a valid request reaches for the engine that holds the call; here none is listening
    import socket

    from node.telephony.models import Engine

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    Engine.update(control_port=closed_port).where(Engine.name == "engine-1").execute()
    resp = client.post(f"/telephony/calls/{uid}/transfer", json={"queue": "2"}, headers=headers)
    assert resp.status_code == 409 and "呼叫引擎不可用" in resp.get_json()["message"]
    resp = client.post("/telephony/agent/sip-password", json={"password": "short"}, headers=headers)
    assert resp.status_code == 422
    resp = client.post("/telephony/agent/sip-password", json={"password": "long-enough-1"}, headers=headers)
    assert resp.status_code == 200 and resp.get_json()["sip_realm"] == "hotline12328"
    assert Agent.get_by_id(a.id).sip_ha1
    settings = app.config["NODE"]
    table = (settings.run_dir / "telephony" / "dbtext" / "subscriber").read_text()
    assert f":8001:hotline12328::{Agent.get_by_id(a.id).sip_ha1}:" in table


def test_metrics_collector_for_the_web_registry_reads_the_database(engines: None) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    from node.telephony.metrics import DbLiveStateCollector

    agent("8001", T0 - dt.timedelta(minutes=1))
    for at in (clock.now() - dt.timedelta(seconds=40), clock.now()):
        ev("queued", new_call(at), at, business="2")
    reg = CollectorRegistry()
    reg.register(DbLiveStateCollector())
    text = generate_latest(reg).decode()
    assert "hotline_queue_length 2.0" in text and 'hotline_calls{state="queued"} 2.0' in text
    assert 'hotline_agents{state="ready"} 1.0' in text and 'hotline_agents{state="offline"} 0.0' in text
    (line,) = [x for x in text.splitlines() if x.startswith("hotline_queue_longest_wait_seconds ")]
    wait = float(line.split()[1])
    assert 39.0 <= wait <= 60.0
