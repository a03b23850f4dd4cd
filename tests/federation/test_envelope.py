"""Envelope sealing and verification, check by check (pure: an in-memory key table)."""

from __future__ import annotations

import hashlib
import struct

import pytest

from federation import envelope as E
from federation.v1 import federation_pb2 as pb
from tests.federation.helpers import signing_key

CITY, PROV, OTHER = "320100", "320000", "320200"
NOW = 1_700_000_000_000


class Keys:
    """Trust store seam for unit tests."""

    def __init__(self, *infos: E.KeyInfo):
        self.infos = {i.key_id: i for i in infos}

    def get(self, key_id: str) -> E.KeyInfo | None:
        return self.infos.get(key_id)


def info(key: E.SigningKey, **kw: object) -> E.KeyInfo:
    return E.KeyInfo(key_id=key.key_id, node=key.node, public_key=key.public_bytes(), **kw)  # type: ignore[arg-type]


@pytest.fixture
def city() -> E.SigningKey:
    return signing_key(CITY)


def report() -> pb.DailyReport:
    return pb.DailyReport(
        node=CITY,
        report_date="2025-03-01",
        counts=[
            pb.Count(
                metric="accepted", business_type=pb.COMPLAINT, domain_code="04", channel_code="01", value=7
            )
        ],
    )


def sealed(key: E.SigningKey, **kw: object) -> bytes:
    kw.setdefault("timestamp_ms", NOW)
    env = E.seal(report(), key=key, destination=kw.pop("destination", PROV), **kw)  # type: ignore[arg-type]
    return env.SerializeToString()


def reason_of(raw: bytes, keys: Keys, **kw: object) -> str:
    kw.setdefault("now", NOW)
    with pytest.raises(E.Rejected) as exc:
        E.verify(raw, me=kw.pop("me", PROV), keys=keys, **kw)  # type: ignore[arg-type]
    assert "（" in exc.value.detail  # Chinese text with the English reason in brackets
    return exc.value.reason_name


def test_roundtrip_and_header(city: E.SigningKey) -> None:
    raw = sealed(city, message_id="m-1")
    v = E.verify(raw, me=PROV, keys=Keys(info(city)), now=NOW)
    assert v.origin == CITY and v.message_id == "m-1"
    assert v.payload == report()
    assert v.header.payload_type == "federation.v1.DailyReport"
    assert v.header.payload_sha256 == hashlib.sha256(v.payload_bytes).digest()
    assert len(v.header.nonce) == 16


def test_signature_covers_tagged_length_prefixed_bytes(city: E.SigningKey) -> None:
    env = pb.Envelope.FromString(sealed(city))
    data = E.sig_input(env.header, env.payload)
    assert data.startswith(b"12328-federation-envelope-v1\0")
    assert data[29:33] == struct.pack(">I", len(env.header))
    city.private.public_key().verify(env.signature, data)


def test_each_attempt_is_fresh_but_keeps_message_id(city: E.SigningKey) -> None:
    a = pb.Envelope.FromString(sealed(city, message_id="same"))
    b = pb.Envelope.FromString(sealed(city, message_id="same"))
    ha, hb = pb.EnvelopeHeader.FromString(a.header), pb.EnvelopeHeader.FromString(b.header)
    assert ha.message_id == hb.message_id and ha.nonce != hb.nonce and a.signature != b.signature


def test_maps_serialize_deterministically() -> None:
    one = pb.HistoryEntry(data={"b": "2", "a": "1", "c": "3"})
    two = pb.HistoryEntry(data={"c": "3", "a": "1", "b": "2"})
    assert one.SerializeToString(deterministic=True) == two.SerializeToString(deterministic=True)


def test_forged_signature(city: E.SigningKey) -> None:
    env = pb.Envelope.FromString(sealed(city))
    env.signature = bytes([env.signature[0] ^ 1]) + env.signature[1:]
    assert reason_of(env.SerializeToString(), Keys(info(city))) == "BAD_SIGNATURE"


def test_tampered_payload_fails_signature_not_parsing(city: E.SigningKey) -> None:
    env = pb.Envelope.FromString(sealed(city))
    env.payload = env.payload.replace(b"2025-03-01", b"2025-03-02")
    assert reason_of(env.SerializeToString(), Keys(info(city))) == "BAD_SIGNATURE"


def test_signed_with_other_key(city: E.SigningKey) -> None:
    impostor = E.SigningKey(city.key_id, CITY, signing_key(CITY).private)
    assert reason_of(sealed(impostor), Keys(info(city))) == "BAD_SIGNATURE"


def test_unknown_revoked_and_expired_keys(city: E.SigningKey) -> None:
    raw = sealed(city)
    assert reason_of(raw, Keys()) == "UNKNOWN_KEY"
    assert reason_of(raw, Keys(info(city, revoked=True))) == "KEY_REVOKED"
    assert reason_of(raw, Keys(info(city, valid_until_ms=NOW - 1))) == "KEY_NOT_VALID"
    assert reason_of(raw, Keys(info(city, valid_from_ms=NOW + 1))) == "KEY_NOT_VALID"
    E.verify(raw, me=PROV, keys=Keys(info(city, valid_from_ms=NOW - 1, valid_until_ms=NOW + 1)), now=NOW)


def test_key_of_another_node(city: E.SigningKey) -> None:
    # city 320100 signs with its own key but claims to be 320200
    other_claim = E.SigningKey(city.key_id, OTHER, city.private)
    assert reason_of(sealed(other_claim), Keys(info(city))) == "KEY_ORIGIN_MISMATCH"


def test_wrong_destination(city: E.SigningKey) -> None:
    assert reason_of(sealed(city, destination="330000"), Keys(info(city))) == "WRONG_DESTINATION"


def test_stale_and_future_timestamps(city: E.SigningKey) -> None:
    keys = Keys(info(city))
    skew = E.DEFAULT_SKEW_MS
    assert reason_of(sealed(city, timestamp_ms=NOW - skew - 1), keys) == "STALE_TIMESTAMP"
    assert reason_of(sealed(city, timestamp_ms=NOW + skew + 1), keys) == "FUTURE_TIMESTAMP"
    E.verify(sealed(city, timestamp_ms=NOW - skew + 1000), me=PROV, keys=keys, now=NOW)
    # an inner envelope relayed later may be old, but never from the future
    E.verify(sealed(city, timestamp_ms=NOW - 86_400_000), me=None, keys=keys, now=NOW, check_stale=False)


def test_hash_mismatch_even_when_signed(city: E.SigningKey) -> None:
    payload = report().SerializeToString(deterministic=True)
    header = pb.EnvelopeHeader(
        version=1,
        payload_type="federation.v1.DailyReport",
        origin_node=CITY,
        destination_node=PROV,
        key_id=city.key_id,
        timestamp_ms=NOW,
        nonce=b"n" * 16,
        message_id="m",
        payload_sha256=hashlib.sha256(b"other").digest(),
    ).SerializeToString()
    env = pb.Envelope(
        header=header, payload=payload, signature=city.private.sign(E.sig_input(header, payload))
    )
    assert reason_of(env.SerializeToString(), Keys(info(city))) == "PAYLOAD_HASH_MISMATCH"


def test_unknown_type_and_bad_payload(city: E.SigningKey) -> None:
    keys = Keys(info(city))
    raw = E.seal_bytes(
        "federation.v1.Nope", b"", key=city, destination=PROV, message_id="x", timestamp_ms=NOW
    )
    assert reason_of(raw.SerializeToString(), keys) == "UNKNOWN_PAYLOAD_TYPE"
    bad = E.seal_bytes(
        "federation.v1.DailyReport",
        b"\xff\xff\xff",
        key=city,
        destination=PROV,
        message_id="y",
        timestamp_ms=NOW,
    )
    assert reason_of(bad.SerializeToString(), keys) == "PAYLOAD_MALFORMED"


def test_malformed_and_version(city: E.SigningKey) -> None:
    keys = Keys(info(city))
    assert reason_of(b"\x0a\xff", keys) == "MALFORMED"
    assert reason_of(b"", keys) == "MALFORMED"
    env = pb.Envelope.FromString(sealed(city))
    header = pb.EnvelopeHeader.FromString(env.header)
    header.version = 2
    env.header = header.SerializeToString()
    env.signature = city.private.sign(E.sig_input(env.header, env.payload))
    assert reason_of(env.SerializeToString(), keys) == "UNSUPPORTED_VERSION"


def test_replay_cache(city: E.SigningKey) -> None:
    keys, cache = Keys(info(city)), E.ReplayCache()
    raw = sealed(city)
    E.verify(raw, me=PROV, keys=keys, now=NOW, replay=cache)
    assert reason_of(raw, keys, replay=cache) == "REPLAYED"
    # a legitimate retry (re-signed, same message id) is not a replay
    E.verify(sealed(city), me=PROV, keys=keys, now=NOW, replay=cache)
    assert len(cache) == 2
    # entries expire after the window; by then the timestamp check refuses the bytes anyway
    cache.check_and_add("x", b"n", NOW, NOW + 3 * E.DEFAULT_SKEW_MS)
    assert len(cache) == 1


def test_check_order_key_before_signature_before_destination(city: E.SigningKey) -> None:
    env = pb.Envelope.FromString(sealed(city, destination="330000", timestamp_ms=NOW - 10**9))
    env.signature = b"x" * 64
    raw = env.SerializeToString()
    assert reason_of(raw, Keys()) == "UNKNOWN_KEY"
    assert reason_of(raw, Keys(info(city))) == "BAD_SIGNATURE"


def relay_rule(relay: str, origin: str) -> bool:
    return (relay, origin) == (PROV, CITY)


def test_open_relayed_envelope(city: E.SigningKey) -> None:
    prov = signing_key(PROV)
    keys = Keys(info(city), info(prov))
    inner = sealed(city, destination="000000", message_id="r-1", timestamp_ms=NOW - 3_600_000)
    outer = E.wrap_for_relay(inner, key=prov, next_hop="000000", message_id="r-1", path=[CITY])
    d = E.open_envelope(
        outer.SerializeToString(), me="000000", keys=keys, transport_peer=PROV, relay_allowed=relay_rule
    )
    assert d.relayed and d.via == PROV and d.message.origin == CITY and d.message.raw == inner
    # the province may not relay for a city that is not on its side of the tree
    with pytest.raises(E.Rejected) as exc:
        E.open_envelope(
            outer.SerializeToString(),
            me="000000",
            keys=keys,
            transport_peer=PROV,
            relay_allowed=lambda r, o: False,
        )
    assert exc.value.reason_name == "TRANSPORT_MISMATCH"
    # a tampered inner envelope fails end to end
    bad = pb.Envelope.FromString(inner)
    bad.payload = bad.payload + b"\x28\x01"
    outer2 = E.wrap_for_relay(bad.SerializeToString(), key=prov, next_hop="000000", message_id="r-1")
    with pytest.raises(E.Rejected) as exc:
        E.open_envelope(
            outer2.SerializeToString(), me="000000", keys=keys, transport_peer=PROV, relay_allowed=relay_rule
        )
    assert exc.value.reason_name == "BAD_SIGNATURE"


def test_transport_binding(city: E.SigningKey) -> None:
    keys, cache = Keys(info(city)), E.ReplayCache()
    raw = sealed(city)
    with pytest.raises(E.Rejected) as exc:
        E.open_envelope(
            raw, me=PROV, keys=keys, transport_peer=OTHER, relay_allowed=relay_rule, replay=cache, now=NOW
        )
    assert exc.value.reason_name == "TRANSPORT_MISMATCH"
    # the nonce was not burnt by the refused attempt: the real sender's delivery still passes
    d = E.open_envelope(
        raw, me=PROV, keys=keys, transport_peer=CITY, relay_allowed=relay_rule, replay=cache, now=NOW
    )
    assert not d.relayed


def test_message_ids_are_unique_and_sortable() -> None:
    ids = [E.new_message_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    assert all(len(i) == 36 and i[14] == "7" for i in ids)
    assert E.peek_message_id(b"garbage") == ""


def test_key_ids() -> None:
    assert E.parse_key_id("ed25519:320100:3") == ("ed25519", "320100", 3)
    for bad in ("rsa:320100:1", "ed25519:32:x", "ed25519:320100", ""):
        with pytest.raises(ValueError):
            E.parse_key_id(bad)
