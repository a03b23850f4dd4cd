"""微信公众号 callback URL (`/wechat/callback`, wechatpy): the platform's signature
(sha1 of token, timestamp, nonce) is checked on every request; GET answers the URL check with
`echostr`, POST text messages become intake records (or "1/2/3" ratings after an invitation, or
"<工单编号> <查询码>" binding the follower to an order), answered with a passive text reply.
Template messages to followers are sent by the worker (node.outbox.wechat_send). `[wechat] token` in node.toml; without it the URL is 404."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from wechatpy import parse_message
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from node.errors import NotFound, PermissionDenied

bp = Blueprint("wechat", __name__, url_prefix="/wechat")
MAX_SKEW_S = 300  # a signed request older or newer than this is refused (replay)


def init_app(app: Flask) -> None:
    if bp.name not in app.blueprints:
        app.register_blueprint(bp)


def _token() -> str:
    token = str(current_app.config["NODE"].section("wechat").get("token", ""))
    if not token:
        raise NotFound("未启用微信公众号接入")
    return token


def _verify() -> None:
    args = request.args
    signature, timestamp, nonce = args.get("signature", ""), args.get("timestamp", ""), args.get("nonce", "")
    try:
        check_signature(_token(), signature, timestamp, nonce)
    except InvalidSignatureException:
        raise PermissionDenied("微信签名校验失败", code="bad_signature") from None
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_SKEW_S:
        raise PermissionDenied("微信请求已过期", code="bad_signature")


@bp.get("/callback")
def verify_url() -> Any:
    _verify()
    return Response(request.args.get("echostr", "")[:200], mimetype="text/plain")


@bp.post("/callback")
def receive() -> Any:
    from node.outbox import service

    _verify()
    msg = parse_message(request.get_data(as_text=True)[:20000])
    if msg.type != "text":
        return Response("success", mimetype="text/plain")
    row = service.handle_inbound("wechat", str(msg.source), str(msg.content or ""), f"wx:{msg.id}")
    reply = TextReply(content=service.reply_text(row), message=msg)
    return Response(reply.render(), mimetype="application/xml")
