"""Business flows over the federation links: upward order records, cross-region transfers, and the
updates that flow back to the node a transfer came from.

Wiring (`install()`, idempotent): `on_change` joins the work-order engine's ON_CHANGE hooks and
runs inside the transaction of every order change, so what it queues exists if and only if the
change committed:
- every change marks the order in `RecordQueue` (one row per order: changes coalesce); the worker
  (`flush_records`) encodes the queued orders as caller-free `OrderRecord`s, batched into
  `OrderRecordBatch` envelopes addressed to the ministry. They travel through the province, which
  verifies them end to end, applies them to its own tables (a *tap*) and relays them on;
- a `transfer` action queues an `OrderTransfer` (the order with its history) to the node
  responsible for the new region, routed hub-and-spoke by GB/T 2260 prefix;
- on an order handled here for another node, every step (accepted, signed, replied, closed,
  returned, progress) queues an `OrderUpdate` back to that node, numbered per transfer;
- on a spot-check order an upper node sent here (`federation.downward`), every step goes back to
  the issuer the same way (its check id as the transfer id).

Received messages are checked twice: `precheck` runs in the receiver before the envelope is
stored (a payload that speaks for another node is refused NOT_AUTHORISED, leaving no trace), and
the inbox handlers here apply them through the engine's services.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import defaultdict
from typing import Any

import peewee as pw
from google.protobuf.message import Message

from federation import authority, bulk, codec, inbox, sender
from federation.envelope import Rejected, new_message_id
from federation.models import RecordQueue, RemoteOrder, TransferLink
from federation.routing import MINISTRY, in_subtree, node_for_region, parent_of
from federation.v1 import federation_pb2 as pb
from node import clock, db
from node.db import write_tx
from node.errors import DomainError, ValidationError

log = logging.getLogger(__name__)

RECORD_BATCH = 500
# engine action at the handling node → kind of the update sent back to the origin
ACTION_KINDS: dict[str, str] = {
    "receive_transfer": "accepted",
    "reject": "refused",
    "sign": "signed",
    "reply": "replied",
    "close": "closed",
    "return": "returned",
    "dispatch": "progress",
    "withdraw": "progress",
    "accept_return": "progress",
    "reject_return": "progress",
    "request_extension": "progress",
    "decide_extension": "progress",
    "assist_reply": "progress",
    "accept_reply": "progress",
    "reject_reply": "progress",
    "urge": "progress",
    "reopen": "progress",
}
# a spot-check order's steps at the target also include its review and the call-back to the tester
SPOT_CHECK_KINDS: dict[str, str] = {
    **ACTION_KINDS,
    "receive_spot_check": "accepted",
    "review": "progress",
    "callback": "progress",
}
# Payload types a relay also applies to its own tables on their way up (province sees its cities).
TAP_TYPES = frozenset(
    {
        pb.OrderRecordBatch.DESCRIPTOR.full_name,
        pb.DailyReport.DESCRIPTOR.full_name,
        pb.MonthlyForm.DESCRIPTOR.full_name,
    }
)


def _me() -> str:
    from node.settings import current

    return current().region


# ---- wiring ---------------------------------------------------------------------------------------


def install() -> None:
    """Hook the flows into the work-order engine and the inbox. Idempotent."""
    from federation import downward, forms, reports
    from node.workflow import service as workflow

    if on_change not in workflow.ON_CHANGE:
        workflow.ON_CHANGE.append(on_change)
    inbox.register(pb.OrderRecordBatch, apply_records)
    inbox.register(pb.OrderTransfer, apply_transfer)
    inbox.register(pb.OrderUpdate, apply_update)
    inbox.register(pb.DailyReport, reports.apply_report)
    inbox.register(pb.MonthlyForm, forms.apply_form)
    inbox.PRECHECKS.update(
        {
            pb.DailyReport.DESCRIPTOR.full_name: _check_report,
            pb.MonthlyForm.DESCRIPTOR.full_name: _check_form,
            pb.OrderRecordBatch.DESCRIPTOR.full_name: _check_records,
            pb.OrderTransfer.DESCRIPTOR.full_name: _check_transfer,
            pb.OrderUpdate.DESCRIPTOR.full_name: _check_update,
        }
    )
    inbox.TAP_TYPES.update(TAP_TYPES)
    downward.install()


def on_change(order: Any, event: Any) -> None:
    """ON_CHANGE hook (inside the business transaction)."""
    me = _me()
    if parent_of(me) is not None:  # plain SQL: this runs with every change of every order
        db.execute(
            'INSERT INTO "record_queue" ("order_id", "version", "changed_at") VALUES (?, ?, ?) '
            'ON CONFLICT ("order_id") DO UPDATE SET "version" = excluded."version", '
            '"changed_at" = excluded."changed_at"',
            (order.id, order.version, clock.now()),
        )
    if event.action == "transfer":
        queue_transfer(order, event, me)
    elif order.origin_node != me and event.action in ACTION_KINDS:
        _queue_update(order, event, me, ACTION_KINDS)
    elif order.is_spot_check and event.action in SPOT_CHECK_KINDS:
        if event.action == "receive_spot_check":
            from federation import downward

            downward.link_spot_check(order, event)
        _queue_update(order, event, me, SPOT_CHECK_KINDS)


# ---- cross-region transfer: origin side -----------------------------------------------------------


def _contact_phone(order: Any) -> str:
    """The one phone number the handling node may use to reach the citizen (see codec)."""
    from node import pii

    if order.confidential or order.anonymous:
        return ""
    cipher = order.contact_phone_cipher or order.caller_phone_cipher
    return pii.codec().reveal(cipher) if cipher else ""


def queue_transfer(order: Any, event: Any, me: str) -> TransferLink:
    """Queue the order with its history for the node responsible for its new region."""
    from node.workflow.models import OrderEvent

    region = (event.data or {}).get("destination") or order.region_code
    destination = node_for_region(region)
    if destination == me:
        raise ValidationError("目标区划由本节点负责，请直接分派本地承办单位")
    transfer_id = new_message_id()
    events = list(
        OrderEvent.select().where(OrderEvent.order == order.id).order_by(OrderEvent.at, OrderEvent.id)
    )
    message = codec.order_transfer(
        order,
        events,
        transfer_id=transfer_id,
        from_node=me,
        to_node=destination,
        reason=event.reason or "",
        requested_by=event.actor_name,
        contact_phone=_contact_phone(order),
    )
    link = new_link(transfer_id, order.number, "out", destination, "sent")
    sender.enqueue(message, origin=me, destination=destination, message_id=transfer_id)
    return link


def apply_update(me: str, origin: str, update: pb.OrderUpdate) -> None:
    """Inbox handler: an update from the node handling one of our transferred orders, or one of
    the spot-check orders we sent down."""
    from federation import downward
    from node.auth.service import SYSTEM
    from node.workflow import service as workflow

    link = TransferLink.get_or_none(
        (TransferLink.transfer_id == update.transfer_id)
        & (TransferLink.direction == "out")
        & (TransferLink.number == update.order_number)
    )
    if link is None and downward.apply_spot_check_update(me, origin, update):
        return
    if link is None or link.peer != origin:
        raise LookupError(f"没有发往 {origin} 的转办记录：{update.order_number}")
    if update.sequence <= link.last_sequence:
        return  # already applied (updates carry increasing sequence numbers)
    fields = codec.update_fields(update)
    workflow.apply_remote_update(SYSTEM, update.order_number, **fields)
    status = {"accepted": "accepted", "refused": "refused", "closed": "closed"}.get(
        fields["kind"], link.status
    )
    TransferLink.update(last_sequence=update.sequence, status=status, updated_at=clock.now()).where(
        TransferLink.id == link.id
    ).execute()


# ---- cross-region transfer: handling side ---------------------------------------------------------


def apply_transfer(me: str, origin: str, transfer: pb.OrderTransfer) -> None:
    """Inbox handler: create the transferred order here (original number and history) or, when this
    node cannot take it, answer TRANSFER_REFUSED so the origin gets it back."""
    from node.auth.service import SYSTEM
    from node.workflow import service as workflow

    if received_before(transfer.transfer_id):
        return
    link = new_link(transfer.transfer_id, transfer.order.record.order_number, "in", origin, "accepted")
    fields = codec.transfer_order_fields(transfer)
    try:
        with write_tx():  # a savepoint: a refusal keeps the link and the answer, not a half order
            number = fields["number"]
            if number != transfer.order_number or authority.number_origin(number) != fields["origin_node"]:
                raise ValidationError(f"转办工单编号 {number[:24]} 与转办单或受理节点不符")
            if node_for_region(fields["region_code"]) != me:
                raise ValidationError(f"工单区划 {fields['region_code']} 不属于本节点（{me}）")
            workflow.receive_transfer(
                SYSTEM,
                fields,
                codec.history_rows(transfer.history),
                from_node=origin,
                note=transfer.reason,
            )
    except (DomainError, KeyError, ValueError) as exc:
        log.warning("拒收转办工单 %s：%s", link.number, exc)
        TransferLink.update(status="refused", last_sequence=1, updated_at=clock.now()).where(
            TransferLink.id == link.id
        ).execute()
        send_refusal(me, origin, link.transfer_id, f"转办被拒收：{exc}", order_number=link.number)


def new_link(
    transfer_id: str, number: str, direction: str, peer: str, status: str, last_sequence: int = 0
) -> TransferLink:
    now = clock.now()
    return TransferLink.create(
        transfer_id=transfer_id,
        number=number,
        direction=direction,
        peer=peer,
        status=status,
        last_sequence=last_sequence,
        created_at=now,
        updated_at=now,
    )


def received_before(transfer_id: str) -> bool:
    """Did an order (transfer or spot check) with this id already arrive here?"""
    return (
        TransferLink.select()
        .where((TransferLink.transfer_id == transfer_id) & (TransferLink.direction == "in"))
        .exists()
    )


def send_refusal(me: str, origin: str, transfer_id: str, note: str, order_number: str = "") -> None:
    """Tell the sender that an order it sent down or across was not taken (first and last update)."""
    refusal = pb.OrderUpdate(
        order_number=order_number,
        transfer_id=transfer_id,
        from_node=me,
        to_node=origin,
        kind=pb.OrderUpdate.TRANSFER_REFUSED,
        sequence=1,
        at_ms=codec.ms(clock.now()),
        actor="系统",
        note=note[:1000],
    )
    sender.enqueue(refusal, origin=me, destination=origin, message_id=f"{transfer_id}:1")


def _queue_update(order: Any, event: Any, me: str, kinds: dict[str, str]) -> None:
    link = (
        TransferLink.select()
        .where((TransferLink.number == order.number) & (TransferLink.direction == "in"))
        .order_by(TransferLink.id.desc())
        .first()
    )
    if link is None or link.status == "refused":
        return
    kind = kinds[event.action]
    sequence = link.last_sequence + 1
    message = codec.order_update(
        order,
        event,
        kind=kind,
        transfer_id=link.transfer_id,
        from_node=me,
        to_node=link.peer,
        sequence=sequence,
    )
    status = {"refused": "refused", "closed": "closed"}.get(kind, "accepted")
    TransferLink.update(last_sequence=sequence, status=status, updated_at=clock.now()).where(
        TransferLink.id == link.id
    ).execute()
    sender.enqueue(message, origin=me, destination=link.peer, message_id=f"{link.transfer_id}:{sequence}")


# ---- upward order records -------------------------------------------------------------------------


def _record_extras(order_ids: list[int]) -> tuple[dict[int, dt.datetime], dict[int, int], set[int]]:
    from node.workflow.models import Assignment, OrderEvent, Urge

    signed = {
        oid: at
        for oid, at in Assignment.select(Assignment.order, Assignment.signed_at)
        .where(
            Assignment.order.in_(order_ids)
            & (Assignment.role == "lead")
            & Assignment.signed_at.is_null(False)
        )
        .order_by(Assignment.signed_at)
        .tuples()
    }
    urges = dict(
        Urge.select(Urge.order, pw.fn.COUNT(Urge.id))
        .where(Urge.order.in_(order_ids))
        .group_by(Urge.order)
        .tuples()
    )
    reviewed = {
        oid
        for (oid,) in OrderEvent.select(OrderEvent.order)
        .where(OrderEvent.order.in_(order_ids) & (OrderEvent.action == "accept_reply"))
        .distinct()
        .tuples()
    }
    return signed, urges, reviewed


def build_records(orders: list[Any], me: str) -> list[pb.OrderRecord]:
    """Caller-free records of `orders` as node `me` reports them."""
    if not orders:
        return []
    ids = [o.id for o in orders]
    signed, urges, reviewed = _record_extras(ids)
    handled_by = dict(
        TransferLink.select(TransferLink.number, TransferLink.peer)
        .where(
            TransferLink.number.in_([o.number for o in orders])
            & (TransferLink.direction == "out")
            & (TransferLink.status != "refused")
        )
        .order_by(TransferLink.id)
        .tuples()
    )
    return [
        codec.order_record(
            o,
            handling_node=handled_by.get(o.number, me),
            signed_at=signed.get(o.id),
            urge_count=urges.get(o.id, 0),
            reviewed=o.id in reviewed,
        )
        for o in orders
    ]


def flush_records(me: str, batch_size: int = RECORD_BATCH, max_batches: int = 20) -> int:
    """Turn queued order changes into OrderRecordBatch messages for the ministry (through the
    parent). Returns the number of records queued."""
    from node.workflow.models import WorkOrder

    if parent_of(me) is None or not RecordQueue.select().exists():
        return 0  # the common idle case: no write transaction
    total = 0
    for _ in range(max_batches):
        with write_tx():
            queued = list(
                RecordQueue.select(RecordQueue.id, RecordQueue.order_id, RecordQueue.version)
                .order_by(RecordQueue.id)
                .limit(batch_size)
                .tuples()
            )
            if not queued:
                break
            orders = list(WorkOrder.select().where(WorkOrder.id.in_([q[1] for q in queued])))
            records = build_records(orders, me)
            if records:
                sender.enqueue(pb.OrderRecordBatch(records=records), origin=me, destination=MINISTRY)
            by_version: dict[int, list[int]] = defaultdict(list)
            for row_id, _order_id, version in queued:
                by_version[version].append(row_id)
            for version, row_ids in by_version.items():  # a change made meanwhile stays queued
                RecordQueue.delete().where(
                    RecordQueue.id.in_(row_ids) & (RecordQueue.version == version)
                ).execute()
            total += len(records)
        if len(queued) < batch_size:
            break
    return total


def apply_records(me: str, origin: str, batch: pb.OrderRecordBatch) -> None:
    """Inbox handler: keep the highest revision of each (reporter, order) record."""
    now = clock.now()
    latest: dict[str, pb.OrderRecord] = {}
    for record in batch.records:
        seen = latest.get(record.order_number)
        if seen is None or record.revision > seen.revision:
            latest[record.order_number] = record
    rows = [codec.remote_order_row(r, origin, now) for r in latest.values()]
    if not rows:
        return
    names = list(rows[0])
    bulk.insert_rows(
        RemoteOrder,
        names,
        [tuple(row.values()) for row in rows],
        conflict=("reporter", "number"),
        update=[n for n in names if n not in ("reporter", "number")],
        where_greater="revision",
    )


# ---- checks before storing (the receiver calls these; Rejected leaves no trace) ------------------


def _not_authorised(extra: str) -> Rejected:
    return Rejected(pb.Ack.NOT_AUTHORISED, extra)


def _upward(origin: str, destination: str) -> None:
    if destination == origin or not in_subtree(destination, origin):
        raise _not_authorised(f"{origin} 只能向上级报送统计和工单记录，不能发往 {destination}")


def _check_report(claim: authority.Claim, report: Message) -> None:
    assert isinstance(report, pb.DailyReport)
    if report.node != claim.origin:
        raise _not_authorised(f"{claim.origin} 不能以 {report.node[:6]} 的名义报送日报")
    _upward(claim.origin, claim.destination)
    try:
        dt.date.fromisoformat(report.report_date)
    except ValueError:
        raise Rejected(pb.Ack.PAYLOAD_MALFORMED, f"日报日期格式错误：{report.report_date[:20]!r}") from None


def _check_form(claim: authority.Claim, form: Message) -> None:
    assert isinstance(form, pb.MonthlyForm)
    if form.node != claim.origin:
        raise _not_authorised(f"{claim.origin} 不能以 {form.node[:6]} 的名义报送月报")
    _upward(claim.origin, claim.destination)
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", form.period):
        raise Rejected(pb.Ack.PAYLOAD_MALFORMED, f"月报周期格式错误：{form.period[:20]!r}")
    try:
        codec.form_data(form)
    except ValueError as exc:
        raise Rejected(pb.Ack.PAYLOAD_MALFORMED, str(exc)) from None


def _check_records(claim: authority.Claim, batch: Message) -> None:
    assert isinstance(batch, pb.OrderRecordBatch)
    _upward(claim.origin, claim.destination)
    for record in batch.records:
        authority.check_record(claim, record)


def _check_transfer(claim: authority.Claim, transfer: Message) -> None:
    assert isinstance(transfer, pb.OrderTransfer)
    if transfer.from_node != claim.origin or transfer.to_node != claim.destination:
        raise _not_authorised(
            f"转办方 {transfer.from_node[:6]}→{transfer.to_node[:6]} 与报文 {claim.origin}→{claim.destination} 不符"
        )
    if not transfer.transfer_id or len(transfer.transfer_id) > 64:
        raise Rejected(pb.Ack.PAYLOAD_MALFORMED, "缺少转办编号")
    authority.check_transfer(claim, transfer)


def _check_update(claim: authority.Claim, update: Message) -> None:
    assert isinstance(update, pb.OrderUpdate)
    if update.from_node != claim.origin or update.to_node != claim.destination:
        raise _not_authorised(
            f"办理动态 {update.from_node[:6]}→{update.to_node[:6]} 与报文 {claim.origin}→{claim.destination} 不符"
        )
    if update.kind not in codec.UPDATE_KIND_NAMES or update.sequence < 1:
        raise Rejected(pb.Ack.PAYLOAD_MALFORMED, "办理动态类型或序号无效")
    authority.check_update(claim, update)
