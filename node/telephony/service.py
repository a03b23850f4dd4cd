"""Telephony services: the only writers of the telephony tables.

Engines call `record_event` (from their DB thread) for every normalized call event and
`claim_next` to hand the head of the queue to the longest-idle agent; the web calls the agent,
menu, recording and live-state functions with an `Actor`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hmac
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import peewee as pw

from node import clock, pii
from node.auth.models import User
from node.auth.service import Actor
from node.db import locked, write_tx
from node.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationError
from node.push import service as push
from node.telephony import audio, ivr
from node.telephony.kamailio import ha1
from node.telephony.models import (
    AGENT_STATES,
    CALL_STATES,
    CALLBACK_STATES,
    END_REASONS,
    RATINGS,
    Agent,
    AgentStateLog,
    Call,
    CallbackTask,
    CallEvent,
    CallLeg,
    Engine,
    IvrMenu,
    PhoneRating,
    Recording,
)

ENGINE_STALE = dt.timedelta(seconds=15)
PHONE_CHANNEL = "01"  # 受理渠道: 12328电话 (JT/T 1019.5 Table A.3)
OPEN_STATES = ("ivr", "queued", "offered", "talking", "rating", "dialing")
SYSTEM_BY = "系统"
# Push event kinds: `phone` to the agent's own stream (the phone bar reloads its state),
# `screen_pop` to the agent when a call is bridged, `floor` to every wallboard.
PHONE, SCREEN_POP, FLOOR = "phone", "screen_pop", "floor"
WALLBOARD_TOPIC = push.perm_topic("monitor.view")
# `click_dial` to the agent who placed a 回访外呼: the callback screen shows its progress.
CLICK_DIAL = "click_dial"
CLICK_KINDS = {"click_dial", "click_agent", "click_result", "answered", "bridged", "ended"}
# Call events the agent's phone bar and the wallboards react to.
PHONE_KINDS = {
    "offered",
    "answered",
    "bridged",
    "transferred",
    "agent_hangup",
    "hold",
    "unhold",
    "consult",
    "ended",
}


@dataclass(frozen=True)
class Offer:
    call_uuid: str
    agent_id: int
    extension: str


# ---------------------------------------------------------------------------------------------
# engine registry
# ---------------------------------------------------------------------------------------------
def engine_started(name: str, sip_port: int, control_port: int, pid: int) -> None:
    now = clock.now()
    with write_tx():
        eng = Engine.get_or_none(Engine.name == name)
        if eng is None:
            eng = Engine(name=name)
        eng.sip_port, eng.control_port, eng.pid = sip_port, control_port, pid
        eng.status, eng.started_at, eng.heartbeat_at = "running", now, now
        eng.save()


def heartbeat(name: str) -> None:
    with write_tx():
        Engine.update(heartbeat_at=clock.now()).where(Engine.name == name).execute()


def engine_stopped(name: str) -> None:
    with write_tx():
        Engine.update(status="stopped", heartbeat_at=None).where(Engine.name == name).execute()


def live_engines(now: dt.datetime | None = None) -> list[Engine]:
    now = now or clock.now()
    return list(
        Engine.select()
        .where(Engine.status == "running", Engine.heartbeat_at >= now - ENGINE_STALE)
        .order_by(Engine.name)
    )


# ---------------------------------------------------------------------------------------------
# events from the engines
# ---------------------------------------------------------------------------------------------
def _next_seq(call: Call) -> int:
    last = CallEvent.select(pw.fn.MAX(CallEvent.seq)).where(CallEvent.call == call).scalar()
    return int(last or 0) + 1


def _log(call: Call, kind: str, at: dt.datetime, agent_id: int | None = None, **data: Any) -> CallEvent:
    return CallEvent.create(
        call=call, seq=_next_seq(call), kind=kind, at=at, agent=agent_id, data=data or None
    )


def _set_agent(
    agent: Agent, state: str, at: dt.datetime, reason: str = "", call_uuid: str = "", by: str = SYSTEM_BY
) -> None:
    previous = agent.state
    if previous == "wrapup" and state != "wrapup":
        _wrapup_ended(agent, at)
    agent.state, agent.reason, agent.state_since = state, reason, at
    agent.current_call = call_uuid if state in ("ringing", "talking") else ""
    agent.save()
    AgentStateLog.create(
        agent=agent, state=state, previous=previous, reason=reason, call_uuid=call_uuid, by=by[:40], at=at
    )
    data = {"agent_id": agent.id, "state": state, "previous": previous, "reason": reason, "by": by}
    push.publish(push.user_topic(agent.user_id), PHONE, data)
    push.publish(WALLBOARD_TOPIC, FLOOR, {"what": "agent", **data})


def _wrapup_ended(agent: Agent, at: dt.datetime) -> None:
    """An agent left wrap-up: the last handled leg's wrap-up is the time actually taken (the
    planned length was stored when the call ended, in case the agent never leaves early)."""
    leg = (
        CallLeg.select()
        .where(CallLeg.agent == agent, CallLeg.ended_at.is_null(False))
        .order_by(CallLeg.ended_at.desc())
        .first()
    )
    if leg is not None and agent.wrapup_until is not None and at < agent.wrapup_until:
        leg.wrapup_s = max(0.0, round((at - leg.ended_at).total_seconds(), 3))
        leg.save()


# ---------------------------------------------------------------------------------------------
# call legs (statistics)
# ---------------------------------------------------------------------------------------------
def _current_leg(call: Call) -> CallLeg | None:
    return (
        CallLeg.select()
        .where(CallLeg.call == call, CallLeg.outcome.in_(("waiting", "talking")))
        .order_by(CallLeg.seq.desc())
        .first()
    )


def _open_leg(call: Call, at: dt.datetime, origin: str, queue: str = "") -> CallLeg:
    last = CallLeg.select(pw.fn.MAX(CallLeg.seq)).where(CallLeg.call == call).scalar()
    return CallLeg.create(
        call=call,
        seq=int(last or 0) + 1,
        day=at.date(),
        direction=call.direction,
        origin=origin,
        queue=queue,
        entered_at=at,
    )


def _end_leg(leg: CallLeg | None, at: dt.datetime, outcome: str, transferred_to: str = "") -> None:
    if leg is None:
        return
    if leg.outcome == "talking":
        leg.talk_s = _seconds(leg.answered_at, at)
        if outcome in ("abandoned", "dropped"):
            outcome = "answered" if outcome == "abandoned" else outcome
    else:
        leg.wait_s = _seconds(leg.entered_at, at)
    leg.ended_at, leg.outcome, leg.transferred_to = at, outcome, transferred_to[:40]
    leg.save()


def _leg_answered(call: Call, at: dt.datetime, agent: Agent | None) -> None:
    leg = _current_leg(call) or _open_leg(call, at, "transfer", call.business)
    if leg.outcome != "waiting":
        return
    leg.answered_at, leg.wait_s, leg.outcome = at, _seconds(leg.entered_at, at), "talking"
    if agent is not None:
        leg.agent, leg.user = agent.id, agent.user_id
    leg.save()


def _plan_wrapup(agent: Agent, call: Call, wrapup_s: float) -> None:
    CallLeg.update(wrapup_s=wrapup_s).where(
        CallLeg.call == call,
        CallLeg.agent == agent,
        CallLeg.ended_at.is_null(False),
        CallLeg.wrapup_s.is_null(),
    ).execute()


def _announce_call(call: Call, kind: str, agent_id: int | None) -> None:
    """Tell the wallboards, and the agent's phone bar, that a call moved on (key presses, menu
    steps and recording notes change nothing a wallboard shows). A 回访外呼 also tells the agent's
    callback screen (`click_dial`, ids and states only)."""
    if kind not in ("ivr_key", "ivr", "recording", "rated", "callback_result", "query_rated"):
        data = {"what": "call", "call": call.uuid, "kind": kind, "state": call.state}
        push.publish(WALLBOARD_TOPIC, FLOOR, data)
    click = call.visit_task is not None and kind in CLICK_KINDS
    if (kind in PHONE_KINDS or click) and agent_id:
        user_id = Agent.select(Agent.user).where(Agent.id == agent_id).scalar()
        if user_id and kind in PHONE_KINDS:
            push.publish(push.user_topic(user_id), PHONE, {"call": call.uuid, "kind": kind})
        if user_id and click:
            data = {"call": call.uuid, "kind": kind, "state": call.state, "order": call.order_number}
            push.publish(push.user_topic(user_id), CLICK_DIAL, data)


def _agent_for_call(agent_id: int | None, call_uuid: str) -> Agent | None:
    """The agent row, locked, if it is still busy with this call."""
    if not agent_id:
        return None
    agent = locked(Agent.select().where(Agent.id == agent_id)).first()
    if agent is None or agent.current_call != call_uuid:
        return None
    return agent


def _release_to_ready(agent: Agent | None, at: dt.datetime, call_uuid: str) -> None:
    if agent is not None and agent.state == "ringing":
        _set_agent(agent, "ready", at, call_uuid=call_uuid)


def _to_wrapup(agent: Agent | None, at: dt.datetime, wrapup_s: float, call_uuid: str) -> None:
    if agent is not None and agent.state in ("talking", "ringing"):
        until = at + dt.timedelta(seconds=wrapup_s)
        agent.wrapup_until, agent.idle_since = until, until
        _set_agent(agent, "wrapup", at, call_uuid=call_uuid)
        call = Call.get_or_none(Call.uuid == call_uuid)
        if call is not None:
            _plan_wrapup(agent, call, wrapup_s)


def _call_over(agent: Agent | None, at: dt.datetime, wrapup_s: float, call_uuid: str) -> None:
    """The call is gone: a still-ringing agent is ready again, a talking one goes to wrap-up."""
    if agent is not None and agent.state == "ringing":
        _release_to_ready(agent, at, call_uuid)
    else:
        _to_wrapup(agent, at, wrapup_s, call_uuid)


def record_event(ev: dict[str, Any]) -> None:
    """Apply one engine event: append to the call's event log, update the projections and the
    call legs, and announce it on the push channel.

    `ev` has `kind`, `call` (uuid), `at` (datetime) and kind-specific keys."""
    kind, uuid, at = ev["kind"], ev["call"], ev["at"]
    with write_tx():
        if kind == "incoming":
            call = _incoming(ev)
            _announce_call(call, kind, None)
            return
        call = locked(Call.select().where(Call.uuid == uuid)).first()
        if call is None:
            raise NotFound(f"通话不存在：{uuid}")
        agent_id = ev.get("agent_id")
        if kind == "ivr_key":
            # Digits of a callback number or a query code are never stored in clear: the number
            # itself is kept encrypted in its callback task.
            digit = "x" if ev.get("secret") else str(ev["digit"])[:1]
            call.keys = (call.keys + digit)[-200:]
            call.save()
            _log(call, kind, at, digit=digit, menu=ev.get("menu", ""))
        elif kind == "ivr":
            _log(call, kind, at, **{k: v for k, v in ev.items() if k not in ("kind", "call", "at")})
        elif kind == "queued":
            requeue = bool(ev.get("requeue"))
            call.state = "queued"
            call.queued_at = call.queued_at or at
            if requeue:
                call.queue_priority = 1
            if "business" in ev:
                call.business = ev["business"]
            call.agent = None
            call.save()
            if _current_leg(call) is None:
                earlier = CallLeg.select().where(CallLeg.call == call).exists()
                origin = "transfer" if earlier else ("callback" if call.direction == "outbound" else "ivr")
                _open_leg(call, at, origin, call.business)
            _log(call, kind, at, business=call.business, requeue=requeue)
        elif kind in ("no_answer", "unreachable", "offer_failed"):
            agent = _agent_for_call(agent_id, uuid)
            if agent is not None:
                if kind == "no_answer":
                    _set_agent(agent, "not_ready", at, reason="振铃未接听", call_uuid=uuid)
                elif kind == "unreachable":
                    _set_agent(agent, "offline", at, reason="软电话未注册或不可达", call_uuid=uuid)
                else:
                    _release_to_ready(agent, at, uuid)
            _log(call, kind, at, agent_id, status=ev.get("status", 0))
            if call.state == "offered":
                call.state, call.queue_priority, call.agent = "queued", 1, None
                call.save()
                _log(call, "queued", at, business=call.business, requeue=True)
        elif kind == "answered":
            # after a transfer the first answer time stays (answer-rate statistics)
            agent = _agent_for_call(agent_id, uuid)
            if agent is not None and agent.state != "talking":  # a 回访外呼's agent talks already
                _set_agent(agent, "talking", at, call_uuid=uuid)
            call.state, call.answered_at = "talking", call.answered_at or at
            if agent_id:
                call.agent = agent_id
            call.save()
            _leg_answered(call, at, agent or (Agent.get_or_none(Agent.id == agent_id) if agent_id else None))
            _log(call, kind, at, agent_id)
        elif kind == "bridged":
            call.bridged_at = call.bridged_at or at
            call.save()
            event = _log(call, kind, at, agent_id, recording=ev.get("recording", ""))
            if agent_id and call.visit_task is None:  # a 回访外呼 pops nothing: the agent placed it
                user_id = Agent.select(Agent.user).where(Agent.id == agent_id).scalar()
                if user_id:
                    push.publish(push.user_topic(user_id), SCREEN_POP, {"call": uuid, "event_id": event.id})
        elif kind == "transferred":
            _transferred(call, ev)
        elif kind in ("hold", "unhold", "monitor"):
            data = {k: v for k, v in ev.items() if k not in ("kind", "call", "at", "agent_id")}
            _log(call, kind, at, agent_id, **data)
        elif kind == "consult":
            # 咨询: the consulted colleague is talking to the agent, then free again
            consulted = _agent_for_call(ev.get("to_agent_id"), uuid)
            if consulted is not None and ev.get("phase") == "talking":
                _set_agent(consulted, "talking", at, reason="咨询", call_uuid=uuid)
            elif consulted is not None and ev.get("phase") == "ended":
                _set_agent(consulted, "ready", at, call_uuid=uuid)
            data = {k: v for k, v in ev.items() if k not in ("kind", "call", "at", "agent_id")}
            _log(call, kind, at, agent_id, **data)
        elif kind == "agent_hangup":
            _end_leg(_current_leg(call), at, "answered")
            _to_wrapup(_agent_for_call(agent_id, uuid), at, float(ev.get("wrapup_s", 0)), uuid)
            call.agent_ended_at, call.state = at, "rating"
            call.save()
            _log(call, kind, at, agent_id)
        elif kind == "rated":
            score = int(ev["score"])
            if score not in RATINGS:
                raise ValidationError(f"评价按键无效：{score}")
            PhoneRating.create(call=call, agent=call.agent_id, score=score, at=at)
            _log(call, kind, at, call.agent_id, score=score, label=RATINGS[score])
            _rate_order_of_call(call, score)
        elif kind == "callback_left":
            call.state = "ivr"
            call.save()
            _end_leg(_current_leg(call), at, "callback")
            p = pii.codec().protect(ev["number"])
            CallbackTask.create(
                call=call,
                number_cipher=p.cipher,
                number_digest=p.digest,
                number_masked=p.masked,
                business=call.business,
                created_at=at,
            )
            _log(call, kind, at, number=p.masked)
        elif kind == "recording":
            _recording(call, ev)
        elif kind == "abandoned":
            _release_to_ready(_agent_for_call(agent_id, uuid), at, uuid)
            call.abandoned = True
            call.save()
            _end_leg(_current_leg(call), at, "abandoned")
            _log(call, kind, at, agent_id, waited_s=_seconds(call.queued_at, at))
        elif kind == "overflow":
            leg = _open_leg(call, at, "overflow")
            _end_leg(leg, at, "overflow")
            _log(call, kind, at, engines=ev.get("engines"))
        elif kind == "ended":
            reason = ev.get("reason", "completed")
            _end_leg(_current_leg(call), at, "dropped" if reason == "dropped" else "abandoned")
            over = _click_over if call.visit_task is not None else _call_over
            over(_agent_for_call(agent_id or call.agent_id, uuid), at, float(ev.get("wrapup_s", 0)), uuid)
            call.state, call.ended_at = "ended", at
            call.end_reason = reason
            call.save()
            _log(call, kind, at, call.agent_id, reason=call.end_reason)
        elif kind == "click_agent":
            _click_agent_answered(call, at, _agent_for_call(agent_id, uuid))
        elif kind == "click_result":
            _click_result(call, ev)
        elif kind == "query_rated":
            _query_rated(call, ev)
        elif kind == "callback_result":
            task = CallbackTask.get_or_none(CallbackTask.id == ev["task_id"])
            if task is not None:
                task.status, task.result = ("done" if ev.get("ok") else "failed"), ev.get("result", "")[:200]
                task.save()
            _log(call, "ivr", at, callback_task=ev["task_id"], result=ev.get("result", ""))
        else:
            raise ValidationError(f"未知的通话事件：{kind}")
        _announce_call(call, kind, agent_id or call.agent_id)


TRANSFER_TARGETS = ("agent", "queue", "number")


def _transferred(call: Call, ev: dict[str, Any]) -> None:
    """The agent handed the caller on: to another agent, to a queue or to an outside number. The
    handing agent goes to wrap-up and their leg ends as transferred; a transfer to an agent or a
    number opens the next leg at once, a queue transfer with the engine's `queued` event."""
    at, target = ev["at"], ev.get("target", "agent")
    if target not in TRANSFER_TARGETS:
        raise ValidationError(f"转接目标无效：{target}")
    from_agent = ev.get("from_agent_id")
    data: dict[str, Any] = {"target": target}
    if target == "agent":
        to = Agent.get_or_none(Agent.id == ev.get("agent_id"))
        data["to_agent_id"] = ev.get("agent_id")
        label = f"agent:{to.extension if to else ''}"
    elif target == "queue":
        data["queue"] = str(ev.get("queue", ""))
        label = f"queue:{data['queue']}"
    else:
        data["number"] = pii.mask_phone(str(ev.get("number", "")))
        label = f"number:{data['number']}"
    _end_leg(_current_leg(call), at, "transferred", label)
    _to_wrapup(_agent_for_call(from_agent, call.uuid), at, float(ev.get("wrapup_s", 0)), call.uuid)
    if target == "agent":
        call.state, call.agent = "offered", ev.get("agent_id")
        _open_leg(call, at, "transfer", call.business)
    elif target == "number":
        call.state = "offered"  # the outside party is ringing
        _open_leg(call, at, "transfer", "")
    call.save()
    _log(call, "transferred", at, from_agent, **data)


def _seconds(start: dt.datetime | None, end: dt.datetime) -> float | None:
    return None if start is None else round((end - start).total_seconds(), 3)


def _incoming(ev: dict[str, Any]) -> Call:
    at = ev["at"]
    caller = str(ev.get("caller", ""))
    call = Call(
        uuid=ev["call"],
        direction=ev.get("direction", "inbound"),
        engine=ev["engine"],
        sip_call_id=str(ev.get("sip_call_id", ""))[:200],
        dialed=str(ev.get("dialed", ""))[:40],
        started_at=at,
        ivr_answered_at=ev.get("answered_at"),
        state="dialing" if ev.get("direction") == "outbound" else "ivr",
    )
    if caller and pii.valid_phone(caller):
        p = pii.codec().protect(caller)
        call.caller_cipher, call.caller_digest, call.caller_masked = p.cipher, p.digest, p.masked
    elif caller:
        call.caller_masked = pii.mask_phone(caller) if caller.isdigit() else "未知号码"
    if call.direction == "outbound" and call.dialed:
        # an outbound call (留号回电) dials the citizen: the number is kept encrypted above, only
        # masked here (inbound calls keep the hotline number they dialled)
        call.dialed = call.caller_masked or pii.mask_phone(call.dialed)
    call.save()
    _log(
        call,
        "incoming",
        at,
        direction=call.direction,
        caller=call.caller_masked,
        engine=call.engine,
        callback_task=ev.get("callback_task"),
        answer_ms=ev.get("answer_ms"),
    )
    return call


def _recording(call: Call, ev: dict[str, Any]) -> None:
    at = ev["at"]
    rec = Recording.get_or_none(Recording.call == call)
    if ev["action"] == "started":
        if rec is None:
            retain = at.date() + dt.timedelta(days=int(ev.get("retention_days", 180)))
            Recording.create(
                call=call,
                path=ev["path"],
                started_at=at,
                retain_until=retain,
                order_number=call.order_number,
                contact_id=call.contact_id,
            )
            _log(call, "recording", at, action="started", path=ev["path"])
        return
    if rec is None:
        return
    rec.ended_at = at
    rec.status = ev.get("status", "finalized")
    rec.duration_s, rec.size_bytes = ev.get("duration_s"), ev.get("size_bytes")
    rec.note = str(ev.get("note", ""))[:200]
    rec.save()
    _log(call, "recording", at, action=rec.status, duration_s=rec.duration_s)


# ---------------------------------------------------------------------------------------------
# ACD: longest-idle agent for the head of the queue
# ---------------------------------------------------------------------------------------------
def claim_next(engine: str) -> Offer | None:
    """If the head of the node-wide queue is a call on `engine`, offer it to the longest-idle agent.

    Calls of engines without a fresh heartbeat are skipped so a dead engine cannot block the queue.
    Every engine with waiting callers asks several times a second, so a read-only look comes first:
    no free agent or no queued call of this engine means no write transaction."""
    now = clock.now()
    free = (Agent.state == "ready") | ((Agent.state == "wrapup") & (Agent.wrapup_until <= now))
    free &= Agent.sip_registered.is_null() | (Agent.sip_registered == True)  # noqa: E712
    if not Agent.select().where(free).exists():
        return None
    if not Call.select().where(Call.state == "queued", Call.engine == engine).exists():
        return None
    with write_tx():
        alive = Engine.select(Engine.name).where(
            Engine.status == "running", Engine.heartbeat_at >= now - ENGINE_STALE
        )
        head = locked(
            Call.select()
            .where(Call.state == "queued", Call.engine.in_(alive))
            .order_by(Call.queue_priority.desc(), Call.queued_at, Call.id)
            .limit(1)
        ).first()
        if head is None or head.engine != engine:
            return None
        idle = pw.fn.COALESCE(Agent.idle_since, Agent.state_since)
        agent = locked(Agent.select().where(free).order_by(idle, Agent.id).limit(1)).first()
        if agent is None:
            return None
        if agent.state == "wrapup":
            _set_agent(agent, "ready", agent.wrapup_until)
        _set_agent(agent, "ringing", now, call_uuid=head.uuid)
        head.state, head.offered_at, head.agent = "offered", now, agent.id
        head.save()
        CallLeg.update(offers=CallLeg.offers + 1).where(
            CallLeg.call == head, CallLeg.outcome == "waiting"
        ).execute()
        _announce_call(head, "offered", agent.id)
        _log(
            head, "offered", now, agent.id, extension=agent.extension, waited_s=_seconds(head.queued_at, now)
        )
        return Offer(head.uuid, agent.id, agent.extension)


def claim_agent(engine: str, call_uuid: str, extension: str) -> Offer:
    """Offer a talking call to one named agent (transfer); the agent must be ready."""
    now = clock.now()
    with write_tx():
        call = locked(Call.select().where(Call.uuid == call_uuid, Call.engine == engine)).first()
        if call is None or call.state != "talking":
            raise InvalidTransition("只有通话中的来电可以转接")
        agent = locked(Agent.select().where(Agent.extension == extension)).first()
        if agent is None:
            raise NotFound(f"坐席不存在：{extension}")
        if agent.state != "ready":
            raise Conflict(f"坐席{extension}当前{AGENT_STATES[agent.state]}，不能转接")
        _set_agent(agent, "ringing", now, call_uuid=call_uuid)
        return Offer(call_uuid, agent.id, agent.extension)


def parse_transfer(body: dict[str, Any]) -> tuple[str, str]:
    """The one transfer target in `body`: ("extension", another agent), ("queue", business code)
    or ("number", outside number). Checked by the web and again by the engine's control socket."""
    picked = {k: str(body.get(k) or "").strip() for k in ("extension", "queue", "number")}
    picked = {k: v for k, v in picked.items() if v}
    if len(picked) != 1:
        raise ValidationError(
            "请指定一个转接目标：坐席分机、业务队列或外部号码", details={"target": "须且只能填写一项"}
        )
    key, value = next(iter(picked.items()))
    if key == "extension" and not (value.isdigit() and 3 <= len(value) <= 8):
        raise ValidationError("坐席分机号须为3到8位数字", details={"extension": "格式错误"})
    if key == "queue" and value not in ivr.BUSINESS:
        raise ValidationError("业务队列无效", details={"queue": "取值错误"})
    if key == "number" and not (value.isdigit() and 5 <= len(value) <= 20):
        raise ValidationError("外部号码须为5到20位数字", details={"number": "格式错误"})
    return key, value


def transfer_target(actor: Actor, call_uuid: str, body: dict[str, Any] | None) -> dict[str, str]:
    """Validate a transfer request of the agent on the call (or a shift leader) (see `parse_transfer`)."""
    if not actor.can("contact.create"):
        raise PermissionDenied("无权转接来电")
    if body is None:
        raise ValidationError("请求体须为对象")
    key, value = parse_transfer(body)
    check_call_control(actor, call_uuid)
    return {key: value}


def queue_position(call_uuid: str) -> int:
    """How many queued calls are ahead of this one, node-wide (0 = next)."""
    call = Call.get_or_none(Call.uuid == call_uuid)
    if call is None or call.state != "queued" or call.queued_at is None:
        return 0
    ahead = Call.select().where(
        Call.state == "queued",
        (Call.queue_priority > call.queue_priority)
        | ((Call.queue_priority == call.queue_priority) & (Call.queued_at < call.queued_at)),
    )
    return int(ahead.count())


# ---------------------------------------------------------------------------------------------
# IVR data and order progress
# ---------------------------------------------------------------------------------------------
def load_menus() -> dict[str, ivr.MenuSpec]:
    rows = list(IvrMenu.select().dicts())
    if not rows:
        rows = ivr.DEFAULT_MENUS
    menus = ivr.menus_from_rows(rows)
    ivr.validate_menus(menus)
    return menus


def install_default_menus() -> int:
    """Seed the editable menus with the defaults when none exist; returns rows written."""
    with write_tx():
        if IvrMenu.select().exists():
            return 0
        now = clock.now()
        for row in ivr.DEFAULT_MENUS:
            IvrMenu.create(updated_at=now, **row)
        return len(ivr.DEFAULT_MENUS)


def save_menu(actor: Actor, key: str, body: dict[str, Any]) -> IvrMenu:
    """Create or replace one menu; the whole tree is validated before it is stored."""
    actor.require("node.manage")
    if not isinstance(body, dict):
        raise ValidationError("菜单内容格式错误")
    allowed = {"title", "prompt", "prompt_file", "options", "timeout_s", "max_retries"}
    unknown = set(body) - allowed
    if unknown:
        raise ValidationError("菜单包含未知字段", details={k: "未知字段" for k in sorted(unknown)})
    if not key or len(key) > 40 or not key.replace("_", "").isalnum():
        raise ValidationError("菜单编码须为字母、数字或下划线", details={"key": "格式错误"})
    with write_tx():
        current = {m["key"]: m for m in (IvrMenu.select().dicts() or [])} or {
            m["key"]: dict(m) for m in ivr.DEFAULT_MENUS
        }
        merged = dict(current.get(key, {"key": key}))
        merged.update(body)
        merged["key"] = key
        current[key] = merged
        try:
            menus = ivr.menus_from_rows(list(current.values()))
        except (TypeError, ValueError, AttributeError) as exc:
            raise ValidationError("菜单内容格式错误") from exc
        ivr.validate_menus(menus)
        spec = menus[key]
        if not IvrMenu.select().exists():
            for row in ivr.DEFAULT_MENUS:
                if row["key"] != key:
                    IvrMenu.create(updated_at=clock.now(), **row)
        row = IvrMenu.get_or_none(IvrMenu.key == key) or IvrMenu(key=key)
        row.title, row.prompt, row.prompt_file = spec.title, spec.prompt, spec.prompt_file
        row.options, row.timeout_s, row.max_retries = spec.options, int(spec.timeout_s), spec.max_retries
        row.updated_at = clock.now()
        row.save()
        return row


def order_progress(number: str, query_code: str) -> str | None:
    """The Chinese state label of the order with this number and public query code, else None."""
    from node.workflow import states
    from node.workflow.models import WorkOrder

    if not number.isdigit() or not query_code.isdigit() or len(number) > 21 or len(query_code) > 8:
        return None
    order = WorkOrder.get_or_none(WorkOrder.number == number)
    if order is None or not hmac.compare_digest(order.query_code, query_code):
        return None
    while order.master_id is not None:
        order = WorkOrder.get_by_id(order.master_id)
    return states.label(order.state)


# ---------------------------------------------------------------------------------------------
# agents (workstation)
# ---------------------------------------------------------------------------------------------
SIP_PASSWORD_MIN = 8


def _check_sip_password(password: str) -> None:
    if not SIP_PASSWORD_MIN <= len(password) <= 64:
        raise ValidationError(f"SIP 密码长度应为{SIP_PASSWORD_MIN}到64位", details={"password": "长度不符"})
    if not password.isascii() or not password.isprintable() or any(c.isspace() for c in password):
        raise ValidationError(
            "SIP 密码只能包含可见的英文字母、数字和符号", details={"password": "含无效字符"}
        )


def enroll_agent(actor: Actor, user_id: int, extension: str, password: str = "", realm: str = "") -> Agent:
    """Give a user a SIP extension (the account their softphone registers at Kamailio) and, with
    `password`, its SIP password (stored as the digest HA1 for `realm`). Changing the extension
    without a new password clears the old one: the HA1 covers the extension."""
    if not actor.can("user.manage"):
        raise PermissionDenied("只有管理员可以设置坐席分机")
    if not extension.isdigit() or not 3 <= len(extension) <= 8:
        raise ValidationError("分机号须为3到8位数字", details={"extension": "格式错误"})
    if password:
        _check_sip_password(password)
        if not realm:
            raise ValidationError("缺少 SIP 认证域")
    with write_tx():
        user = User.get_or_none(User.id == user_id)
        if user is None:
            raise NotFound("用户不存在")
        clash = Agent.get_or_none(Agent.extension == extension)
        if clash is not None and clash.user_id != user_id:
            raise Conflict(f"分机号已被占用：{extension}")
        agent = Agent.get_or_none(Agent.user == user_id)
        if agent is None:
            agent = Agent(user=user_id, extension=extension, state="offline", state_since=clock.now())
        elif agent.extension != extension:
            agent.extension, agent.sip_ha1, agent.sip_registered = extension, "", None
        if password:
            agent.sip_ha1 = ha1(extension, realm, password)
        agent.save()
        return agent


def set_sip_password(actor: Actor, agent_id: int, password: str, realm: str) -> Agent:
    """Set an agent's SIP password (the agent themself or an administrator); only its HA1 is kept."""
    _check_sip_password(password)
    with write_tx():
        agent = locked(Agent.select().where(Agent.id == agent_id)).first()
        if agent is None:
            raise NotFound("坐席不存在")
        if agent.user_id != actor.user_id and not actor.can("user.manage"):
            raise PermissionDenied("只能修改自己的 SIP 密码")
        agent.sip_ha1 = ha1(agent.extension, realm, password)
        agent.save()
        return agent


def sip_accounts() -> list[tuple[str, str]]:
    """(extension, HA1) of every agent allowed to register a softphone."""
    return [
        (a.extension, a.sip_ha1)
        for a in Agent.select(Agent.extension, Agent.sip_ha1)
        .where(Agent.sip_ha1 != "")
        .order_by(Agent.extension)
    ]


def has_seat(actor: Actor) -> bool:
    return actor.user_id is not None and Agent.select().where(Agent.user == actor.user_id).exists()


def check_call_control(actor: Actor, call_uuid: str) -> Call:
    """Hang-up, hold, transfer, consult from the phone bar: the agent on the call, or a shift
    leader or supervisor (`monitor.view`), and only while it is talking."""
    call = Call.get_or_none(Call.uuid == call_uuid)
    if call is None:
        raise NotFound("通话不存在")
    own = call.agent_id is not None and call.agent.user_id == actor.user_id
    if not (own or actor.can("monitor.view")):
        raise PermissionDenied("只能操作自己正在接听的来电")
    if call.state != "talking":
        raise InvalidTransition("该来电不在通话中")
    return call


def monitor_seat(actor: Actor, call_uuid: str, mode: str) -> Agent:
    """Who listens in: a `monitor.view` role with their own extension, on a talking call."""
    actor.require("monitor.view")
    if mode not in ("listen", "whisper", "barge"):
        raise ValidationError("监听方式须为监听、耳语或强插", details={"mode": "取值错误"})
    seat = Agent.get_or_none(Agent.user == actor.user_id) if actor.user_id else None
    if seat is None:
        raise Conflict("监听需要班长本人的坐席分机（由管理员分配）")
    call = Call.get_or_none(Call.uuid == call_uuid)
    if call is None:
        raise NotFound("通话不存在")
    if call.state != "talking":
        raise InvalidTransition("只能监听通话中的来电")
    if call.agent_id == seat.id:
        raise Conflict("不能监听自己的通话")
    return seat


def agent_for_user(user_id: int | None) -> Agent:
    agent = Agent.get_or_none(Agent.user == user_id) if user_id else None
    if agent is None:
        raise NotFound("当前用户没有坐席分机")
    return agent


def set_agent_state(
    actor: Actor, agent_id: int, state: str, reason: str = "", *, confirm_unregistered: bool = False
) -> Agent:
    """就绪 / 示忙（带原因）/ 离线, by the agent or a shift leader or supervisor (`monitor.view`).
    Going ready while the softphone is known to be unregistered needs `confirm_unregistered`."""
    if state not in ("ready", "not_ready", "offline"):
        raise ValidationError("只能切换为就绪、示忙或离线", details={"state": "取值错误"})
    reason = reason.strip()
    if state == "not_ready" and not reason:
        raise ValidationError("示忙须选择原因", details={"reason": "必填"})
    if len(reason) > 60:
        raise ValidationError("原因不超过60字", details={"reason": "过长"})
    now = clock.now()
    with write_tx():
        agent = locked(Agent.select().where(Agent.id == agent_id)).first()
        if agent is None:
            raise NotFound("坐席不存在")
        own = agent.user_id == actor.user_id
        if not own and not actor.can("monitor.view"):
            raise PermissionDenied("只能切换自己的坐席状态")
        if agent.state in ("ringing", "talking"):
            raise InvalidTransition(f"坐席{AGENT_STATES[agent.state]}，通话结束后再切换状态")
        if state == "ready" and agent.sip_registered is False and not confirm_unregistered:
            raise Conflict(
                f"分机{agent.extension}的软电话未注册，就绪后来电将无法接通。确认仍要就绪吗？",
                code="softphone_unregistered",
            )
        if agent.state == state and agent.reason == reason:
            return agent
        if state == "ready" and agent.state != "wrapup":
            agent.idle_since = now
        by = actor.display_name if own else f"{actor.display_name}（{actor.role_names}）"
        _set_agent(agent, state, now, reason=reason if state == "not_ready" else "", by=by)
        return agent


def update_registrations(registered: set[str], now: dt.datetime | None = None) -> list[str]:
    """Record which extensions Kamailio holds a registration for (engine-1 asks every few
    seconds) and tell the agent's phone bar and the wallboards when it changes. The state stays
    as the agent set it; the queue just does not ring a softphone known to be unregistered
    (`claim_next`). Returns the extensions whose registration changed."""
    now = now or clock.now()
    changed = []
    with write_tx():
        for agent in locked(Agent.select().where(Agent.sip_ha1 != "")):
            is_reg = agent.extension in registered
            agent.registration_checked_at = now
            if agent.sip_registered is not is_reg:
                changed.append(agent.extension)
                agent.sip_registered = is_reg
                data = {"agent_id": agent.id, "registered": is_reg}
                push.publish(push.user_topic(agent.user_id), PHONE, data)
                push.publish(WALLBOARD_TOPIC, FLOOR, {"what": "agent", **data})
            agent.save()
    return changed


# ---------------------------------------------------------------------------------------------
# crash recovery and recordings
# ---------------------------------------------------------------------------------------------
def _rate_order_of_call(call: Call, score: int) -> None:
    """The key pressed after the call also rates the order the agent took on it (服务态度, source
    电话按键): an 不满意 opens the dissatisfaction case like any other channel (node/followup)."""
    if not call.order_number:
        return
    from node.followup import service as followup
    from node.workflow.models import WorkOrder

    order = WorkOrder.get_or_none(WorkOrder.number == call.order_number)
    if order is None:
        return
    with contextlib.suppress(Conflict):  # rated by phone already (an earlier call about it)
        followup.record_rating(order, "ivr", {"service": str(score)})


def finish_recording_file(path: Path) -> dict[str, Any]:
    """Status fields for a recording file: finalized (repaired if its header was never written) or
    flagged when nothing usable is there."""
    if not path.exists():
        return {"status": "flagged", "note": "录音文件缺失", "duration_s": None, "size_bytes": None}
    try:
        repaired = audio.needs_repair(path)
        info = audio.repair(path) if repaired else audio.inspect(path)
    except (audio.WavError, OSError) as exc:
        return {
            "status": "flagged",
            "note": f"录音文件损坏：{exc}"[:200],
            "duration_s": None,
            "size_bytes": path.stat().st_size,
        }
    if info.data_bytes == 0:
        return {"status": "flagged", "note": "录音为空", "duration_s": 0.0, "size_bytes": path.stat().st_size}
    return {
        "status": "finalized",
        "note": "引擎中断后修复文件头" if repaired else "",
        "duration_s": round(info.duration_s, 3),
        "size_bytes": path.stat().st_size,
    }


def recover_engine(name: str, recordings_dir: Path) -> dict[str, int]:
    """After an engine died: close its open calls as dropped, free their agents, and finalize or
    flag their recordings. Idempotent; run at engine start."""
    now = clock.now()
    counts = {"calls": 0, "recordings": 0, "flagged": 0}
    open_calls = [
        c.uuid for c in Call.select(Call.uuid).where(Call.engine == name, Call.state.in_(OPEN_STATES))
    ]
    for uuid in open_calls:
        with write_tx():
            call = locked(Call.select().where(Call.uuid == uuid)).first()
            if call is None or call.state not in OPEN_STATES:
                continue
            _end_leg(_current_leg(call), now, "dropped")
            over = _click_over if call.visit_task is not None else _call_over
            over(_agent_for_call(call.agent_id, uuid), now, 0, uuid)
            if call.state in ("queued", "offered"):
                call.abandoned = False
            call.state, call.ended_at, call.end_reason = "ended", now, "dropped"
            call.save()
            _log(call, "ended", now, call.agent_id, reason="dropped")
            counts["calls"] += 1
    pending = list(Recording.select().join(Call).where(Call.engine == name, Recording.status == "recording"))
    for rec in pending:
        fields = finish_recording_file(recordings_dir / rec.path)
        with write_tx():
            rec.status, rec.note = fields["status"], fields["note"] or "引擎中断"
            rec.duration_s, rec.size_bytes, rec.ended_at = fields["duration_s"], fields["size_bytes"], now
            rec.save()
        counts["recordings"] += 1
        counts["flagged"] += fields["status"] == "flagged"
    return counts


def recording_file(actor: Actor, call_uuid: str, recordings_dir: Path) -> tuple[Recording, Path]:
    """The recording of a call, for roles with `recording.listen` (班长、审核员、派单员、监控员、
    审计员) and for the agent who took the call (`recording.listen_own`)."""
    rec = Recording.select().join(Call).where(Call.uuid == call_uuid).first()
    if rec is None:
        raise NotFound("该通话没有录音")
    own = rec.call.agent_id is not None and rec.call.agent.user_id == actor.user_id
    if not (actor.can("recording.listen") or (own and actor.can("recording.listen_own"))):
        raise PermissionDenied("无权收听该录音")
    if rec.status == "purged":
        raise NotFound("录音已超过保留期限被清除")
    path = (recordings_dir / rec.path).resolve()
    if recordings_dir.resolve() not in path.parents or not path.exists():
        raise NotFound("录音文件不存在")
    return rec, path


def audit_listen(actor: Actor, rec: Recording) -> None:
    """收听录音留痕: every listen of a recording goes to the node's audit log."""
    from node.audit import service as audit

    audit.record(
        actor,
        "recording.listen",
        target=f"call:{rec.call.uuid}",
        details={"order_number": rec.order_number, "recording": rec.path},
    )


def purge_expired_recordings(recordings_dir: Path, today: dt.date | None = None) -> int:
    """Delete recordings past their retention date (a job); the row stays, marked purged."""
    today = today or clock.today()
    expired = list(Recording.select().where(Recording.retain_until < today, Recording.status != "purged"))
    for rec in expired:
        (recordings_dir / rec.path).unlink(missing_ok=True)
        with write_tx():
            rec.status, rec.note = "purged", f"{today.isoformat()} 按保留期清除"
            rec.save()
    return len(expired)


def link_call(call_uuid: str, *, contact_id: int | None = None, order_number: str = "") -> None:
    """Record which intake record / work order a call produced (and carry it to the recording)."""
    with write_tx():
        call = locked(Call.select().where(Call.uuid == call_uuid)).first()
        if call is None:
            raise NotFound(f"通话不存在：{call_uuid}")
        if contact_id is not None:
            call.contact_id = contact_id
        if order_number:
            call.order_number = order_number
        call.save()
        Recording.update(contact_id=call.contact_id, order_number=call.order_number).where(
            Recording.call == call
        ).execute()


def link_contact(contact: Any) -> None:
    """Hook in create_contact's transaction: an intake record made for a call carries the call."""
    if contact.call_id and Call.select().where(Call.uuid == contact.call_id).exists():
        link_call(contact.call_id, contact_id=contact.id)


def link_order(order: Any, event: Any) -> None:
    """Hook in every order change (inside its transaction): the first order made during a call is
    linked to the call and its recording."""
    if not order.call_id:
        return
    call = Call.select(Call.uuid, Call.order_number).where(Call.uuid == order.call_id).first()
    if call is not None and not call.order_number:
        link_call(call.uuid, order_number=order.number)


def register_hooks() -> None:
    """Link intake records and orders to calls when they are created (idempotent)."""
    from node.intake import service as intake
    from node.workflow import service as workflow

    if link_contact not in intake.ON_CONTACT:
        intake.ON_CONTACT.append(link_contact)
    if link_order not in workflow.ON_CHANGE:
        workflow.ON_CHANGE.append(link_order)


def sync_links(since: dt.datetime | None = None) -> int:
    """Pick up links made on the intake/order side (Contact.call_id, WorkOrder.call_id) that the
    hooks missed, for intake records created since `since` (default: the last two days)."""
    from node.intake.models import Contact
    from node.workflow.models import WorkOrder

    since = since or clock.now() - dt.timedelta(days=2)
    n = 0
    for contact in Contact.select().where(Contact.call_id != "", Contact.created_at >= since):
        call = Call.get_or_none(Call.uuid == contact.call_id)
        if call is None:
            continue
        number = contact.order_number or ""
        if not number:
            order = WorkOrder.select(WorkOrder.number).where(WorkOrder.call_id == call.uuid).first()
            number = order.number if order else ""
        if call.contact_id != contact.id or (number and call.order_number != number):
            link_call(call.uuid, contact_id=contact.id, order_number=number)
            n += 1
    return n


# ---------------------------------------------------------------------------------------------
# live state, history, screen-pop
# ---------------------------------------------------------------------------------------------
def live_state(now: dt.datetime | None = None) -> dict[str, Any]:
    """Lines and agents right now, for the wallboard and /metrics."""
    now = now or clock.now()
    calls_by_state = dict.fromkeys(OPEN_STATES, 0)
    for state, n in (
        Call.select(Call.state, pw.fn.COUNT(Call.id))
        .where(Call.state.in_(OPEN_STATES))
        .group_by(Call.state)
        .tuples()
    ):
        calls_by_state[state] = int(n)
    oldest = Call.select(pw.fn.MIN(Call.queued_at)).where(Call.state == "queued").scalar()
    agents_by_state = {s: 0 for s in AGENT_STATES}
    agents = []
    for a in Agent.select(Agent, User).join(User).order_by(Agent.extension):
        state = a.state
        if state == "wrapup" and a.wrapup_until is not None and a.wrapup_until <= now:
            state = "ready"
        agents_by_state[state] += 1
        agents.append(
            {
                "extension": a.extension,
                "name": a.user.display_name,
                "state": state,
                "state_label": AGENT_STATES[state],
                "reason": a.reason,
                "since": a.state_since.isoformat(timespec="seconds"),
                "call": a.current_call,
            }
        )
    engines = live_engines(now)
    return {
        "at": now.isoformat(timespec="seconds"),
        "calls_by_state": calls_by_state,
        "queue_length": calls_by_state["queued"],
        "longest_wait_s": round((now - oldest).total_seconds(), 1) if oldest else 0.0,
        "agents_by_state": agents_by_state,
        "agents": agents,
        "engines": [{"name": e.name, "sip_port": e.sip_port} for e in engines],
    }


def caller_history(call: Call, limit: int = 10) -> list[dict[str, Any]]:
    """Earlier calls from the same number (by keyed hash) for the screen-pop."""
    if not call.caller_digest:
        return []
    rows = (
        Call.select()
        .where(Call.caller_digest == call.caller_digest, Call.id != call.id)
        .order_by(Call.started_at.desc())
        .limit(limit)
    )
    return [
        {
            "call_id": c.uuid,
            "started_at": c.started_at.isoformat(timespec="seconds"),
            "business": ivr.BUSINESS.get(c.business, ""),
            "order_number": c.order_number,
            "end_reason": c.end_reason,
        }
        for c in rows
    ]


def begin_callback(task_id: int) -> tuple[str, str]:
    """Mark a callback task as being dialled; returns (number, business) for the engine."""
    with write_tx():
        task = locked(CallbackTask.select().where(CallbackTask.id == task_id)).first()
        if task is None:
            raise NotFound("回电任务不存在")
        if task.status not in ("pending", "failed"):
            raise InvalidTransition(f"回电任务当前状态为{CALLBACK_STATES[task.status]}，不能再次外呼")
        task.status, task.attempts, task.last_attempt_at = "dialing", task.attempts + 1, clock.now()
        task.save()
        return pii.codec().reveal(task.number_cipher), task.business


# ---------------------------------------------------------------------------------------------
# 回访外呼 (click-to-dial): the agent's softphone rings first, then the engine dials the citizen
# ---------------------------------------------------------------------------------------------
CLICK_PHASES: dict[str, str] = {
    "offered": "正在呼叫您的软电话，请接听",
    "dialing": "您已接听，正在呼叫市民",
    "talking": "通话中（录音中）",
    "ended": "通话已结束",
}


def click_target(actor: Actor, order_number: str) -> tuple[Any, Any, str]:
    """The order, its pending sampled callback task and the number the engine will dial (never
    shown: 保密 orders are called like any other; 匿名 orders are not called)."""
    from node.followup import service as followup
    from node.workflow import service as workflow

    actor.require("order.callback")
    order = workflow.get_order(actor, order_number)
    if order.anonymous:
        raise Conflict("匿名工单不外呼回访（来电人要求匿名）")
    task = followup.open_task(order)
    if task is None or order.state not in ("closed", "answered"):
        raise Conflict("该工单没有待回访任务，不能外呼")
    cipher = order.contact_phone_cipher or order.caller_phone_cipher
    number = pii.codec().reveal(cipher) if cipher else ""
    if not pii.valid_phone(number):
        raise Conflict("工单没有可拨打的联系电话，无法外呼")
    return order, task, number


def place_click_dial(actor: Actor, order_number: str, engine: str) -> str:
    """Start a 回访外呼 for the signed-in agent: a call row (direction outbound, linked to the order
    and its callback task), the agent set 振铃, and an audit entry; the engine named rings the
    agent's softphone next (`control.click_dial`). An unregistered softphone is refused with the
    attempt recorded as not placed. Returns the call id."""
    from node.audit import service as audit
    from node.followup import service as followup

    refused = ""
    uid = uuidlib.uuid4().hex
    with write_tx():
        order, task, number = click_target(actor, order_number)
        seat = locked(Agent.select().where(Agent.user == actor.user_id)).first() if actor.user_id else None
        if seat is None:
            raise Conflict("您没有坐席分机，不能外呼回访（请管理员分配分机）")
        if seat.state in ("ringing", "talking"):
            raise Conflict("您的坐席正在通话或振铃，请结束后再外呼")
        if not seat.sip_ha1 or seat.sip_registered is False:
            followup.record_not_placed(task, actor, "", "软电话未注册，未外呼")
            refused = f"分机{seat.extension}的软电话未注册，无法外呼。请先登录软电话后再试。"
        else:
            now = clock.now()
            p = pii.codec().protect(number)
            call = Call.create(
                uuid=uid,
                direction="outbound",
                engine=engine,
                caller_cipher=p.cipher,
                caller_digest=p.digest,
                caller_masked=p.masked,
                dialed=p.masked,
                started_at=now,
                offered_at=now,
                state="offered",
                agent=seat.id,
                order_number=order.number,
                visit_task=task.id,
            )
            _log(
                call,
                "click_dial",
                now,
                seat.id,
                extension=seat.extension,
                visit_task=task.id,
                order_number=order.number,
                number=p.masked,
                prev_state=seat.state,
                prev_reason=seat.reason,
            )
            _set_agent(seat, "ringing", now, reason="回访外呼", call_uuid=uid, by=actor.display_name)
            audit.record(
                actor,
                "call.placed",
                target=f"call:{uid}",
                details={"order_number": order.number, "visit_task": task.id, "number": p.masked},
            )
            _announce_call(call, "click_dial", seat.id)
    if refused:
        raise Conflict(refused, code="softphone_unregistered")
    return uid


def click_dial_info(call_uuid: str) -> tuple[int, str, str]:
    """For the engine's DB thread: (agent id, extension, citizen number) of a 回访外呼 to place."""
    call = Call.get_or_none(Call.uuid == call_uuid)
    if call is None or call.visit_task is None:
        raise NotFound("回访外呼不存在")
    if call.state != "offered" or call.agent_id is None:
        raise InvalidTransition("该回访外呼已开始或已结束")
    return int(call.agent_id), str(call.agent.extension), pii.codec().reveal(call.caller_cipher)


def click_dial_failed(call_uuid: str, note: str) -> None:
    """No engine took the 回访外呼: record it as not placed and free the agent."""
    at = clock.now()
    record_event({"kind": "click_result", "call": call_uuid, "at": at, "outcome": "not_placed", "note": note})
    record_event({"kind": "ended", "call": call_uuid, "at": at, "reason": "not_placed"})


def _click_agent_answered(call: Call, at: dt.datetime, agent: Agent | None) -> None:
    """The agent took the 回访外呼 on their softphone: they are talking (hearing the ringing), the
    engine dials the citizen, and the outbound call leg (statistics) starts."""
    if agent is not None and agent.state != "talking":
        _set_agent(agent, "talking", at, reason="回访外呼", call_uuid=call.uuid)
    call.state = "dialing"
    call.save()
    leg = _open_leg(call, at, "followup")
    if agent is not None:
        leg.agent, leg.user = agent.id, agent.user_id
        leg.save()
    _log(call, "click_agent", at, call.agent_id)


def _click_result(call: Call, ev: dict[str, Any]) -> None:
    """What became of a 回访外呼: `not_placed` (the agent's softphone did not take it: no try),
    `busy` / `no_answer` (the citizen was not reached: a try, counting toward the plan's retries,
    recorded through the engine's `callback` action as 未接通), `reached` (the agent records the
    answers on the callback screen)."""
    from node.auth.service import actor_for
    from node.errors import DomainError
    from node.followup import service as followup
    from node.followup.models import VisitAttempt, VisitTask
    from node.workflow import service as workflow

    at, outcome = ev["at"], str(ev.get("outcome", ""))
    if outcome not in ("not_placed", "busy", "no_answer", "reached"):
        raise ValidationError(f"回访外呼结果无效：{outcome}")
    note = str(ev.get("note") or END_REASONS.get(outcome, ""))[:200]
    task = VisitTask.get_or_none(VisitTask.id == call.visit_task)
    user = call.agent.user if call.agent_id else None
    actor = actor_for(user) if user is not None else None
    error = ""
    if outcome in ("busy", "no_answer"):
        _end_leg(_current_leg(call), at, "unreached")
    if outcome in ("busy", "no_answer"):
        _order_hooks()
    if task is not None and actor is not None and outcome == "not_placed":
        followup.record_not_placed(task, actor, call.uuid, note)
    elif task is not None and actor is not None and outcome in ("busy", "no_answer"):
        try:
            with write_tx():
                workflow.perform(
                    actor,
                    call.order_number,
                    "callback",
                    {"reached": False, "method": "phone", "call_id": call.uuid, "note": f"回访外呼{note}"},
                )
                VisitAttempt.update(outcome=outcome).where(VisitAttempt.call_id == call.uuid).execute()
        except DomainError as exc:  # the order moved on (reopened, archived) while it rang
            error = exc.message
    _log(call, "click_result", at, call.agent_id, outcome=outcome, note=note, error=error)


def _order_hooks() -> None:
    """An engine process records a 未接通 attempt through the work-order engine: the follow-up,
    supervision and citizen-notice hooks the web and worker install must run there too (loaded
    on first use: engines that never place a 回访外呼 do not import them)."""
    from node.followup import service as followup
    from node.followup import supervision
    from node.outbox import service as outbox

    followup.install()
    supervision.install()
    outbox.install()


def _click_over(agent: Agent | None, at: dt.datetime, wrapup_s: float, call_uuid: str) -> None:
    """A 回访外呼 ended: the agent goes back to what they were before it (示忙 with its reason,
    离线), or to wrap-up then ready if they were ready."""
    if agent is None:
        return
    call = Call.get(Call.uuid == call_uuid)
    placed = CallEvent.get_or_none(CallEvent.call == call, CallEvent.kind == "click_dial")
    data = placed.data or {} if placed is not None else {}
    prev, reason = str(data.get("prev_state", "ready")), str(data.get("prev_reason", ""))
    if prev in ("ready", "wrapup") and agent.state == "talking":
        _to_wrapup(agent, at, wrapup_s, call_uuid)
    elif prev in ("ready", "wrapup"):
        agent.idle_since = at
        _set_agent(agent, "ready", at, call_uuid=call_uuid)
    else:
        if agent.state == "talking":
            _plan_wrapup(agent, call, 0.0)
        _set_agent(
            agent, prev if prev in AGENT_STATES else "not_ready", at, reason=reason, call_uuid=call_uuid
        )


def click_dial_state(actor: Actor, call_uuid: str) -> dict[str, Any]:
    """The callback screen's view of a 回访外呼 (the agent who placed it, or `monitor.view`)."""
    call = Call.get_or_none(Call.uuid == call_uuid)
    if call is None or call.visit_task is None:
        raise NotFound("回访外呼不存在")
    own = call.agent_id is not None and call.agent.user_id == actor.user_id
    if not (own or actor.can("monitor.view")):
        raise PermissionDenied("只能查看自己的回访外呼")
    result = (
        CallEvent.select()
        .where(CallEvent.call == call, CallEvent.kind == "click_result")
        .order_by(CallEvent.seq.desc())
        .first()
    )
    outcome = (result.data or {}).get("outcome", "") if result is not None else ""
    text = CLICK_PHASES.get(call.state, CALL_STATES.get(call.state, ""))
    if call.state == "ended":
        text = {
            "not_placed": "您的软电话未接听，未外呼（不计回访次数）",
            "busy": "市民电话占线，已记为未接通",
            "no_answer": "市民无人接听，已记为未接通",
        }.get(outcome, "通话已结束，请填写回访结果并保存")
    return {
        "call_id": call.uuid,
        "order_number": call.order_number,
        "state": call.state,
        "text": text,
        "outcome": outcome,
        "ended": call.state == "ended",
        "reached": call.answered_at is not None,
        "number": call.caller_masked,
    }


# ---------------------------------------------------------------------------------------------
# IVR order query: the state, and a rating of a closed order (source 电话按键（查询时）)
# ---------------------------------------------------------------------------------------------
RATEABLE_STATES = ("answered", "closed", "visited")


def order_query(number: str, query_code: str) -> tuple[str | None, bool]:
    """(state label, whether the caller may rate it now): a closed order not yet rated by an IVR
    query in its current round. (None, False) when number and code do not match."""
    from node.followup.models import Rating
    from node.workflow import states
    from node.workflow.models import WorkOrder

    label = order_progress(number, query_code)
    if label is None:
        return None, False
    order = WorkOrder.get(WorkOrder.number == number)
    while order.master_id is not None:
        order = WorkOrder.get_by_id(order.master_id)
    rated = (
        Rating.select()
        .where(Rating.order == order, Rating.round == order.reopen_count, Rating.source == "ivr_query")
        .exists()
    )
    return states.label(order.state), order.state in RATEABLE_STATES and not rated


def _query_rated(call: Call, ev: dict[str, Any]) -> None:
    """A caller who queried a closed order rated its result (1/2/3): one rating per order, round,
    source and dimension; 不满意 opens the dissatisfaction case (node/followup)."""
    from node.followup import service as followup
    from node.workflow.models import WorkOrder

    score = int(ev["score"])
    if score not in RATINGS:
        raise ValidationError(f"评价按键无效：{score}")
    number = str(ev.get("order_number", ""))
    order = WorkOrder.get_or_none(WorkOrder.number == number)
    while order is not None and order.master_id is not None:
        order = WorkOrder.get_by_id(order.master_id)
    recorded = False
    if order is not None and order.state in RATEABLE_STATES:
        with contextlib.suppress(Conflict):  # rated already (another call about it)
            followup.record_rating(order, "ivr_query", {"result": str(score)})
            recorded = True
    _log(
        call,
        "query_rated",
        ev["at"],
        order_number=number,
        score=score,
        label=RATINGS[score],
        recorded=recorded,
    )


def click_dial_button(actor: Actor, order: Any) -> dict[str, Any] | None:
    """The 外呼回访 button for an order (callback screen and order page): None when the actor may
    not call back or nothing is to be called back; else whether it is enabled, why not, a warning
    (softphone unregistered: a click is refused and recorded as not placed) and the 回访外呼 in
    progress, if any."""
    from node.followup import service as followup
    from node.settings import current
    from node.telephony import config as tconfig

    if not actor.can("order.callback") or order.state not in ("closed", "answered"):
        return None
    if not tconfig.load(current()).enabled:
        return None  # a node without telephony: callbacks are made by hand, no button
    task = followup.open_task(order)
    if task is None:
        return None
    seat = Agent.get_or_none(Agent.user == actor.user_id) if actor.user_id else None
    active = (
        Call.select(Call.uuid)
        .where(Call.visit_task == task.id, Call.state != "ended", Call.agent == (seat.id if seat else 0))
        .order_by(Call.id.desc())
        .scalar()
    )
    reason = warning = ""
    if order.anonymous:
        reason = "匿名工单不外呼回访"
    elif not (order.contact_phone_cipher or order.caller_phone_cipher):
        reason = "工单没有联系电话"
    elif seat is None:
        reason = "您没有坐席分机，不能外呼"
    elif active or seat.state in ("ringing", "talking"):
        reason = "通话中，结束后可再次外呼"
    elif not seat.sip_ha1 or seat.sip_registered is False:
        warning = f"分机{seat.extension}的软电话未注册"
    return {"enabled": not reason, "reason": reason, "warning": warning, "active_call": active or ""}
