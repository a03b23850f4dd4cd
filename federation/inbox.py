"""Inbox: store verified deliveries (UNIQUE(origin, message_id)), queue relays onward, and
process stored messages with the handler registered for their payload type.

Handlers are plain functions `handler(me, origin, payload)` that call services; they run inside
the transaction that marks the inbox row processed, so a message is applied exactly once. Sealed
content (`federation/seal.py`) is opened with this node's key just before its handler runs: the
stored envelope stays ciphertext.
Prechecks (`PRECHECKS[type](claim, payload)`, see `federation/authority.py`) run before a delivery
is stored and refuse payloads that speak for another node; a payload that must be sealed is refused
when it is not, or (here at its destination) when it does not open. Types in `TAP_TYPES` travelling
upward through this node are applied here too (a province keeps its cities' records and reports)
and relayed on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import peewee as pw
from google.protobuf.message import Message

from federation import authority, seal, sender, trust
from federation.authority import Claim
from federation.envelope import PAYLOAD_TYPES, Delivery, Rejected
from federation.models import InboxMessage, OutboxMessage
from federation.routing import in_subtree, next_hop, parent_of
from federation.v1 import federation_pb2 as pb
from node import clock
from node.db import write_tx

Handler = Callable[[str, str, Any], None]
Precheck = Callable[[Claim, Any], None]

# Handlers for payloads addressed to this node, by full payload type name.
HANDLERS: dict[str, Handler] = {}
# Content checks run by the receiver before storing: (claim, payload) → raise Rejected.
PRECHECKS: dict[str, Precheck] = {}
# Payload types a relay applies locally when they pass upward through it from its subtree.
TAP_TYPES: set[str] = set()


def register(payload_type: type[Message] | str, handler: Handler) -> None:
    name = payload_type if isinstance(payload_type, str) else payload_type.DESCRIPTOR.full_name
    HANDLERS[name] = handler


class NoRoute(Exception):
    pass


def precheck(delivery: Delivery, me: str, keys_dir: Path | None = None) -> None:
    """Run the content checks for a delivered payload (raises Rejected): sealing first (a relay
    must never store personal data in clear; the destination must be able to open it, when it
    is given its `keys_dir`), then the check registered for the payload type."""
    msg = delivery.message
    destination = msg.header.destination_node
    if seal.sealable(msg.payload_type):
        if not msg.payload.HasField("sealed"):
            raise Rejected(pb.Ack.SEAL_INVALID, "内容未加密")
        if clear := seal.clear_fields(msg.payload):
            raise Rejected(pb.Ack.SEAL_INVALID, f"{'、'.join(clear)} 未加密")
        if destination == me and keys_dir is not None:
            open_payload(msg.payload, me, keys_dir)
    check = PRECHECKS.get(msg.payload_type)
    if check is not None:
        # direct: over the origin's own link (it may have wrapped the message itself for its next hop)
        claim = Claim(me=me, origin=msg.origin, destination=destination, direct=delivery.via == msg.origin)
        check(claim, msg.payload)


def open_payload(payload: Message, me: str, keys_dir: Path) -> Message:
    """The payload with its sealed fields opened by our key (raises Rejected SEAL_INVALID)."""
    from node.errors import NotFound

    try:
        private = trust.load_seal_key(keys_dir, me, payload.sealed.recipient_key_id)  # type: ignore[attr-defined]
        return seal.open_sealed(payload, private)
    except (seal.SealError, NotFound) as exc:
        raise Rejected(pb.Ack.SEAL_INVALID, str(exc)) from None


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
        if hop not in peers and hop not in trust.peer_regions():  # (the cache may predate an enrolment)
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
            authority.note(msg.payload_type, msg.payload)
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
    sender.release_held()  # messages waiting for a key may go now
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
    from federation import directory

    if directory.apply(origin, payload):
        sender.release_held()


register(pb.KeyAnnouncement, _apply_key_announcement)
register(pb.NodeDirectory, _apply_directory)


def process(
    me: str, limit: int = 500, group_seconds: float = 0.25, keys_dir: Path | None = None
) -> dict[str, int]:
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
                counts[_apply_one(me, rows[i], keys_dir)] += 1
                i += 1
                if time.monotonic() >= deadline:
                    break
    return counts


def _apply_one(me: str, row: InboxMessage, keys_dir: Path | None) -> str:
    """Apply one stored message inside the caller's transaction: 'processed' or 'failed'."""
    now = clock.now()
    try:
        with write_tx():  # a savepoint: a failing handler leaves nothing behind
            handler = HANDLERS.get(row.payload_type)
            if handler is None:
                raise LookupError(f"本节点未处理此类报文：{row.payload_type}")
            env = pb.Envelope.FromString(bytes(row.envelope))
            payload = PAYLOAD_TYPES[row.payload_type].FromString(env.payload)
            if seal.sealable(row.payload_type):
                payload = open_payload(payload, me, keys_dir or _keys_dir())
            handler(me, row.origin, payload)
            InboxMessage.update(status="processed", processed_at=now, attempts=row.attempts + 1).where(
                InboxMessage.id == row.id
            ).execute()
        return "processed"
    except Exception as exc:  # the row records why; business changes were rolled back
        InboxMessage.update(status="failed", error=str(exc)[:2000], attempts=row.attempts + 1).where(
            InboxMessage.id == row.id
        ).execute()
        return "failed"


def _keys_dir() -> Path:
    from node.settings import current

    return current().keys_dir


def retry_failed(ids: list[int] | None = None) -> int:
    query = InboxMessage.update(status="received", error="").where(InboxMessage.status == "failed")
    if ids:
        query = query.where(InboxMessage.id.in_(ids))
    with write_tx():
        return query.execute()
