"""The receiver's checks against a real trust store and inbox (SQLite and PostgreSQL): every
refused envelope gets a clear reason and leaves no row behind."""

from __future__ import annotations

import pytest

from federation import envelope as E
from federation import trust
from federation.models import InboxMessage, NodeKey, OutboxMessage
from federation.server import Receiver, ServerParams
from federation.v1 import federation_pb2 as pb
from tests.federation.helpers import record, signing_key

PROV, CITY, CITY2, MINISTRY = "320000", "320100", "320200", "000000"


@pytest.fixture
def province(db: str) -> Receiver:
    trust.add_peer(CITY, PROV, address="127.0.0.1:1")
    trust.add_peer(CITY2, PROV, address="127.0.0.1:2")
    trust.add_peer(MINISTRY, PROV, address="127.0.0.1:3")
    return Receiver(ServerParams(me=PROV, tls=None))


@pytest.fixture
def city() -> E.SigningKey:
    key = signing_key(CITY)
    record(key)
    return key


def report(node: str = CITY) -> pb.DailyReport:
    return pb.DailyReport(node=node, report_date="2025-03-01", counts=[pb.Count(metric="accepted", value=3)])


def nothing_written() -> bool:
    return InboxMessage.select().count() == 0 and OutboxMessage.select().count() == 0


def refuse(receiver: Receiver, raw: bytes, peer: str | None, reason: str) -> pb.Ack:
    ack = receiver.receive(raw, peer)
    assert ack.status == pb.Ack.REJECTED, ack
    assert pb.Ack.Reason.Name(ack.reason) == reason, ack.detail
    assert ack.detail and "（" in ack.detail
    assert nothing_written()
    return ack


def test_accept_then_duplicate(province: Receiver, city: E.SigningKey) -> None:
    first = E.seal(report(), key=city, destination=PROV, message_id="m-1")
    ack = province.receive(first.SerializeToString(), CITY)
    assert ack.status == pb.Ack.ACCEPTED and ack.message_id == "m-1"
    retry = E.seal(report(), key=city, destination=PROV, message_id="m-1")  # re-signed retry
    assert province.receive(retry.SerializeToString(), CITY).status == pb.Ack.DUPLICATE
    row = InboxMessage.get()
    assert (row.origin, row.message_id, row.status, row.via) == (CITY, "m-1", "received", CITY)
    assert bytes(row.envelope) == first.SerializeToString()  # the evidence log keeps the bytes


def test_forged_signature(province: Receiver, city: E.SigningKey) -> None:
    env = E.seal(report(), key=city, destination=PROV)
    env.signature = bytes(64)
    refuse(province, env.SerializeToString(), CITY, "BAD_SIGNATURE")


def test_replayed_envelope(province: Receiver, city: E.SigningKey) -> None:
    raw = E.seal(report(), key=city, destination=PROV).SerializeToString()
    assert province.receive(raw, CITY).status == pb.Ack.ACCEPTED
    ack = province.receive(raw, CITY)
    assert pb.Ack.Reason.Name(ack.reason) == "REPLAYED"
    assert InboxMessage.select().count() == 1


def test_wrong_destination(province: Receiver, city: E.SigningKey) -> None:
    refuse(
        province,
        E.seal(report(), key=city, destination="330000").SerializeToString(),
        CITY,
        "WRONG_DESTINATION",
    )


def test_stale_and_future(province: Receiver, city: E.SigningKey) -> None:
    now = E.now_ms()
    old = E.seal(report(), key=city, destination=PROV, timestamp_ms=now - E.DEFAULT_SKEW_MS - 5000)
    refuse(province, old.SerializeToString(), CITY, "STALE_TIMESTAMP")
    future = E.seal(report(), key=city, destination=PROV, timestamp_ms=now + E.DEFAULT_SKEW_MS + 5000)
    refuse(province, future.SerializeToString(), CITY, "FUTURE_TIMESTAMP")


def test_unknown_key(province: Receiver) -> None:
    stranger = signing_key(CITY, 9)
    refuse(
        province, E.seal(report(), key=stranger, destination=PROV).SerializeToString(), CITY, "UNKNOWN_KEY"
    )


def test_revoked_key(province: Receiver, city: E.SigningKey) -> None:
    trust.revoke(city.key_id)
    province.params.keys.invalidate()  # type: ignore[attr-defined]
    refuse(province, E.seal(report(), key=city, destination=PROV).SerializeToString(), CITY, "KEY_REVOKED")


def test_expired_key(province: Receiver, city: E.SigningKey) -> None:
    NodeKey.update(valid_until_ms=E.now_ms() - 1000).where(NodeKey.key_id == city.key_id).execute()
    province.params.keys.invalidate()  # type: ignore[attr-defined]
    refuse(province, E.seal(report(), key=city, destination=PROV).SerializeToString(), CITY, "KEY_NOT_VALID")


def test_city_pushing_in_another_citys_name(province: Receiver, city: E.SigningKey) -> None:
    other = signing_key(CITY2)
    record(other)
    # signs with its own key but claims to be the other city
    claim = E.SigningKey(city.key_id, CITY2, city.private)
    refuse(
        province,
        E.seal(report(CITY2), key=claim, destination=PROV).SerializeToString(),
        CITY,
        "KEY_ORIGIN_MISMATCH",
    )
    # passes on the other city's genuine envelope over its own mTLS link
    genuine = E.seal(report(CITY2), key=other, destination=PROV).SerializeToString()
    refuse(province, genuine, CITY, "TRANSPORT_MISMATCH")
    # or wraps it as if it were a relay for that city
    wrapped = E.wrap_for_relay(genuine, key=city, next_hop=PROV, message_id=E.peek_message_id(genuine))
    refuse(province, wrapped.SerializeToString(), CITY, "TRANSPORT_MISMATCH")
    # the genuine sender over its own link is fine
    assert province.receive(genuine, CITY2).status == pb.Ack.ACCEPTED


def test_unregistered_peer(province: Receiver) -> None:
    stranger = signing_key("440300")
    record(stranger)
    ack = refuse(
        province,
        E.seal(report("440300"), key=stranger, destination=PROV).SerializeToString(),
        "440300",
        "TRANSPORT_MISMATCH",
    )
    assert "未登记" in ack.detail


def test_no_transport_identity(province: Receiver, city: E.SigningKey) -> None:
    refuse(
        province, E.seal(report(), key=city, destination=PROV).SerializeToString(), None, "TRANSPORT_MISMATCH"
    )


def test_relay_upward_is_stored_and_queued(province: Receiver, city: E.SigningKey) -> None:
    inner = E.seal(report(), key=city, destination=MINISTRY, message_id="up-1").SerializeToString()
    outer = E.wrap_for_relay(inner, key=city, next_hop=PROV, message_id="up-1")
    ack = province.receive(outer.SerializeToString(), CITY)
    assert ack.status == pb.Ack.ACCEPTED, ack.detail
    row = InboxMessage.get()
    # a report on its way up is also applied by the province (status received) and relayed on
    assert (row.status, row.destination, row.relayed) == ("received", MINISTRY, True)
    out = OutboxMessage.get()
    assert (out.kind, out.next_hop, out.origin, bytes(out.payload)) == ("relay", MINISTRY, CITY, inner)
    # the same message relayed twice is a duplicate, not a second outbox row
    again = E.wrap_for_relay(inner, key=city, next_hop=PROV, message_id="up-1")
    assert province.receive(again.SerializeToString(), CITY).status == pb.Ack.DUPLICATE
    assert OutboxMessage.select().count() == 1


def test_relay_towards_unregistered_node_is_no_route(province: Receiver, city: E.SigningKey) -> None:
    announcement = pb.KeyAnnouncement(key=pb.PublicKey(key_id=city.key_id, node=CITY))
    inner = E.seal(announcement, key=city, destination="320500", message_id="x").SerializeToString()
    outer = E.wrap_for_relay(inner, key=city, next_hop=PROV, message_id="x")
    refuse(province, outer.SerializeToString(), CITY, "NO_ROUTE")


def test_direct_envelope_for_someone_else_is_wrong_destination(
    province: Receiver, city: E.SigningKey
) -> None:
    raw = E.seal(report(), key=city, destination=MINISTRY).SerializeToString()
    refuse(province, raw, CITY, "WRONG_DESTINATION")
