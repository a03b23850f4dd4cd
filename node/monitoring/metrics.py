"""Prometheus metrics of the web process, multiprocess-safe under gunicorn."""

from __future__ import annotations

import os
import time
from typing import Any

from flask import Flask, Response, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

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
        body = generate_latest(registry())
        if EXTRA_COLLECTORS:
            extra = CollectorRegistry()
            for collector in EXTRA_COLLECTORS:
                extra.register(collector)
            body += generate_latest(extra)
        return Response(body, mimetype=CONTENT_TYPE_LATEST)
