"""Subtree authority (SQLite and PostgreSQL): the attacks that were accepted before (issue #15),
each refused with its own reason and leaving nothing behind, next to the legitimate messages that
look like them. A province's receiver checks what its cities send; facts about transfers come from
the route ledger it keeps as transfers pass through it."""

from __future__ import annotations

import pytest

from federation import authority, flows, trust
from federation import envelope as E
from federation.models import InboxMessage, MetricCounter, OutboxMessage, RemoteOrder, TransferRoute
from federation.server import Receiver, ServerParams
from federation.v1 import federation_pb2 as pb
from node import settings as node_settings
from node.workflow.models import WorkOrder as Order
from tests.federation.helpers import act_as, outbox, payload, record, sealed_for, signing_key

MINISTRY, JS, ZJ = "000000", "320000", "330000"
NANJING, SUZHOU, HANGZHOU = "320100", "320500", "330100"
REAL_HANGZHOU = "330100202503011000007"  # an order Hangzhou accepted


@pytest.fixture
def keys(flow: node_settings.Settings) -> dict[str, E.SigningKey]:
    made = {node: signing_key(node) for node in (MINISTRY, JS, ZJ, NANJING, SUZHOU, HANGZHOU)}
    for key in made.values():
        record(key)
    return made


@pytest.fixture
def jiangsu(flow: node_settings.Settings, keys: dict[str, E.SigningKey]) -> Receiver:
    for peer in (NANJING, SUZHOU, MINISTRY):
        trust.add_peer(peer, JS, address="127.0.0.1:1")
    return Receiver(ServerParams(me=JS, tls=None))


def relayed(message: object, origin: E.SigningKey, relay: E.SigningKey, destination: str, me: str) -> bytes:
    """`origin`'s message for `destination`, handed to `me` by `relay` (e.g. the ministry)."""
    inner = E.seal(sealed_for(message, destination), key=origin, destination=destination, message_id="m-1")  # type: ignore[arg-type]
    return E.wrap_for_relay(
        inner.SerializeToString(), key=relay, next_hop=me, message_id="m-1"
    ).SerializeToString()


def up(message: object, key: E.SigningKey, me: str, message_id: str = "up-1") -> bytes:
    """What a city's sender puts on its link to its province for the ministry."""
    inner = E.seal(message, key=key, destination=MINISTRY, message_id=message_id)  # type: ignore[arg-type]
    return E.wrap_for_relay(
        inner.SerializeToString(), key=key, next_hop=me, message_id=message_id
    ).SerializeToString()


def closed_record(number: str, origin: str, handler: str, revision: int = 999) -> pb.OrderRecord:
    return pb.OrderRecord(
        order_number=number,
        origin_node=origin,
        handling_node=handler,
        region_code="330106",
        business_type=pb.COMPLAINT,
        channel_code="01",
        state="closed",
        state_category=pb.STATE_CLOSED,
        accepted_at_ms=1_740_800_000_000,
        revision=revision,
    )


def reason(ack: pb.Ack) -> str:
    assert ack.status == pb.Ack.REJECTED, ack
    return pb.Ack.Reason.Name(ack.reason)


def nothing_stored() -> bool:
    return not InboxMessage.select().exists() and not OutboxMessage.select().exists()


# ---- attack 1: records for another subtree, invented numbers -----------------------------------


def test_city_cannot_report_another_provinces_order_as_handled_by_itself(
    jiangsu: Receiver, keys: dict[str, E.SigningKey]
) -> None:
    """Accepted before: 320100 sent Hangzhou's order as "handled by 320100", revision 999, closed."""
    batch = pb.OrderRecordBatch(records=[closed_record(REAL_HANGZHOU, HANGZHOU, NANJING)])
    ack = jiangsu.receive(up(batch, keys[NANJING], JS), NANJING)
    assert reason(ack) == "RECORD_NOT_IN_SUBTREE" and "未转办至 320100" in ack.detail
    assert nothing_stored() and not RemoteOrder.select().exists()


def test_city_cannot_invent_numbers(jiangsu: Receiver, keys: dict[str, E.SigningKey]) -> None:
    invented = "330100202503019999999"
    # a Hangzhou number it made up, as Hangzhou's order handled in Nanjing
    ack = jiangsu.receive(
        up(pb.OrderRecordBatch(records=[closed_record(invented, HANGZHOU, NANJING)]), keys[NANJING], JS),
        NANJING,
    )
    assert reason(ack) == "RECORD_NOT_IN_SUBTREE"
    # ... or as its own order
    ack = jiangsu.receive(
        up(pb.OrderRecordBatch(records=[closed_record(invented, NANJING, NANJING)]), keys[NANJING], JS),
        NANJING,
    )
    assert reason(ack) == "NUMBER_NOT_ORIGIN" and "不是由 320100 编发" in ack.detail
    # ... or about another province's orders altogether
    ack = jiangsu.receive(
        up(pb.OrderRecordBatch(records=[closed_record(invented, HANGZHOU, HANGZHOU)]), keys[NANJING], JS),
        NANJING,
    )
    assert reason(ack) == "RECORD_NOT_IN_SUBTREE"
    assert nothing_stored()


def test_records_of_an_order_transferred_in_are_accepted(
    jiangsu: Receiver, keys: dict[str, E.SigningKey]
) -> None:
    transfer = pb.OrderTransfer(
        transfer_id="t-hz-nj", order_number=REAL_HANGZHOU, from_node=HANGZHOU, to_node=NANJING
    )
    # Hangzhou's transfer reaches Jiangsu from the ministry, on its way to Nanjing: noted, passed on
    ack = jiangsu.receive(relayed(transfer, keys[HANGZHOU], keys[MINISTRY], NANJING, JS), MINISTRY)
    assert ack.status == pb.Ack.ACCEPTED, ack.detail
    assert authority.holds(NANJING, REAL_HANGZHOU)
    batch = pb.OrderRecordBatch(records=[closed_record(REAL_HANGZHOU, HANGZHOU, NANJING, revision=4)])
    assert jiangsu.receive(up(batch, keys[NANJING], JS, "up-2"), NANJING).status == pb.Ack.ACCEPTED
    # and the ministry, which gets it from Jiangsu, takes Jiangsu's word for the transfer
    act_as_ministry = Receiver(ServerParams(me=MINISTRY, tls=None))
    trust.add_peer(JS, MINISTRY, address="127.0.0.1:2")
    InboxMessage.delete().execute()
    inner = E.seal(batch, key=keys[NANJING], destination=MINISTRY, message_id="up-2").SerializeToString()
    outer = E.wrap_for_relay(inner, key=keys[JS], next_hop=MINISTRY, message_id="up-2")
    assert act_as_ministry.receive(outer.SerializeToString(), JS).status == pb.Ack.ACCEPTED


def test_origin_cannot_claim_its_order_is_handled_where_it_was_never_sent(
    jiangsu: Receiver, keys: dict[str, E.SigningKey]
) -> None:
    own = "320100202503011000003"
    batch = pb.OrderRecordBatch(records=[closed_record(own, NANJING, HANGZHOU)])
    assert reason(jiangsu.receive(up(batch, keys[NANJING], JS), NANJING)) == "RECORD_NOT_IN_SUBTREE"
    authority.note(
        pb.OrderTransfer.DESCRIPTOR.full_name,
        pb.OrderTransfer(transfer_id="t-1", order_number=own, from_node=NANJING, to_node=HANGZHOU),
    )
    assert jiangsu.receive(up(batch, keys[NANJING], JS), NANJING).status == pb.Ack.ACCEPTED


# ---- attack 2: a transfer not tied to its sender -------------------------------------------------


def test_city_cannot_transfer_another_citys_order(jiangsu: Receiver, keys: dict[str, E.SigningKey]) -> None:
    """Accepted before: 320500 sent 330100 a transfer carrying 320100's number."""
    nanjing_number = "320100202503011000042"
    forged = pb.OrderTransfer(
        transfer_id="t-forged", order_number=nanjing_number, from_node=SUZHOU, to_node=HANGZHOU
    )

    def from_suzhou() -> bytes:  # signed afresh, as each attempt of a sender is
        raw = E.seal(
            sealed_for(forged, HANGZHOU), key=keys[SUZHOU], destination=HANGZHOU, message_id="t-forged"
        )
        return E.wrap_for_relay(
            raw.SerializeToString(), key=keys[SUZHOU], next_hop=JS, message_id="t-forged"
        ).SerializeToString()

    ack = jiangsu.receive(from_suzhou(), SUZHOU)
    assert reason(ack) == "TRANSFER_NOT_HELD" and nanjing_number in ack.detail
    assert nothing_stored() and not TransferRoute.select().exists()
    # once Nanjing has really transferred it to Suzhou (through Jiangsu), Suzhou may pass it on
    genuine = pb.OrderTransfer(
        transfer_id="t-nj-sz", order_number=nanjing_number, from_node=NANJING, to_node=SUZHOU
    )
    ack = jiangsu.receive(relayed(genuine, keys[NANJING], keys[NANJING], SUZHOU, JS), NANJING)
    assert ack.status == pb.Ack.ACCEPTED, ack.detail
    assert jiangsu.receive(from_suzhou(), SUZHOU).status == pb.Ack.ACCEPTED


def test_transfer_without_a_clear_number_is_malformed(
    jiangsu: Receiver, keys: dict[str, E.SigningKey]
) -> None:
    transfer = pb.OrderTransfer(transfer_id="t-x", from_node=NANJING, to_node=JS)
    assert (
        reason(
            jiangsu.receive(
                E.seal(sealed_for(transfer, JS), key=keys[NANJING], destination=JS).SerializeToString(),
                NANJING,
            )
        )
        == "PAYLOAD_MALFORMED"
    )


def test_destination_refuses_a_transfer_whose_sealed_order_is_another(flow: node_settings.Settings) -> None:
    """The clear number is what relays checked; the sealed order must be that one, from its origin."""
    act_as(flow, HANGZHOU)
    detail = pb.OrderDetail(
        record=pb.OrderRecord(
            order_number="320500202503011000001",
            origin_node=NANJING,  # a Suzhou number claimed as Nanjing's: upward it would show as Nanjing's
            region_code="330106",
            business_type=pb.COMPLAINT,
            channel_code="01",
            accepted_at_ms=1_740_800_000_000,
        ),
        content="出租车绕路",
        contact_phone="13912345678",
    )
    transfer = pb.OrderTransfer(
        transfer_id="t-odd",
        order_number="320500202503011000001",
        from_node=SUZHOU,
        to_node=HANGZHOU,
        order=detail,
    )
    flows.apply_transfer(HANGZHOU, SUZHOU, transfer)
    assert not Order.select().exists()
    (refusal,) = [payload(r, pb.OrderUpdate) for r in outbox(pb.OrderUpdate)]
    assert refusal.kind == pb.OrderUpdate.TRANSFER_REFUSED and "不符" in refusal.note


# ---- forged updates ------------------------------------------------------------------------------


def test_update_for_a_transfer_that_never_went_there_is_refused(
    jiangsu: Receiver, keys: dict[str, E.SigningKey]
) -> None:
    update = pb.OrderUpdate(
        order_number="330100202503011000001",
        transfer_id="t-hz-sz",
        from_node=NANJING,
        to_node=HANGZHOU,
        kind=pb.OrderUpdate.CLOSED,
        sequence=1,
    )

    def sent(message: pb.OrderUpdate, key: E.SigningKey) -> bytes:
        mid = f"{message.transfer_id}:{message.sequence}"
        raw = E.seal(sealed_for(message, HANGZHOU), key=key, destination=HANGZHOU, message_id=mid)
        return E.wrap_for_relay(
            raw.SerializeToString(), key=key, next_hop=JS, message_id=mid
        ).SerializeToString()

    assert reason(jiangsu.receive(sent(update, keys[NANJING]), NANJING)) == "UNKNOWN_TRANSFER"
    assert nothing_stored()
    # the transfer went to Suzhou: only Suzhou may answer it
    authority.note(
        pb.OrderTransfer.DESCRIPTOR.full_name,
        pb.OrderTransfer(
            transfer_id="t-hz-sz", order_number="330100202503011000001", from_node=HANGZHOU, to_node=SUZHOU
        ),
    )
    assert reason(jiangsu.receive(sent(update, keys[NANJING]), NANJING)) == "UNKNOWN_TRANSFER"
    update.from_node = SUZHOU
    assert jiangsu.receive(sent(update, keys[SUZHOU]), SUZHOU).status == pb.Ack.ACCEPTED
    # a refusal passing back marks the route: Suzhou no longer holds the order
    assert authority.holds(SUZHOU, "330100202503011000001")
    refusal = pb.OrderUpdate(
        order_number="330100202503011000001",
        transfer_id="t-hz-sz",
        from_node=SUZHOU,
        to_node=HANGZHOU,
        kind=pb.OrderUpdate.TRANSFER_REFUSED,
        sequence=2,
    )
    raw = E.seal(
        sealed_for(refusal, HANGZHOU), key=keys[SUZHOU], destination=HANGZHOU, message_id="t-hz-sz:2"
    )
    outer = E.wrap_for_relay(raw.SerializeToString(), key=keys[SUZHOU], next_hop=JS, message_id="t-hz-sz:2")
    assert jiangsu.receive(outer.SerializeToString(), SUZHOU).status == pb.Ack.ACCEPTED
    assert not authority.holds(SUZHOU, "330100202503011000001")


def test_every_refusal_is_counted_by_reason(jiangsu: Receiver, keys: dict[str, E.SigningKey]) -> None:
    from federation import metrics

    def stored() -> float:
        metrics.flush()
        row = MetricCounter.get_or_none(name="federation_rejects_total", labels='["RECORD_NOT_IN_SUBTREE"]')
        return 0 if row is None else row.value

    before = stored()
    batch = pb.OrderRecordBatch(records=[closed_record(REAL_HANGZHOU, HANGZHOU, NANJING)])
    jiangsu.receive(up(batch, keys[NANJING], JS), NANJING)
    assert stored() == before + 1
