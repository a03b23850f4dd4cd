"""Sealed personal data: a transfer's phone, name and text are readable by its destination only.
Unit tests of the box, then a transfer queued at its origin, relayed by a province and opened at its
destination on a real trust store (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from federation import envelope as E
from federation import inbox, seal, sender, trust
from federation.models import InboxMessage, OutboxMessage
from federation.server import Receiver, ServerParams
from federation.v1 import federation_pb2 as pb
from node import settings as node_settings
from node.workflow import service
from node.workflow.models import WorkOrder
from tests import factories
from tests.federation.helpers import act_as, record, record_seal_key, signing_key, write_seal_key

NANJING, JS, SUZHOU = "320100", "320000", "320500"
PHONE = "13912345678"


def transfer() -> pb.OrderTransfer:
    return pb.OrderTransfer(
        transfer_id="t-1",
        order_number="320100202503011000001",
        from_node=NANJING,
        to_node=SUZHOU,
        reason="属苏州管辖",
        order=pb.OrderDetail(content="出租车拒载，车牌苏E12345", contact_name="李女士", contact_phone=PHONE),
        history=[pb.HistoryEntry(action="create", note="来电人情绪激动")],
    )


def test_sealed_fields_travel_only_inside_the_box() -> None:
    key = X25519PrivateKey.generate()
    sealed = seal.seal(transfer(), "x25519:320500:1", seal.public_bytes(key))
    wire = sealed.SerializeToString()
    for secret in (PHONE, "李女士", "拒载", "情绪激动", "属苏州管辖"):
        assert secret.encode() not in wire
    assert (sealed.transfer_id, sealed.order_number, sealed.to_node) == (
        "t-1",
        "320100202503011000001",
        SUZHOU,
    )
    assert seal.open_sealed(sealed, key) == transfer()


def test_box_opens_for_its_key_only_and_not_elsewhere() -> None:
    key, other = X25519PrivateKey.generate(), X25519PrivateKey.generate()
    sealed = seal.seal(transfer(), "x25519:320500:1", seal.public_bytes(key))
    with pytest.raises(seal.SealError):
        seal.open_sealed(sealed, other)
    tampered = pb.OrderTransfer()
    tampered.CopyFrom(sealed)
    tampered.sealed.ciphertext = bytes([sealed.sealed.ciphertext[0] ^ 1]) + sealed.sealed.ciphertext[1:]
    with pytest.raises(seal.SealError):
        seal.open_sealed(tampered, key)
    moved = pb.OrderTransfer()  # the box put into another transfer (other number): refused
    moved.CopyFrom(sealed)
    moved.order_number = "320100202503011000002"
    with pytest.raises(seal.SealError):
        seal.open_sealed(moved, key)
    beside = pb.OrderTransfer()  # readable content added beside the box: refused
    beside.CopyFrom(sealed)
    beside.reason = "明文"
    with pytest.raises(seal.SealError, match="明文"):
        seal.open_sealed(beside, key)
    assert seal.clear_fields(beside) == ["reason"]


@pytest.fixture
def nodes(flow: node_settings.Settings) -> dict[str, object]:
    """Nanjing's and Jiangsu's signing keys and Suzhou's sealing key (its private key in our keys
    directory, as Suzhou's own), as the directory would spread them."""
    nanjing = signing_key(NANJING)
    record(nanjing)
    suzhou_seal = X25519PrivateKey.generate()
    record_seal_key(SUZHOU, suzhou_seal)
    write_seal_key(flow.keys_dir, suzhou_seal)
    return {"nanjing": nanjing, "settings": flow}


def test_transfer_is_sealed_at_origin_relay_and_destination(nodes: dict[str, object]) -> None:
    settings: node_settings.Settings = nodes["settings"]  # type: ignore[assignment]
    nanjing: E.SigningKey = nodes["nanjing"]  # type: ignore[assignment]
    order = factories.make_order("pending_dispatch", caller_name="李女士", contact_phone=PHONE)
    service.perform(
        factories.actor("dispatcher"), order.number, "transfer", {"region_code": "320505", "reason": "x"}
    )
    (row,) = OutboxMessage.select().where(OutboxMessage.payload_type == "federation.v1.OrderTransfer")
    assert row.protected and PHONE.encode() not in bytes(row.payload)  # at rest at the origin
    out = sender.Sender(NANJING, settings.keys_dir, None, signer=lambda me: nanjing)  # type: ignore[arg-type]
    envelope = out.build(row)
    wire = envelope.SerializeToString()
    assert PHONE.encode() not in wire and "李女士".encode() not in wire
    row.delete_instance()  # (one database plays every node: the relay's row takes the same id)

    # Jiangsu passes it on: it stores ciphertext only
    for peer in (NANJING, SUZHOU):
        trust.add_peer(peer, JS, address="127.0.0.1:1")
    ack = Receiver(ServerParams(me=JS, tls=None)).receive(wire, NANJING)
    assert ack.status == pb.Ack.ACCEPTED, ack.detail
    stored = b"".join(bytes(r.envelope) for r in InboxMessage.select()) + b"".join(
        bytes(r.payload) for r in OutboxMessage.select().where(OutboxMessage.kind == "relay")
    )
    assert stored and PHONE.encode() not in stored and "李女士".encode() not in stored

    # Suzhou opens it when it applies it; its inbox keeps the ciphertext
    relayed = OutboxMessage.get(OutboxMessage.kind == "relay")
    InboxMessage.delete().execute()
    OutboxMessage.delete().execute()
    WorkOrder.update(number="320100202503011999999").where(WorkOrder.id == order.id).execute()  # one DB
    act_as(settings, SUZHOU)
    trust.add_peer(JS, SUZHOU, address="127.0.0.1:1")
    js = signing_key(JS)
    record(js)
    suzhou = Receiver(ServerParams(me=SUZHOU, tls=None, keys_dir=settings.keys_dir))
    outer = E.wrap_for_relay(bytes(relayed.payload), key=js, next_hop=SUZHOU, message_id=relayed.message_id)
    ack = suzhou.receive(outer.SerializeToString(), JS)
    assert ack.status == pb.Ack.ACCEPTED, (ack, list(InboxMessage.select().dicts()))
    assert inbox.process(SUZHOU, keys_dir=settings.keys_dir) == {"processed": 1, "failed": 0}
    there = WorkOrder.get(WorkOrder.number == order.number)
    assert there.caller_name == "李女士" and there.contact_phone_masked.endswith("5678")
    assert PHONE not in there.contact_phone_cipher  # encrypted at rest like a local order
    assert PHONE.encode() not in bytes(InboxMessage.get().envelope)


def test_destination_refuses_content_it_cannot_open(nodes: dict[str, object]) -> None:
    settings: node_settings.Settings = nodes["settings"]  # type: ignore[assignment]
    jiangsu = signing_key(JS)
    record(jiangsu)
    trust.add_peer(JS, SUZHOU, address="127.0.0.1:1")
    suzhou = Receiver(ServerParams(me=SUZHOU, tls=None, keys_dir=settings.keys_dir))

    def send(message: pb.OrderTransfer) -> pb.Ack:
        return suzhou.receive(E.seal(message, key=jiangsu, destination=SUZHOU).SerializeToString(), JS)

    plain = transfer()
    plain.from_node, plain.order_number = JS, "320000202503011000001"  # the province's own order
    assert pb.Ack.Reason.Name(send(plain).reason) == "SEAL_INVALID"  # in clear
    wrong = seal.seal(plain, "x25519:320500:1", seal.public_bytes(X25519PrivateKey.generate()))
    ack = send(wrong)  # sealed to a key that is not Suzhou's
    assert pb.Ack.Reason.Name(ack.reason) == "SEAL_INVALID" and "无法解开" in ack.detail
    other_node = seal.seal(plain, "x25519:320200:1", seal.public_bytes(X25519PrivateKey.generate()))
    assert "不是发给本节点" in send(other_node).detail
    assert not InboxMessage.select().exists()
    right = seal.seal(plain, *trust.seal_key_for(SUZHOU))  # type: ignore[misc]
    assert send(right).status == pb.Ack.ACCEPTED


def test_message_for_a_node_whose_key_is_unknown_waits_without_blocking(flow: node_settings.Settings) -> None:
    nanjing = signing_key(NANJING)
    record(nanjing)
    order = factories.make_order("pending_dispatch")
    service.perform(
        factories.actor("dispatcher"), order.number, "transfer", {"region_code": "320505", "reason": "x"}
    )
    trust.add_peer(JS, NANJING, address="127.0.0.1:9")  # nothing listens: the report behind it errors
    out = sender.Sender(NANJING, flow.keys_dir, pki_material(), signer=lambda me: nanjing, timeout=1)
    report = sender.enqueue(
        pb.DailyReport(node=NANJING, report_date="2025-03-01"), origin=NANJING, destination=JS
    )
    result = out.drain()
    held = OutboxMessage.get(OutboxMessage.payload_type == "federation.v1.OrderTransfer")
    assert (held.status, held.reject_reason, result.held) == ("held", "SEAL_KEY_UNKNOWN", 1)
    assert JS in result.errors and OutboxMessage.get_by_id(report.id).attempts == 1  # the queue went on
    record_seal_key(SUZHOU, X25519PrivateKey.generate())  # the directory arrives
    assert sender.release_held() == 1
    assert OutboxMessage.get_by_id(held.id).status == "pending"
    out.close()


def pki_material():  # type: ignore[no-untyped-def]
    from federation import pki

    return pki.TestPki.create().material(NANJING)
