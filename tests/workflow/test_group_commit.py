"""Group commit (node.db.group_write): on SQLite the writes of threads that arrive while another
thread's transaction runs share the next transaction, each in its own savepoint.

These tests use their own SQLite file (the `db` fixture wraps every test in one transaction, where
group_write runs inline) and real threads; every wait is on a condition with a generous timeout.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import peewee as pw
import pytest

from node import db as node_db
from node.catalog import service as catalog
from node.config import service as config
from node.registry import all_models
from node.text import lexicon
from node.workflow import search as order_search
from node.workflow import service
from node.workflow.models import OrderEvent, WorkOrder
from tests import factories

WAIT = 60.0


class Note(pw.Model):
    text = pw.CharField()


@pytest.fixture
def own_sqlite(tmp_path: Path, settings: Any) -> Iterator[pw.SqliteDatabase]:
    """A fresh SQLite file behind the node's proxy for this test only; the proxy is put back."""
    previous = node_db.database.obj
    database = node_db.bind(f"sqlite:///{tmp_path / 'group.db'}")
    catalog.invalidate()
    config.forget()
    try:
        yield database
    finally:
        database.close()
        node_db.database.initialize(previous)
        catalog.invalidate()
        lexicon.reset()
        config.forget()


@pytest.fixture
def notes(own_sqlite: pw.SqliteDatabase) -> Iterator[type[Note]]:
    with own_sqlite.bind_ctx([Note]):
        own_sqlite.create_tables([Note])
        yield Note


def _wait_until(cond: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not cond():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.005)


def _queued() -> int:
    with node_db._group._mutex:
        return len(node_db._group._queue)


def _run_batch(notes: type[Note], jobs: list[Callable[[], Any]]) -> tuple[list[Any], list[int]]:
    """Job 0 leads and holds its transaction until jobs 1… have queued behind it; returns each
    thread's result (or exception) and the thread each job ran on."""
    release = threading.Event()
    results: list[Any] = [None] * len(jobs)
    ran_on: list[int] = [0] * len(jobs)

    def wrap(i: int) -> Callable[[], Any]:
        def fn() -> Any:
            ran_on[i] = threading.get_ident()
            out = jobs[i]()
            if i == 0:
                assert release.wait(WAIT)
            return out

        return fn

    def call(i: int) -> None:
        with node_db.connection():
            try:
                results[i] = node_db.group_write(wrap(i))
            except Exception as exc:
                results[i] = exc

    threads = [threading.Thread(target=call, args=(0,))]
    threads[0].start()
    _wait_until(lambda: ran_on[0] != 0)  # the leader is inside its transaction
    for i in range(1, len(jobs)):
        threads.append(threading.Thread(target=call, args=(i,)))
        threads[-1].start()
    _wait_until(lambda: _queued() == len(jobs) - 1)
    release.set()
    for t in threads:
        t.join(WAIT)
        assert not t.is_alive()
    return results, ran_on


def _insert(notes: type[Note], text: str) -> Callable[[], int]:
    return lambda: notes.create(text=text).id


def test_writes_queued_meanwhile_share_one_transaction(notes: type[Note]) -> None:
    jobs = [_insert(notes, f"n{i}") for i in range(6)]
    results, ran_on = _run_batch(notes, jobs)
    assert all(isinstance(r, int) for r in results), results
    assert sorted(n.text for n in notes.select()) == [f"n{i}" for i in range(6)]
    # jobs 1…5 queued while 0 held the lock: the first of them led the next batch, on its thread
    assert len(set(ran_on[1:])) == 1 and ran_on[1] != ran_on[0]
    # each thread got its own row's id back
    assert {notes.get_by_id(r).text for r in results} == {f"n{i}" for i in range(6)}


def test_a_failing_write_rolls_back_alone_and_raises_in_its_thread(notes: type[Note]) -> None:
    def fails() -> None:
        notes.create(text="lost")
        raise ValueError("坏数据")

    jobs = [_insert(notes, "first"), _insert(notes, "a"), fails, _insert(notes, "b")]
    results, _ = _run_batch(notes, jobs)
    assert isinstance(results[2], ValueError) and str(results[2]) == "坏数据"
    assert all(isinstance(r, int) for i, r in enumerate(results) if i != 2)
    assert sorted(n.text for n in notes.select()) == ["a", "b", "first"]


def test_inside_a_transaction_it_runs_inline(notes: type[Note]) -> None:
    me = threading.get_ident()
    with node_db.connection(), node_db.write_tx():
        ran = node_db.group_write(lambda: threading.get_ident())
        assert ran == me
        assert node_db.database.transaction_depth() == 1
    assert _queued() == 0


def test_a_failed_commit_fails_every_write_of_the_batch(
    notes: type[Note], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_commit(self: Any, begin: bool = True) -> None:
        raise pw.OperationalError("disk I/O error")

    monkeypatch.setattr(pw._transaction, "commit", broken_commit)
    with node_db.connection():
        with pytest.raises(pw.OperationalError):
            node_db.group_write(_insert(notes, "never"))
    monkeypatch.undo()
    assert notes.select().count() == 0
    assert _queued() == 0 and not node_db._group._busy  # the next writer leads at once
    with node_db.connection():
        assert node_db.group_write(_insert(notes, "after"))
    assert [n.text for n in notes.select()] == ["after"]


def test_concurrent_order_creation_on_a_sqlite_file(own_sqlite: pw.SqliteDatabase) -> None:
    """The real creation path from 8 threads at once: every order with its own number, its
    history and its SMS receipt, however the threads were batched."""
    from node import hooks
    from node.outbox.models import CitizenMessage

    hooks.install_all()  # the SMS receipt and the other hooks, as the app installs them
    with node_db.connection():
        own_sqlite.create_tables(all_models())
        order_search.backend().ensure()
        catalog.seed()
        lexicon.seed()
        agent = factories.actor("agent")
    per_thread, threads = 6, 8
    numbers: list[str] = []
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def work() -> None:
        with node_db.connection():
            start.wait(WAIT)
            for _ in range(per_thread):
                try:
                    numbers.append(service.create_order(agent, {**factories.ORDER_DEFAULTS}).number)
                except BaseException as exc:  # reported below
                    errors.append(exc)

    pool = [threading.Thread(target=work) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(WAIT * 2)
        assert not t.is_alive()
    assert not errors, errors
    assert len(numbers) == len(set(numbers)) == per_thread * threads
    with node_db.connection():
        assert WorkOrder.select().count() == per_thread * threads
        events = OrderEvent.select().where(OrderEvent.action == "create").count()
        receipts = CitizenMessage.select().where(CitizenMessage.event == "receipt").count()
        _, found = service.list_orders(agent, service.OrderFilter(q="拒载"), page_size=200)
    assert events == receipts == per_thread * threads
    assert found == per_thread * threads  # every one searchable at once
