"""The citizen outbox and the log of inbound messages."""

from __future__ import annotations

import peewee as pw

from node.db import BaseModel
from node.workflow.models import WorkOrder

EVENTS: dict[str, str] = {
    "receipt": "受理回执",
    "extension": "延期告知",
    "closure": "办结告知",
    "rating_invite": "评价邀请",
}
CHANNELS: dict[str, str] = {"sms": "短信", "wechat": "微信"}
MESSAGE_STATES: dict[str, str] = {
    "pending": "待发送",
    "sending": "发送中",
    "sent": "已发送",
    "failed": "发送失败",
}


class CitizenMessage(BaseModel):
    """One message to one citizen. `key` (order:event:round:channel) makes each notice unique, so
    replaying a business change never queues it twice; `id` travels to the SMSC as the SMPP
    user_message_reference and to WeChat as the template message's client_msg_id, the same on
    every retry. A WeChat message's `body` is the template data (JSON)."""

    key = pw.CharField(max_length=60, unique=True)
    order = pw.ForeignKeyField(WorkOrder, null=True, backref="citizen_messages", on_delete="CASCADE")
    event = pw.CharField(max_length=16)
    channel = pw.CharField(max_length=8)  # sms | wechat
    to_cipher = pw.TextField()  # phone or WeChat openid (Fernet, node.pii)
    to_digest = pw.CharField(max_length=32, default="", index=True)
    to_masked = pw.CharField(max_length=40, default="")
    body = pw.TextField()
    state = pw.CharField(max_length=8, default="pending", index=True)
    attempts = pw.IntegerField(default=0)
    next_try_at = pw.DateTimeField(index=True)
    claimed_at = pw.DateTimeField(null=True)
    sent_at = pw.DateTimeField(null=True)
    provider_ref = pw.CharField(max_length=80, default="")
    error = pw.CharField(max_length=200, default="")
    created_at = pw.DateTimeField(index=True)


class InboundMessage(BaseModel):
    """A message a citizen sent (SMS deliver_sm or WeChat text) and what became of it."""

    channel = pw.CharField(max_length=8)
    from_digest = pw.CharField(max_length=32, index=True)
    from_masked = pw.CharField(max_length=40, default="")
    text = pw.TextField()
    received_at = pw.DateTimeField(index=True)
    outcome = pw.CharField(max_length=12)  # rating | intake | ignored
    order_number = pw.CharField(max_length=21, default="")
    contact_id = pw.IntegerField(null=True)
    provider_ref = pw.CharField(max_length=80, default="", index=True)


class WechatBinding(BaseModel):
    """A WeChat follower (openid) who is told an order's progress by template messages: bound when
    their WeChat message became the intake record the order was made from (`contact_id`), or when
    they sent the order's number and query code (`order`)."""

    openid = pw.CharField(max_length=64, index=True)
    order = pw.ForeignKeyField(WorkOrder, null=True, backref="wechat_bindings", on_delete="CASCADE")
    contact_id = pw.IntegerField(null=True, index=True)
    created_at = pw.DateTimeField()


MODELS = [CitizenMessage, InboundMessage, WechatBinding]
