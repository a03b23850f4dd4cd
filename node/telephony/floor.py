"""The call-centre floor, read side: the agent's phone bar, the supervisor wallboard (坐席、线路、
队列、系统资源), the calls of an order and the call-leg counters for /metrics.

Everything here reads; state changes go through `node.telephony.service`.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import peewee as pw

from node import clock, db, pii
from node.auth.models import User
from node.auth.service import Actor
from node.errors import NotFound, PermissionDenied
from node.telephony import ivr, service
from node.telephony.config import TelephonyConfig
from node.telephony.models import (
    AGENT_STATES,
    RATINGS,
    RECORDING_STATES,
    Agent,
    AgentStateLog,
    Call,
    CallbackTask,
    CallEvent,
    CallLeg,
    PhoneRating,
    Recording,
)

# States the phone bar offers, with the keyboard shortcut the bar shows next to each.
BAR_STATES = {"ready": "就绪", "not_ready": "示忙", "offline": "离线"}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _effective_state(agent: Agent, now: dt.datetime) -> str:
    if agent.state == "wrapup" and agent.wrapup_until is not None and agent.wrapup_until <= now:
        return "ready"
    return str(agent.state)


def _caller(actor: Actor, call: Call) -> str:
    """The number on the screen: in full only for `pii.view`, and never for a 回访外呼 (the engine
    dials the citizen; 保密 rules keep the number off every screen)."""
    if actor.can("pii.view") and call.caller_cipher and call.visit_task is None:
        return pii.codec().reveal(call.caller_cipher)
    return str(call.caller_masked)


# ---------------------------------------------------------------------------------------------
# phone bar
# ---------------------------------------------------------------------------------------------
def phone_bar(actor: Actor, cfg: TelephonyConfig) -> dict[str, Any]:
    """The signed-in agent's seat: state (and who or what set it), softphone registration, the
    call in progress; `{"enrolled": False}` for a user without an extension."""
    agent = Agent.get_or_none(Agent.user == actor.user_id) if actor.user_id else None
    if agent is None:
        return {"enrolled": False}
    now = clock.now()
    state = _effective_state(agent, now)
    last = (
        AgentStateLog.select().where(AgentStateLog.agent == agent).order_by(AgentStateLog.id.desc()).first()
    )
    call = None
    current = agent.current_call or ""
    if not current and state == "wrapup" and last is not None:
        current = last.call_uuid
    row = Call.get_or_none(Call.uuid == current) if current else None
    if row is not None and (row.state != "ended" or state == "wrapup"):
        held = (
            CallEvent.select(CallEvent.kind)
            .where(CallEvent.call == row, CallEvent.kind.in_(("hold", "unhold")))
            .order_by(CallEvent.seq.desc())
            .scalar()
        )
        consult = (
            CallEvent.select()
            .where(CallEvent.call == row, CallEvent.kind == "consult")
            .order_by(CallEvent.seq.desc())
            .first()
        )
        phase = (consult.data or {}).get("phase") if consult is not None else None
        call = {
            "call_id": row.uuid,
            "state": row.state,
            "caller": _caller(actor, row),
            "business": "回访外呼" if row.visit_task is not None else ivr.BUSINESS.get(row.business, ""),
            "outbound": row.visit_task is not None,  # the phone bar says 外呼 instead of 来电
            "since": _iso(row.bridged_at or row.offered_at),
            "on_hold": held == "hold" and row.state == "talking",
            "order_number": row.order_number,
            # the agent's own consultation of a colleague (咨询): ringing / talking
            "consult": phase if phase in ("ringing", "talking") and row.agent_id == agent.id else None,
            "consulted": row.agent_id != agent.id,
        }
    return {
        "enrolled": True,
        "agent_id": agent.id,
        "extension": agent.extension,
        "state": state,
        "state_label": AGENT_STATES[state],
        "reason": agent.reason,
        "since": _iso(
            agent.wrapup_until if state == "ready" and agent.state == "wrapup" else agent.state_since
        ),
        "changed_by": last.by if last is not None else "",
        "by_system": last is not None and last.by == service.SYSTEM_BY,
        "wrapup_until": _iso(agent.wrapup_until) if state == "wrapup" else None,
        "registered": agent.sip_registered,
        "reasons": list(cfg.not_ready_reasons),
        "call": call,
        "sip": {"host": cfg.sip_host, "port": cfg.sip_port, "realm": cfg.sip_realm},
    }


def call_pop(actor: Actor, call_uuid: str) -> dict[str, Any]:
    """The screen-pop of one call: for the agent it was bridged to, or a shift leader."""
    call = Call.get_or_none(Call.uuid == call_uuid)
    if call is None:
        raise NotFound("通话不存在")
    own = call.agent_id is not None and call.agent.user_id == actor.user_id
    if not (own or actor.can("monitor.view")):
        raise PermissionDenied("只能查看自己接听的来电")
    return {
        "call_id": call.uuid,
        "caller": _caller(actor, call),
        "caller_masked": call.caller_masked,
        "channel": service.PHONE_CHANNEL,
        "business": call.business,
        "business_label": ivr.BUSINESS.get(call.business, ""),
        "bridged_at": _iso(call.bridged_at),
        "recording_ref": f"/telephony/recordings/{call.uuid}",
        "history": service.caller_history(call),
    }


# ---------------------------------------------------------------------------------------------
# wallboard
# ---------------------------------------------------------------------------------------------
def _today(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(now.date(), dt.time())
    return start, start + dt.timedelta(days=1)


def leg_totals(day: dt.date, service_level_s: float) -> dict[str, dict[str, Any]]:
    """Per queue (business code) for one day: offered, answered, abandoned, within the service
    level, callbacks, overflow, average wait of the answered and average handling time."""
    answered = CallLeg.answered_at.is_null(False)
    rows = (
        CallLeg.select(
            CallLeg.queue,
            pw.fn.COUNT(CallLeg.id).alias("offered"),
            pw.fn.SUM(pw.Case(None, [(answered, 1)], 0)).alias("answered"),
            pw.fn.SUM(pw.Case(None, [(CallLeg.outcome == "abandoned", 1)], 0)).alias("abandoned"),
            pw.fn.SUM(pw.Case(None, [(answered & (CallLeg.wait_s <= service_level_s), 1)], 0)).alias("in_sl"),
            pw.fn.SUM(pw.Case(None, [(CallLeg.outcome == "callback", 1)], 0)).alias("callback"),
            pw.fn.SUM(pw.Case(None, [(CallLeg.outcome == "overflow", 1)], 0)).alias("overflow"),
            pw.fn.AVG(pw.Case(None, [(answered, CallLeg.wait_s)], None)).alias("asa"),
            pw.fn.AVG(CallLeg.talk_s).alias("aht"),
        )
        .where(CallLeg.day == day)
        .group_by(CallLeg.queue)
        .dicts()
    )
    return {r["queue"]: {k: (v or 0) for k, v in r.items() if k != "queue"} for r in rows}


def _queue_rows(
    now: dt.datetime, cfg: TelephonyConfig, totals: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    waiting: dict[str, tuple[int, dt.datetime | None]] = {}
    for business, n, oldest in (
        Call.select(Call.business, pw.fn.COUNT(Call.id), pw.fn.MIN(Call.queued_at))
        .where(Call.state == "queued")
        .group_by(Call.business)
        .tuples()
    ):
        waiting[business] = (int(n), oldest)
    out = []
    for code, label in ivr.BUSINESS.items():
        n, oldest = waiting.get(code, (0, None))
        t = totals.get(code, {})
        handled = int(t.get("answered", 0)) + int(t.get("abandoned", 0))
        sl = (int(t.get("in_sl", 0)) / handled) if handled else None
        longest = round((now - oldest).total_seconds()) if oldest else 0
        out.append(
            {
                "queue": code,
                "label": label,
                "waiting": n,
                "longest_wait_s": longest,
                "answered": int(t.get("answered", 0)),
                "abandoned": int(t.get("abandoned", 0)),
                "service_level": None if sl is None else round(sl, 3),
                "alert": n >= cfg.alert_queue
                or longest >= cfg.alert_wait_s
                or (sl is not None and sl < cfg.alert_service_level),
            }
        )
    return out


def _agents(now: dt.datetime) -> list[dict[str, Any]]:
    out = []
    for a in Agent.select(Agent, User).join(User).order_by(Agent.extension):
        state = _effective_state(a, now)
        since = a.wrapup_until if state == "ready" and a.state == "wrapup" else a.state_since
        out.append(
            {
                "agent_id": a.id,
                "extension": a.extension,
                "name": a.user.display_name,
                "state": state,
                "state_label": AGENT_STATES[state],
                "reason": a.reason,
                "since": _iso(since),
                "seconds": max(0, round((now - since).total_seconds())) if since else 0,
                "call": a.current_call,
                "registered": a.sip_registered,
            }
        )
    return out


def _orders(actor: Actor) -> dict[str, int]:
    from node.workflow import service as workflow

    return workflow.count_queues(actor, ["overdue", "due_soon"])


def _database_bytes() -> int | None:
    database = db.database.obj
    if isinstance(database, pw.SqliteDatabase):
        path = Path(database.database)
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    try:
        return int(db.database.execute_sql("SELECT pg_database_size(current_database())").fetchone()[0])
    except pw.DatabaseError:
        return None


def _outbox() -> dict[str, Any] | None:
    """Federation outbox lag, read straight from its table (the federation package owns it)."""
    try:
        from federation.models import OutboxMessage
    except ImportError:
        return None
    pending = OutboxMessage.select(pw.fn.COUNT(OutboxMessage.id), pw.fn.MIN(OutboxMessage.created_at)).where(
        OutboxMessage.status == "pending"
    )
    n, oldest = pending.tuples().first() or (0, None)
    parked = OutboxMessage.select().where(OutboxMessage.status == "parked").count()
    return {
        "pending": int(n or 0),
        "parked": int(parked),
        "lag_s": round((clock.now() - oldest).total_seconds()) if oldest else 0,
    }


def system(cfg: TelephonyConfig, home: Path) -> dict[str, Any]:
    """Machine resources (psutil) and the node's own processes."""
    import psutil

    disk = psutil.disk_usage(str(home))
    mem = psutil.virtual_memory()
    engines = service.live_engines()
    kamailio_up = (cfg.run_dir / "kamailio_ctl").exists() and _pid_alive(cfg.run_dir / "kamailio.pid")
    return {
        "cpu_percent": psutil.cpu_percent(interval=None),
        "load": [round(x, 2) for x in os.getloadavg()],
        "cores": psutil.cpu_count(),
        "memory_percent": mem.percent,
        "memory_used_mb": round((mem.total - mem.available) / 2**20),
        "memory_total_mb": round(mem.total / 2**20),
        "disk_percent": disk.percent,
        "disk_free_gb": round(disk.free / 2**30, 1),
        "database_mb": None if (size := _database_bytes()) is None else round(size / 2**20, 1),
        "engines_live": len([e for e in engines if e.name != "announcer"]),
        "engines_configured": cfg.engines,
        "announcer_live": any(e.name == "announcer" for e in engines),
        "kamailio": kamailio_up,
        "telephony_enabled": cfg.enabled,
        "outbox": _outbox(),
        "worker": _worker(),
    }


def _worker() -> dict[str, Any]:
    """The worker's heartbeat (node.jobs.worker): alive, how long ago, the newest failed job."""
    from node.jobs.worker import last_heartbeat

    now = clock.now()
    beat = last_heartbeat(now)
    if beat is None:
        return {"alive": False, "age_s": None, "last_failure": None}
    failure = beat.last_failure
    recent = bool(failure) and (now - dt.datetime.fromisoformat(failure["at"])).total_seconds() < 3600
    return {"alive": not beat.stale, "age_s": round(beat.age_s), "last_failure": failure if recent else None}


def _pid_alive(pidfile: Path) -> bool:
    try:
        os.kill(int(pidfile.read_text().strip()), 0)
    except (OSError, ValueError):
        return False
    return True


def wallboard(actor: Actor, cfg: TelephonyConfig, home: Path) -> dict[str, Any]:
    """Everything the supervisor wallboard shows, with `alert` flags where a threshold is crossed."""
    actor.require("monitor.view")
    now = clock.now()
    start, end = _today(now)
    totals = leg_totals(now.date(), cfg.service_level_s)
    queues = _queue_rows(now, cfg, totals)
    live = service.live_state(now)
    calls = live["calls_by_state"]
    in_use = sum(calls.values())
    answered = sum(int(t.get("answered", 0)) for t in totals.values())
    abandoned = sum(int(t.get("abandoned", 0)) for t in totals.values())
    overflow = sum(int(t.get("overflow", 0)) for t in totals.values())
    handled = answered + abandoned
    abandon_rate = abandoned / handled if handled else 0.0
    in_sl = sum(int(t.get("in_sl", 0)) for t in totals.values())
    sys_info = system(cfg, home)
    orders = _orders(actor)
    outbox = sys_info["outbox"] or {}
    return {
        "at": _iso(now),
        "agents": _agents(now),
        "agents_by_state": live["agents_by_state"],
        "queues": queues,
        "lines": {
            "in_use": in_use,
            "capacity": cfg.capacity,
            "ivr": calls["ivr"],
            "queued": calls["queued"],
            "talking": calls["talking"] + calls["offered"],
            "alert": in_use >= cfg.capacity,
        },
        "today": {
            "answered": answered,
            "abandoned": abandoned,
            "overflow": overflow,
            "abandon_rate": round(abandon_rate, 3),
            "service_level": round(in_sl / handled, 3) if handled else None,
            "callbacks_pending": CallbackTask.select().where(CallbackTask.status == "pending").count(),
            "alert": abandon_rate > cfg.alert_abandon_rate or overflow > 0,
        },
        "orders": {**orders, "alert": orders.get("overdue", 0) > 0},
        "system": {
            **sys_info,
            "alert": sys_info["cpu_percent"] >= 90
            or sys_info["memory_percent"] >= 90
            or sys_info["disk_percent"] >= 90
            or (cfg.enabled and (sys_info["engines_live"] < cfg.engines or not sys_info["kamailio"]))
            or not sys_info["worker"]["alive"]
            or outbox.get("lag_s", 0) >= 600
            or outbox.get("parked", 0) > 0,
        },
        "thresholds": {
            "alert_wait_s": cfg.alert_wait_s,
            "alert_queue": cfg.alert_queue,
            "service_level_s": cfg.service_level_s,
            "alert_service_level": cfg.alert_service_level,
            "alert_abandon_rate": cfg.alert_abandon_rate,
        },
        "window": [_iso(start), _iso(end)],
    }


# ---------------------------------------------------------------------------------------------
# calls of an order
# ---------------------------------------------------------------------------------------------
def may_listen(actor: Actor, call: Call) -> bool:
    own = call.agent_id is not None and call.agent.user_id == actor.user_id
    return actor.can("recording.listen") or (own and actor.can("recording.listen_own"))


def order_calls(actor: Actor, number: str) -> list[dict[str, Any]]:
    """The calls that produced or concern an order (通话与录音), newest first, with what the
    actor may hear."""
    calls = list(
        Call.select(Call, Agent, User)
        .join(Agent, pw.JOIN.LEFT_OUTER, on=(Call.agent == Agent.id))
        .join(User, pw.JOIN.LEFT_OUTER, on=(Agent.user == User.id))
        .where(Call.order_number == number)
        .order_by(Call.started_at.desc())
    )
    if not calls:
        return []
    recs = {r.call_id: r for r in Recording.select().where(Recording.call.in_([c.id for c in calls]))}
    ratings = {r.call_id: r for r in PhoneRating.select().where(PhoneRating.call.in_([c.id for c in calls]))}
    out = []
    for c in calls:
        rec, rating = recs.get(c.id), ratings.get(c.id)
        playable = rec is not None and rec.status == "finalized"
        out.append(
            {
                "call_id": c.uuid,
                "started_at": c.started_at,
                "direction": "呼入" if c.direction == "inbound" else "呼出",
                "caller": c.caller_masked,
                "agent": c.agent.user.display_name if c.agent_id and c.agent else "",
                "extension": c.agent.extension if c.agent_id and c.agent else "",
                "duration_s": rec.duration_s if rec else None,
                "recording_status": RECORDING_STATES.get(rec.status, "") if rec else "无录音",
                "rating": RATINGS.get(rating.score, "") if rating else "",
                "can_listen": playable and may_listen(actor, c),
                "src": f"/telephony/recordings/{c.uuid}",
            }
        )
    return out


# ---------------------------------------------------------------------------------------------
# /metrics counters
# ---------------------------------------------------------------------------------------------
def leg_counters() -> dict[str, Any]:
    """Monotonic totals over every call leg ever recorded (legs are never deleted)."""
    by_outcome = dict(
        CallLeg.select(CallLeg.outcome, pw.fn.COUNT(CallLeg.id)).group_by(CallLeg.outcome).tuples()
    )
    answered = CallLeg.select().where(CallLeg.answered_at.is_null(False))
    within_10 = answered.where(CallLeg.wait_s <= 10).count()
    wait_sum = (
        CallLeg.select(pw.fn.SUM(CallLeg.wait_s)).where(CallLeg.answered_at.is_null(False)).scalar() or 0.0
    )
    talk_sum = CallLeg.select(pw.fn.SUM(CallLeg.talk_s)).where(CallLeg.talk_s.is_null(False)).scalar() or 0.0
    return {
        "by_outcome": {k: int(v) for k, v in by_outcome.items()},
        "answered": answered.count(),
        "answered_within_10s": within_10,
        "wait_seconds_sum": float(wait_sum),
        "talk_seconds_sum": float(talk_sum),
    }
