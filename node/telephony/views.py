"""Telephony web routes: agent state, screen-pop (server-sent events), wallboard live state,
Prometheus metrics, recordings (authenticated download), IVR menus and callbacks."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request, send_file, stream_with_context

from node import db
from node.api.routing import arg_int, json_body
from node.auth import web
from node.errors import ValidationError
from node.telephony import config as tconfig
from node.telephony import control, kamailio, metrics, service
from node.telephony.models import AGENT_STATES, CALLBACK_STATES, RECORDING_STATES, CallbackTask, IvrMenu

bp = Blueprint("telephony", __name__, url_prefix="/telephony")
SSE_POLL_S = 0.5
SSE_MAX_S = 300.0


def init_app(app: Flask) -> None:
    from node.monitoring.metrics import EXTRA_COLLECTORS
    from node.telephony.metrics import DbLiveStateCollector

    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    service.register_hooks()
    if not any(isinstance(c, DbLiveStateCollector) for c in EXTRA_COLLECTORS):
        EXTRA_COLLECTORS.append(DbLiveStateCollector())


@bp.before_request
def _csrf() -> None:
    web.check_csrf(request.headers.get(web.CSRF_HEADER))


def _cfg() -> tconfig.TelephonyConfig:
    return tconfig.load(current_app.config["NODE"])


def _agent_json(a: Any) -> dict[str, Any]:
    return {
        "id": a.id,
        "extension": a.extension,
        "state": a.state,
        "state_label": AGENT_STATES[a.state],
        "reason": a.reason,
        "since": a.state_since.isoformat(timespec="seconds"),
    }


@bp.get("/agent/me")
def my_agent() -> Any:
    actor = web.current_actor()
    return jsonify(_agent_json(service.agent_for_user(actor.user_id)))


@bp.post("/agent/state")
def set_my_state() -> Any:
    """就绪 / 未就绪（带原因）/ 离线 for the signed-in agent (or `agent_id` for a shift leader)."""
    actor = web.current_actor()
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationError("请求体须为对象")
    agent_id = body.get("agent_id") or service.agent_for_user(actor.user_id).id
    if not isinstance(agent_id, int):
        raise ValidationError("坐席编号须为整数", details={"agent_id": "应为整数"})
    agent = service.set_agent_state(actor, agent_id, str(body.get("state", "")), str(body.get("reason", "")))
    return jsonify(_agent_json(agent))


@bp.get("/screen-pop")
def screen_pop_stream() -> Any:
    """Server-sent events `call`: caller number, business, history and recording of each call
    bridged to the signed-in agent's seat (`?after=EVENT_ID` to resume, `?once=1` for one poll).
    The agent workstation (node/static/js/app.js, setupScreenPop) subscribes here."""
    actor = web.current_actor()
    after = arg_int("after", -1, lo=-1)
    if after < 0:
        after = service.last_event_id()
    once = request.args.get("once") == "1"

    def stream() -> Iterator[str]:
        nonlocal after
        started = time.monotonic()
        yield "retry: 2000\n\n"
        while time.monotonic() - started < SSE_MAX_S:
            with db.connection():
                pops = service.screen_pops(actor, after)
            for pop in pops:
                after = pop["event_id"]
                yield f"id: {after}\nevent: call\ndata: {json.dumps(pop, ensure_ascii=False)}\n\n"
            if once:
                return
            yield ": keepalive\n\n"
            time.sleep(SSE_POLL_S)

    if db.database.transaction_depth() == 0 and not db.database.is_closed():
        db.database.close()  # the stream opens its own short connections
    resp = Response(stream_with_context(stream()), mimetype="text/event-stream")
    resp.headers["Cache-Control"] = "no-cache"
    resp.headers["X-Accel-Buffering"] = "no"
    return resp


@bp.get("/live")
def live() -> Any:
    """Lines and agents right now (the supervisor wallboard)."""
    web.current_actor().require("monitor.view")
    return jsonify(service.live_state())


@bp.get("/metrics")
def prometheus() -> Any:
    """Prometheus text format: calls by state, queue length, longest wait, agents by state."""
    return Response(metrics.render(service.live_state()), mimetype=metrics.CONTENT_TYPE)


@bp.get("/recordings/<call_id>")
def recording(call_id: str) -> Any:
    """Play or download one call's recording (roles with recording.listen, or the agent who took it)."""
    actor = web.current_actor()
    _rec, path = service.recording_file(actor, call_id, _cfg().recordings_dir)
    download = request.args.get("download") == "1"
    return send_file(
        path,
        mimetype="audio/wav",
        as_attachment=download,
        download_name=f"{call_id}.wav",
        conditional=True,
        max_age=0,
    )


@bp.get("/recordings/<call_id>/info")
def recording_info(call_id: str) -> Any:
    actor = web.current_actor()
    rec, _ = service.recording_file(actor, call_id, _cfg().recordings_dir)
    return jsonify(
        {
            "call_id": call_id,
            "status": rec.status,
            "status_label": RECORDING_STATES[rec.status],
            "duration_s": rec.duration_s,
            "started_at": rec.started_at.isoformat(timespec="seconds"),
            "retain_until": rec.retain_until.isoformat() if rec.retain_until else None,
            "order_number": rec.order_number,
            "contact_id": rec.contact_id,
            "note": rec.note,
        }
    )


@bp.get("/menus")
def menus() -> Any:
    web.current_actor().require("node.manage")
    return jsonify([dataclasses.asdict(m) for m in service.load_menus().values()])


@bp.put("/menus/<key>")
def put_menu(key: str) -> Any:
    row: IvrMenu = service.save_menu(web.current_actor(), key, json_body())
    return jsonify(
        {"key": row.key, "title": row.title, "updated_at": row.updated_at.isoformat(timespec="seconds")}
    )


@bp.get("/callbacks")
def callbacks() -> Any:
    web.current_actor().require("order.callback")
    status = request.args.get("status", "pending")
    if status not in CALLBACK_STATES:
        raise ValidationError("回电任务状态无效", details={"status": "取值错误"})
    rows = (
        CallbackTask.select()
        .where(CallbackTask.status == status)
        .order_by(CallbackTask.created_at)
        .limit(200)
    )
    return jsonify(
        [
            {
                "id": t.id,
                "number": t.number_masked,
                "business": t.business,
                "status": t.status,
                "status_label": CALLBACK_STATES[t.status],
                "attempts": t.attempts,
                "created_at": t.created_at.isoformat(timespec="seconds"),
                "result": t.result,
            }
            for t in rows
        ]
    )


@bp.post("/callbacks/<int:task_id>/dial")
def dial_callback(task_id: int) -> Any:
    web.current_actor().require("order.callback")
    return jsonify(control.dial_callback(task_id))


@bp.post("/calls/<call_id>/transfer")
def transfer(call_id: str) -> Any:
    """Transfer a talking call: {"extension": "8002"} | {"queue": "2"} | {"number": "13700001111"}."""
    actor = web.current_actor()
    body = json_body()
    target = service.transfer_target(actor, call_id, body if isinstance(body, dict) else None)
    return jsonify(control.engine_command(call_id, {"cmd": "transfer", **target}))


@bp.post("/agent/sip-password")
def set_sip_password() -> Any:
    """The signed-in agent sets their softphone's SIP password (exported to Kamailio at once)."""
    actor = web.current_actor()
    body = json_body()
    password = str(body.get("password", "")) if isinstance(body, dict) else ""
    cfg = _cfg()
    agent = service.set_sip_password(actor, service.agent_for_user(actor.user_id).id, password, cfg.sip_realm)
    kamailio.sync_credentials(cfg)
    return jsonify({**_agent_json(agent), "sip_realm": cfg.sip_realm})
