"""The worker's heartbeat: written every 30 s with the newest failed job, shown on the wallboard
(red when it stops) and exported to Prometheus for the HotlineWorkerStalled alert."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from node import clock
from node.jobs import worker
from node.telephony import floor

T0 = dt.datetime(2026, 12, 2, 9, 0, 0)
S = dt.timedelta(seconds=1)


@pytest.fixture(autouse=True)
def _fresh_worker_state() -> Iterator[None]:
    worker._last_failure.clear()
    yield
    worker._last_failure.clear()


def test_no_worker_ever_ran_shows_as_not_alive(db):
    assert worker.last_heartbeat(T0) is None
    with clock.frozen(T0):
        assert floor._worker() == {"alive": False, "age_s": None, "last_failure": None}


def test_a_beat_is_alive_until_five_beats_are_missed(db):
    worker._heartbeat(T0)
    worker._heartbeat(T0 + 30 * S)  # the second beat updates the same row
    beat = worker.last_heartbeat(T0 + 40 * S)
    assert beat is not None and beat.at == T0 + 30 * S and beat.age_s == 10 and not beat.stale
    assert worker.last_heartbeat(T0 + 30 * S + (worker.STALE_AFTER_SECONDS + 1) * S).stale
    with clock.frozen(T0 + 200 * S):
        assert floor._worker() == {"alive": False, "age_s": 170, "last_failure": None}


def test_a_failed_job_is_named_on_the_wallboard_for_an_hour(db):
    def broken(now: dt.datetime) -> None:
        raise RuntimeError("短信网关无法连接")

    with clock.frozen(T0):
        worker._wrap(worker.Job("citizen_sms", broken, "interval", {"seconds": 5}))()
        worker._heartbeat(T0)
        shown = floor._worker()
    assert shown["alive"] and shown["last_failure"] == {
        "job": "citizen_sms",
        "at": "2026-12-02T09:00:00",
        "error": "短信网关无法连接",
    }
    with clock.frozen(T0 + 3601 * S):
        worker._heartbeat(T0 + 3601 * S)
        assert floor._worker()["last_failure"] is None


def test_the_beat_is_exported_for_the_stall_alert(client, db):
    assert "hotline_worker_heartbeat_timestamp_seconds" not in client.get("/metrics").get_data(as_text=True)
    worker._heartbeat(T0)
    body = client.get("/metrics").get_data(as_text=True)
    line = next(x for x in body.splitlines() if x.startswith("hotline_worker_heartbeat_timestamp_seconds"))
    assert float(line.split()[-1]) == T0.replace(tzinfo=clock.TZ).timestamp()
