"""The audit log: one append-only, hash-chained table of security-relevant events."""

from __future__ import annotations

import peewee as pw

from node.db import BaseModel, JsonText


class AuditEntry(BaseModel):
    """One event. `seq` numbers the chain without gaps; `hash` covers every field and the previous
    entry's hash, so changing, deleting or inserting an entry breaks the chain from there on."""

    seq = pw.BigIntegerField(unique=True)
    at = pw.DateTimeField(index=True)
    event = pw.CharField(max_length=40, index=True)
    actor_id = pw.IntegerField(null=True, index=True)
    actor_name = pw.CharField(max_length=60)
    address = pw.CharField(max_length=64, default="")
    target = pw.CharField(max_length=120, default="", index=True)
    details = JsonText(default=dict)
    prev_hash = pw.CharField(max_length=64)
    hash = pw.CharField(max_length=64)


MODELS = [AuditEntry]
