"""Prometheus metrics of the web process, multiprocess-safe under gunicorn, plus the node's state
read at scrape time (orders open and overdue, last backup, free disk, certificate expiry).

`/metrics` answers only clients in `[metrics] allow` (addresses or networks; default the local
machine) or holding a bearer token of a user with `monitor.view` (e.g. a `prometheus` account).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from node.errors import PermissionDenied

REQUESTS = Counter("hotline_http_requests_total", "HTTP requests", ["method", "endpoint", "status"])
LATENCY = Histogram(
    "hotline_http_request_seconds",
    "HTTP request latency",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)


# Collectors subsystems add (e.g. telephony's live line and agent state), read at every scrape.
EXTRA_COLLECTORS: list[Any] = []


def registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        reg = CollectorRegistry()
        multiprocess.MultiProcessCollector(reg)
        return reg
    from prometheus_client import REGISTRY

    return REGISTRY


def init_app(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g._t0 = time.perf_counter()

    @app.after_request
    def _count(response: Response) -> Response:
        endpoint = request.endpoint or "unknown"
        REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
        t0 = getattr(g, "_t0", None)
        if t0 is not None:
            LATENCY.labels(endpoint).observe(time.perf_counter() - t0)
        return response

    @app.get("/metrics")
    def metrics() -> Any:
        _allow_scrape()
        body = generate_latest(registry())
        extra = CollectorRegistry()
        for collector in [*EXTRA_COLLECTORS, NodeCollector(current_app.config["NODE"])]:
            extra.register(collector)
        body += generate_latest(extra)
        return Response(body, mimetype=CONTENT_TYPE_LATEST)


DEFAULT_ALLOW = ("127.0.0.1/32", "::1/128")


def _allow_scrape() -> None:
    from node.auth import web

    actor = web.optional_actor()
    if actor is not None and actor.can("monitor.view"):
        return
    settings = current_app.config["NODE"]
    allow = settings.section("metrics").get("allow", list(DEFAULT_ALLOW))
    try:
        address = ipaddress.ip_address(web.client_address())
    except ValueError:
        address = None
    if address is not None and any(address in ipaddress.ip_network(str(n), strict=False) for n in allow):
        return
    raise PermissionDenied("监控指标仅对允许的地址或持有监控令牌的账号开放")


class NodeCollector(Collector):
    """The node's state for alerting (deploy/prometheus/node.rules.yml), read at scrape time."""

    def __init__(self, settings: Any):
        self.settings = settings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from node import clock
        from node.backup import service as backup
        from node.db import connection
        from node.workflow import states
        from node.workflow.models import WorkOrder

        now = clock.now()
        unfinished = states.states_in(states.OPEN) + states.states_in(states.PENDING)
        with connection():
            base = WorkOrder.select().where(WorkOrder.state.in_(unfinished))
            open_count = base.count()
            overdue = base.where(WorkOrder.due_at < now).count()
        yield GaugeMetricFamily(
            "hotline_orders_open", "Orders not finished (open or in handling)", value=open_count
        )
        yield GaugeMetricFamily(
            "hotline_orders_overdue", "Unfinished orders past their due time", value=overdue
        )
        from node.jobs.worker import last_heartbeat

        with connection():
            beat = last_heartbeat(now)
        if beat is not None:  # absent before the worker first ran: the alert on its age fires
            yield GaugeMetricFamily(
                "hotline_worker_heartbeat_timestamp_seconds",
                "When the worker process last said it was alive",
                value=beat.at.replace(tzinfo=clock.TZ).timestamp(),
            )
        last = backup.list_backups(self.settings)
        if last:  # absent before the first backup: the alert on its age fires
            yield GaugeMetricFamily(
                "hotline_backup_last_timestamp_seconds",
                "When the newest backup was taken",
                value=last[0].created_at.replace(tzinfo=clock.TZ).timestamp(),
            )
        free = GaugeMetricFamily("hotline_disk_free_bytes", "Free bytes on the node's disks", labels=["path"])
        total = GaugeMetricFamily("hotline_disk_total_bytes", "Size of the node's disks", labels=["path"])
        for name, path in (("home", self.settings.home), ("backups", backup.backup_dir(self.settings))):
            target = path if path.exists() else self.settings.home
            usage = shutil.disk_usage(target)
            free.add_metric([name], usage.free)
            total.add_metric([name], usage.total)
        yield free
        yield total
        certs = GaugeMetricFamily(
            "hotline_certificate_expiry_seconds",
            "Seconds until a configured certificate expires",
            labels=["path"],
        )
        for raw in self.settings.section("metrics").get("certificates", []):
            seconds = certificate_seconds_left(Path(str(raw)))
            if seconds is not None:
                certs.add_metric([str(raw)], seconds)
        yield certs


def certificate_seconds_left(path: Path) -> float | None:
    """Seconds until the first certificate in a PEM file expires (None if unreadable)."""
    from cryptography import x509

    try:
        cert = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None
    return (cert.not_valid_after_utc - dt.datetime.now(dt.UTC)).total_seconds()
