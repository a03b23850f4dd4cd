"""Retention of the exchanged envelopes: delivered rows are removed once they are old enough, and
failed inbox rows (often a forged or misrouted message that no operator will ever retry) expire
on their own. Both are counted (`federation_purged_total{table}`, `federation_inbox_expired_total
{payload_type}`), so an alert can say that something expired unseen.

Kept until then: the raw signed envelopes are the evidence log of what was exchanged. The
retention must stay longer than a sender keeps retrying (`sender.HOLD_LIMIT`, one day) so a late
retry still meets its UNIQUE(origin, message_id) row and is acked DUPLICATE.
"""

from __future__ import annotations

import datetime as dt

from peewee import fn

from federation import metrics
from federation.models import InboxMessage, OutboxMessage
from node import clock
from node.db import write_tx

BATCH = 5000  # rows per transaction, so a first purge of a large backlog never holds the lock long


def purge(retention_days: float, failed_retention_days: float) -> dict[str, int]:
    """Delete delivered rows older than `retention_days` and failed inbox rows older than
    `failed_retention_days`; returns the counts."""
    now = clock.now()
    kept = now - dt.timedelta(days=retention_days)
    failed_kept = now - dt.timedelta(days=failed_retention_days)
    done = {
        "outbox": _delete(OutboxMessage, (OutboxMessage.status == "sent") & (OutboxMessage.sent_at < kept)),
        "inbox": _delete(
            InboxMessage,
            ((InboxMessage.status == "processed") & (InboxMessage.processed_at < kept))
            | ((InboxMessage.status == "forwarded") & (InboxMessage.received_at < kept)),
        ),
    }
    for table, count in done.items():
        if count:
            metrics.PURGED.labels(table).inc(count)
    expired = dict(
        InboxMessage.select(InboxMessage.payload_type, fn.COUNT(InboxMessage.id))
        .where((InboxMessage.status == "failed") & (InboxMessage.received_at < failed_kept))
        .group_by(InboxMessage.payload_type)
        .tuples()
    )
    for payload_type, count in expired.items():
        _delete(
            InboxMessage,
            (InboxMessage.status == "failed")
            & (InboxMessage.received_at < failed_kept)
            & (InboxMessage.payload_type == payload_type),
        )
        metrics.EXPIRED.labels(payload_type.rsplit(".", 1)[-1]).inc(count)
    done["expired"] = sum(expired.values())
    return done


def _delete(model: type, condition: object) -> int:
    total = 0
    while True:
        with write_tx():
            ids = [r.id for r in model.select(model.id).where(condition).limit(BATCH)]  # type: ignore[attr-defined]
            if not ids:
                return total
            total += model.delete().where(model.id.in_(ids)).execute()  # type: ignore[attr-defined]
