"""Prometheus exposition of the telephony live state (read from the database, so it is the same
whichever web worker answers). Served at /telephony/metrics; `DbLiveStateCollector` lets the web
process's /metrics registry include the same gauges."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
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


def render(state: dict[str, Any], counts: dict[str, Any]) -> bytes:
    reg = CollectorRegistry()
    reg.register(LiveStateCollector(state))
    reg.register(LegCounters(counts))
    return generate_latest(reg)


class LegCounters(Collector):
    """Totals over the call legs: answered / abandoned / overflow … (see node.telephony.floor)."""

    def __init__(self, counts: dict[str, Any]):
        self.counts = counts

    def collect(self) -> Any:
        legs = CounterMetricFamily(
            "hotline_call_legs",
            "Call legs by outcome (answered, abandoned, overflow, ...)",
            labels=["outcome"],
        )
        for outcome, n in sorted(self.counts["by_outcome"].items()):
            legs.add_metric([outcome], n)
        yield legs
        yield CounterMetricFamily(
            "hotline_calls_answered", "Call legs answered by an agent", value=self.counts["answered"]
        )
        yield CounterMetricFamily(
            "hotline_calls_answered_within_10s",
            "Call legs answered within 10 seconds of joining the queue",
            value=self.counts["answered_within_10s"],
        )
        yield CounterMetricFamily(
            "hotline_call_wait_seconds",
            "Queue wait of answered legs, summed",
            value=self.counts["wait_seconds_sum"],
        )
        yield CounterMetricFamily(
            "hotline_call_talk_seconds",
            "Agent handling time of legs, summed",
            value=self.counts["talk_seconds_sum"],
        )


class DbLiveStateCollector(Collector):
    """Reads the live state and the leg totals from the database at every scrape (register it
    on a /metrics registry)."""

    def collect(self) -> Any:
        from node import db
        from node.telephony import floor, service

        with db.connection():
            state = service.live_state()
            counts = floor.leg_counters()
        yield from LiveStateCollector(state).collect()
        yield from LegCounters(counts).collect()
