"""Inbox: store verified deliveries (UNIQUE(origin, message_id)), queue relays onward, and
process stored messages with the handler registered for their payload type.

Handlers are plain functions `handler(me, origin, payload)` that call services; they run inside
the transaction that marks the inbox row processed, so a message is applied exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import peewee as pw
from google.protobuf.message import Message

from federation import trust
from federation.envelope import PAYLOAD_TYPES, Delivery
from federation.models import InboxMessage, OutboxMessage
from federation.routing import next_hop
from federation.v1 import federation_pb2 as pb
from node import clock
from node.db import write_tx

Handler = Callable[[str, str, Any], None]

# Handlers for payloads addressed to this node, by full payload type name.
HANDLERS: dict[str, Handler] = {}


def register(payload_type: type[Message] | str, handler: Handler) -> None:
    name = payload_type if isinstance(payload_type, str) else payload_type.DESCRIPTOR.full_name
    HANDLERS[name] = handler


class NoRoute(Exception):
    pass


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
                status="received" if not hop else "forwarded",
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
    from federation import sender
    from federation.routing import parent_of

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


def process(me: str, limit: int = 500) -> dict[str, int]:
    """Apply received messages in arrival order. A handler error marks the row failed (with the
    error) and leaves business tables untouched; `retry_failed()` puts it back."""
    counts = {"processed": 0, "failed": 0}
    rows = list(
        InboxMessage.select().where(InboxMessage.status == "received").order_by(InboxMessage.id).limit(limit)
    )
    for row in rows:
        env = pb.Envelope.FromString(bytes(row.envelope))
        cls = PAYLOAD_TYPES[row.payload_type]
        payload = cls.FromString(env.payload)
        handler = HANDLERS.get(row.payload_type)
        try:
            with write_tx():
                if handler is None:
                    raise LookupError(f"本节点未处理此类报文：{row.payload_type}")
                handler(me, row.origin, payload)
                InboxMessage.update(
                    status="processed", processed_at=clock.now(), attempts=row.attempts + 1
                ).where(InboxMessage.id == row.id).execute()
            counts["processed"] += 1
        except Exception as exc:  # the row records why; business changes were rolled back
            with write_tx():
                InboxMessage.update(status="failed", error=str(exc)[:2000], attempts=row.attempts + 1).where(
                    InboxMessage.id == row.id
                ).execute()
            counts["failed"] += 1
    return counts


def retry_failed(ids: list[int] | None = None) -> int:
    query = InboxMessage.update(status="received", error="").where(InboxMessage.status == "failed")
    if ids:
        query = query.where(InboxMessage.id.in_(ids))
    with write_tx():
        return query.execute()
