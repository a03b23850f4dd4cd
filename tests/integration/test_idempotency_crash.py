"""Crash test (issue 18, holes 11 and 12): orders are created concurrently with Idempotency-Key
while the web process's gunicorn master is killed -9 (twice) under `hotline run`. The supervisor
restarts it, the old workers die with their master (no orphan keeps the port), and every client
retries with its key until it has an answer: 0 orders lost, 0 doubled, and each retry answered
with the first result."""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest

from node import db as node_db
from node import settings as node_settings
from node.demo import DEMO_PASSWORD
from tests.factories import ORDER_DEFAULTS
from tests.integration.demo_node import demo_node

ORDERS = 32
THREADS = 8
KILLS = 2


def _call(port: int, method: str, path: str, body: object = None, headers: dict | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(method, path, json.dumps(body) if body is not None else None, headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, json.loads(resp.read() or b"null")
    finally:
        conn.close()


def _wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _healthy(port: int) -> bool:
    try:
        return _call(port, "GET", "/healthz")[0] == 200
    except OSError:
        return False


def _web_master(supervisor: int) -> psutil.Process | None:
    for child in psutil.Process(supervisor).children():
        try:
            if "serve-web" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                return child
        except psutil.NoSuchProcess:
            continue
    return None


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_no_order_lost_or_doubled_when_the_web_master_is_killed(tmp_path: Path, backend: str) -> None:
    with demo_node(tmp_path, backend, "t_crash") as node:
        port, home, proc = node.port, node.home, node.proc
        status, _, body = _call(
            port,
            "POST",
            "/api/v1/auth/token",
            {"username": "agent1", "password": DEMO_PASSWORD},
            {"Content-Type": "application/json"},
        )
        assert status == 201, body
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + body["token"]}
        first: dict[str, str] = {}  # key -> the number of the first answer the client got
        tries: dict[str, int] = {}
        lock = threading.Lock()
        keys = [f"crash-{backend}-{i:03d}" for i in range(ORDERS)]
        queue = list(keys)

        def client() -> None:
            while True:
                with lock:
                    if not queue:
                        return
                    key = queue.pop()
                order = {**ORDER_DEFAULTS, "content": f"出租车拒载，编号 {key}，要求处理。"}
                deadline = time.monotonic() + 240
                while time.monotonic() < deadline:
                    tries[key] = tries.get(key, 0) + 1
                    try:
                        status, _, answer = _call(
                            port, "POST", "/api/v1/orders", order, {**headers, "Idempotency-Key": key}
                        )
                    except (OSError, http.client.HTTPException):
                        time.sleep(0.3)  # the web process is down: retry with the same key
                        continue
                    if status in (502, 503):
                        time.sleep(0.3)
                        continue
                    assert status == 201, (status, answer)
                    with lock:
                        first[key] = answer["number"]
                    break

        threads = [threading.Thread(target=client) for _ in range(THREADS)]
        for t in threads:
            t.start()
        for _ in range(KILLS):
            _wait_until(lambda: len(first) >= 2 or not queue, 120, "some orders before the kill")
            master = _web_master(proc.pid)
            assert master is not None
            workers = master.children()
            os.kill(master.pid, signal.SIGKILL)
            # the workers die with their master (PR_SET_PDEATHSIG), none is left holding the port
            _wait_until(
                lambda workers=workers: not [
                    w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE
                ],
                30,
                "orphan workers to end",
            )
            _wait_until(
                lambda old=master.pid: (m := _web_master(proc.pid)) is not None and m.pid != old,
                60,
                "the restart",
            )
            _wait_until(lambda: _healthy(port), 120, "the restarted web process")
        for t in threads:
            t.join(300)
        assert sorted(first) == sorted(keys), "every client got an answer"
        # a retry of every key now answers with the first result
        for key in keys:
            order = {**ORDER_DEFAULTS, "content": f"出租车拒载，编号 {key}，要求处理。"}
            status, got, answer = _call(
                port, "POST", "/api/v1/orders", order, {**headers, "Idempotency-Key": key}
            )
            assert (
                status == 201 and got.get("idempotent-replayed") == "true" and answer["number"] == first[key]
            )
        database = node_db.open_database(node_settings.load(home / "node.toml").database_url)
        try:
            rows = database.execute_sql(
                f"SELECT number FROM work_order WHERE content LIKE {database.param}", (f"%crash-{backend}-%",)
            ).fetchall()
        finally:
            database.close()
            if hasattr(database, "close_all"):
                database.close_all()
        stored: dict[str, int] = {}
        for (number,) in rows:
            stored[number] = stored.get(number, 0) + 1
        assert len(rows) == ORDERS, f"0 lost, 0 doubled: {len(rows)} stored for {ORDERS} keys"
        assert len(stored) == ORDERS, f"0 lost, 0 doubled: {len(stored)} stored for {ORDERS} keys"
        assert set(stored) == set(first.values())
        print(f"\n[{backend}] {ORDERS}/{ORDERS} orders, {KILLS} kills, {sum(tries.values())} attempts")
