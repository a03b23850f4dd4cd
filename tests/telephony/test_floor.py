"""The call-centre floor without SIP, on both databases: call legs for the statistics, the
phone bar's state rules, registrations, the wallboard's figures and thresholds, the order's calls
and who may hear them, and the routes' refusals."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from node import clock
from node.auth.service import SYSTEM, actor_for
from node.errors import Conflict, InvalidTransition, PermissionDenied, ValidationError
from node.push import service as push
from node.telephony import config as tconfig
from node.telephony import floor, service
from node.telephony.models import Agent, AgentStateLog, Call, CallLeg
from tests import factories
from tests.telephony.test_service import T0, _alaw_wav, _talking, agent, engines, ev, new_call  # noqa: F401

S = dt.timedelta(seconds=1)
pytestmark = pytest.mark.usefixtures("engines")  # two live engines, on both databases


def legs(uid: str) -> list[CallLeg]:
    return list(CallLeg.select().join(Call).where(Call.uuid == uid).order_by(CallLeg.seq))


def test_a_call_answered_after_a_no_answer_is_one_leg_with_its_waits() -> None:
    lazy = agent("8001", T0 - 600 * S)
    good = agent("8002", T0 - 300 * S)
    uid = new_call(T0)
    ev("queued", uid, T0 + 5 * S, business="1")
    with clock.frozen(T0 + 6 * S):
        assert service.claim_next("engine-1").agent_id == lazy.id
    ev("no_answer", uid, T0 + 26 * S, agent_id=lazy.id, status=408)
    with clock.frozen(T0 + 26 * S):
        service.heartbeat("engine-1")
        assert service.claim_next("engine-1").agent_id == good.id
    ev("answered", uid, T0 + 28 * S, agent_id=good.id)
    ev("bridged", uid, T0 + 28 * S, agent_id=good.id)
    ev("agent_hangup", uid, T0 + 88 * S, agent_id=good.id, wrapup_s=15)
    ev("ended", uid, T0 + 95 * S, reason="completed", wrapup_s=15)
    (leg,) = legs(uid)
    assert (leg.origin, leg.queue, leg.outcome, leg.offers) == ("ivr", "1", "answered", 2)
    assert (leg.agent_id, leg.user_id, leg.day) == (good.id, good.user_id, T0.date())
    assert (leg.wait_s, leg.talk_s, leg.wrapup_s) == (23.0, 60.0, 15.0)
    # the agent goes ready after 5 s of wrap-up: the leg keeps the time actually taken
    with clock.frozen(T0 + 93 * S):
        service.set_agent_state(actor_for(good.user), good.id, "ready")
    assert CallLeg.get_by_id(leg.id).wrapup_s == 5.0
    log = (
        AgentStateLog.select().where(AgentStateLog.agent == lazy.id).order_by(AgentStateLog.id.desc()).first()
    )
    assert (log.state, log.reason, log.by) == ("not_ready", "振铃未接听", "系统")
    assert log.by == service.SYSTEM_BY


def test_abandon_callback_overflow_transfer_and_dropped_legs(tmp_path: Path) -> None:
    gone = new_call(T0)
    ev("queued", gone, T0, business="2")
    ev("abandoned", gone, T0 + 40 * S)
    ev("ended", gone, T0 + 40 * S, reason="abandoned")
    assert [(x.outcome, x.wait_s, x.answered_at) for x in legs(gone)] == [("abandoned", 40.0, None)]

    left = new_call(T0)
    ev("queued", left, T0, business="3")
    ev("callback_left", left, T0 + 70 * S, number="13912345678")
    assert [(x.outcome, x.wait_s) for x in legs(left)] == [("callback", 70.0)]

    busy = new_call(T0, engine="announcer")
    ev("overflow", busy, T0, engines=20)
    ev("ended", busy, T0 + 6 * S, reason="rejected")
    assert [(x.origin, x.outcome, x.wait_s) for x in legs(busy)] == [("overflow", "overflow", 0.0)]

    first = agent("8101", T0 - 60 * S)
    second = agent("8102")
    uid = _talking(first, T0)
    with clock.frozen(T0 + 30 * S):
        service.set_agent_state(SYSTEM, second.id, "ready")
        service.claim_agent("engine-1", uid, "8102")
    ev(
        "transferred",
        uid,
        T0 + 30 * S,
        target="agent",
        from_agent_id=first.id,
        agent_id=second.id,
        wrapup_s=10,
    )
    ev("answered", uid, T0 + 33 * S, agent_id=second.id)
    ev("transferred", uid, T0 + 50 * S, target="queue", queue="2", from_agent_id=second.id, wrapup_s=10)
    ev("queued", uid, T0 + 50 * S, business="2", requeue=True)
    ev("ended", uid, T0 + 70 * S, reason="abandoned")
    got = [(x.origin, x.queue, x.outcome, x.agent_id, x.transferred_to) for x in legs(uid)]
    assert got == [
        ("ivr", "1", "transferred", first.id, "agent:8102"),
        ("transfer", "1", "transferred", second.id, "queue:2"),
        ("transfer", "2", "abandoned", None, ""),
    ]
    assert [x.wait_s for x in legs(uid)] == [2.0, 3.0, 20.0]

    lost = new_call(T0)
    ev("queued", lost, T0, business="1")
    with clock.frozen(T0 + 10 * S):
        service.recover_engine("engine-1", tmp_path)
    assert [x.outcome for x in legs(lost)] == ["dropped"]

    counts = floor.leg_counters()
    assert counts["by_outcome"]["abandoned"] == 2 and counts["by_outcome"]["overflow"] == 1
    assert counts["by_outcome"]["callback"] == 1 and counts["answered"] == 2
    totals = floor.leg_totals(T0.date(), 20)
    assert totals["2"]["abandoned"] == 2 and totals["3"]["callback"] == 1 and totals[""]["overflow"] == 1


def test_keyed_digits_of_a_number_are_masked() -> None:
    uid = new_call(T0)
    ev("ivr_key", uid, T0, digit="2", menu="ivr:main")
    for d in "13912345678":
        ev("ivr_key", uid, T0, digit=d, menu="queued:cb_number", secret=True)
    ev("ivr_key", uid, T0, digit="#", menu="queued:cb_number", secret=False)
    call = Call.get(Call.uuid == uid)
    assert call.keys == "2" + "x" * 11 + "#"
    assert all("139" not in str(e.data) for e in call.events)


def test_going_ready_asks_when_the_softphone_is_unregistered_and_the_queue_skips_it() -> None:
    user = factories.make_user("agent")
    a = service.enroll_agent(SYSTEM, user.id, "8001", password="sip-8001-secret", realm="hotline12328")
    agent_actor = actor_for(user)
    user_topic = f"user:{a.user_id}"
    start = push.last_id()
    assert service.update_registrations(set()) == ["8001"]
    assert Agent.get_by_id(a.id).sip_registered is False
    with pytest.raises(Conflict) as refused:
        service.set_agent_state(agent_actor, a.id, "ready")
    assert refused.value.code == "softphone_unregistered" and "软电话未注册" in refused.value.message
    service.set_agent_state(agent_actor, a.id, "ready", confirm_unregistered=True)
    uid = new_call(clock.now())
    ev("queued", uid, clock.now(), business="1")
    with clock.frozen(clock.now() + S):
        service.heartbeat("engine-1")
        assert service.claim_next("engine-1") is None  # a softphone known to be gone is not rung
    assert service.update_registrations({"8001"}) == ["8001"]
    assert service.update_registrations({"8001"}) == []
    with clock.frozen(clock.now() + 2 * S):
        service.heartbeat("engine-1")
        assert service.claim_next("engine-1") is not None
    pushed = [(e.topic, e.kind) for e in push.after(start)]
    assert (user_topic, "phone") in pushed and ("perm:monitor.view", "floor") in pushed
    # who set it: the agent's own name, a leader's with the role
    leader = actor_for(factories.make_user("shift_leader"))
    b = agent("8002")
    service.set_agent_state(leader, b.id, "not_ready", "班长安排培训")
    last = AgentStateLog.select().where(AgentStateLog.agent == b.id).order_by(AgentStateLog.id.desc()).first()
    assert last.by.startswith(leader.display_name) and "班长" in last.by
    with pytest.raises(PermissionDenied):
        service.set_agent_state(actor_for(factories.make_user("agent")), b.id, "ready")
    with pytest.raises(ValidationError):
        service.set_agent_state(leader, b.id, "not_ready", "")


def test_phone_bar_and_call_controls(tmp_path: Path) -> None:
    cfg = tconfig.load(factories_settings(tmp_path))
    a = agent("8001", T0 - 60 * S)
    bar = floor.phone_bar(actor_for(a.user), cfg)
    assert (bar["enrolled"], bar["state"], bar["state_label"], bar["call"]) == (True, "ready", "就绪", None)
    assert bar["reasons"] == list(cfg.not_ready_reasons)
    uid = _talking(a, clock.now())
    ev("hold", uid, clock.now(), agent_id=a.id)
    bar = floor.phone_bar(actor_for(a.user), cfg)
    assert bar["state"] == "talking" and bar["call"]["on_hold"] and bar["call"]["caller"] == "13800138000"
    masked = floor.phone_bar(actor_for(a.user), cfg)["call"]["caller"]
    assert masked == "13800138000"  # agents hold pii.view
    assert floor.phone_bar(actor_for(factories.make_user("reviewer")), cfg) == {"enrolled": False}
    assert service.check_call_control(actor_for(a.user), uid).uuid == uid
    with pytest.raises(PermissionDenied):
        service.check_call_control(actor_for(factories.make_user("agent")), uid)
    leader = factories.make_user("shift_leader")
    with pytest.raises(Conflict, match="坐席分机"):
        service.monitor_seat(actor_for(leader), uid, "listen")
    service.enroll_agent(SYSTEM, leader.id, "8900")
    with pytest.raises(ValidationError):
        service.monitor_seat(actor_for(leader), uid, "shout")
    assert service.monitor_seat(actor_for(leader), uid, "whisper").extension == "8900"
    with pytest.raises(PermissionDenied):
        service.monitor_seat(actor_for(a.user), uid, "listen")
    ev("agent_hangup", uid, clock.now(), agent_id=a.id, wrapup_s=15)
    with pytest.raises(InvalidTransition):
        service.check_call_control(actor_for(a.user), uid)


def factories_settings(home: Path) -> Any:
    from node import settings as node_settings

    return node_settings.for_tests(home, f"sqlite:///{home}/unused.db")


def test_wallboard_figures_and_thresholds(tmp_path: Path) -> None:
    settings = factories_settings(tmp_path)
    cfg = tconfig.load(settings)
    supervisor = actor_for(factories.make_user("supervisor"))
    with pytest.raises(PermissionDenied):
        floor.wallboard(actor_for(factories.make_user("agent")), cfg, tmp_path)
    now = clock.now()
    a = agent("8001", now - 60 * S)
    _talking(a, now - 30 * S)
    for i in range(cfg.alert_queue):
        ev("queued", new_call(now - (90 - i) * S), now - (90 - i) * S, business="2")
    gone = new_call(now - 20 * S)
    ev("queued", gone, now - 20 * S, business="3")
    ev("abandoned", gone, now - 5 * S)
    ev("ended", gone, now - 5 * S, reason="abandoned")
    with clock.frozen(now):
        service.heartbeat("engine-1")
        service.heartbeat("engine-2")
        board = floor.wallboard(supervisor, cfg, tmp_path)
    q2 = next(q for q in board["queues"] if q["queue"] == "2")
    assert q2["waiting"] == cfg.alert_queue and q2["longest_wait_s"] == 90 and q2["alert"]
    assert board["lines"] == {
        "in_use": cfg.alert_queue + 1,
        "capacity": cfg.capacity,
        "ivr": 0,
        "queued": cfg.alert_queue,
        "talking": 1,
        "alert": False,
    }
    assert board["today"]["answered"] == 1 and board["today"]["abandoned"] == 1
    assert board["today"]["abandon_rate"] == 0.5 and board["today"]["alert"]
    assert board["agents"][0]["state"] == "talking" and board["agents"][0]["call"]
    assert {"overdue", "due_soon"} <= set(board["orders"]) and board["system"]["outbox"]["pending"] == 0
    assert board["system"]["engines_live"] == 2 and board["system"]["database_mb"] is not None
    assert 0 <= board["system"]["cpu_percent"] <= 100


def test_order_calls_and_who_may_listen(tmp_path: Path) -> None:
    a = agent("8001", T0 - 60 * S)
    uid = _talking(a, T0)
    ev("recording", uid, T0, action="started", path=f"2026/03/02/{uid}.wav")
    _alaw_wav(tmp_path / f"2026/03/02/{uid}.wav", 2.0, sizes=True)
    ev("agent_hangup", uid, T0 + 60 * S, agent_id=a.id, wrapup_s=15)
    ev("rated", uid, T0 + 65 * S, score=1)
    ev("ended", uid, T0 + 66 * S, reason="completed")
    ev("recording", uid, T0 + 66 * S, action="finished", status="finalized", duration_s=2.0, size_bytes=16058)
    service.link_call(uid, order_number="320100202603021000009")
    calls = floor.order_calls(actor_for(factories.make_user("reviewer")), "320100202603021000009")
    assert len(calls) == 1 and calls[0]["rating"] == "非常满意" and calls[0]["duration_s"] == 2.0
    assert (
        calls[0]["agent"] == a.user.display_name
        and calls[0]["can_listen"]
        and calls[0]["caller"] == "*******8000"
    )
    for role in ("shift_leader", "reviewer", "dispatcher", "supervisor", "auditor"):
        actor = actor_for(factories.make_user(role))
        assert service.recording_file(actor, uid, tmp_path)[1].exists(), role
    assert service.recording_file(actor_for(a.user), uid, tmp_path)[1].exists()  # own call
    for role in ("agent", "unit_staff", "knowledge_editor", "admin"):
        with pytest.raises(PermissionDenied):
            service.recording_file(actor_for(factories.make_user(role)), uid, tmp_path)
    other = floor.order_calls(actor_for(factories.make_user("agent")), "320100202603021000009")
    assert not other[0]["can_listen"]
    assert floor.order_calls(actor_for(a.user), "000") == []


def test_floor_routes_refuse_bad_requests(app: Any) -> None:
    a = agent("8001", T0 - 60 * S)
    uid = _talking(a, clock.now())
    client = app.test_client()
    resp = client.post(
        "/api/v1/auth/login", json={"username": a.user.username, "password": factories.PASSWORD}
    )
    headers = {"X-CSRF-Token": resp.get_json()["csrf_token"]}
    assert client.get("/telephony/wallboard").status_code == 403
    assert client.get("/telephony/wallboard/data").status_code == 403
    assert client.post(f"/telephony/calls/{uid}/explode", headers=headers).status_code == 422
    assert client.post(f"/telephony/calls/{uid}/hold").status_code == 403  # no CSRF token
    resp = client.post(f"/telephony/calls/{uid}/consult", json={"extension": "abc"}, headers=headers)
    assert resp.status_code == 422
    resp = client.post(f"/telephony/calls/{uid}/monitor", json={"mode": "listen"}, headers=headers)
    assert resp.status_code == 403
    resp = client.post("/telephony/agent/state", json={"state": "ready", "agent_id": True}, headers=headers)
    assert resp.status_code == 422
    assert client.get(f"/telephony/calls/{uid}/pop").get_json()["call_id"] == uid
    bar = client.get("/telephony/agent/me").get_json()
    assert bar["call"]["call_id"] == uid
    page = client.get("/workstation").get_data(as_text=True)
    assert 'id="phonebar"' in page and "phonebar.js" in page and 'data-push="/push/stream"' in page
    leader = factories.make_user("shift_leader")
    client = app.test_client()
    resp = client.post(
        "/api/v1/auth/login", json={"username": leader.username, "password": factories.PASSWORD}
    )
    page = client.get("/telephony/wallboard").get_data(as_text=True)
    assert "运行监控" in page and "wallboard.js" in page and 'id="phonebar"' not in page
    data = client.get("/telephony/wallboard/data").get_json()
    assert data["agents"][0]["extension"] == "8001"
    assert '"运行监控"' not in page and 'href="/telephony/wallboard"' in page  # in the navigation


def test_order_page_lists_its_calls_and_every_listen_is_audited(app: Any, tmp_path: Path) -> None:
    from node.audit.models import AuditEntry

    settings = app.config["NODE"]
    a = agent("8001", T0 - 60 * S)
    order = factories.make_order()
    uid = _talking(a, clock.now())
    rel = f"{clock.now():%Y/%m/%d}/{uid}.wav"
    ev("recording", uid, clock.now(), action="started", path=rel)
    _alaw_wav(settings.recordings_dir / rel, 3.0, sizes=True)
    ev("agent_hangup", uid, clock.now(), agent_id=a.id, wrapup_s=15)
    ev("ended", uid, clock.now(), reason="completed")
    ev("recording", uid, clock.now(), action="finished", status="finalized", duration_s=3.0, size_bytes=24058)
    service.link_call(uid, order_number=order.number)

    def signed_in(role: str) -> Any:
        client = app.test_client()
        user = factories.make_user(role)
        client.post("/api/v1/auth/login", json={"username": user.username, "password": factories.PASSWORD})
        return client

    reviewer = signed_in("reviewer")
    page = reviewer.get(f"/orders/{order.number}").get_data(as_text=True)
    assert "通话与录音" in page and f'src="/telephony/recordings/{uid}"' in page and "0分03秒" in page
    stranger = signed_in("agent")
    page = stranger.get(f"/orders/{order.number}").get_data(as_text=True)
    assert "通话与录音" in page and "<audio" not in page and "无权收听" in page
    assert stranger.get(f"/telephony/recordings/{uid}").status_code == 403
    whole = reviewer.get(f"/telephony/recordings/{uid}")
    whole.close()
    seek = reviewer.get(f"/telephony/recordings/{uid}", headers={"Range": "bytes=4000-"})
    seek.close()
    assert (whole.status_code, seek.status_code) == (200, 206)  # a seek is not another listen
    audited = list(AuditEntry.select().where(AuditEntry.event == "recording.listen"))
    assert [(e.target, e.details["order_number"]) for e in audited] == [(f"call:{uid}", order.number)]
    assert audited[0].actor_name.startswith("reviewer")
