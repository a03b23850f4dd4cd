"""Concurrency on a real database file / server: separate processes racing on the same orders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from node import db, pii
from node import settings as node_settings
from node.audit import service as audit
from node.audit.models import AuditEntry
from node.auth import service as auth
from node.catalog import service as catalog
from node.migrate import upgrade
from node.workflow import service
from node.workflow.models import OrderEvent, WorkOrder
from tests import factories, pg

PROCESSES = 4
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def race_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    key = Fernet.generate_key()
    os.environ["RACE_DATA_KEY"] = key.decode()
    url = f"sqlite:///{tmp_path / 'race.db'}" if request.param == "sqlite" else pg.create_database("t_race")
    s = node_settings.for_tests(tmp_path, url, data_key=key)
    node_settings.configure(s)
    pii.configure(key)
    previous = db.database.obj
    database = db.bind(url)
    with db.connection():
        upgrade(database)
        catalog.invalidate()
        catalog.seed()
    yield url
    database.close()
    if hasattr(database, "close_all"):
        database.close_all()
    catalog.invalidate()
    db.database.initialize(previous)
    if request.param == "postgresql":
        pg.drop_database(url)


def spawn(url: str, mode: str, arg: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.race_worker", url, mode, arg],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def collect(procs: list[subprocess.Popen[str]]) -> list[dict]:
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err[-3000:]
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def test_numbers_unique_and_dense_under_concurrent_creation(race_db):
    per_process = 40
    results = collect([spawn(race_db, "create", str(per_process)) for _ in range(PROCESSES)])
    numbers = [n for r in results for n in r["numbers"]]
    assert len(numbers) == len(set(numbers)) == PROCESSES * per_process
    sequences = sorted(int(n[-6:]) for n in numbers)
    assert sequences == list(range(1, PROCESSES * per_process + 1)), "no gaps, no reuse"


def test_no_double_transition_when_processes_race(race_db):
    with db.connection():
        agent = factories.actor("agent")
        numbers = [service.create_order(agent, {**factories.ORDER_DEFAULTS}).number for _ in range(60)]
        assert {WorkOrder.get(WorkOrder.number == n).state for n in numbers} == {"pending_review"}
    db.database.close()
    joined = ",".join(numbers)
    results = collect([spawn(race_db, "review", joined) for _ in range(PROCESSES)])
    assert sum(r["ok"] for r in results) == len(numbers)
    assert sum(r["refused"] for r in results) == len(numbers) * (PROCESSES - 1)
    with db.connection():
        reviews = OrderEvent.select().where(OrderEvent.action == "review").count()
        assert reviews == len(numbers), "exactly one review event per order"
        assert {o.state for o in WorkOrder.select()} == {"pending_dispatch"}
        assert {o.version for o in WorkOrder.select()} == {2}, "one write at creation, one per review"


def test_audit_chain_does_not_fork_under_racing_writers(race_db):
    per_process = 40
    results = collect([spawn(race_db, "audit", str(per_process)) for _ in range(PROCESSES)])
    seqs = sorted(s for r in results for s in r["seqs"])
    assert seqs == list(range(1, PROCESSES * per_process + 1)), "one chain, no gaps, no reuse"
    with db.connection():
        verdict = audit.verify()
        assert verdict.ok, verdict.reason
        assert verdict.count == PROCESSES * per_process
        assert AuditEntry.select(AuditEntry.prev_hash).distinct().count() == PROCESSES * per_process


def test_parallel_sign_in_guesses_get_at_most_the_allowed_password_checks(race_db, monkeypatch):
    if race_db.startswith("postgresql"):
        db.bind(race_db + "?max_connections=24")  # one connection per thread
    with db.connection():
        user = factories.make_user("agent")
    checks: list[int] = []
    real = auth.check_password_hash

    def slow_check(pwhash: str, password: str) -> bool:
        checks.append(1)
        time.sleep(0.05)  # a real hash takes this long: long enough for every thread to get here
        return real(pwhash, password)

    monkeypatch.setattr(auth, "check_password_hash", slow_check)
    start = threading.Barrier(20)

    def guess(i: int) -> str:
        start.wait()
        with db.connection():
            try:
                auth.authenticate(user.username, f"guess-{i}", "10.0.0.1")
            except Exception as exc:
                return type(exc).__name__
        return "ok"

    with ThreadPoolExecutor(20) as pool:
        results = list(pool.map(guess, range(20)))
    if hasattr(db.database.obj, "close_all"):
        db.database.obj.close_all()
    assert len(checks) == auth.MAX_CLIENT_FAILURES
    assert results.count("AuthenticationRequired") == auth.MAX_CLIENT_FAILURES
    assert results.count("RateLimited") == 20 - auth.MAX_CLIENT_FAILURES
