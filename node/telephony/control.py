"""Client for an engine's loopback control socket (JSON line in, JSON line out)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from typing import Any

from node.auth.service import Actor
from node.db import write_tx
from node.errors import Conflict, ValidationError
from node.telephony import service
from node.telephony.config import ANNOUNCER
from node.telephony.models import Call, Engine


def send(port: int, command: dict[str, Any], timeout: float = 12.0) -> dict[str, Any]:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(json.dumps(command, ensure_ascii=False).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        raise Conflict(f"呼叫引擎不可用：{exc}") from exc
    try:
        reply = json.loads(data)
    except ValueError as exc:
        raise Conflict("呼叫引擎应答格式错误") from exc
    if not isinstance(reply, dict):
        raise Conflict("呼叫引擎应答格式错误")
    return reply


def _pool() -> list[Engine]:
    """Live engines that place outbound calls (the busy announcer only tells refused callers the
    lines are busy)."""
    return [eng for eng in service.live_engines() if eng.name != ANNOUNCER]


def _on_free_engine(
    command: dict[str, Any], before: Callable[[Engine], None] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """Send `command` to the live engines in turn until one with a free line takes it; returns the
    accepting reply ({} if none did) and the refusals."""
    errors: list[str] = []
    for eng in _pool():
        if before is not None:
            before(eng)
        try:
            reply = send(eng.control_port, command)
        except Conflict as exc:
            errors.append(exc.message)
            continue
        if reply.get("ok"):
            return reply, errors
        errors.append(str(reply.get("error", "")))
        if "线路已满" not in errors[-1]:
            break
    return {}, errors


def dial_callback(task_id: int) -> dict[str, Any]:
    """Ask a live engine with a free line to call a callback task's number."""
    reply, errors = _on_free_engine({"cmd": "callback", "task_id": task_id})
    if reply:
        return reply
    raise Conflict("回电外呼失败：" + ("；".join(e for e in errors if e) or "没有可用的呼叫引擎"))


def click_dial(actor: Actor, order_number: str) -> dict[str, Any]:
    """回访外呼: place the call (call row, agent 振铃, audit), then have an engine with a free line
    ring the agent's softphone; it dials the citizen once the agent answers. With no engine to take
    it the attempt is recorded as not placed and a Chinese error raised."""
    service.click_target(actor, order_number)  # permission, order and task first: their messages
    pool = _pool()
    if not pool:
        raise Conflict("呼叫引擎未运行，无法外呼")
    call_id = service.place_click_dial(actor, order_number, pool[0].name)

    def move(eng: Engine) -> None:  # the call row names the engine that holds it
        with write_tx():
            Call.update(engine=eng.name).where(Call.uuid == call_id).execute()

    reply, errors = _on_free_engine({"cmd": "click_dial", "call": call_id}, move)
    if reply:
        return {"ok": True, "call_id": call_id}
    reason = "；".join(e for e in errors if e) or "没有可用的呼叫引擎"
    service.click_dial_failed(call_id, f"未外呼：{reason}"[:200])
    raise Conflict(f"外呼失败：{reason}")


def engine_command(call_uuid: str, command: dict[str, Any]) -> dict[str, Any]:
    """Send a command about one call to the engine that holds it."""
    call = Call.get_or_none(Call.uuid == call_uuid)
    if call is None:
        raise ValidationError("通话不存在")
    eng = Engine.get_or_none(Engine.name == call.engine)
    if eng is None or not eng.control_port:
        raise Conflict("该通话所在的呼叫引擎不可用")
    reply = send(eng.control_port, {**command, "call": call_uuid})
    if not reply.get("ok"):
        raise Conflict(str(reply.get("error") or "引擎拒绝了该命令"))
    return reply
