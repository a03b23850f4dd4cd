"""工单 and everything hanging off it: unit assignments, history, returns, extensions, urges."""

from __future__ import annotations

import peewee as pw

from node.auth.models import User
from node.catalog.models import Unit
from node.db import BaseModel, JsonText

SATISFACTION: dict[str, str] = {"1": "非常满意", "2": "满意", "3": "不满意"}


class OrderSequence(BaseModel):
    """Daily counter per business type, so numbers are dense and never reused."""

    key = pw.CharField(primary_key=True, max_length=12)  # YYYYMMDD + type
    last = pw.IntegerField(default=0)


class WorkOrder(BaseModel):
    """工单. `number` = {6-digit region}{YYYYMMDD}{type}{6-digit sequence}, never renumbered."""

    number = pw.CharField(unique=True, max_length=21)
    origin_node = pw.CharField(max_length=6)
    external_number = pw.CharField(max_length=40, default="", index=True)
    parent = pw.ForeignKeyField("self", null=True, backref="children", on_delete="RESTRICT")
    master = pw.ForeignKeyField("self", null=True, backref="duplicates", on_delete="RESTRICT")
    contact_id = pw.IntegerField(null=True)
    channel = pw.CharField(max_length=2)
    business_type = pw.CharField(max_length=2)  # (business_type, accepted_at) indexes it
    domain = pw.CharField(max_length=2, default="", index=True)
    sub_business = pw.CharField(max_length=4, default="")
    road_class = pw.CharField(max_length=12, default="")
    region_code = pw.CharField(max_length=6, index=True)
    address = pw.CharField(max_length=200, default="")
    latitude = pw.FloatField(null=True)
    longitude = pw.FloatField(null=True)
    respondent_name = pw.CharField(max_length=100, default="")
    respondent_plate = pw.CharField(max_length=20, default="", index=True)
    respondent_route = pw.CharField(max_length=60, default="")
    respondent_vessel = pw.CharField(max_length=60, default="")
    title = pw.CharField(max_length=100)
    content = pw.TextField()
    priority = pw.CharField(max_length=10, default="normal")
    caller_phone_cipher = pw.TextField(default="")
    caller_phone_digest = pw.CharField(max_length=32, default="", index=True)
    caller_phone_masked = pw.CharField(max_length=24, default="")
    contact_phone_cipher = pw.TextField(default="")
    contact_phone_masked = pw.CharField(max_length=24, default="")
    caller_name = pw.CharField(max_length=40, default="")
    confidential = pw.BooleanField(default=False)
    anonymous = pw.BooleanField(default=False)
    query_code = pw.CharField(max_length=8)
    state = pw.CharField(max_length=20)  # (state, due_at) and (state, accepted_at) index it
    agent = pw.ForeignKeyField(User, null=True, backref="orders", on_delete="SET NULL")
    call_id = pw.CharField(max_length=100, default="", index=True)
    recording_ref = pw.CharField(max_length=200, default="")
    accepted_at = pw.DateTimeField(index=True)
    due_at = pw.DateTimeField(null=True, index=True)
    dispatched_at = pw.DateTimeField(null=True)
    replied_at = pw.DateTimeField(null=True)
    closed_at = pw.DateTimeField(null=True, index=True)
    archived_at = pw.DateTimeField(null=True)
    immediate_answer = pw.TextField(default="")
    result_basic = pw.TextField(default="")
    result_process = pw.TextField(default="")
    result_basis = pw.TextField(default="")
    return_count = pw.IntegerField(default=0)
    reopen_count = pw.IntegerField(default=0)
    extension_days = pw.IntegerField(default=0)
    callback_method = pw.CharField(max_length=10, default="")
    callback_at = pw.DateTimeField(null=True)
    callback_result_satisfaction = pw.CharField(max_length=1, default="")
    callback_service_satisfaction = pw.CharField(max_length=1, default="")
    callback_note = pw.TextField(default="")
    public_result_satisfaction = pw.CharField(max_length=1, default="")
    public_service_satisfaction = pw.CharField(max_length=1, default="")
    is_spot_check = pw.BooleanField(default=False)
    search_text = pw.TextField(default="")
    version = pw.IntegerField(default=1)
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField(index=True)

    class Meta:
        indexes = (
            (("state", "due_at"), False),
            (("state", "accepted_at"), False),
            (("business_type", "accepted_at"), False),
        )


class Assignment(BaseModel):
    """A handling unit's part in an order: lead (主办) or assist (协办)."""

    order = pw.ForeignKeyField(WorkOrder, backref="assignments", on_delete="CASCADE")
    unit = pw.ForeignKeyField(Unit, backref="assignments", on_delete="RESTRICT")
    role = pw.CharField(max_length=6)  # lead | assist
    status = pw.CharField(max_length=12, default="dispatched")  # dispatched signed replied returned withdrawn
    active = pw.BooleanField(default=True, index=True)
    dispatched_at = pw.DateTimeField()
    dispatched_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    sign_due_at = pw.DateTimeField()
    signed_at = pw.DateTimeField(null=True)
    signed_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    due_at = pw.DateTimeField(null=True)
    replied_at = pw.DateTimeField(null=True)
    reply = pw.TextField(default="")

    class Meta:
        indexes = ((("unit", "active"), False),)


class OrderEvent(BaseModel):
    """History row: who, on which node, did what, from which state to which, when and why."""

    order = pw.ForeignKeyField(WorkOrder, backref="events", on_delete="CASCADE")
    at = pw.DateTimeField()
    actor = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    actor_name = pw.CharField(max_length=40)
    node = pw.CharField(max_length=6)
    action = pw.CharField(max_length=20)
    from_state = pw.CharField(max_length=20, default="")
    to_state = pw.CharField(max_length=20, default="")
    reason = pw.TextField(default="")
    data = JsonText(null=True)


class ReturnRequest(BaseModel):
    """退回: a unit gives an order back with a reason; the dispatcher accepts or rejects."""

    order = pw.ForeignKeyField(WorkOrder, backref="returns", on_delete="CASCADE")
    unit = pw.ForeignKeyField(Unit, on_delete="RESTRICT", backref="+")
    reason_code = pw.CharField(max_length=4)
    reason = pw.TextField(default="")
    previous_state = pw.CharField(max_length=20)
    requested_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    requested_at = pw.DateTimeField()
    decision = pw.CharField(max_length=10, default="pending")  # pending accepted rejected
    decided_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    decided_at = pw.DateTimeField(null=True)
    decision_note = pw.TextField(default="")


class Extension(BaseModel):
    """延期: requested by the lead unit before expiry, decided by the center."""

    order = pw.ForeignKeyField(WorkOrder, backref="extensions", on_delete="CASCADE")
    unit = pw.ForeignKeyField(Unit, on_delete="RESTRICT", backref="+")
    days = pw.IntegerField()
    reason = pw.TextField()
    requested_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    requested_at = pw.DateTimeField()
    status = pw.CharField(max_length=10, default="pending")  # pending approved denied
    decided_by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    decided_at = pw.DateTimeField(null=True)
    decision_note = pw.TextField(default="")
    old_due_at = pw.DateTimeField(null=True)
    new_due_at = pw.DateTimeField(null=True)


class Urge(BaseModel):
    """催办 notice to a unit."""

    order = pw.ForeignKeyField(WorkOrder, backref="urges", on_delete="CASCADE")
    unit = pw.ForeignKeyField(Unit, null=True, on_delete="RESTRICT", backref="+")
    by = pw.ForeignKeyField(User, null=True, on_delete="SET NULL", backref="+")
    at = pw.DateTimeField()
    note = pw.TextField(default="")
    automatic = pw.BooleanField(default=False)
    level = pw.CharField(max_length=10, default="")  # automatic warnings: warn50 / warn80 / overdue

    class Meta:
        # an order's urges to one unit, latest first (the unit desk's sort, the deadline scan)
        indexes = ((("order", "unit", "at"), False),)


MODELS = [OrderSequence, WorkOrder, Assignment, OrderEvent, ReturnRequest, Extension, Urge]
