"""One row per recipient, so every user has their own read receipt."""

from __future__ import annotations

import peewee as pw

from node.auth.models import User
from node.db import BaseModel


class Notice(BaseModel):
    """站内消息: what, for whom, where to go, and when the recipient read it."""

    user = pw.ForeignKeyField(User, backref="notices", on_delete="CASCADE")
    kind = pw.CharField(max_length=20)
    title = pw.CharField(max_length=120)
    body = pw.TextField(default="")
    link = pw.CharField(max_length=300, default="")
    # what the notice is about (e.g. "urge:17", "order:3201002026…"): read receipts are asked by ref
    ref = pw.CharField(max_length=60, default="", index=True)
    sender = pw.CharField(max_length=40, default="系统")
    created_at = pw.DateTimeField(index=True)
    read_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("user", "read_at"), False),)


MODELS = [Notice]
