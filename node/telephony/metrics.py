"""Prometheus exposition of the telephony live state (read from the database, so it is the same
whichever web worker answers). Served at /telephony/metrics; `DbLiveStateCollector` lets the web
process's /metrics registry include the same gauges."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class LiveStateCollector(Collector):
    def __init__(self, state: dict[str, Any]):
        self.state = state

    def collect(self) -> Any:
        calls = GaugeMetricFamily("hotline_calls", "Calls in progress by line state", labels=["state"])
        for state, n in self.state["calls_by_state"].items():
            calls.add_metric([state], n)
        yield calls
        yield GaugeMetricFamily(
            "hotline_queue_length", "Calls waiting for an agent", value=self.state["queue_length"]
        )
        yield GaugeMetricFamily(
            "hotline_queue_longest_wait_seconds",
            "Longest current wait in the queue",
            value=self.state["longest_wait_s"],
        )
        agents = GaugeMetricFamily("hotline_agents", "Agents by state", labels=["state"])
        for state, n in self.state["agents_by_state"].items():
            agents.add_metric([state], n)
        yield agents
        yield GaugeMetricFamily(
            "hotline_engines_live", "Call engines with a fresh heartbeat", value=len(self.state["engines"])
        )


def render(state: dict[str, Any]) -> bytes:
    reg = CollectorRegistry()
    reg.register(LiveStateCollector(state))
    return generate_latest(reg)


class DbLiveStateCollector(Collector):
    """Reads the live state from the database at every scrape (register it on a /metrics registry)."""

    def collect(self) -> Any:
        from node import db
        from node.telephony import service

        with db.connection():
            state = service.live_state()
        yield from LiveStateCollector(state).collect()
