"""Intake records (受理记录): every contact is recorded, whatever its outcome."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from node import clock, pii
from node.auth.service import Actor
from node.catalog import service as catalog
from node.db import locked, write_tx
from node.errors import Conflict, NotFound, ValidationError
from node.intake.models import Contact
from node.intake.schemas import ContactCreate, ContactFinish
from node.validation import parse

# Callbacks run inside create_contact's transaction: (contact) -> None. Telephony links the call.
ON_CONTACT: list[Callable[[Contact], None]] = []


def create_contact(actor: Actor, body: ContactCreate | dict[str, Any]) -> Contact:
    actor.require("contact.create")
    data = body if isinstance(body, ContactCreate) else parse(ContactCreate, body)
    if data.channel not in catalog.channels():
        raise ValidationError(f"未知的受理渠道代码：{data.channel}", details={"channel": "未知代码"})
    now = clock.now()
    with write_tx():
        contact = Contact(
            channel=data.channel,
            started_at=now,
            agent=actor.user_id,
            caller_name=data.caller_name,
            summary=data.summary,
            call_id=data.call_id,
            recording_ref=data.recording_ref,
            created_at=now,
        )
        if data.caller_phone:
            p = pii.codec().protect(data.caller_phone)
            contact.caller_phone_cipher, contact.caller_phone_digest = p.cipher, p.digest
            contact.caller_phone_masked = p.masked
        contact.save()
        for hook in ON_CONTACT:
            hook(contact)
    return contact


def get_contact(actor: Actor, contact_id: int) -> Contact:
    actor.require("contact.view")
    contact = Contact.get_or_none(Contact.id == contact_id)
    if contact is None:
        raise NotFound("受理记录不存在")
    return contact


def finish_contact(actor: Actor, contact_id: int, body: ContactFinish | dict[str, Any]) -> Contact:
    """Close a contact that did not create an order: transferred, invalid, progress query, or
    linked to an existing order (a later contact about a duplicate lands on its master)."""
    actor.require("contact.create")
    data = body if isinstance(body, ContactFinish) else parse(ContactFinish, body)
    with write_tx():
        contact = locked(Contact.select().where(Contact.id == contact_id)).first()
        if contact is None:
            raise NotFound("受理记录不存在")
        if contact.outcome != "pending":
            raise Conflict("该受理记录已结束")
        if data.outcome == "transferred" and not data.transfer_target:
            raise ValidationError("转接须填写转接去向", details={"transfer_target": "必填"})
        if data.outcome == "linked":
            if not data.order_number:
                raise ValidationError("关联已有工单须填写工单编号", details={"order_number": "必填"})
            from node.workflow.models import WorkOrder

            order = WorkOrder.get_or_none(WorkOrder.number == data.order_number)
            if order is None:
                raise NotFound(f"工单不存在：{data.order_number}")
            while order.master_id is not None:
                order = WorkOrder.get_by_id(order.master_id)
            contact.order_number = order.number
        contact.outcome = data.outcome
        contact.outcome_note = data.note
        contact.transfer_target = data.transfer_target
        if data.summary is not None:
            contact.summary = data.summary
        contact.ended_at = clock.now()
        contact.save()
    return contact


def link_order(contact_id: int, number: str, outcome: str) -> None:
    """Called by the work-order engine inside its transaction when a contact becomes an order."""
    # one conditional UPDATE (this runs on every workstation submit); the reason is read only on failure
    done = (
        Contact.update(order_number=number, outcome=outcome, ended_at=clock.now())
        .where(Contact.id == contact_id, Contact.outcome == "pending")
        .execute()
    )
    if done == 1:
        return
    if not Contact.select().where(Contact.id == contact_id).exists():
        raise ValidationError(f"受理记录不存在：{contact_id}", details={"contact_id": "不存在"})
    raise Conflict("该受理记录已结束，不能再生成工单")


def list_contacts(
    actor: Actor, *, phone: str | None = None, outcome: str | None = None, page: int = 1, page_size: int = 20
) -> tuple[list[Contact], int]:
    actor.require("contact.view")
    if page < 1 or not 1 <= page_size <= 200:
        raise ValidationError("分页参数有误：page ≥ 1，page_size 1-200")
    query = Contact.select()
    if phone:
        phone = pii.guard_phone_search(actor, phone)
        query = query.where(Contact.caller_phone_digest == pii.codec().digest(phone))
    if outcome:
        query = query.where(Contact.outcome == outcome)
    total = query.count()
    return list(query.order_by(Contact.started_at.desc(), Contact.id.desc()).paginate(page, page_size)), total
