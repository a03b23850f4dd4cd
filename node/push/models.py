"""Push events: a short-lived outbox that every web worker's hub reads and fans out to the open
streams whose topics match (`user:<id>`, `role:<role>`, `perm:<permission>`)."""

from __future__ import annotations

import peewee as pw

from node.db import BaseModel, JsonText


class PushEvent(BaseModel):
    """推送事件: written in the same transaction as the change it announces; purged after an hour."""

    topic = pw.CharField(max_length=60, index=True)
    kind = pw.CharField(max_length=30)
    data = JsonText(null=True)
    at = pw.DateTimeField(index=True)


MODELS = [PushEvent]
