"""Client for an engine's loopback control socket (JSON line in, JSON line out)."""

from __future__ import annotations

import json
import socket
from typing import Any

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


def dial_callback(task_id: int) -> dict[str, Any]:
    """Ask a live engine with a free line to call a callback task's number."""
    errors = []
    for eng in service.live_engines():
        if eng.name == ANNOUNCER:  # it only tells refused callers the lines are busy
            continue
        reply = send(eng.control_port, {"cmd": "callback", "task_id": task_id})
        if reply.get("ok"):
            return reply
        errors.append(str(reply.get("error", "")))
        if "线路已满" not in errors[-1]:
            break
    raise Conflict("回电外呼失败：" + ("；".join(e for e in errors if e) or "没有可用的呼叫引擎"))


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
