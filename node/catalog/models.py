"""Catalog tables: code tables, regions, handling units, time-limit policies, calendar overrides."""

from __future__ import annotations

import peewee as pw

from node.db import BaseModel


class BusinessType(BaseModel):
    """业务类型: 1 投诉举报, 2 信息咨询, 3 意见建议."""

    code = pw.CharField(primary_key=True, max_length=2)
    name = pw.CharField(max_length=20)


class Channel(BaseModel):
    """受理渠道."""

    code = pw.CharField(primary_key=True, max_length=2)
    name = pw.CharField(max_length=20)


class Domain(BaseModel):
    """业务领域 (公路, 水路 …); out-of-scope domains refer callers to another hotline."""

    code = pw.CharField(primary_key=True, max_length=2)
    name = pw.CharField(max_length=20)
    in_scope = pw.BooleanField(default=True)
    referral_hotline = pw.CharField(max_length=10, default="")
    active = pw.BooleanField(default=True)  # inactive: no longer offered for new orders
    local = pw.BooleanField(default=False)  # added by this node (codes 50-99), not national


class SubBusiness(BaseModel):
    """子业务 (e.g. 0107 养护保通)."""

    code = pw.CharField(primary_key=True, max_length=4)
    domain = pw.ForeignKeyField(Domain, backref="subs")
    name = pw.CharField(max_length=30)
    pinyin = pw.CharField(max_length=60, default="")
    active = pw.BooleanField(default=True)
    local = pw.BooleanField(default=False)  # added by this node (sub-codes 50-99)


class Region(BaseModel):
    """GB/T 2260 行政区划 (level 1 province, 2 prefecture, 3 county). Retired codes are kept."""

    code = pw.CharField(primary_key=True, max_length=6)
    name = pw.CharField(max_length=40)
    level = pw.SmallIntegerField()
    parent_code = pw.CharField(max_length=6, default="", index=True)
    retired = pw.BooleanField(default=False)


class ReasonCode(BaseModel):
    """Short code lists: kind 'return' (退回原因), 'reject' (不予受理理由), 'subject' (投诉事由)."""

    kind = pw.CharField(max_length=10)
    code = pw.CharField(max_length=4)
    name = pw.CharField(max_length=40)
    active = pw.BooleanField(default=True)
    local = pw.BooleanField(default=False)

    class Meta:
        indexes = ((("kind", "code"), True),)


class Unit(BaseModel):
    """承办单位: a tree of handling units (e.g. 市交通运输局 → 客运管理处)."""

    code = pw.CharField(unique=True, max_length=32)
    name = pw.CharField(max_length=100)
    parent = pw.ForeignKeyField("self", null=True, backref="children", on_delete="RESTRICT")
    region_code = pw.CharField(max_length=6, index=True)
    kind = pw.CharField(max_length=20, default="department")
    phone = pw.CharField(max_length=40, default="")
    address = pw.CharField(max_length=200, default="")
    active = pw.BooleanField(default=True)
    created_at = pw.DateTimeField()


class UnitContact(BaseModel):
    """联系人 of a handling unit."""

    unit = pw.ForeignKeyField(Unit, backref="contacts", on_delete="CASCADE")
    name = pw.CharField(max_length=40)
    position = pw.CharField(max_length=40, default="")
    phone = pw.CharField(max_length=40, default="")
    email = pw.CharField(max_length=100, default="")
    is_primary = pw.BooleanField(default=False)


class SlaPolicy(BaseModel):
    """时限策略 per (type, domain, node); '' matches any. The most specific active row wins."""

    business_type = pw.CharField(max_length=2)
    domain_code = pw.CharField(max_length=2, default="")
    node_region = pw.CharField(max_length=6, default="")
    limit_value = pw.IntegerField()
    limit_unit = pw.CharField(max_length=10, default="workday")  # workday | workhour | immediate
    sign_minutes = pw.IntegerField(default=30)
    max_extensions = pw.IntegerField(default=1)
    max_extension_days = pw.IntegerField(default=15)
    max_returns = pw.IntegerField(default=3)
    requires_approval = pw.BooleanField(default=False)
    requires_review = pw.BooleanField(default=True)
    callback_workdays = pw.IntegerField(default=3)
    warn_percents = pw.CharField(max_length=20, default="50,80")
    active = pw.BooleanField(default=True)

    class Meta:
        indexes = ((("business_type", "domain_code", "node_region"), True),)


class CalendarOverride(BaseModel):
    """Admin override of the working-day calendar (years the holiday package does not cover)."""

    day = pw.DateField(unique=True)
    is_workday = pw.BooleanField()
    note = pw.CharField(max_length=60, default="")


MODELS = [
    BusinessType,
    Channel,
    Domain,
    SubBusiness,
    Region,
    ReasonCode,
    Unit,
    UnitContact,
    SlaPolicy,
    CalendarOverride,
]
