"""Retention (SQLite and PostgreSQL): delivered envelopes go after the retention period, failed
inbox rows expire on their own after theirs, and both are counted; nothing younger is touched."""

from __future__ import annotations

import datetime as dt

from federation import metrics, retention
from federation.models import InboxMessage, MetricCounter, OutboxMessage
from node import clock

T0 = dt.datetime(2025, 3, 1, 9, 0)


def inbox(
    message_id: str, status: str, days_ago: float, payload_type: str = "federation.v1.OrderUpdate"
) -> None:
    at = T0 - dt.timedelta(days=days_ago)
    InboxMessage.create(
        origin="320200",
        message_id=message_id,
        destination="320100",
        payload_type=payload_type,
        via="320000",
        envelope=b"sealed",
        received_at=at,
        status=status,
        processed_at=at if status == "processed" else None,
    )


def outbox(message_id: str, status: str, days_ago: float) -> None:
    at = T0 - dt.timedelta(days=days_ago)
    OutboxMessage.create(
        origin="320100",
        message_id=message_id,
        destination="000000",
        next_hop="320000",
        payload_type="federation.v1.OrderRecordBatch",
        payload=b"x",
        created_at=at,
        next_attempt_at=at,
        status=status,
        sent_at=at if status == "sent" else None,
    )


def counted(name: str, labels: str) -> float:
    metrics.flush()
    row = MetricCounter.get_or_none(name=name, labels=labels)
    return 0 if row is None else row.value


def test_delivered_rows_go_after_retention_and_failed_ones_expire(db: str) -> None:
    before = counted("federation_inbox_expired_total", '["OrderUpdate"]')
    inbox("old-done", "processed", 31)
    inbox("old-forwarded", "forwarded", 40)
    inbox("new-done", "processed", 29)
    inbox("waiting", "received", 60)  # not applied yet: never purged
    inbox("forged", "failed", 8)
    inbox("recent-failure", "failed", 6)
    outbox("old-sent", "sent", 31)
    outbox("new-sent", "sent", 1)
    outbox("parked", "parked", 90)  # an operator's to decide
    outbox("pending", "pending", 90)
    with clock.frozen(T0):
        done = retention.purge(30, 7)
    assert done == {"outbox": 1, "inbox": 2, "expired": 1}
    assert sorted(r.message_id for r in InboxMessage.select()) == ["new-done", "recent-failure", "waiting"]
    assert sorted(r.message_id for r in OutboxMessage.select()) == ["new-sent", "parked", "pending"]
    assert counted("federation_inbox_expired_total", '["OrderUpdate"]') == before + 1
    with clock.frozen(T0):
        assert retention.purge(30, 7) == {"outbox": 0, "inbox": 0, "expired": 0}
