"""Federation tables: the trust store (node keys), peers, and the inbox/outbox of signed envelopes.

Inbox and outbox keep the raw signed bytes verbatim: they are the evidence log of what was
exchanged. Times are naive Asia/Shanghai datetimes (node.clock); key validity is epoch ms so it
compares directly with envelope timestamps.
"""

from __future__ import annotations

import peewee as pw

from node.db import BaseModel


class NodeKey(BaseModel):
    """An Ed25519 public key of some node (our own included), keyed `ed25519:<region>:<n>`."""

    key_id = pw.CharField(max_length=64, unique=True)
    node = pw.CharField(max_length=6, index=True)
    public_key = pw.BlobField()
    valid_from_ms = pw.BigIntegerField(default=0)
    valid_until_ms = pw.BigIntegerField(default=0)  # 0 = no end
    active_from_ms = pw.BigIntegerField(default=0)  # own keys: when we start signing with it
    revoked = pw.BooleanField(default=False)
    revoked_at = pw.DateTimeField(null=True)
    source = pw.CharField(max_length=12)  # self enrolment directory announcement bundle
    notary = pw.CharField(max_length=6, default="")
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()


class Peer(BaseModel):
    """A neighbour in the tree this node exchanges envelopes with directly."""

    region = pw.CharField(max_length=6, unique=True)
    relation = pw.CharField(max_length=8)  # parent child
    name = pw.CharField(max_length=60, default="")
    address = pw.CharField(max_length=200, default="")  # host:port of its federation server
    enabled = pw.BooleanField(default=True)
    last_success_at = pw.DateTimeField(null=True)
    last_error = pw.TextField(default="")
    created_at = pw.DateTimeField()


class InboxMessage(BaseModel):
    """A verified envelope received (for us, or to forward); UNIQUE(origin, message_id)."""

    origin = pw.CharField(max_length=6)
    message_id = pw.CharField(max_length=64)
    destination = pw.CharField(max_length=6)
    payload_type = pw.CharField(max_length=80)
    via = pw.CharField(max_length=6)  # neighbour that handed it over
    relayed = pw.BooleanField(default=False)
    envelope = pw.BlobField()  # the origin's signed envelope, byte for byte
    received_at = pw.DateTimeField(index=True)
    status = pw.CharField(
        max_length=10, default="received", index=True
    )  # received processed failed forwarded
    attempts = pw.IntegerField(default=0)
    error = pw.TextField(default="")
    processed_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = ((("origin", "message_id"), True),)


class OutboxMessage(BaseModel):
    """An envelope waiting to go to `next_hop` (FIFO per next hop), UNIQUE(origin, message_id).

    `kind='own'`: we are the origin; `payload` holds the payload bytes, signed afresh each attempt.
    `kind='relay'`: `payload` holds another node's signed envelope, wrapped afresh each attempt.
    """

    origin = pw.CharField(max_length=6)
    message_id = pw.CharField(max_length=64)
    destination = pw.CharField(max_length=6)
    next_hop = pw.CharField(max_length=6)
    kind = pw.CharField(max_length=6, default="own")
    payload_type = pw.CharField(max_length=80)
    payload = pw.BlobField()
    sign_key_id = pw.CharField(max_length=64, default="")  # pin a key (e.g. rotation announcements)
    created_at = pw.DateTimeField()
    attempts = pw.IntegerField(default=0)
    next_attempt_at = pw.DateTimeField()
    status = pw.CharField(max_length=8, default="pending")  # pending sent parked
    last_error = pw.TextField(default="")
    reject_reason = pw.CharField(max_length=32, default="")
    ack_status = pw.CharField(max_length=10, default="")
    sent_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = (
            (("origin", "message_id"), True),
            (("next_hop", "status", "id"), False),
        )


MODELS = [NodeKey, Peer, InboxMessage, OutboxMessage]
