"""How orders look to people and machines: JSON dicts with Chinese labels and masked PII."""

from __future__ import annotations

import datetime as dt
from typing import Any

from node import clock, pii
from node.auth.service import Actor
from node.catalog import service as catalog
from node.text.normalize import mask_pii
from node.workflow import deadlines, service, states
from node.workflow.models import SATISFACTION, Assignment, OrderEvent, WorkOrder


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def shows_pii(actor: Actor | None) -> bool:
    """Whether `actor` sees personal data typed into free text (phones, ID cards) unmasked."""
    return actor is None or actor.can("pii.view")


def text_for(actor: Actor | None, text: str | None) -> str:
    """Free text as `actor` may read it: phone, ID-card and bank numbers masked without `pii.view`."""
    if not text:
        return text or ""
    return text if shows_pii(actor) else mask_pii(text)


def _masked_data(value: Any) -> Any:
    if isinstance(value, str):
        return mask_pii(value)
    if isinstance(value, dict):
        return {k: _masked_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked_data(v) for v in value]
    return value


def order_summary(order: WorkOrder, actor: Actor | None = None) -> dict[str, Any]:
    """The list view of an order; pass the reader so free text is masked for roles without
    `pii.view` (None: a trusted internal caller)."""
    now = clock.now()
    return {
        "number": order.number,
        "title": text_for(actor, order.title),
        "state": order.state,
        "state_label": states.label(order.state),
        "category": states.category(order.state),
        "business_type": order.business_type,
        "business_type_name": catalog.type_name(order.business_type),
        "domain": order.domain,
        "domain_name": catalog.domain_name(order.domain) if order.domain else "",
        "sub_business": order.sub_business,
        "sub_business_name": catalog.sub_name(order.sub_business) if order.sub_business else "",
        "region_code": order.region_code,
        "channel": order.channel,
        "channel_name": catalog.channel_name(order.channel),
        "priority": order.priority,
        "accepted_at": iso(order.accepted_at),
        "due_at": iso(order.due_at),
        "deadline_state": deadlines.deadline_state(order, now),
        "caller_phone_masked": order.caller_phone_masked,
        "respondent_plate": order.respondent_plate,
    }


def related(order: WorkOrder, actor: Actor) -> dict[str, Any]:
    """The orders a split or a merge tied to this one, so no order is a dead end: the parent or
    master, the split's parts and the duplicates merged into it with their callers (masked numbers:
    the full one is revealed on each order's page, audited)."""

    def brief(o: WorkOrder) -> dict[str, Any]:
        out = {
            "number": o.number,
            "title": o.title,
            "state": o.state,
            "state_label": states.label(o.state),
            "accepted_at": iso(o.accepted_at),
            "caller_name": "（匿名）" if o.anonymous else o.caller_name,
            "caller_phone": o.caller_phone_masked,
        }
        return out

    children = WorkOrder.select().where(WorkOrder.parent == order).order_by(WorkOrder.id)
    merged = WorkOrder.select().where(WorkOrder.master == order).order_by(WorkOrder.accepted_at)
    return {
        "parent_order": brief(order.parent) if order.parent_id else None,
        "master_order": brief(order.master) if order.master_id else None,
        "split_parts": [brief(c) for c in children],
        "merged_orders": [brief(m) for m in merged],
    }


def order_detail(order: WorkOrder, actor: Actor, *, fresh: bool = False) -> dict[str, Any]:
    """The full picture of an order; `fresh` for one created in this request (no split parts and
    no assignments yet: two queries fewer on every creation)."""
    data = order_summary(order, actor)
    show_pii = actor.can("pii.view") and not order.confidential
    if order.anonymous:
        caller_name = "（匿名）"
    elif order.confidential and not actor.can("pii.view"):
        caller_name = "（保密）"  # a confidential caller's name stays with the hotline
    else:
        caller_name = order.caller_name
    data.update(
        {
            "origin_node": order.origin_node,
            "external_number": order.external_number,
            "parent": order.parent.number if order.parent_id else None,
            "master": order.master.number if order.master_id else None,
            "children": []
            if fresh
            else [c.number for c in WorkOrder.select(WorkOrder.number).where(WorkOrder.parent == order)],
            "road_class": order.road_class,
            "address": order.address,
            "latitude": order.latitude,
            "longitude": order.longitude,
            "respondent_name": order.respondent_name,
            "respondent_route": order.respondent_route,
            "respondent_vessel": order.respondent_vessel,
            "content": text_for(actor, order.content),
            "caller_name": caller_name,
            "caller_phone": pii.codec().reveal(order.caller_phone_cipher)
            if show_pii and order.caller_phone_cipher
            else order.caller_phone_masked,
            "contact_phone": pii.codec().reveal(order.contact_phone_cipher)
            if show_pii and order.contact_phone_cipher
            else order.contact_phone_masked,
            "confidential": order.confidential,
            "anonymous": order.anonymous,
            "call_id": order.call_id,
            "recording_ref": order.recording_ref,
            "dispatched_at": iso(order.dispatched_at),
            "replied_at": iso(order.replied_at),
            "closed_at": iso(order.closed_at),
            "archived_at": iso(order.archived_at),
            "immediate_answer": text_for(actor, order.immediate_answer),
            "result": {
                "basic": text_for(actor, order.result_basic),
                "process": text_for(actor, order.result_process),
                "basis": text_for(actor, order.result_basis),
            },
            "return_count": order.return_count,
            "reopen_count": order.reopen_count,
            "extension_days": order.extension_days,
            "callback": {
                "method": order.callback_method,
                "at": iso(order.callback_at),
                "result_satisfaction": order.callback_result_satisfaction,
                "result_satisfaction_name": SATISFACTION.get(order.callback_result_satisfaction, ""),
                "service_satisfaction": order.callback_service_satisfaction,
                "service_satisfaction_name": SATISFACTION.get(order.callback_service_satisfaction, ""),
                "note": text_for(actor, order.callback_note),
            },
            "assignments": [] if fresh else [assignment(a, actor) for a in service.assignments(order)],
            "actions": [
                {"action": t.action, "label": t.label, "needs_reason": t.needs_reason}
                for t in service.available_actions(actor, order)
            ],
            "version": order.version,
        }
    )
    if actor.can("order.view_all"):
        data["query_code"] = order.query_code
    return data


def assignment(a: Assignment, actor: Actor | None = None) -> dict[str, Any]:
    return {
        "unit": a.unit.code,
        "unit_name": a.unit.name,
        "role": a.role,
        "role_name": "主办" if a.role == "lead" else "协办",
        "status": a.status,
        "active": a.active,
        "dispatched_at": iso(a.dispatched_at),
        "sign_due_at": iso(a.sign_due_at),
        "signed_at": iso(a.signed_at),
        "due_at": iso(a.due_at),
        "replied_at": iso(a.replied_at),
        "reply": text_for(actor, a.reply),
    }


ACTION_LABELS = {t.action: t.label for t in states.TRANSITIONS.values()} | {
    "create": "受理",
    "reassign": "承办单位调整",
    "merge_in": "合并入重复件",
    "split_from": "由拆分生成",
    "receive_transfer": "外地转来",
    "receive_spot_check": "上级抽检下发",
    "public_rate": "公众评价",
    # follow-up (node/followup)
    "callback_sampled": "抽中回访",
    "callback_not_sampled": "未抽中回访",
    "callback_unreachable": "回访无法联系",
    "callback_not_placed": "回访外呼未拨出",
    "dissatisfied": "不满意待整改",
    "dissat_explained": "不满意不重办（已说明）",
    "supervise": "督办",
    "assist_waived": "不等协办反馈",
    "remote_accepted": "承办地已接收",
    "remote_refused": "承办地拒收",
    "remote_signed": "承办地已签收",
    "remote_progress": "承办地办理进展",
    "remote_replied": "承办地已回复",
    "remote_closed": "承办地已办结",
    "remote_returned": "承办地退回",
}


def event(e: OrderEvent, actor: Actor | None = None) -> dict[str, Any]:
    masked = not shows_pii(actor)
    return {
        "at": iso(e.at),
        "actor": e.actor_name,
        "node": e.node,
        "action": e.action,
        "action_label": ACTION_LABELS.get(e.action, e.action),
        "from_state": e.from_state,
        "to_state": e.to_state,
        "to_state_label": states.label(e.to_state) if e.to_state else "",
        "reason": text_for(actor, e.reason),
        "data": _masked_data(e.data) if masked else e.data,
    }
