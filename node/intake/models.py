"""受理记录: every contact on every channel, whether or not it becomes a work order."""

from __future__ import annotations

import peewee as pw

from node.auth.models import User
from node.db import BaseModel

OUTCOMES: dict[str, str] = {
    "pending": "受理中",
    "order_created": "已生成工单",
    "answered": "即时答复",
    "linked": "关联已有工单",
    "transferred": "已转接",
    "invalid": "无效来电",
    "query": "进度查询",
}


class Contact(BaseModel):
    """One contact from the public: a call, a web form, a WeChat message …"""

    channel = pw.CharField(max_length=2)
    started_at = pw.DateTimeField(index=True)
    ended_at = pw.DateTimeField(null=True)
    agent = pw.ForeignKeyField(User, null=True, backref="contacts", on_delete="SET NULL")
    caller_phone_cipher = pw.TextField(default="")
    caller_phone_digest = pw.CharField(max_length=32, default="", index=True)
    caller_phone_masked = pw.CharField(max_length=24, default="")
    caller_name = pw.CharField(max_length=40, default="")
    summary = pw.TextField(default="")
    outcome = pw.CharField(max_length=16, default="pending", index=True)
    outcome_note = pw.TextField(default="")
    order_number = pw.CharField(max_length=21, default="", index=True)
    transfer_target = pw.CharField(max_length=60, default="")
    call_id = pw.CharField(max_length=100, default="", index=True)
    recording_ref = pw.CharField(max_length=200, default="")
    created_at = pw.DateTimeField()


MODELS = [Contact]
