"""Entry points of the federation processes: the gRPC server, and one worker pass (outbox drain
plus inbox processing). `hotline` commands and tests start these; they own process setup only.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from typing import Any

from federation import flows, inbox, metrics, pki
from federation.sender import Sender
from federation.server import ServerParams, create_server
from node import db as node_db

log = logging.getLogger(__name__)
_collector_registered = False


def start_metrics(settings: Any) -> int | None:
    """Expose this process's metrics on 127.0.0.1:<metrics_port> (port 0 picks a free port)."""
    global _collector_registered
    from prometheus_client import REGISTRY, start_http_server

    if not _collector_registered:
        REGISTRY.register(metrics.OutboxCollector(settings.region, settings.keys_dir))
        _collector_registered = True
    if settings.metrics_port < 0:
        return None
    httpd, _thread = start_http_server(settings.metrics_port, addr="127.0.0.1")
    return int(httpd.server_address[1])


def serve(
    settings: Any,
    *,
    ready: Callable[[int, int | None], None] | None = None,
    stop: threading.Event | None = None,
) -> None:
    """Run the federation server until SIGTERM/SIGINT (or `stop` is set)."""
    node_db.bind(settings.database_url)
    server, port = create_server(
        ServerParams.from_settings(settings), f"{settings.federation_host}:{settings.federation_port}"
    )
    metrics_port = start_metrics(settings)
    flusher = metrics.Flusher()
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    log.info("联网服务已启动：%s 端口 %s", settings.region, port)
    if ready:
        ready(port, metrics_port)
    stop.wait()
    server.stop(grace=2).wait()
    flusher.stop()


def make_sender(settings: Any) -> Sender:
    return Sender(settings.region, settings.keys_dir, pki.load_material(settings.keys_dir))


def configure(settings: Any) -> None:
    """Process set-up for code that runs the business flows: settings, data key, hooks, database."""
    from node import pii
    from node import settings as node_settings

    node_settings.configure(settings)
    pii.configure(settings.data_key)
    flows.install()
    if node_db.database.obj is None:
        node_db.bind(settings.database_url)


def worker_pass(settings: Any, sender: Sender) -> dict[str, Any]:
    """Queue changed orders' records, drain the outbox once and apply what the inbox received;
    returns counts for logs."""
    from federation import directory

    flows.install()
    with node_db.connection():
        records = flows.flush_records(settings.region)
        result = sender.drain()
        processed = inbox.process(settings.region, keys_dir=settings.keys_dir)
        # keys announced or changed since the last pass: the ministry issues the directory now
        issued = directory.refresh(settings.region)
        if processed["processed"] or issued:  # what applying queued goes out at once
            sender.drain(result=result)
    metrics.flush()
    return {
        "records": records,
        "sent": result.sent,
        "duplicates": result.duplicates,
        "parked": result.parked,
        "held": result.held,
        "errors": result.errors,
        **processed,
    }
