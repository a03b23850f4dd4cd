"""Prometheus metrics of the federation, exported by the federation process (`metrics_port`).

Counters are counted by whichever process does the work (the gRPC server counts RPCs, acks and
rejects; the worker counts sends, transport and handshake errors, held and expired messages) and
added up in the node's database (`MetricCounter`, flushed every few seconds and at exit), so the
federation process exports every process's counts and they survive restarts. The gauges are read
from the database at scrape time: outbox depth and oldest age per peer, last successful push per
peer, inbox depth and lag (age of the oldest message received but not yet applied), order changes
waiting for their upward record, and seconds until the signing key and the TLS certificate expire.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)


class StoredCounter:
    """A labelled counter whose increments are kept in memory and added to the database by `flush()`."""

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...]):
        self.name, self.documentation, self.labelnames = name, documentation, labelnames
        COUNTERS[name] = self

    def labels(self, *values: str) -> _Child:
        if len(values) != len(self.labelnames):
            raise ValueError(f"{self.name} 需要标签 {self.labelnames}")
        return _Child(self.name, tuple(str(v) for v in values))


class _Child:
    def __init__(self, name: str, values: tuple[str, ...]):
        self.key = (name, values)

    def inc(self, amount: float = 1) -> None:
        with _lock:
            _pending[self.key] = _pending.get(self.key, 0) + amount


COUNTERS: dict[str, StoredCounter] = {}
_pending: dict[tuple[str, tuple[str, ...]], float] = {}
_lock = threading.Lock()

RPCS = StoredCounter(
    "federation_rpcs_total", "Federation RPCs served, by method and gRPC code", ("method", "code")
)
ACKS = StoredCounter("federation_acks_total", "Acks sent by this receiver, by status", ("status",))
REJECTS = StoredCounter(
    "federation_rejects_total", "Envelopes refused by this receiver, by reason", ("reason",)
)
SENT = StoredCounter(
    "federation_sent_total", "Outbox sends by next hop, ack status and reason", ("peer", "status", "reason")
)
SEND_ERRORS = StoredCounter(
    "federation_send_errors_total",
    "Failed pushes by next hop and kind (transport, handshake)",
    ("peer", "kind"),
)
HANDSHAKE_FAILURES = StoredCounter(
    "federation_handshake_failures_total",
    "mTLS handshakes with a neighbour that failed (certificate refused or not trusted)",
    ("peer",),
)
HELD = StoredCounter(
    "federation_held_total",
    "Messages held back waiting for a key, by next hop and reason",
    ("peer", "reason"),
)
EXPIRED = StoredCounter(
    "federation_inbox_expired_total",
    "Failed inbox messages removed after the retention period, by payload type",
    ("payload_type",),
)
PURGED = StoredCounter(
    "federation_purged_total", "Delivered inbox/outbox rows removed after the retention period", ("table",)
)
RPC_SECONDS = Histogram("federation_rpc_seconds", "Federation RPC latency", ["method"])


def flush() -> int:
    """Add this process's pending increments to the database; returns the number of series written.
    On a database error they stay pending for the next flush."""
    from federation.models import MetricCounter
    from node.db import connection, write_tx

    with _lock:
        batch = dict(_pending)
        _pending.clear()
    if not batch:
        return 0
    try:
        with connection(), write_tx():
            for (name, values), amount in sorted(batch.items()):
                labels = json.dumps(list(values), ensure_ascii=False)
                MetricCounter.insert(name=name, labels=labels, value=amount).on_conflict(
                    conflict_target=[MetricCounter.name, MetricCounter.labels],
                    update={MetricCounter.value: MetricCounter.value + amount},
                ).execute()
    except Exception:
        log.warning("联网指标写入数据库失败，稍后重试", exc_info=True)
        with _lock:
            for key, amount in batch.items():
                _pending[key] = _pending.get(key, 0) + amount
        return 0
    return len(batch)


class Flusher:
    """A daemon thread that flushes every `interval` seconds; `stop()` flushes once more."""

    def __init__(self, interval: float = 5.0):
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics-flush", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            flush()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(self.interval + 5)
        flush()


def _counter_families() -> Iterator[CounterMetricFamily]:
    """Stored totals plus what this process counted since its last flush."""
    from federation.models import MetricCounter

    totals: dict[tuple[str, tuple[str, ...]], float] = {}
    for name, labels, value in MetricCounter.select(
        MetricCounter.name, MetricCounter.labels, MetricCounter.value
    ).tuples():
        try:
            totals[(name, tuple(json.loads(labels)))] = value
        except ValueError:
            continue
    with _lock:
        for key, amount in _pending.items():
            totals[key] = totals.get(key, 0) + amount
    for name, counter in COUNTERS.items():
        family = CounterMetricFamily(
            name.removesuffix("_total"), counter.documentation, labels=list(counter.labelnames)
        )
        for (series, values), value in sorted(totals.items()):
            if series == name and len(values) == len(counter.labelnames):
                family.add_metric(list(values), value)
        yield family


class OutboxCollector(Collector):
    """Reads the stored counters and the outbox/inbox/peer/key state from the bound database at
    scrape time."""

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
            counters = list(_counter_families())
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
        yield from counters
        yield from (depth, oldest, last, key_exp, cert_exp, inbox_depth, inbox_lag, records)
