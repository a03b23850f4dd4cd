"""The work-order engine: creation, every transition of the flow, look-ups and lists.

Each public function takes the acting `Actor`, checks permission and visibility, runs in one
write transaction with the order row locked, writes the history row, and calls the change hooks
(federation outbox, text index) inside that same transaction.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import peewee as pw

from node import clock, pii
from node.auth.service import Actor
from node.catalog import service as catalog
from node.catalog.models import Unit
from node.db import execute, group_write, insert_rows, lock_named, locked, write_tx
from node.errors import Conflict, InvalidTransition, NotFound, PermissionDenied, ValidationError
from node.settings import current as current_settings
from node.validation import parse
from node.workflow import schemas, states
from node.workflow.models import (
    SATISFACTION,
    Assignment,
    Extension,
    OrderEvent,
    ReturnRequest,
    Urge,
    WorkOrder,
)

# Callbacks run inside the transaction of every change: (order, event) -> None.
# Federation registers its outbox writer here, the text module its index updater.
ON_CHANGE: list[Callable[[WorkOrder, OrderEvent], None]] = []
# Turns an order's title + content into the tokens stored in `search_text` (node.text may put
# its configured segmenter first; without one the same jieba tokens are stored, so an order made
# by any process — CLI, demo data, import, federation — is found by the full-text search).
SEARCH_TOKENS: list[Callable[[str], str]] = []


def _search_text(order: WorkOrder) -> str:
    text = " ".join(
        filter(
            None, [order.title, order.content, order.respondent_name, order.respondent_plate, order.address]
        )
    )
    if SEARCH_TOKENS:
        return SEARCH_TOKENS[0](text)
    from node.text.segment import search_tokens

    return search_tokens(text)


# ---- numbers ------------------------------------------------------------------------------------


def next_number(region: str, business_type: str, day: dt.date) -> str:
    """`{region}{YYYYMMDD}{type}{seq:06d}`; must run inside write_tx()."""
    key = f"{day:%Y%m%d}{business_type}"
    seq = execute(
        'INSERT INTO "order_sequence" ("key", "last") VALUES (?, 1) '
        'ON CONFLICT ("key") DO UPDATE SET "last" = "order_sequence"."last" + 1 RETURNING "last"',
        (key,),
    ).fetchone()[0]
    if seq > 999_999:
        raise Conflict("当日工单编号已用尽")
    return f"{region}{key}{seq:06d}"


def _query_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


# ---- reading ------------------------------------------------------------------------------------


def _visible_query(actor: Actor) -> pw.ModelSelect:
    query = WorkOrder.select()
    if actor.can("order.view_all"):
        return query
    if actor.can("order.view_unit") and actor.unit_id is not None:
        # a unit whose assignment was withdrawn, or whose return was accepted, no longer reads the
        # order (nor the next unit's reply) and cannot add notes to it
        assigned = Assignment.select(Assignment.order).where(
            Assignment.unit == actor.unit_id, Assignment.status.not_in(["withdrawn", "returned"])
        )
        return query.where(WorkOrder.id.in_(assigned))
    if actor.can("order.view_own") and actor.user_id is not None:  # data scope of an admin-defined role
        return query.where(WorkOrder.agent == actor.user_id)
    raise PermissionDenied("当前角色无权查看工单")


def get_order(actor: Actor, number: str) -> WorkOrder:
    order = _visible_query(actor).where(WorkOrder.number == number).first()
    if order is None:
        raise NotFound(f"工单不存在或无权查看：{number}")
    return order


@dataclass
class OrderFilter:
    state: list[str] | None = None
    category: str | None = None
    business_type: str | None = None
    domain: str | None = None
    region_code: str | None = None
    unit: str | None = None
    queue: str | None = None
    q: str | None = None
    phone: str | None = None
    accepted_from: dt.datetime | None = None
    accepted_to: dt.datetime | None = None
    due_before: dt.datetime | None = None
    overdue: bool | None = None
    # for screens of other packages (e.g. the unit desk's 催办/督办 filter and sort): more
    # conditions on WorkOrder, and an ordering term put before the default newest-first
    extra: tuple[Any, ...] = ()
    order_first: Any = None


QUEUES: dict[str, str] = {
    "mine": "我受理的",
    "to_submit": "待提交",
    "to_review": "待审核",
    "to_approve": "待审批",
    "to_dispatch": "待分派",
    "returned": "退回待确认",
    "replied": "待复核",
    "to_close": "待办结",
    "to_callback": "待回访",
    "to_archive": "待归档",
    "due_soon": "即将到期",
    "overdue": "已超期",
    "unit_inbox": "本单位待办",
}

_QUEUE_STATES: dict[str, list[str]] = {
    "to_submit": ["accepted"],
    "to_review": ["pending_review"],
    "to_approve": ["pending_approval"],
    "to_dispatch": ["pending_dispatch"],
    "returned": ["return_requested"],
    "replied": ["replied"],
    "to_close": ["reviewed"],
}


_LIVE = [*states.states_in(states.PENDING), *states.states_in(states.OPEN)]


def queue_condition(actor: Actor, queue: str, now: dt.datetime) -> pw.Expression:
    """The WHERE condition of a work queue (the one definition lists and counts share)."""
    if queue not in QUEUES:
        raise ValidationError(f"未知的队列：{queue}")
    if queue in _QUEUE_STATES:
        return WorkOrder.state.in_(_QUEUE_STATES[queue])
    if queue == "mine":
        return WorkOrder.agent == actor.user_id
    if queue == "to_callback":  # sampled at closure (node/followup), not yet done, retry time reached
        from node.followup.models import VisitTask

        due = VisitTask.select(VisitTask.order).where(
            VisitTask.state == "pending",
            VisitTask.next_try_at.is_null() | (VisitTask.next_try_at <= now),
        )
        return WorkOrder.state.in_(["closed", "answered"]) & WorkOrder.id.in_(due)
    if queue == "to_archive":
        # finished and nothing left to do (called back, answered on the spot, refused, merged,
        # split), unless a sampled callback or a 不满意 case still holds it (node/followup)
        from node.followup.models import Dissatisfaction, VisitTask

        held = VisitTask.select(VisitTask.order).where(VisitTask.state == "pending")
        unhappy = Dissatisfaction.select(Dissatisfaction.order).where(Dissatisfaction.state == "open")
        return (
            WorkOrder.state.in_(["visited", "answered", "rejected", "merged", "split"])
            & WorkOrder.id.not_in(held)
            & WorkOrder.id.not_in(unhappy)
        )
    if queue == "due_soon":
        return (
            WorkOrder.state.in_(_LIVE)
            & (WorkOrder.due_at > now)
            & (WorkOrder.due_at <= now + dt.timedelta(days=1))
        )
    if queue == "overdue":
        return WorkOrder.state.in_(_LIVE) & (WorkOrder.due_at < now)
    # unit_inbox
    if actor.unit_id is None:
        raise ValidationError("只有承办单位用户有本单位待办")
    active = Assignment.select(Assignment.order).where(
        Assignment.unit == actor.unit_id,
        Assignment.active == True,  # noqa: E712
    )
    return WorkOrder.id.in_(active) & WorkOrder.state.in_(["dispatched", "handling"])


def count_queues(actor: Actor, queues: list[str]) -> dict[str, int]:
    """Sizes of several queues with COUNT-only queries; the queues defined by state come from one
    GROUP BY over the indexed state column."""
    now = clock.now()
    counts: dict[str, int] = {}
    by_state = [q for q in queues if q in _QUEUE_STATES]
    if by_state:
        wanted = sorted({s for q in by_state for s in _QUEUE_STATES[q]})
        per_state = dict(
            _visible_query(actor)
            .select(WorkOrder.state, pw.fn.COUNT(WorkOrder.id))
            .where(WorkOrder.state.in_(wanted))
            .group_by(WorkOrder.state)
            .tuples()
        )
        counts.update({q: sum(per_state.get(s, 0) for s in _QUEUE_STATES[q]) for q in by_state})
    for q in queues:
        if q not in counts:
            counts[q] = _visible_query(actor).where(queue_condition(actor, q, now)).count()
    return counts


def list_orders(
    actor: Actor, flt: OrderFilter, page: int = 1, page_size: int = 20
) -> tuple[list[WorkOrder], int]:
    if page < 1 or not 1 <= page_size <= 200:
        raise ValidationError("分页参数有误：page ≥ 1，page_size 1-200")
    now = clock.now()
    query = _visible_query(actor)
    if flt.queue:
        query = query.where(queue_condition(actor, flt.queue, now))
    if flt.state:
        unknown = [s for s in flt.state if s not in states.STATES]
        if unknown:
            raise ValidationError(f"未知的状态：{'、'.join(unknown)}")
        query = query.where(WorkOrder.state.in_(flt.state))
    if flt.category:
        if flt.category not in states.CATEGORY_NAMES:
            raise ValidationError(f"未知的状态类别：{flt.category}")
        query = query.where(WorkOrder.state.in_(states.states_in(flt.category)))
    if flt.business_type:
        query = query.where(WorkOrder.business_type == flt.business_type)
    if flt.domain:
        query = query.where(WorkOrder.domain == flt.domain)
    if flt.region_code:
        query = query.where(WorkOrder.region_code.startswith(flt.region_code.rstrip("0") or flt.region_code))
    if flt.unit:
        unit = catalog.unit_by_code(flt.unit)
        query = query.where(
            WorkOrder.id.in_(
                Assignment.select(Assignment.order).where(Assignment.unit == unit, Assignment.active)
            )
        )
    if flt.accepted_from:
        query = query.where(WorkOrder.accepted_at >= flt.accepted_from)
    if flt.accepted_to:
        query = query.where(WorkOrder.accepted_at < flt.accepted_to)
    if flt.due_before:
        query = query.where(WorkOrder.due_at < flt.due_before)
    if flt.overdue is not None:
        overdue = (WorkOrder.due_at < now) & WorkOrder.state.not_in(states.states_in(states.CLOSED))
        query = query.where(overdue if flt.overdue else ~overdue)
    if flt.phone:
        phone = pii.guard_phone_search(actor, flt.phone)
        query = query.where(WorkOrder.caller_phone_digest == pii.codec().digest(phone))
    if flt.q:
        q = flt.q.strip()
        if q.isdigit() and len(q) == 21:
            query = query.where(WorkOrder.number == q)
        else:
            from node.workflow import search

            query = search.restrict(query, q)
    for condition in flt.extra:
        query = query.where(condition)
    total = query.count()
    ordering = [WorkOrder.accepted_at.desc(), WorkOrder.id.desc()]
    if flt.order_first is not None:
        ordering.insert(0, flt.order_first)
    items = list(query.order_by(*ordering).paginate(page, page_size))
    return items, total


def history(actor: Actor, number: str) -> list[OrderEvent]:
    return events(get_order(actor, number))


def events(order: WorkOrder) -> list[OrderEvent]:
    """The history of an order the caller has already fetched (and so may see)."""
    return list(OrderEvent.select().where(OrderEvent.order == order).order_by(OrderEvent.at, OrderEvent.id))


def assignments(order: WorkOrder) -> list[Assignment]:
    return list(
        Assignment.select(Assignment, Unit)
        .join(Unit)
        .where(Assignment.order == order)
        .order_by(Assignment.active.desc(), Assignment.role.desc(), Assignment.id)
    )


def _unit_assignment(actor: Actor, order: WorkOrder) -> Assignment | None:
    if actor.unit_id is None:
        return None
    return (
        Assignment.select()
        .where(Assignment.order == order, Assignment.unit == actor.unit_id, Assignment.active == True)  # noqa: E712
        .first()
    )


def may_call(actor: Actor, order: WorkOrder) -> bool:
    """Whether the actor must be able to call the citizen back: an active handling unit's staff
    (who reply how they contacted the caller), those who call back or hold `pii.view`. Never for
    保密 (confidential) or 匿名 (anonymous) orders."""
    if order.confidential or order.anonymous:
        return False
    if not (order.caller_phone_cipher or order.contact_phone_cipher):
        return False
    if actor.can("pii.view") or actor.can("order.callback"):
        return True
    return actor.can("order.reply") and _unit_assignment(actor, order) is not None


def reveal_phones(actor: Actor, number: str) -> dict[str, str]:
    """The caller's full numbers for one who must call (see `may_call`); every reveal is audited."""
    from node import pii
    from node.audit import service as audit
    from node.errors import PermissionDenied

    order = get_order(actor, number)
    if order.confidential or order.anonymous:
        raise PermissionDenied("保密或匿名工单不显示来电人号码")
    if not may_call(actor, order):
        raise PermissionDenied("无权查看来电人完整号码")
    codec = pii.codec()
    phones = {
        "caller_phone": codec.reveal(order.caller_phone_cipher) if order.caller_phone_cipher else "",
        "contact_phone": codec.reveal(order.contact_phone_cipher) if order.contact_phone_cipher else "",
    }
    with write_tx():
        audit.record(
            actor,
            "pii.phone_viewed",
            target=order.number,
            details={"fields": [k for k, v in phones.items() if v]},
        )
    return phones


def available_actions(actor: Actor, order: WorkOrder) -> list[states.Transition]:
    """Actions this actor may take on this order now (for the UI; services re-check)."""
    result = []
    assignment = _unit_assignment(actor, order) if actor.unit_id else None
    for t in states.TRANSITIONS.values():
        if order.state not in t.sources or not actor.can(t.permission):
            continue
        if t.action in states.UNIT_ACTIONS:
            if assignment is None:
                continue
            if t.action in states.LEAD_ONLY and assignment.role != "lead":
                continue
            if t.action == "sign" and assignment.signed_at is not None:
                continue
            if t.action == "assist_reply" and assignment.role != "assist":
                continue
        if t.action == "withdraw" and _lead_signed(order):
            continue
        result.append(t)
    return result


def _lead_signed(order: WorkOrder) -> bool:
    return (
        Assignment.select()
        .where(
            Assignment.order == order,
            Assignment.role == "lead",
            Assignment.active == True,  # noqa: E712
            Assignment.signed_at.is_null(False),
        )
        .exists()
    )


# ---- writing ------------------------------------------------------------------------------------


def _event(
    order: WorkOrder,
    actor: Actor,
    action: str,
    from_state: str,
    reason: str = "",
    data: dict[str, Any] | None = None,
    to_state: str | None = None,
    node: str | None = None,
) -> OrderEvent:
    """An unsaved history row (on this node, unless `node` names where it happened)."""
    return OrderEvent(
        order=order,
        at=clock.now(),
        actor=actor.user_id,
        actor_name=actor.display_name[:40],
        node=(node or current_settings().region)[:6],
        action=action,
        from_state=from_state,
        to_state=to_state or order.state,
        reason=reason,
        data=data,
    )


def _write_history(order: WorkOrder, events: list[OrderEvent]) -> None:
    """Insert the history rows in one statement, then run the hooks for each in turn."""
    insert_rows(OrderEvent, events)
    for event in events:
        for hook in ON_CHANGE:
            hook(order, event)


def _record(
    order: WorkOrder,
    actor: Actor,
    action: str,
    from_state: str,
    reason: str = "",
    data: dict[str, Any] | None = None,
    to_state: str | None = None,
    node: str | None = None,
) -> OrderEvent:
    """Write the history row (on this node, unless `node` names where it happened) and run the hooks."""
    event = _event(order, actor, action, from_state, reason, data, to_state, node)
    _write_history(order, [event])
    return event


def _save(order: WorkOrder) -> None:
    """Write the changed fields, bumping the version; the row is locked, the version check is belt and braces."""
    old_version = order.version
    order.version = old_version + 1
    order.updated_at = clock.now()
    fields = {f: getattr(order, f.name) for f in order.dirty_fields if f.name != "id"}
    updated = (
        WorkOrder.update(fields).where(WorkOrder.id == order.id, WorkOrder.version == old_version).execute()
    )
    if updated != 1:
        raise Conflict()
    order._dirty.clear()


class DuplicateExternal(Conflict):
    """The channel already delivered an order with this external number (a retry, or a copy)."""

    code = "duplicate_external_number"

    def __init__(self, number: str, external_number: str):
        super().__init__(
            f"该渠道的外部编号 {external_number} 已受理为工单 {number}", details={"number": number}
        )
        self.number = number


def create_order(actor: Actor, body: schemas.OrderCreate | dict[str, Any]) -> WorkOrder:
    """受理: create an order from an agent's (or the portal's) input."""
    actor.require("order.create")
    data = body if isinstance(body, schemas.OrderCreate) else parse(schemas.OrderCreate, body)
    catalog.check_codes(
        business_type=data.business_type,
        domain=data.domain or None,
        sub_business=data.sub_business or None,
        channel=data.channel,
    )
    catalog.check_local_region(data.region_code)
    settings = current_settings()
    policy = catalog.policy_for(data.business_type, data.domain or None, settings.region)
    now = clock.now()
    # everything that needs no lock is worked out first: SQLite's writers of all processes queue
    # on one lock, held only for the statements below
    order = WorkOrder(
        origin_node=settings.region,
        external_number=data.external_number,
        contact_id=data.contact_id,
        channel=data.channel,
        business_type=data.business_type,
        domain=data.domain,
        sub_business=data.sub_business,
        road_class=data.road_class if data.domain == "01" else "",
        region_code=data.region_code,
        address=data.address,
        latitude=data.latitude,
        longitude=data.longitude,
        respondent_name=data.respondent_name,
        respondent_plate=data.respondent_plate.upper(),
        respondent_route=data.respondent_route,
        respondent_vessel=data.respondent_vessel,
        title=data.title,
        content=data.content,
        priority=data.priority,
        caller_name=data.caller_name,
        confidential=data.confidential,
        anonymous=data.anonymous,
        query_code=_query_code(),
        state="accepted",
        agent=actor.user_id,
        call_id=data.call_id,
        recording_ref=data.recording_ref,
        accepted_at=now,
        due_at=catalog.due_at(policy, now),
        created_at=now,
        updated_at=now,
    )
    order.title = order.title or _title_from(order)
    _set_phones(order, data.caller_phone, data.contact_phone)
    order.search_text = _search_text(order)
    # the first steps (submit, or an answer on the spot) are decided before the insert: one write
    if data.immediate_answer:
        order.immediate_answer = data.immediate_answer
        order.replied_at = order.closed_at = now
        order.state = "answered"
    elif data.submit:
        order.state = _submitted_state(order, policy)

    def write() -> WorkOrder:
        if data.external_number:  # unique per channel: a channel retrying gets its first order
            lock_named(f"external:{data.channel}:{data.external_number}")
            existing = WorkOrder.get_or_none(
                WorkOrder.channel == data.channel, WorkOrder.external_number == data.external_number
            )
            if existing is not None:
                raise DuplicateExternal(existing.number, data.external_number)
        order.number = next_number(settings.region, data.business_type, now.date())
        if data.contact_id and not data.caller_phone:
            _caller_from_contact(order, data.contact_id)
        insert_rows(WorkOrder, [order])
        history = [_event(order, actor, "create", "", data={"channel": data.channel}, to_state="accepted")]
        if order.state != "accepted":
            history.append(_event(order, actor, "answer" if data.immediate_answer else "submit", "accepted"))
        _write_history(order, history)
        if data.contact_id:
            from node.intake import service as intake

            intake.link_order(
                data.contact_id, order.number, "answered" if data.immediate_answer else "order_created"
            )
        return order

    # concurrent creations share a transaction on SQLite (group commit): see node.db.group_write
    return group_write(write)


def _title_from(order: WorkOrder) -> str:
    """Where, what and who ("鼓楼区 出租汽车 拒载 苏A8T123"): node.text.titles."""
    from node.text.titles import make_title

    return make_title(order)


def _caller_from_contact(order: WorkOrder, contact_id: int) -> None:
    """An order made during a contact carries that contact's caller and call."""
    from node.intake.models import Contact

    contact = Contact.get_or_none(Contact.id == contact_id)
    if contact is None:
        return  # link_order() reports the missing contact
    order.caller_phone_cipher = contact.caller_phone_cipher
    order.caller_phone_digest = contact.caller_phone_digest
    order.caller_phone_masked = contact.caller_phone_masked
    order.caller_name = order.caller_name or contact.caller_name
    order.call_id = order.call_id or contact.call_id
    order.recording_ref = order.recording_ref or contact.recording_ref


def _set_phones(order: WorkOrder, caller_phone: str, contact_phone: str) -> None:
    if caller_phone:
        p = pii.codec().protect(caller_phone)
        order.caller_phone_cipher, order.caller_phone_digest, order.caller_phone_masked = (
            p.cipher,
            p.digest,
            p.masked,
        )
    if contact_phone:
        p = pii.codec().protect(contact_phone)
        order.contact_phone_cipher, order.contact_phone_masked = p.cipher, p.masked


def perform(actor: Actor, number: str, action: str, body: dict[str, Any] | None = None) -> WorkOrder:
    """Run `action` on order `number` for `actor` with the JSON-like `body`."""
    transition = states.TRANSITIONS.get(action)
    if transition is None:
        raise NotFound(f"未知的工单操作：{action}")
    payload = parse(schemas.ACTION_BODIES[action], body or {})
    actor.require(transition.permission)
    with write_tx():
        order = locked(_visible_query(actor).where(WorkOrder.number == number)).first()
        if order is None:
            raise NotFound(f"工单不存在或无权查看：{number}")
        if order.state not in transition.sources:
            raise InvalidTransition(
                f"工单当前状态为“{states.label(order.state)}”，不能执行“{transition.label}”",
                details={"state": order.state, "action": action},
            )
        handler = _HANDLERS[action]
        handler(order, actor, payload)
    return order


def _change(
    order: WorkOrder,
    actor: Actor,
    action: str,
    to_state: str,
    reason: str = "",
    *,
    node: str | None = None,
    **data: Any,
) -> OrderEvent:
    from_state = order.state
    if to_state != states.SAME:
        order.state = to_state
    _save(order)
    return _record(order, actor, action, from_state, reason, data or None, node=node)


def _require_unit(order: WorkOrder, actor: Actor, *, lead: bool) -> Assignment:
    assignment = _unit_assignment(actor, order)
    if assignment is None:
        raise PermissionDenied("本单位不是该工单的承办单位")
    if lead and assignment.role != "lead":
        raise PermissionDenied("只有主办单位可以执行此操作")
    return assignment


# ---- handlers (one per action; all run inside perform()'s transaction) ------------------------


def _answer(order: WorkOrder, actor: Actor, p: schemas.Answer) -> None:
    now = clock.now()
    order.immediate_answer = p.answer
    order.replied_at = order.closed_at = now
    _change(order, actor, "answer", "answered")


def _submitted_state(order: WorkOrder, policy: Any) -> str:
    if not order.domain:
        raise ValidationError("提交前须选择业务领域", details={"domain": "必填"})
    return "pending_review" if policy.requires_review else "pending_dispatch"


def _submit(order: WorkOrder, actor: Actor, p: schemas.Empty) -> None:
    policy = catalog.policy_for(order.business_type, order.domain or None, current_settings().region)
    _change(order, actor, "submit", _submitted_state(order, policy), p.note)


def _review(order: WorkOrder, actor: Actor, p: schemas.Empty) -> None:
    policy = catalog.policy_for(order.business_type, order.domain or None, current_settings().region)
    target = (
        "pending_approval" if (policy.requires_approval or order.priority == "urgent") else "pending_dispatch"
    )
    _change(order, actor, "review", target, p.note)


def _simple(action: str) -> Callable[[WorkOrder, Actor, Any], None]:
    def handler(order: WorkOrder, actor: Actor, p: Any) -> None:
        reason = getattr(p, "reason", "") or getattr(p, "note", "")
        _change(order, actor, action, states.TRANSITIONS[action].target, reason)

    return handler


def reassign_unit(actor: Actor, old_unit: Unit, new_unit: Unit, reason: str) -> list[str]:
    """Move a handling unit's part in every unfinished order to another unit (the old one is being
    closed down). Parts not yet replied restart at sign-for with the new unit (a lead that had
    signed puts the order back to 已分派); where the new unit already takes part, the old part
    ends. One history row per order. Returns the order numbers."""
    actor.require("catalog.manage")
    if not new_unit.active:
        raise ValidationError(f"单位已停用：{new_unit.name}")
    unfinished = states.states_in(states.OPEN) + states.states_in(states.PENDING)
    now = clock.now()
    moved: list[str] = []
    with write_tx():
        parts = list(
            Assignment.select()
            .join(WorkOrder)
            .where(Assignment.unit == old_unit, Assignment.active == True, WorkOrder.state.in_(unfinished))  # noqa: E712
            .order_by(Assignment.order)
        )
        for part in parts:
            order = locked(WorkOrder.select().where(WorkOrder.id == part.order_id)).first()
            from_state = order.state
            other = Assignment.get_or_none(
                Assignment.order == order,
                Assignment.unit == new_unit,
                Assignment.active == True,  # noqa: E712
            )
            if other is not None:
                part.active, part.status = False, "withdrawn"
                part.save()
                if part.role == "lead":
                    other.role = "lead"
                    other.save()
            else:
                part.unit = new_unit
                if part.status in ("dispatched", "signed"):
                    policy = catalog.policy_for(
                        order.business_type, order.domain or None, current_settings().region
                    )
                    part.status, part.signed_at, part.signed_by = "dispatched", None, None
                    part.dispatched_at, part.dispatched_by = now, actor.user_id
                    part.sign_due_at = catalog.calendar().add_work_minutes(now, policy.sign_minutes)
                    if part.role == "lead" and order.state == "handling":
                        order.state = "dispatched"
                        _save(order)
                part.save()
            _record(
                order,
                actor,
                "reassign",
                from_state,
                reason,
                {"from_unit": old_unit.code, "to_unit": new_unit.code, "role": part.role},
            )
            moved.append(order.number)
    return moved


def _dispatch(order: WorkOrder, actor: Actor, p: schemas.Dispatch) -> None:
    codes = [p.lead_unit, *p.assist_units]
    if len(set(codes)) != len(codes):
        raise ValidationError("主办单位和协办单位不能重复")
    units = {code: catalog.unit_by_code(code) for code in codes}
    inactive = [u.name for u in units.values() if not u.active]
    if inactive:
        raise ValidationError(f"单位已停用：{'、'.join(inactive)}")
    policy = catalog.policy_for(order.business_type, order.domain or None, current_settings().region)
    now = clock.now()
    sign_due = catalog.calendar().add_work_minutes(now, policy.sign_minutes)
    Assignment.update(active=False).where(Assignment.order == order, Assignment.active == True).execute()  # noqa: E712
    for code in codes:
        Assignment.create(
            order=order,
            unit=units[code],
            role="lead" if code == p.lead_unit else "assist",
            dispatched_at=now,
            dispatched_by=actor.user_id,
            sign_due_at=sign_due,
            due_at=order.due_at,
        )
    order.dispatched_at = now
    _change(order, actor, "dispatch", "dispatched", p.note, lead=p.lead_unit, assist=p.assist_units)


def _withdraw(order: WorkOrder, actor: Actor, p: schemas.WithReason) -> None:
    if _lead_signed(order):
        raise InvalidTransition("主办单位已签收，不能撤回")
    Assignment.update(active=False, status="withdrawn").where(
        Assignment.order == order,
        Assignment.active == True,  # noqa: E712
    ).execute()
    _change(order, actor, "withdraw", "pending_dispatch", p.reason)


def _sign(order: WorkOrder, actor: Actor, p: schemas.Empty) -> None:
    assignment = _require_unit(order, actor, lead=False)
    if assignment.signed_at is not None:
        raise InvalidTransition("本单位已签收该工单")
    assignment.signed_at = clock.now()
    assignment.signed_by = actor.user_id
    assignment.status = "signed"
    assignment.save()
    target = "handling" if assignment.role == "lead" else states.SAME
    _change(order, actor, "sign", target, data_unit(assignment))


def data_unit(assignment: Assignment) -> str:
    role = "主办" if assignment.role == "lead" else "协办"
    return f"{role}单位 {assignment.unit.name}"


def _return(order: WorkOrder, actor: Actor, p: schemas.Return) -> None:
    assignment = _require_unit(order, actor, lead=True)
    reason_name = catalog.reason_name("return", p.reason_code)
    policy = catalog.policy_for(order.business_type, order.domain or None, current_settings().region)
    if order.return_count >= policy.max_returns:
        raise InvalidTransition(f"该工单已退回{order.return_count}次，达到上限，不能再退回，请联系派单员协调")
    ReturnRequest.create(
        order=order,
        unit=assignment.unit,
        reason_code=p.reason_code,
        reason=p.reason,
        previous_state=order.state,
        requested_by=actor.user_id,
        requested_at=clock.now(),
    )
    order.return_count += 1
    _change(
        order, actor, "return", "return_requested", f"{reason_name}：{p.reason}", reason_code=p.reason_code
    )


def pending_return(order: WorkOrder) -> ReturnRequest | None:
    """The return request awaiting the dispatcher's decision, if any."""
    return (
        ReturnRequest.select()
        .where(ReturnRequest.order == order, ReturnRequest.decision == "pending")
        .order_by(ReturnRequest.id.desc())
        .first()
    )


def pending_extension(order: WorkOrder) -> Extension | None:
    """The extension request awaiting a decision, if any."""
    return (
        Extension.select()
        .where(Extension.order == order, Extension.status == "pending")
        .order_by(Extension.id)
        .first()
    )


def _pending_return(order: WorkOrder) -> ReturnRequest:
    req = pending_return(order)
    if req is None:
        raise Conflict("没有待确认的退回申请")
    return req


def _accept_return(order: WorkOrder, actor: Actor, p: schemas.Empty) -> None:
    req = _pending_return(order)
    req.decision, req.decided_by, req.decided_at, req.decision_note = (
        "accepted",
        actor.user_id,
        clock.now(),
        p.note,
    )
    req.save()
    Assignment.update(active=False, status="returned").where(
        Assignment.order == order,
        Assignment.active == True,  # noqa: E712
    ).execute()
    _change(order, actor, "accept_return", "pending_dispatch", p.note)


def _reject_return(order: WorkOrder, actor: Actor, p: schemas.WithReason) -> None:
    req = _pending_return(order)
    req.decision, req.decided_by, req.decided_at, req.decision_note = (
        "rejected",
        actor.user_id,
        clock.now(),
        p.reason,
    )
    req.save()
    _change(order, actor, "reject_return", req.previous_state, p.reason)


def _request_extension(order: WorkOrder, actor: Actor, p: schemas.RequestExtension) -> None:
    assignment = _require_unit(order, actor, lead=True)
    policy = catalog.policy_for(order.business_type, order.domain or None, current_settings().region)
    approved = Extension.select().where(Extension.order == order, Extension.status == "approved").count()
    if approved >= policy.max_extensions:
        raise InvalidTransition(f"延期次数已达上限（{policy.max_extensions}次）")
    if order.extension_days + p.days > policy.max_extension_days:
        raise ValidationError(
            f"累计延期不能超过{policy.max_extension_days}个工作日", details={"days": "超出上限"}
        )
    if pending_extension(order) is not None:
        raise Conflict("已有待审批的延期申请")
    if order.due_at and clock.now() > order.due_at:
        raise InvalidTransition("工单已超期，须在到期前申请延期")
    ext = Extension.create(
        order=order,
        unit=assignment.unit,
        days=p.days,
        reason=p.reason,
        requested_by=actor.user_id,
        requested_at=clock.now(),
        old_due_at=order.due_at,
    )
    _change(order, actor, "request_extension", states.SAME, p.reason, extension_id=ext.id, days=p.days)


def _decide_extension(order: WorkOrder, actor: Actor, p: schemas.DecideExtension) -> None:
    ext = Extension.get_or_none(Extension.id == p.extension_id, Extension.order == order)
    if ext is None:
        raise NotFound("延期申请不存在")
    if ext.status != "pending":
        raise Conflict("该延期申请已处理")
    ext.status = "approved" if p.approve else "denied"
    ext.decided_by, ext.decided_at, ext.decision_note = actor.user_id, clock.now(), p.note
    if p.approve and order.due_at:
        ext.new_due_at = catalog.calendar().add_workdays(order.due_at, ext.days)
        order.due_at = ext.new_due_at
        order.extension_days += ext.days
        Assignment.update(due_at=order.due_at).where(Assignment.order == order, Assignment.active).execute()
    ext.save()
    _change(
        order,
        actor,
        "decide_extension",
        states.SAME,
        p.note,
        extension_id=ext.id,
        approved=p.approve,
        new_due_at=ext.new_due_at.isoformat() if ext.new_due_at else None,
    )


def _assist_reply(order: WorkOrder, actor: Actor, p: schemas.AssistReply) -> None:
    assignment = _require_unit(order, actor, lead=False)
    if assignment.role != "assist":
        raise PermissionDenied("主办单位请使用“回复”")
    assignment.reply, assignment.replied_at, assignment.status = p.content, clock.now(), "replied"
    assignment.save()
    _change(order, actor, "assist_reply", states.SAME, data_unit(assignment))


def assist_pending(order: WorkOrder) -> list[Assignment]:
    """Active co-handling (协办) assignments that have not fed back, unless the centre waived
    waiting for them since the current dispatch (node/followup/supervision.waive_assist)."""
    pending = list(
        Assignment.select().where(
            Assignment.order == order,
            Assignment.role == "assist",
            Assignment.active == True,  # noqa: E712
            Assignment.replied_at.is_null(),
        )
    )
    if pending and order.dispatched_at is not None:
        waived = OrderEvent.select().where(
            OrderEvent.order == order,
            OrderEvent.action == "assist_waived",
            OrderEvent.at >= order.dispatched_at,
        )
        if waived.exists():
            return []
    return pending


def _reply(order: WorkOrder, actor: Actor, p: schemas.Reply) -> None:
    assignment = _require_unit(order, actor, lead=True)
    waiting = assist_pending(order)
    if waiting:
        names = "、".join(a.unit.name for a in waiting)
        raise InvalidTransition(f"协办单位尚未反馈（{names}），须待其反馈或由中心同意后才能回复")
    now = clock.now()
    order.result_basic, order.result_process, order.result_basis = p.basic, p.process, p.basis
    order.replied_at = now
    assignment.replied_at, assignment.status = now, "replied"
    assignment.save()
    _change(order, actor, "reply", "replied")


def _close(order: WorkOrder, actor: Actor, p: schemas.Empty) -> None:
    order.closed_at = clock.now()
    _change(order, actor, "close", "closed", p.note)


def _callback(order: WorkOrder, actor: Actor, p: schemas.Callback) -> None:
    order.callback_method, order.callback_at, order.callback_note = p.method, clock.now(), p.note
    if p.reached:
        order.callback_result_satisfaction = p.result_satisfaction or ""
        order.callback_service_satisfaction = p.service_satisfaction or ""
    target = "visited" if p.reached and order.state == "closed" else states.SAME
    _change(
        order,
        actor,
        "callback",
        target,
        p.note,
        reached=p.reached,
        result=p.result_satisfaction,
        service=p.service_satisfaction,
        method=p.method,
        solved=p.solved,
        call_id=p.call_id,
    )


def _reopen(order: WorkOrder, actor: Actor, p: schemas.WithReason) -> None:
    order.reopen_count += 1
    order.closed_at = None
    order.replied_at = None
    policy = catalog.policy_for(order.business_type, order.domain or None, current_settings().region)
    order.due_at = catalog.due_at(policy, clock.now())
    Assignment.update(active=False).where(Assignment.order == order, Assignment.active == True).execute()  # noqa: E712
    _change(order, actor, "reopen", "pending_dispatch", p.reason)


def _archive(order: WorkOrder, actor: Actor, p: schemas.Empty) -> None:
    order.archived_at = clock.now()
    _change(order, actor, "archive", "archived", p.note)


def _reject(order: WorkOrder, actor: Actor, p: schemas.Reject) -> None:
    name = catalog.reason_name("reject", p.reason_code)
    order.closed_at = clock.now()
    _change(order, actor, "reject", "rejected", f"{name}：{p.reason}", reason_code=p.reason_code)


def _merge(order: WorkOrder, actor: Actor, p: schemas.Merge) -> None:
    if p.master == order.number:
        raise ValidationError("不能把工单合并到自身")
    master = locked(WorkOrder.select().where(WorkOrder.number == p.master)).first()
    if master is None:
        raise NotFound(f"主工单不存在：{p.master}")
    while master.master_id is not None:  # always point at the root master
        master = WorkOrder.get_by_id(master.master_id)
    if master.id == order.id:
        raise ValidationError("合并会形成循环")
    if master.state in ("merged", "rejected", "split"):
        raise InvalidTransition(f"主工单状态为“{states.label(master.state)}”，不能作为合并目标")
    order.master = master
    order.closed_at = clock.now()
    WorkOrder.update(master=master).where(WorkOrder.master == order).execute()
    _change(order, actor, "merge", "merged", p.note, master=master.number)
    _record(master, actor, "merge_in", master.state, p.note, {"duplicate": order.number})


def _split(order: WorkOrder, actor: Actor, p: schemas.Split) -> None:
    settings = current_settings()
    now = clock.now()
    children = []
    for part in p.parts:
        catalog.check_codes(
            business_type=part.business_type,
            domain=part.domain or None,
            sub_business=part.sub_business or None,
        )
        policy = catalog.policy_for(part.business_type, part.domain or None, settings.region)
        child = WorkOrder(
            **{
                f.name: getattr(order, f.name)
                for f in WorkOrder._meta.sorted_fields
                if f.name not in ("id", "number", "version", "parent", "master", "search_text")
            }
        )
        child.number = next_number(settings.region, part.business_type, now.date())
        child.parent = order
        child.business_type, child.domain, child.sub_business = (
            part.business_type,
            part.domain,
            part.sub_business,
        )
        child.content = part.content
        child.title = part.title or _title_from(child)
        child.state = "pending_dispatch"
        child.query_code = order.query_code
        child.due_at = catalog.due_at(policy, order.accepted_at)
        child.created_at = child.updated_at = now
        child.version = 1
        child.search_text = _search_text(child)
        child.save(force_insert=True)
        _record(child, actor, "split_from", "", p.note, {"parent": order.number})
        children.append(child.number)
    order.closed_at = now
    _change(order, actor, "split", "split", p.note, children=children)


def _transfer(order: WorkOrder, actor: Actor, p: schemas.Transfer) -> None:
    catalog.check_region(p.region_code)
    if p.region_code[:4] == current_settings().region[:4] and current_settings().level == "city":
        raise ValidationError("目标区划属于本市，请直接分派本地承办单位")
    order.region_code = p.region_code
    _change(order, actor, "transfer", "transferred", p.reason, destination=p.region_code)


def _urge(order: WorkOrder, actor: Actor, p: schemas.Urge) -> None:
    lead = (
        Assignment.select()
        .where(Assignment.order == order, Assignment.role == "lead", Assignment.active)
        .first()
    )
    Urge.create(order=order, unit=lead.unit if lead else None, by=actor.user_id, at=clock.now(), note=p.note)
    _change(order, actor, "urge", states.SAME, p.note)


def _note(order: WorkOrder, actor: Actor, p: schemas.Note) -> None:
    _change(order, actor, "note", states.SAME, p.text)


def _edit(order: WorkOrder, actor: Actor, p: schemas.OrderEdit) -> None:
    changes = p.model_dump(exclude_none=True)
    if not actor.can("pii.view"):  # the masked text this reader was shown, sent back unchanged
        from node.text.normalize import mask_pii

        for key in ("title", "content"):
            if key in changes and changes[key] == mask_pii(getattr(order, key) or ""):
                del changes[key]
    if not changes:
        raise ValidationError("没有需要修改的字段")
    merged = {
        "business_type": changes.get("business_type", order.business_type),
        "domain": changes.get("domain", order.domain),
        "sub_business": changes.get("sub_business", order.sub_business),
    }
    catalog.check_codes(
        business_type=merged["business_type"],
        domain=merged["domain"] or None,
        sub_business=merged["sub_business"] or None,
    )
    if "region_code" in changes:
        catalog.check_local_region(changes["region_code"])
    before = {k: getattr(order, k) for k in changes}
    for key, value in changes.items():
        setattr(order, key, value)
    if "business_type" in changes or "domain" in changes:
        policy = catalog.policy_for(order.business_type, order.domain or None, current_settings().region)
        order.due_at = catalog.due_at(policy, order.accepted_at)
    order.search_text = _search_text(order)
    diff = {k: [str(before[k]), str(v)] for k, v in changes.items() if str(before[k]) != str(v)}
    _change(order, actor, "edit", states.SAME, "", changes=diff)


_HANDLERS: dict[str, Callable[[WorkOrder, Actor, Any], None]] = {
    "answer": _answer,
    "submit": _submit,
    "review": _review,
    "review_back": _simple("review_back"),
    "approve": _simple("approve"),
    "disapprove": _simple("disapprove"),
    "dispatch": _dispatch,
    "withdraw": _withdraw,
    "sign": _sign,
    "return": _return,
    "accept_return": _accept_return,
    "reject_return": _reject_return,
    "request_extension": _request_extension,
    "decide_extension": _decide_extension,
    "assist_reply": _assist_reply,
    "reply": _reply,
    "accept_reply": _simple("accept_reply"),
    "reject_reply": _simple("reject_reply"),
    "close": _close,
    "callback": _callback,
    "reopen": _reopen,
    "archive": _archive,
    "reject": _reject,
    "merge": _merge,
    "split": _split,
    "transfer": _transfer,
    "urge": _urge,
    "note": _note,
    "edit": _edit,
}
assert set(_HANDLERS) == set(states.TRANSITIONS), "every transition needs a handler"

# ---- the public's rating (公众评价) ----------------------------------------------------------------

RATEABLE = frozenset({"closed", "visited", "archived", "answered", "rejected"})


def rateable(order: WorkOrder) -> bool:
    """Whether the citizen may rate this order now: after closure; a merged order once its master
    (handled for both) is closed. A split order is rated through its parts."""
    if order.state == "merged" and order.master_id is not None:
        return WorkOrder.select(WorkOrder.state).where(WorkOrder.id == order.master_id).scalar() in RATEABLE
    return order.state in RATEABLE


def record_public_rating(
    actor: Actor, number: str, *, result: str, service: str, comment: str = "", channel: str = "02"
) -> WorkOrder:
    """The citizen rates the handling result and the service (非常满意/满意/不满意), once, after
    closure. The caller of this function has already checked the citizen's number + query code."""
    if result not in SATISFACTION or service not in SATISFACTION:
        raise ValidationError("评价等级应为 1 非常满意、2 满意、3 不满意")
    with write_tx():
        order = locked(WorkOrder.select().where(WorkOrder.number == number)).first()
        if order is None:
            raise NotFound(f"工单不存在：{number}")
        if not rateable(order):
            raise InvalidTransition(
                "拆分的工单请分别评价拆分出的各件工单" if order.state == "split" else "工单办结后才能评价"
            )
        if order.public_result_satisfaction:
            raise Conflict("该工单已评价，感谢您的反馈")
        order.public_result_satisfaction = result
        order.public_service_satisfaction = service
        _save(order)
        _record(
            order,
            actor,
            "public_rate",
            order.state,
            comment,
            {"result": result, "service": service, "channel": channel},
        )
    return order


# ---- cross-region transfers arriving from / reporting back to other nodes (federation) ----------
# federation/ decodes the messages (federation.codec) and calls these inside its inbox transaction.

# WorkOrder fields a transferred order keeps from its origin.
_TRANSFERRED_NAMES = (
    "number origin_node external_number channel business_type domain sub_business road_class "
    "region_code address latitude longitude respondent_name respondent_plate respondent_route "
    "respondent_vessel title content priority caller_name confidential anonymous accepted_at due_at "
    "immediate_answer result_basic result_process result_basis return_count extension_days is_spot_check"
)
_TRANSFERRED_FIELDS = frozenset(_TRANSFERRED_NAMES.split())


def _check_remote_fields(fields: dict[str, Any]) -> None:
    """Codes of an order arriving from another node must be known here."""
    catalog.check_codes(
        business_type=fields["business_type"],
        domain=fields.get("domain") or None,
        sub_business=fields.get("sub_business") or None,
        channel=fields["channel"],
    )
    catalog.check_region(fields["region_code"])


def receive_transfer(
    actor: Actor, fields: dict[str, Any], history: list[dict[str, Any]], *, from_node: str, note: str = ""
) -> WorkOrder:
    """跨区域转来: create the order another node transferred here, with its ORIGINAL number and
    history, waiting for dispatch in this node's normal flow (state pending_dispatch).

    `fields` holds WorkOrder values (plus `contact_phone`, protected here with this node's key);
    `history` holds OrderEvent values of the origin's history, copied as they were."""
    actor.require("order.create")
    number = str(fields.get("number", ""))
    if not (number.isdigit() and len(number) == 21):
        raise ValidationError(f"转来工单编号格式错误：{number!r}")
    _check_remote_fields(fields)
    if fields.get("accepted_at") is None:
        raise ValidationError("转来工单缺少受理时间")
    now = clock.now()
    with write_tx():
        if WorkOrder.select().where(WorkOrder.number == number).exists():
            raise Conflict(f"本节点已有工单 {number}")
        order = WorkOrder(
            **{k: v for k, v in fields.items() if k in _TRANSFERRED_FIELDS},
            query_code=_query_code(),
            state="pending_dispatch",
            created_at=now,
            updated_at=now,
        )
        _set_phones(order, "", str(fields.get("contact_phone") or ""))
        order.search_text = _search_text(order)
        order.save(force_insert=True)
        order._dirty.clear()
        if history:
            OrderEvent.insert_many(
                [{**h, "order": order.id, "actor": None} for h in history if h.get("at") is not None]
            ).execute()
        _record(order, actor, "receive_transfer", "", note, {"from": from_node}, to_state="pending_dispatch")
    return order


# WorkOrder fields a spot-check test order may set (the rest is this node's: number, times, state).
_SPOT_CHECK_NAMES = (
    "external_number channel business_type domain sub_business road_class region_code address "
    "latitude longitude respondent_name respondent_plate respondent_route respondent_vessel title "
    "content priority caller_name confidential anonymous"
)
_SPOT_CHECK_FIELDS = frozenset(_SPOT_CHECK_NAMES.split())


def receive_spot_check(
    actor: Actor, fields: dict[str, Any], *, from_node: str, check_id: str, note: str = ""
) -> WorkOrder:
    """抽检工单: create the test order an upper node (ministry or province) sent down, numbered here,
    flagged `is_spot_check` and handled in this node's normal flow from the submitted state, due
    by this node's own time limit (or the issuer's `due_at`, when it set one).

    `fields` holds WorkOrder values (plus `contact_phone`, protected here with this node's key)."""
    actor.require("order.create")
    _check_remote_fields(fields)
    if not (fields.get("content") or "").strip():
        raise ValidationError("抽检工单缺少诉求内容", details={"content": "必填"})
    settings = current_settings()
    policy = catalog.policy_for(fields["business_type"], fields.get("domain") or None, settings.region)
    now = clock.now()
    with write_tx():
        order = WorkOrder(
            **{k: v for k, v in fields.items() if k in _SPOT_CHECK_FIELDS},
            number=next_number(settings.region, fields["business_type"], now.date()),
            origin_node=settings.region,
            is_spot_check=True,
            query_code=_query_code(),
            accepted_at=now,
            due_at=fields.get("due_at") or catalog.due_at(policy, now),
            created_at=now,
            updated_at=now,
        )
        order.title = order.title or _title_from(order)
        order.state = _submitted_state(order, policy)
        _set_phones(order, "", str(fields.get("contact_phone") or ""))
        order.search_text = _search_text(order)
        order.save(force_insert=True)
        order._dirty.clear()
        data = {
            "from": from_node,
            "check_id": check_id,
            "due_at": order.due_at.isoformat() if order.due_at else None,
        }
        _record(order, actor, "receive_spot_check", "", note, data, to_state=order.state)
    return order


# remote update kind → the origin's state after it ('=' keeps the state)
_REMOTE_TARGETS = {"closed": "closed", "refused": "pending_dispatch"}


def apply_remote_update(
    actor: Actor,
    number: str,
    *,
    kind: str,
    node: str,
    at: dt.datetime,
    actor_name: str,
    remote_state: str = "",
    note: str = "",
    result: dict[str, str] | None = None,
) -> OrderEvent:
    """Record on the origin's order an update from the node handling it (签收, 回复, 办结, 退回 …).

    The history row is `remote_<kind>` with `node` = the handling node. The order stays
    'transferred' while it is handled there; a reply copies the handling result; 'closed' moves it
    to closed (so the origin calls the citizen back), 'refused' back to pending_dispatch here.
    Applied to an order no longer 'transferred' (e.g. already closed), it only records history."""
    actor.require("order.note")
    if kind not in ("accepted", "refused", "signed", "progress", "replied", "closed", "returned"):
        raise ValidationError(f"未知的办理动态：{kind!r}")
    with write_tx():
        order = locked(WorkOrder.select().where(WorkOrder.number == number)).first()
        if order is None:
            raise NotFound(f"工单不存在：{number}")
        target = states.SAME
        if order.state == "transferred":
            target = _REMOTE_TARGETS.get(kind, states.SAME)
            if kind in ("replied", "closed") and result:
                order.result_basic = result.get("basic", "")
                order.result_process = result.get("process", "")
                order.result_basis = result.get("basis", "")
                order.replied_at = order.replied_at or at
            if kind == "closed":
                order.closed_at = at
        event = _change(
            order,
            actor,
            f"remote_{kind}",
            target,
            note,
            remote_node=node,
            remote_actor=actor_name[:40],
            remote_state=remote_state,
            remote_at=at.isoformat(),
            node=node,
        )
    return event


__all__ = [
    "ON_CHANGE",
    "apply_remote_update",
    "create_order",
    "get_order",
    "history",
    "list_orders",
    "perform",
    "receive_spot_check",
    "receive_transfer",
    "record_public_rating",
]
