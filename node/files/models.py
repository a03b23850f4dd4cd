"""The attachment table: one row per file attached to an owner; the bytes live on disk, named by
their SHA-256 (several rows may share one blob)."""

from __future__ import annotations

import peewee as pw

from node.auth.models import User
from node.db import BaseModel


class StoredFile(BaseModel):
    """附件: `owner_kind`/`owner_id` say what it is attached to (e.g. "article", "42")."""

    sha256 = pw.CharField(max_length=64, index=True)
    size = pw.IntegerField()
    mime = pw.CharField(max_length=100)
    kind = pw.CharField(max_length=10)  # pdf / docx / image
    filename = pw.CharField(max_length=200)
    owner_kind = pw.CharField(max_length=20)
    owner_id = pw.CharField(max_length=64)
    uploaded_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    uploaded_at = pw.DateTimeField()
    deleted_at = pw.DateTimeField(null=True)

    class Meta:
        table_name = "stored_file"
        indexes = ((("owner_kind", "owner_id"), False),)


MODELS = [StoredFile]
