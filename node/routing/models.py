"""The routing rule table (分派规则)."""

from __future__ import annotations

import peewee as pw

from node.auth.models import User
from node.catalog.models import Unit
from node.db import BaseModel


class RoutingRule(BaseModel):
    """Every non-empty condition must hold: domain, sub-business, region (a region code covers the
    regions under it) and respondent (a word found in the company, plate, line or vessel). The most
    specific enabled rule wins, then the lower `priority` number."""

    name = pw.CharField(max_length=60)
    domain = pw.CharField(max_length=2, default="")
    sub_business = pw.CharField(max_length=4, default="")
    region_code = pw.CharField(max_length=6, default="")
    respondent = pw.CharField(max_length=100, default="")
    lead_unit = pw.ForeignKeyField(Unit, on_delete="CASCADE", backref="+")
    assist_units = pw.CharField(max_length=200, default="")  # unit codes, comma-separated
    auto_dispatch = pw.BooleanField(default=False)
    priority = pw.IntegerField(default=100)
    enabled = pw.BooleanField(default=True)
    note = pw.CharField(max_length=200, default="")
    updated_at = pw.DateTimeField()
    updated_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")

    class Meta:
        table_name = "routing_rule"


MODELS = [RoutingRule]
