"""Idempotent writes over the API: the first answer to a request with an `Idempotency-Key`."""

from __future__ import annotations

import peewee as pw

from node.db import BaseModel, JsonText


class IdempotentRequest(BaseModel):
    """One key of one caller: the request's fingerprint and the answer the first attempt got.
    Written in the same transaction as the order it created, so a crash keeps both or neither."""

    owner = pw.CharField(max_length=60)  # the caller's user name (keys are per caller)
    key = pw.CharField(max_length=100)
    method = pw.CharField(max_length=8)
    path = pw.CharField(max_length=200)
    fingerprint = pw.CharField(max_length=64)
    status = pw.IntegerField()
    response = JsonText()
    created_at = pw.DateTimeField(index=True)

    class Meta:
        indexes = ((("owner", "key"), True),)


MODELS = [IdempotentRequest]
