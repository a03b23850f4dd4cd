"""Telephony web routes: the phone bar (agent state, call controls, screen-pop data), the
supervisor wallboard (page, data, forcing states, listening in), Prometheus metrics, recordings
(authenticated, every listen audited), IVR menus and callbacks. Live updates reach the pages over
the push channel (node/push), never over a stream held here."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request, send_file

from node.api.routing import json_body
from node.auth import web
from node.errors import ValidationError
from node.telephony import config as tconfig
from node.telephony import control, floor, kamailio, metrics, service
from node.telephony.models import AGENT_STATES, CALLBACK_STATES, RECORDING_STATES, CallbackTask, IvrMenu

bp = Blueprint("telephony", __name__, url_prefix="/telephony")


def init_app(app: Flask) -> None:
    from node.monitoring.metrics import EXTRA_COLLECTORS
    from node.telephony.metrics import DbLiveStateCollector

    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    service.register_hooks()
    if not any(isinstance(c, DbLiveStateCollector) for c in EXTRA_COLLECTORS):
        EXTRA_COLLECTORS.append(DbLiveStateCollector())
    nav = app.config.setdefault("NAV_EXTRA", [])
    if not any(item[1] == "/telephony/wallboard" for item in nav):
        nav.append(("运行监控", "/telephony/wallboard", "telephony.wallboard", "monitor.view"))
    app.context_processor(_floor_context)
    app.jinja_env.globals["order_calls"] = _order_calls


def _floor_context() -> dict[str, Any]:
    """`phone_bar`: the signed-in user has a seat, so every screen shows the phone bar."""
    actor = web.optional_actor()
    return {"phone_bar": actor is not None and service.has_seat(actor)}


def _order_calls(number: str) -> list[dict[str, Any]]:
    """The order page's 通话与录音 panel (node/templates/telephony/order_calls.html)."""
    return floor.order_calls(web.current_actor(), number)


@bp.before_request
def _csrf() -> None:
    web.check_csrf(request.headers.get(web.CSRF_HEADER))


def _cfg() -> tconfig.TelephonyConfig:
    return tconfig.load(current_app.config["NODE"])


def _home() -> Path:
    return Path(current_app.config["NODE"].home)


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
    """The phone bar's state: seat, state and who set it, softphone registration, current call."""
    return jsonify(floor.phone_bar(web.current_actor(), _cfg()))


@bp.post("/agent/state")
def set_my_state() -> Any:
    """就绪 / 示忙（带原因）/ 离线 for the signed-in agent, or `agent_id` for a shift leader or
    supervisor forcing it. `confirm: true` goes ready although the softphone is unregistered."""
    actor = web.current_actor()
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationError("请求体须为对象")
    agent_id = body.get("agent_id") or service.agent_for_user(actor.user_id).id
    if not isinstance(agent_id, int) or isinstance(agent_id, bool):
        raise ValidationError("坐席编号须为整数", details={"agent_id": "应为整数"})
    agent = service.set_agent_state(
        actor,
        agent_id,
        str(body.get("state", "")),
        str(body.get("reason", "")),
        confirm_unregistered=body.get("confirm") is True,
    )
    return jsonify(_agent_json(agent))


@bp.get("/calls/<call_id>/pop")
def call_pop(call_id: str) -> Any:
    """Screen-pop data of a call bridged to the signed-in agent (the push channel announces the
    call; the page fetches this)."""
    return jsonify(floor.call_pop(web.current_actor(), call_id))


CALL_COMMANDS = {
    "hangup": "agent_hangup",
    "hold": "hold",
    "unhold": "unhold",
    "consult": "consult",
    "consult_transfer": "consult_transfer",
    "consult_cancel": "consult_cancel",
}


@bp.post("/calls/<call_id>/<command>")
def call_command(call_id: str, command: str) -> Any:
    """The phone bar on a talking call: `hangup` (the agent's side; the caller goes on to the
    rating), `hold`, `unhold`, `consult` {"extension"} (caller on hold, a colleague rung),
    `consult_transfer` (hand the caller to that colleague), `consult_cancel`."""
    actor = web.current_actor()  # sign-in first (issue 18: no validation answers for anonymous)
    if command not in CALL_COMMANDS:
        raise ValidationError("未知的通话操作", details={"command": "取值错误"})
    service.check_call_control(actor, call_id)
    cmd: dict[str, Any] = {"cmd": CALL_COMMANDS[command]}
    if command == "consult":
        body = json_body()
        extension = str(body.get("extension", "")).strip() if isinstance(body, dict) else ""
        key, value = service.parse_transfer({"extension": extension})
        cmd[key] = value
    return jsonify(control.engine_command(call_id, cmd))


@bp.post("/calls/<call_id>/monitor")
def monitor(call_id: str) -> Any:
    """班长监听 {"mode": "listen" | "whisper" | "barge"}: the engine rings the shift leader's own
    extension and mixes it into the call; the same request changes the mode of a running one."""
    actor = web.current_actor()
    body = json_body()
    mode = str(body.get("mode", "listen")) if isinstance(body, dict) else ""
    supervisor = service.monitor_seat(actor, call_id, mode)
    reply = control.engine_command(
        call_id,
        {"cmd": "monitor", "mode": mode, "extension": supervisor.extension, "agent_id": supervisor.id},
    )
    return jsonify(reply)


@bp.get("/click-dial/<call_id>")
def click_dial_state(call_id: str) -> Any:
    """A 回访外呼's progress for the callback screen (the agent who placed it, or monitor.view)."""
    return jsonify(service.click_dial_state(web.current_actor(), call_id))


@bp.get("/wallboard")
def wallboard_page() -> Any:
    """运行监控大屏: agents, queues, lines, today's figures, orders and system resources."""
    actor = web.current_actor()
    actor.require("monitor.view")
    return render_template("telephony/wallboard.html", board=floor.wallboard(actor, _cfg(), _home()))


@bp.get("/wallboard/data")
def wallboard_data() -> Any:
    return jsonify(floor.wallboard(web.current_actor(), _cfg(), _home()))


@bp.get("/live")
def live() -> Any:
    """Lines and agents right now (the supervisor wallboard)."""
    web.current_actor().require("monitor.view")
    return jsonify(service.live_state())


@bp.get("/metrics")
def prometheus() -> Any:
    """Prometheus text format: calls by state, queue length, longest wait, agents by state and
    the call-leg counters (answered, abandoned, overflow …). Same access as /metrics: the
    allowed scrape addresses or a monitor.view account (issue 18: it was open to anyone)."""
    from node.monitoring.metrics import _allow_scrape

    _allow_scrape()
    return Response(metrics.render(service.live_state(), floor.leg_counters()), mimetype=metrics.CONTENT_TYPE)


@bp.get("/recordings/<call_id>")
def recording(call_id: str) -> Any:
    """Play or download one call's recording (roles with recording.listen, or the agent who took it)."""
    actor = web.current_actor()
    rec, path = service.recording_file(actor, call_id, _cfg().recordings_dir)
    download = request.args.get("download") == "1"
    # the player's first request (no range, or from byte 0) is one listen; seeks are not
    if download or request.range is None or request.range.ranges[0][0] == 0:
        service.audit_listen(actor, rec)
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
