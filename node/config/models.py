"""Run-time configuration: settings an administrator changes without a restart, and the version
counters that tell every process of the node to drop a cached copy."""

from __future__ import annotations

import peewee as pw

from node.db import BaseModel, JsonText


class ConfigVersion(BaseModel):
    """A counter per cached area (catalog, roles, settings, ivr); bumped in the transaction that
    changes the area, read by each process before it trusts its cache."""

    name = pw.CharField(primary_key=True, max_length=20)
    version = pw.IntegerField(default=0)
    changed_at = pw.DateTimeField()


class RuntimeSetting(BaseModel):
    """运行参数: an administrator's value for one key of `node.config.service.SETTINGS`; keys
    without a row take the value from node.toml."""

    key = pw.CharField(primary_key=True, max_length=40)
    value = JsonText()
    updated_at = pw.DateTimeField()
    updated_by = pw.CharField(max_length=40, default="")


MODELS = [ConfigVersion, RuntimeSetting]
