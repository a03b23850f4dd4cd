"""Inbox: store verified deliveries (UNIQUE(origin, message_id)), queue relays onward, and
process stored messages with the handler registered for their payload type.

Handlers are plain functions `handler(me, origin, payload)` that call services; they run inside
the transaction that marks the inbox row processed, so a message is applied exactly once.
Prechecks (`PRECHECKS[type](origin, destination, payload)`) run before a delivery is stored and
refuse payloads that speak for another node. Types in `TAP_TYPES` travelling upward through this
node are applied here too (a province keeps its cities' records and reports) and relayed on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import peewee as pw
from google.protobuf.message import Message

from federation import sender, trust
from federation.envelope import PAYLOAD_TYPES, Delivery
from federation.models import InboxMessage, OutboxMessage
from federation.routing import in_subtree, next_hop, parent_of
from federation.v1 import federation_pb2 as pb
from node import clock
from node.db import write_tx

Handler = Callable[[str, str, Any], None]
Precheck = Callable[[str, str, Any], None]

# Handlers for payloads addressed to this node, by full payload type name.
HANDLERS: dict[str, Handler] = {}
# Content checks run by the receiver before storing: (origin, destination, payload) → raise Rejected.
PRECHECKS: dict[str, Precheck] = {}
# Payload types a relay applies locally when they pass upward through it from its subtree.
TAP_TYPES: set[str] = set()


def register(payload_type: type[Message] | str, handler: Handler) -> None:
    name = payload_type if isinstance(payload_type, str) else payload_type.DESCRIPTOR.full_name
    HANDLERS[name] = handler


class NoRoute(Exception):
    pass


def precheck(delivery: Delivery) -> None:
    """Run the content check registered for the delivered payload type (raises Rejected)."""
    msg = delivery.message
    check = PRECHECKS.get(msg.payload_type)
    if check is not None:
        check(msg.origin, msg.header.destination_node, msg.payload)


def tapped(me: str, origin: str, destination: str, payload_type: str) -> bool:
    """Does this relay apply the message itself on its way up from `origin` to `destination`?"""
    return (
        payload_type in TAP_TYPES
        and origin != me
        and in_subtree(me, origin)
        and in_subtree(destination, me)
        and destination != me
    )


def store(delivery: Delivery, me: str, peers: set[str]) -> bool:
    """Insert a verified delivery. For us: an inbox row to process. For another node: an inbox
    row marked forwarded plus an outbox relay row, in one transaction. False if a duplicate."""
    msg = delivery.message
    destination = msg.header.destination_node
    hop = ""
    if destination != me:
        try:
            hop = next_hop(me, destination)
        except Exception:
            raise NoRoute(destination) from None
        if hop not in peers:
            raise NoRoute(destination)
    now = clock.now()
    try:
        with write_tx():
            InboxMessage.insert(
                origin=msg.origin,
                message_id=msg.message_id,
                destination=destination,
                payload_type=msg.payload_type,
                via=delivery.via,
                relayed=delivery.relayed,
                envelope=msg.raw,
                received_at=now,
                status="forwarded"
                if hop and not tapped(me, msg.origin, destination, msg.payload_type)
                else "received",
            ).execute()
            if hop:
                OutboxMessage.insert(
                    origin=msg.origin,
                    message_id=msg.message_id,
                    destination=destination,
                    next_hop=hop,
                    kind="relay",
                    payload_type=msg.payload_type,
                    payload=msg.raw,
                    created_at=now,
                    next_attempt_at=now,
                ).execute()
    except pw.IntegrityError:
        return False
    return True


def _apply_key_announcement(me: str, origin: str, payload: pb.KeyAnnouncement) -> None:
    row, forward = trust.apply_announcement(me, origin, payload)
    parent = parent_of(me)
    if forward and parent is not None:  # notary: vouch for the key towards the ministry
        message = pb.KeyAnnouncement(
            key=trust.public_key_pb(row),
            previous_key_id=payload.previous_key_id,
            notary=me,
            announced_at_ms=payload.announced_at_ms,
        )
        sender.enqueue(message, origin=me, destination=parent)


def _apply_directory(me: str, origin: str, payload: pb.NodeDirectory) -> None:
    trust.apply_directory(origin, payload)


register(pb.KeyAnnouncement, _apply_key_announcement)
register(pb.NodeDirectory, _apply_directory)


def process(me: str, limit: int = 500, group_seconds: float = 0.25) -> dict[str, int]:
    """Apply received messages in arrival order. A handler error marks the row failed (with the
    error) and leaves business tables untouched; `retry_failed()` puts it back.

    Messages are applied in groups: one transaction per group (at most `group_seconds` long, so
    the server's inbox inserts wait briefly), each message inside its own savepoint. A node taking
    a national day's traffic commits a few dozen times instead of once per message."""
    counts = {"processed": 0, "failed": 0}
    rows = list(
        InboxMessage.select().where(InboxMessage.status == "received").order_by(InboxMessage.id).limit(limit)
    )
    i = 0
    while i < len(rows):
        with write_tx():
            deadline = time.monotonic() + group_seconds
            while i < len(rows):
                counts[_apply_one(me, rows[i])] += 1
                i += 1
                if time.monotonic() >= deadline:
                    break
    return counts


def _apply_one(me: str, row: InboxMessage) -> str:
    """Apply one stored message inside the caller's transaction: 'processed' or 'failed'."""
    now = clock.now()
    try:
        with write_tx():  # a savepoint: a failing handler leaves nothing behind
            handler = HANDLERS.get(row.payload_type)
            if handler is None:
                raise LookupError(f"本节点未处理此类报文：{row.payload_type}")
            env = pb.Envelope.FromString(bytes(row.envelope))
            handler(me, row.origin, PAYLOAD_TYPES[row.payload_type].FromString(env.payload))
            InboxMessage.update(status="processed", processed_at=now, attempts=row.attempts + 1).where(
                InboxMessage.id == row.id
            ).execute()
        return "processed"
    except Exception as exc:  # the row records why; business changes were rolled back
        InboxMessage.update(status="failed", error=str(exc)[:2000], attempts=row.attempts + 1).where(
            InboxMessage.id == row.id
        ).execute()
        return "failed"


def retry_failed(ids: list[int] | None = None) -> int:
    query = InboxMessage.update(status="received", error="").where(InboxMessage.status == "failed")
    if ids:
        query = query.where(InboxMessage.id.in_(ids))
    with write_tx():
        return query.execute()
