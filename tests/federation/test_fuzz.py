"""Property test: random, truncated and mutated bytes never crash the receiver; every answer is
a well-formed Ack, and nothing unverifiable reaches the inbox."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from federation import envelope as E
from federation import trust
from federation.models import InboxMessage
from federation.server import Receiver, ServerParams
from federation.v1 import federation_pb2 as pb
from tests.federation.helpers import record, signing_key

PROV, CITY = "320000", "320100"
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def setup(db: str) -> tuple[Receiver, bytes]:
    """A receiver, and the bytes of an envelope it accepts (delivered once: mutations start from a
    message that gets in, and the inbox check below always has a row to verify)."""
    trust.add_peer(CITY, PROV)
    key = signing_key(CITY)
    record(key)
    rec = pb.OrderRecord(
        order_number=f"{CITY}202503011000001", origin_node=CITY, handling_node=CITY, title="拒载"
    )
    valid = E.seal(pb.OrderRecordBatch(records=[rec]), key=key, destination=PROV).SerializeToString()
    receiver = Receiver(ServerParams(me=PROV, tls=None))
    ack = receiver.receive(valid, CITY)
    assert ack.status == pb.Ack.ACCEPTED, ack.detail
    return receiver, valid


def check(receiver: Receiver, raw: bytes) -> None:
    ack = receiver.receive(raw, CITY)
    assert isinstance(ack, pb.Ack)
    assert ack.status in (pb.Ack.REJECTED, pb.Ack.ACCEPTED, pb.Ack.DUPLICATE)
    if ack.status == pb.Ack.REJECTED:
        assert ack.reason != pb.Ack.REASON_UNSPECIFIED and ack.reason != pb.Ack.INTERNAL, ack.detail
    for row in InboxMessage.select():  # whatever got in verifies end to end
        E.verify(bytes(row.envelope), me=PROV, keys=receiver.params.keys, check_stale=False)


@FUZZ
@given(data=st.binary(max_size=2048))
def test_random_bytes(setup: tuple[Receiver, bytes], data: bytes) -> None:
    receiver, _ = setup
    check(receiver, data)


@FUZZ
@given(cut=st.integers(min_value=0, max_value=10_000))
def test_truncated(setup: tuple[Receiver, bytes], cut: int) -> None:
    receiver, valid = setup
    check(receiver, valid[: cut % len(valid)])


@FUZZ
@given(
    flips=st.lists(
        st.tuples(st.integers(min_value=0), st.integers(min_value=1, max_value=255)), min_size=1, max_size=4
    )
)
def test_mutated(setup: tuple[Receiver, bytes], flips: list[tuple[int, int]]) -> None:
    receiver, valid = setup
    data = bytearray(valid)
    for pos, mask in flips:
        data[pos % len(data)] ^= mask
    check(receiver, bytes(data))


@FUZZ
@given(header=st.binary(max_size=300), payload=st.binary(max_size=300), signature=st.binary(max_size=80))
def test_structured_garbage(
    setup: tuple[Receiver, bytes], header: bytes, payload: bytes, signature: bytes
) -> None:
    receiver, _ = setup
    check(receiver, pb.Envelope(header=header, payload=payload, signature=signature).SerializeToString())


def test_key_id_with_nul_bytes_is_refused_not_an_internal_error(setup: tuple[Receiver, bytes]) -> None:
    """Found by test_mutated on PostgreSQL: an unverified key id reached the database, whose text
    columns cannot hold NUL bytes, and the receiver answered INTERNAL."""
    receiver, valid = setup
    env = pb.Envelope.FromString(valid)
    header = pb.EnvelopeHeader.FromString(env.header)
    header.key_id = header.key_id.replace(":", "\x00:", 1)
    env.header = header.SerializeToString()
    ack = receiver.receive(env.SerializeToString(), CITY)
    assert ack.status == pb.Ack.REJECTED and ack.reason not in (pb.Ack.INTERNAL, pb.Ack.REASON_UNSPECIFIED)
    assert InboxMessage.select().count() == 1  # the seed only
