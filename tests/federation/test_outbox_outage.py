"""The outbox over a real link: a province server process killed and restarted during a stream
of messages; acks lost on the way back. Nothing is lost, nothing is stored twice, order is kept,
and a rejected message is parked for an operator."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from federation import envelope as E
from federation import pki, sender, trust
from federation.models import OutboxMessage
from federation.sender import Sender
from federation.v1 import federation_pb2 as pb
from node import clock
from tests.federation.helpers import NodeHome, NodeProcess, inbox_ids, record, signing_key

PROV, CITY = "320000", "320100"


@pytest.fixture
def link(
    db: str, tmp_path: Path, node_db_url: str, test_pki: pki.TestPki
) -> Iterator[tuple[Sender, NodeProcess, E.SigningKey]]:
    city_key = signing_key(CITY)
    record(city_key)
    node = NodeHome.create(tmp_path, PROV, node_db_url, test_pki)
    node.trust(city_key)
    node.peers = {CITY: "127.0.0.1:1"}
    node.write()
    proc = NodeProcess(node)
    trust.add_peer(PROV, CITY, address="127.0.0.1:9")  # nothing listens there yet
    out = Sender(CITY, tmp_path, test_pki.material(CITY), timeout=5, signer=lambda me: city_key)
    yield out, proc, city_key
    out.close()
    proc.stop()


def queue(n: int, start: int = 0) -> list[str]:
    ids = []
    for i in range(start, start + n):
        rec = pb.OrderRecord(
            order_number=f"3201002025030110{i:05d}", origin_node=CITY, handling_node=CITY, revision=1
        )
        row = sender.enqueue(pb.OrderRecordBatch(records=[rec]), origin=CITY, destination=PROV)
        ids.append(row.message_id)
    return ids


def backoff_elapsed() -> None:
    OutboxMessage.update(next_attempt_at=clock.now()).where(OutboxMessage.status == "pending").execute()


def set_address(proc: NodeProcess) -> None:
    trust.add_peer(PROV, CITY, address=proc.address)


def test_outage_restart_and_lost_acks(link: tuple[Sender, NodeProcess, E.SigningKey]) -> None:
    out, proc, _ = link
    ids = queue(30)

    # parent down: the pass stops at the head, which backs off; nothing else is touched
    result = out.drain()
    assert result.sent == 0 and PROV in result.errors
    head, second = OutboxMessage.select().order_by(OutboxMessage.id).limit(2)
    assert head.attempts == 1 and head.next_attempt_at > clock.now() and head.last_error
    assert second.attempts == 0
    assert out.drain().errors == {}  # head still backing off: no attempt, FIFO kept

    proc.start()
    set_address(proc)
    backoff_elapsed()
    stats = sender.SendResult()
    for _ in range(3):
        out.drain_hop(PROV, stats, batch=5, max_rounds=1)
    assert stats.sent == 15

    proc.kill()  # killed mid-stream
    ids += queue(10, start=30)
    assert PROV in out.drain().errors
    # three acks "lost" on the way back: the sender will send those messages again
    lost = list(
        OutboxMessage.select()
        .where(OutboxMessage.status == "sent")
        .order_by(OutboxMessage.id.desc())
        .limit(3)
    )
    OutboxMessage.update(status="pending").where(OutboxMessage.id.in_([r.id for r in lost])).execute()

    proc.start()  # same database, new port
    set_address(proc)
    backoff_elapsed()
    final = out.drain()
    assert final.errors == {}
    assert final.duplicates == 3 and final.sent == 40 - 15
    assert OutboxMessage.select().where(OutboxMessage.status != "sent").count() == 0

    stored = inbox_ids(proc.node.database_url)
    assert len(stored) == 40 and len(set(stored)) == 40
    assert sorted(stored) == sorted(ids)
    # per-destination FIFO: the province stored them in the order they were queued
    assert [i for i in stored if i not in {r.message_id for r in lost}] == [
        i for i in ids if i not in {r.message_id for r in lost}
    ]


def test_refused_messages_are_held_or_parked_and_can_be_retried(
    link: tuple[Sender, NodeProcess, E.SigningKey],
) -> None:
    out, proc, _ = link
    proc.start()
    set_address(proc)
    before = queue(2)
    # addressed through the province to a city it has not linked (yet): held, retried on its own,
    # and the queue behind it goes on
    announcement = pb.KeyAnnouncement(key=pb.PublicKey(key_id="ed25519:320100:1", node=CITY))
    stray = sender.enqueue(announcement, origin=CITY, destination="320500")
    after = queue(2, start=2)
    with clock.frozen(clock.now()):  # the retry time is judged on a clock that does not move
        result = out.drain()
        assert (result.sent, result.held, result.parked) == (4, 1, 0)
        row = OutboxMessage.get_by_id(stray.id)
        assert (row.status, row.reject_reason) == ("held", "NO_ROUTE")
        assert "无法转发" in row.last_error and row.next_attempt_at > clock.now()
        assert inbox_ids(proc.node.database_url) == before + after
        assert out.drain().held == 0  # not due yet

    # still refused after a day: parked for the operator, who can put it back
    OutboxMessage.update(
        created_at=clock.now() - sender.HOLD_LIMIT - dt.timedelta(minutes=1), next_attempt_at=clock.now()
    ).where(OutboxMessage.id == row.id).execute()
    assert out.drain().parked == 1
    row = OutboxMessage.get_by_id(stray.id)
    assert (row.status, row.reject_reason, row.attempts) == ("parked", "NO_ROUTE", 2)
    assert sender.retry_parked([row.id]) == 1
    assert OutboxMessage.get_by_id(stray.id).status == "pending"
    # a message refused for good (a report in another node's name) is parked at once
    forged = sender.enqueue(
        pb.DailyReport(node="320200", report_date="2025-03-01"), origin=CITY, destination=PROV
    )
    result = out.drain()
    assert OutboxMessage.get_by_id(forged.id).reject_reason == "NOT_AUTHORISED"
    assert OutboxMessage.get_by_id(forged.id).status == "parked"


def test_a_success_resets_the_backoff_of_the_whole_queue(
    link: tuple[Sender, NodeProcess, E.SigningKey],
) -> None:
    """After an outage the neighbour is probed; its first answer makes every queued row due, so
    the queue drains at once instead of each row waiting out its own backoff."""
    out, proc, _ = link
    queue(5)
    assert PROV in out.drain().errors
    # as after a long outage: every row far in its backoff
    OutboxMessage.update(next_attempt_at=clock.now() + dt.timedelta(minutes=5), attempts=9).execute()
    assert out.drain().sent == 0
    proc.start()
    set_address(proc)
    out._probed.clear()  # (the probe interval has passed)
    assert out.drain().sent == 5
    assert not OutboxMessage.select().where(OutboxMessage.status != "sent").exists()


def test_backoff_is_full_jitter_and_capped() -> None:
    import random

    rng = random.Random(1)
    samples = [sender.backoff_seconds(3, rng) for _ in range(500)]
    assert 0 <= min(samples) < 0.5 and 3.0 < max(samples) <= 4.0
    assert max(sender.backoff_seconds(50, rng) for _ in range(200)) <= sender.MAX_BACKOFF
