"""Hits on the public portal and Open311 API, per address, for abuse limits (防刷限制)."""

from __future__ import annotations

import peewee as pw

from node.db import BaseModel


class PortalHit(BaseModel):
    """One submission, progress query or rating from an address (kept for the limit window only)."""

    kind = pw.CharField(max_length=10)  # submit | query | rate
    address = pw.CharField(max_length=64)
    at = pw.DateTimeField()

    class Meta:
        indexes = ((("kind", "address", "at"), False),)


MODELS = [PortalHit]
