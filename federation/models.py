"""Federation tables: the trust store (node keys), peers, the inbox/outbox of signed envelopes, and the
business state federation keeps: orders queued for their upward record, cross-region transfer links,
order records and daily reports received from the subtree (the source of rollups and drill-down),
knowledge bulletins received from above, and the spot-check orders this node sent down.

Inbox and outbox keep the raw signed bytes verbatim: they are the evidence log of what was
exchanged. Times are naive Asia/Shanghai datetimes (node.clock); key validity is epoch ms so it
compares directly with envelope timestamps.
"""

from __future__ import annotations

import peewee as pw

from node.db import BaseModel, JsonText


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
    With `protected`, those bytes are encrypted with this node's data key and their personal data
    is sealed to the destination's key at each attempt (federation/seal.py).
    `kind='relay'`: `payload` holds another node's signed envelope, wrapped afresh each attempt.

    Status: pending → sent (acked) | parked (refused: an operator decides) | held (waiting for a
    key: the destination's sealing key here, or our signing key at the next hop; retried on its own
    without blocking the queue behind it).
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
    status = pw.CharField(max_length=8, default="pending")  # pending sent parked held
    protected = pw.BooleanField(default=False)
    last_error = pw.TextField(default="")
    reject_reason = pw.CharField(max_length=32, default="")
    ack_status = pw.CharField(max_length=10, default="")
    sent_at = pw.DateTimeField(null=True)

    class Meta:
        indexes = (
            (("origin", "message_id"), True),
            (("next_hop", "status", "id"), False),
        )


class RecordQueue(BaseModel):
    """Orders changed since their last upward record: one row per order, so changes coalesce.

    Written by the work-order engine's change hook inside the business transaction; the worker
    turns due rows into OrderRecordBatch messages and deletes the rows whose version it encoded."""

    order_id = pw.IntegerField(unique=True)  # WorkOrder.id (no FK: the queue never blocks order deletes)
    version = pw.IntegerField()
    changed_at = pw.DateTimeField()


class TransferLink(BaseModel):
    """A cross-region transfer as this node sees it.

    `out`: we sent order `number` to `peer` (its handling node) and apply the updates it sends back.
    `in`: we handle `number` for `peer` (the node that transferred it) and send it every update."""

    transfer_id = pw.CharField(max_length=64)
    number = pw.CharField(max_length=21, index=True)
    direction = pw.CharField(max_length=3)  # out in
    peer = pw.CharField(max_length=6)
    status = pw.CharField(max_length=10, default="sent")  # sent accepted refused closed
    last_sequence = pw.BigIntegerField(default=0)  # out: last update applied; in: last update sent
    created_at = pw.DateTimeField()
    updated_at = pw.DateTimeField()

    class Meta:
        indexes = ((("transfer_id", "direction"), True),)


class TransferRoute(BaseModel):
    """Every transfer or spot check this node sent, passed on or received: the facts relays check
    authority against ("does node X hold order N?") without reading the sealed content.

    Written when the message is queued (origin) or stored (relay, destination), from its clear
    fields; `refused` once the handling node's refusal passes back."""

    transfer_id = pw.CharField(max_length=64, unique=True)
    number = pw.CharField(max_length=21, index=True, default="")  # empty for a spot check
    from_node = pw.CharField(max_length=6)
    to_node = pw.CharField(max_length=6)
    kind = pw.CharField(max_length=10, default="transfer")  # transfer spot_check
    refused = pw.BooleanField(default=False)
    created_at = pw.DateTimeField()


class RemoteOrder(BaseModel):
    """The latest upward record of an order as node `reporter` (in our subtree) sent it.

    One row per (reporter, number): after a transfer the origin and the handling node each report
    their own view. A record only replaces one with a lower revision."""

    reporter = pw.CharField(max_length=6)
    number = pw.CharField(max_length=21)
    origin_node = pw.CharField(max_length=6)
    handling_node = pw.CharField(max_length=6)
    region_code = pw.CharField(max_length=6, index=True)
    business_type = pw.CharField(max_length=2, default="")
    domain = pw.CharField(max_length=2, default="")
    channel = pw.CharField(max_length=2, default="")
    state = pw.CharField(max_length=20)
    category = pw.CharField(max_length=8, default="")
    accepted_at = pw.DateTimeField(index=True)
    closed_at = pw.DateTimeField(null=True)
    revision = pw.BigIntegerField()
    received_at = pw.DateTimeField()
    record = pw.BlobField()  # the OrderRecord bytes as received (signed inside its envelope)

    class Meta:
        indexes = ((("reporter", "number"), True), (("reporter", "accepted_at"), False))


class NodeReport(BaseModel):
    """One node's daily report (our own, or one received from the subtree); counts in ReportCount.
    A later revision of the same (node, date) replaces the earlier counts."""

    node = pw.CharField(max_length=6)
    report_date = pw.DateField()
    revision = pw.BigIntegerField()
    generated_at_ms = pw.BigIntegerField(default=0)
    received_at = pw.DateTimeField()

    class Meta:
        indexes = ((("node", "report_date"), True), (("report_date",), False))


class ReportCount(BaseModel):
    """One count of a daily report; empty type/domain/channel means "all" for that metric."""

    report = pw.ForeignKeyField(NodeReport, backref="counts", on_delete="CASCADE")
    node = pw.CharField(max_length=6)
    report_date = pw.DateField()
    metric = pw.CharField(max_length=32)
    business_type = pw.CharField(max_length=2, default="")
    domain = pw.CharField(max_length=2, default="")
    channel = pw.CharField(max_length=2, default="")
    value = pw.BigIntegerField()

    class Meta:
        indexes = ((("report_date", "node"), False),)


class NodeForm(BaseModel):
    """A subordinate node's monthly report form (annex A 月报, `node.analytics.forms.build` data)
    received through the federation; a later revision of the same (node, period) replaces it."""

    node = pw.CharField(max_length=6)
    period = pw.CharField(max_length=7)  # YYYY-MM
    revision = pw.BigIntegerField()
    generated_at_ms = pw.BigIntegerField(default=0)
    received_at = pw.DateTimeField()
    form = JsonText()

    class Meta:
        indexes = ((("node", "period"), True), (("period",), False))


class KnowledgeBulletin(BaseModel):
    """A knowledge bulletin (知识通报) written here or received from above: the latest revision.

    `issuer` wrote it; `origin` is the node that handed it to us (our parent, or the issuer);
    `scope` is the region whose subtree receives it. The knowledge base reads these rows."""

    bulletin_id = pw.CharField(max_length=40, unique=True)
    issuer = pw.CharField(max_length=6)
    origin = pw.CharField(max_length=6)
    scope = pw.CharField(max_length=6)
    title = pw.CharField(max_length=200)
    body = pw.TextField()
    category = pw.CharField(max_length=40, default="")
    tags = pw.CharField(max_length=400, default="")  # comma-separated
    effective_date = pw.DateField(null=True)
    valid_until = pw.DateTimeField(null=True)
    published_at = pw.DateTimeField()
    revision = pw.BigIntegerField(default=1)
    withdrawn = pw.BooleanField(default=False)
    received_at = pw.DateTimeField(index=True)


class SpotCheck(BaseModel):
    """A spot-check test order (抽检工单) this node sent down, and how the target handled it.

    The target numbers the order and reports every step back (OrderUpdate, transfer_id =
    check_id); the times below score its timeliness against `due_at` (the issuer's deadline, or
    the target's own limit as its acceptance reported it)."""

    check_id = pw.CharField(max_length=40, unique=True)
    target = pw.CharField(max_length=6, index=True)
    title = pw.CharField(max_length=100)
    business_type = pw.CharField(max_length=2)
    domain = pw.CharField(max_length=2, default="")
    region_code = pw.CharField(max_length=6)
    instructions = pw.TextField(default="")
    issued_by = pw.CharField(max_length=40, default="")
    issued_at = pw.DateTimeField()
    due_at = pw.DateTimeField(null=True)
    order_number = pw.CharField(max_length=21, default="")
    status = pw.CharField(
        max_length=10, default="sent"
    )  # sent accepted refused signed replied closed returned
    last_sequence = pw.BigIntegerField(default=0)
    remote_state = pw.CharField(max_length=20, default="")
    note = pw.TextField(default="")
    accepted_at = pw.DateTimeField(null=True)
    signed_at = pw.DateTimeField(null=True)
    replied_at = pw.DateTimeField(null=True)
    closed_at = pw.DateTimeField(null=True)
    updated_at = pw.DateTimeField()


class DirectoryVersion(BaseModel):
    """The node directory: each version the ministry issued, or the latest one received here.
    Receivers ignore a serial not above the one they hold."""

    serial = pw.BigIntegerField(unique=True)
    issued_at_ms = pw.BigIntegerField()
    valid_until_ms = pw.BigIntegerField()
    nodes = pw.IntegerField(default=0)
    keys = pw.IntegerField(default=0)
    recorded_at = pw.DateTimeField()


class MetricCounter(BaseModel):
    """A federation counter as the node's processes added it up (federation/metrics.py): counts
    survive restarts and every process's counts are exported, whichever process counted them."""

    name = pw.CharField(max_length=64)
    labels = pw.CharField(max_length=200, default="")  # JSON list of label values
    value = pw.FloatField(default=0)

    class Meta:
        indexes = ((("name", "labels"), True),)


MODELS = [
    NodeKey,
    Peer,
    InboxMessage,
    OutboxMessage,
    RecordQueue,
    TransferLink,
    TransferRoute,
    RemoteOrder,
    NodeReport,
    ReportCount,
    NodeForm,
    KnowledgeBulletin,
    SpotCheck,
    DirectoryVersion,
    MetricCounter,
]
