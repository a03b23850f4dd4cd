"""Prometheus metrics of the federation process: RPCs, acks and rejects by reason, and (collected
from the database at scrape time) outbox depth and oldest age per peer, last successful push per
peer, inbox depth and lag (age of the oldest message received but not yet applied), order changes
waiting for their upward record, and seconds until the signing key and the TLS certificate expire."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

RPCS = Counter("federation_rpcs_total", "Federation RPCs served, by method and gRPC code", ["method", "code"])
RPC_SECONDS = Histogram("federation_rpc_seconds", "Federation RPC latency", ["method"])
ACKS = Counter("federation_acks_total", "Acks sent by this receiver, by status", ["status"])
REJECTS = Counter("federation_rejects_total", "Envelopes refused by this receiver, by reason", ["reason"])
SENT = Counter("federation_sent_total", "Outbox sends by next hop and ack status", ["peer", "status"])
SEND_ERRORS = Counter("federation_send_errors_total", "Transport errors while pushing, by next hop", ["peer"])


class OutboxCollector(Collector):
    """Reads outbox/peer/key state from the bound database at scrape time."""

    def __init__(self, me: str, keys_dir: Path | None = None):
        self.me = me
        self.keys_dir = keys_dir

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from peewee import fn

        from federation import trust
        from federation.models import InboxMessage, OutboxMessage, Peer, RecordQueue
        from node import clock
        from node.db import connection

        depth = GaugeMetricFamily(
            "federation_outbox_depth", "Undelivered outbox messages", labels=["peer", "status"]
        )
        oldest = GaugeMetricFamily(
            "federation_outbox_oldest_seconds", "Age of the oldest pending outbox message", labels=["peer"]
        )
        last = GaugeMetricFamily(
            "federation_last_success_timestamp_seconds", "Last successful push per peer", labels=["peer"]
        )
        key_exp = GaugeMetricFamily(
            "federation_signing_key_expiry_seconds", "Seconds until the signing key expires"
        )
        cert_exp = GaugeMetricFamily(
            "federation_tls_cert_expiry_seconds", "Seconds until the TLS certificate expires"
        )
        inbox_depth = GaugeMetricFamily(
            "federation_inbox_depth", "Inbox messages waiting or failed, by status", labels=["status"]
        )
        inbox_lag = GaugeMetricFamily(
            "federation_inbox_lag_seconds", "Age of the oldest received message not yet applied"
        )
        records = GaugeMetricFamily(
            "federation_record_queue_depth", "Changed orders waiting to be reported upward"
        )
        now = clock.now()
        with connection():
            waiting = (
                InboxMessage.select(
                    InboxMessage.status, fn.COUNT(InboxMessage.id), fn.MIN(InboxMessage.received_at)
                )
                .where(InboxMessage.status.in_(("received", "failed")))
                .group_by(InboxMessage.status)
                .tuples()
            )
            lag = 0.0
            for status, count, first in waiting:
                inbox_depth.add_metric([status], count)
                if status == "received" and first is not None:
                    lag = max(lag, (now - first).total_seconds())
            inbox_lag.add_metric([], lag)
            records.add_metric([], RecordQueue.select().count())
            rows = (
                OutboxMessage.select(
                    OutboxMessage.next_hop,
                    OutboxMessage.status,
                    fn.COUNT(OutboxMessage.id),
                    fn.MIN(OutboxMessage.created_at),
                )
                .where(OutboxMessage.status != "sent")
                .group_by(OutboxMessage.next_hop, OutboxMessage.status)
                .tuples()
            )
            for peer, status, count, first in rows:
                depth.add_metric([peer, status], count)
                if status == "pending" and first is not None:
                    oldest.add_metric([peer], (now - first).total_seconds())
            for peer in Peer.select():
                if peer.last_success_at is not None:
                    last.add_metric([peer.region], clock.to_epoch_ms(peer.last_success_at) / 1000)
            seconds = trust.key_expiry_seconds(self.me)
            if seconds is not None:
                key_exp.add_metric([], seconds)
        if self.keys_dir is not None:
            from federation.pki import load_material

            try:
                not_after = load_material(self.keys_dir).not_after
                cert_exp.add_metric([], (not_after - dt.datetime.now(dt.UTC)).total_seconds())
            except Exception:  # no certificate yet: the gauge is absent, which alerts
                pass
        yield from (depth, oldest, last, key_exp, cert_exp, inbox_depth, inbox_lag, records)
