"""Signed envelopes: seal a payload for another node, and open (verify) what arrives.

The signature covers `sig_input(header, payload)`: a domain tag, then the header and the payload,
each length-prefixed, so the signed bytes are unambiguous. Receivers verify the bytes exactly as
received before parsing the payload, and never re-serialize to verify (protobuf maps have no
canonical byte form). Checks run in the order of docs/FEDERATION.md; each failure raises `Rejected`
with its own reason code and a Chinese + English detail:

    key known and valid → signature → key belongs to origin → destination is me → timestamp within
    skew → payload hash → payload type known → replay cache → transport binding (mTLS peer)

This module is pure: no database, no network. The trust store is anything with `get(key_id)`.
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from google.protobuf.message import DecodeError, Message

from federation.v1 import federation_pb2 as pb

DOMAIN_TAG = b"12328-federation-envelope-v1\0"
WIRE_VERSION = 1
DEFAULT_SKEW_MS = 5 * 60 * 1000
NONCE_BYTES = 16
MAX_ENVELOPE_BYTES = 16 * 1024 * 1024
GRPC_MAX_MESSAGE = MAX_ENVELOPE_BYTES + 1024 * 1024  # gRPC limit both ways: an envelope + headroom

Reason = pb.Ack.Reason

# Payload types a node accepts, by full protobuf name.
PAYLOAD_TYPES: dict[str, type[Message]] = {
    cls.DESCRIPTOR.full_name: cls
    for cls in (
        pb.RelayedEnvelope,
        pb.OrderRecord,
        pb.OrderRecordBatch,
        pb.OrderTransfer,
        pb.OrderUpdate,
        pb.DailyReport,
        pb.MonthlyForm,
        pb.KnowledgeBulletin,
        pb.SpotCheckOrder,
        pb.NodeDirectory,
        pb.KeyAnnouncement,
    )
}
RELAYED_TYPE = pb.RelayedEnvelope.DESCRIPTOR.full_name

REASON_TEXT: dict[int, tuple[str, str]] = {
    Reason.MALFORMED: ("报文格式错误", "malformed envelope"),
    Reason.UNSUPPORTED_VERSION: ("不支持的报文版本", "unsupported wire version"),
    Reason.UNKNOWN_KEY: ("签名密钥未知", "unknown signing key"),
    Reason.KEY_REVOKED: ("签名密钥已吊销", "signing key revoked"),
    Reason.KEY_NOT_VALID: ("签名密钥在报文时间不在有效期内", "key not valid at message time"),
    Reason.BAD_SIGNATURE: ("签名校验失败", "bad signature"),
    Reason.KEY_ORIGIN_MISMATCH: ("签名密钥不属于发送节点", "key does not belong to origin node"),
    Reason.WRONG_DESTINATION: ("报文目的节点不是本节点", "wrong destination"),
    Reason.STALE_TIMESTAMP: ("报文时间过旧", "stale timestamp"),
    Reason.FUTURE_TIMESTAMP: ("报文时间超前", "timestamp in the future"),
    Reason.PAYLOAD_HASH_MISMATCH: ("报文内容摘要不符", "payload hash mismatch"),
    Reason.UNKNOWN_PAYLOAD_TYPE: ("未知的报文类型", "unknown payload type"),
    Reason.PAYLOAD_MALFORMED: ("报文内容无法解析", "payload cannot be parsed"),
    Reason.REPLAYED: ("重放的报文", "replayed envelope"),
    Reason.TRANSPORT_MISMATCH: (
        "传输层证书与发送节点或其登记的转发节点不符",
        "mTLS peer is neither the origin nor its registered relay",
    ),
    Reason.NO_ROUTE: ("无法转发到目的节点", "no route to destination"),
    Reason.INTERNAL: ("接收方内部错误，请稍后重试", "receiver internal error, retry later"),
    Reason.NOT_AUTHORISED: (
        "报文内容不属于发送节点的权限范围",
        "payload speaks for a node the origin may not speak for",
    ),
    Reason.RECORD_NOT_IN_SUBTREE: (
        "工单记录不属于发送节点的辖区",
        "order record outside the sender's subtree",
    ),
    Reason.NUMBER_NOT_ORIGIN: ("工单编号不是受理节点编发的", "order number not issued by its origin"),
    Reason.TRANSFER_NOT_HELD: (
        "发送节点既未受理也未接收过该工单",
        "sender neither accepted nor received the order",
    ),
    Reason.UNKNOWN_TRANSFER: ("没有对应的转办或抽检", "no such transfer or spot check between these nodes"),
    Reason.SEAL_INVALID: ("加密内容无效", "sealed content missing or cannot be opened"),
}


class Rejected(Exception):
    """An envelope refused by a receiver check; `reason` is an `Ack.Reason` value."""

    def __init__(self, reason: int, extra: str = ""):
        self.reason = reason
        zh, en = REASON_TEXT.get(reason, ("报文被拒绝", "rejected"))
        self.detail = f"{zh}（{en}）" + (f"：{extra}" if extra else "")
        super().__init__(self.detail)

    @property
    def reason_name(self) -> str:
        return Reason.Name(self.reason)


@dataclass(frozen=True)
class KeyInfo:
    """A public signing key as the trust store knows it (times in epoch ms; 0 = unbounded)."""

    key_id: str
    node: str
    public_key: bytes
    valid_from_ms: int = 0
    valid_until_ms: int = 0
    revoked: bool = False


class KeyResolver(Protocol):
    def get(self, key_id: str) -> KeyInfo | None: ...


@dataclass(frozen=True)
class SigningKey:
    """This node's private Ed25519 key with its id `ed25519:<region>:<n>`."""

    key_id: str
    node: str
    private: Ed25519PrivateKey

    def public_bytes(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )


SIGNING = "ed25519"  # envelope signatures
SEALING = "x25519"  # content sealed to a destination (federation/seal.py)


def key_id_for(node: str, number: int, algorithm: str = SIGNING) -> str:
    return f"{algorithm}:{node}:{number}"


def parse_key_id(key_id: str) -> tuple[str, str, int]:
    """`ed25519:320100:3` → ("ed25519", "320100", 3) (or an `x25519:` sealing key); raises
    ValueError when malformed."""
    parts = key_id.split(":")
    if (
        len(parts) != 3
        or parts[0] not in (SIGNING, SEALING)
        or not all(p.isascii() and p.isdigit() for p in parts[1:])
    ):
        raise ValueError(f"密钥标识格式错误：{key_id!r}")
    return parts[0], parts[1], int(parts[2])


def now_ms() -> int:
    """Current epoch milliseconds from the node clock (frozen in tests)."""
    from node import clock

    return clock.to_epoch_ms(clock.now())


def new_message_id() -> str:
    """A sortable, unique message id (UUIDv7 layout: 48-bit ms timestamp + random)."""
    ms = int(time.time() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) & 0xFFF) << 64 | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def sig_input(header: bytes, payload: bytes) -> bytes:
    return b"".join(
        (DOMAIN_TAG, struct.pack(">I", len(header)), header, struct.pack(">Q", len(payload)), payload)
    )


def payload_type_of(message: Message) -> str:
    return message.DESCRIPTOR.full_name


def seal_bytes(
    payload_type: str,
    payload: bytes,
    *,
    key: SigningKey,
    destination: str,
    message_id: str,
    timestamp_ms: int | None = None,
    nonce: bytes | None = None,
) -> pb.Envelope:
    """Sign already-serialized payload bytes for `destination` (a fresh nonce and time each call)."""
    header = pb.EnvelopeHeader(
        version=WIRE_VERSION,
        payload_type=payload_type,
        origin_node=key.node,
        destination_node=destination,
        key_id=key.key_id,
        timestamp_ms=now_ms() if timestamp_ms is None else timestamp_ms,
        nonce=os.urandom(NONCE_BYTES) if nonce is None else nonce,
        message_id=message_id,
        payload_sha256=hashlib.sha256(payload).digest(),
    ).SerializeToString(deterministic=True)
    signature = key.private.sign(sig_input(header, payload))
    return pb.Envelope(header=header, payload=payload, signature=signature)


def seal(
    message: Message, *, key: SigningKey, destination: str, message_id: str | None = None, **kw: object
) -> pb.Envelope:
    """Serialize `message` deterministically and sign it."""
    return seal_bytes(
        payload_type_of(message),
        message.SerializeToString(deterministic=True),
        key=key,
        destination=destination,
        message_id=message_id or new_message_id(),
        **kw,  # type: ignore[arg-type]
    )


def wrap_for_relay(
    inner: bytes, *, key: SigningKey, next_hop: str, message_id: str, path: list[str] | None = None
) -> pb.Envelope:
    """A relay's fresh envelope for `next_hop`, carrying the origin's envelope bytes unchanged."""
    relayed = pb.RelayedEnvelope(envelope=inner, path=path or [])
    return seal(relayed, key=key, destination=next_hop, message_id=message_id)


class ReplayCache:
    """(origin, nonce) pairs seen inside the skew window; thread-safe and bounded."""

    def __init__(self, window_ms: int = DEFAULT_SKEW_MS, max_entries: int = 1_000_000):
        self.window_ms = window_ms
        self.max_entries = max_entries
        self._seen: dict[tuple[str, bytes], int] = {}
        self._lock = threading.Lock()
        self._next_prune = 0

    def check_and_add(self, origin: str, nonce: bytes, timestamp_ms: int, now: int) -> bool:
        """True if new (and now remembered), False if already seen."""
        with self._lock:
            if now >= self._next_prune or len(self._seen) >= self.max_entries:
                self._prune(now)
            key = (origin, nonce)
            if key in self._seen:
                return False
            self._seen[key] = max(timestamp_ms, now) + self.window_ms
            return True

    def forget(self, origin: str, nonce: bytes) -> None:
        with self._lock:
            self._seen.pop((origin, nonce), None)

    def _prune(self, now: int) -> None:
        self._seen = {k: exp for k, exp in self._seen.items() if exp > now}
        if len(self._seen) >= self.max_entries:  # still full: drop the oldest half
            keep = sorted(self._seen.items(), key=lambda kv: kv[1])[len(self._seen) // 2 :]
            self._seen = dict(keep)
        self._next_prune = now + 10_000

    def __len__(self) -> int:
        return len(self._seen)


@dataclass(frozen=True)
class Verified:
    """An envelope whose checks passed (up to and including the replay cache)."""

    header: pb.EnvelopeHeader
    payload: Message
    raw: bytes
    header_bytes: bytes
    payload_bytes: bytes

    @property
    def origin(self) -> str:
        return self.header.origin_node

    @property
    def message_id(self) -> str:
        return self.header.message_id

    @property
    def payload_type(self) -> str:
        return self.header.payload_type


def verify(
    raw: bytes,
    *,
    me: str | None,
    keys: KeyResolver,
    now: int | None = None,
    skew_ms: int = DEFAULT_SKEW_MS,
    replay: ReplayCache | None = None,
    check_stale: bool = True,
) -> Verified:
    """Run checks 1–8 on the received bytes. `me=None` skips the destination check (a relay's
    inner envelope travelling further); `check_stale=False` accepts an old but authentic inner
    envelope whose freshness was checked at the first hop."""
    if not isinstance(raw, bytes | bytearray) or len(raw) > MAX_ENVELOPE_BYTES:
        raise Rejected(Reason.MALFORMED, "报文过大或类型错误")
    raw = bytes(raw)
    try:
        env = pb.Envelope.FromString(raw)
        header = pb.EnvelopeHeader.FromString(env.header)
    except (DecodeError, ValueError, RuntimeError) as exc:
        raise Rejected(Reason.MALFORMED, type(exc).__name__) from None
    if not env.header or not env.signature:
        raise Rejected(Reason.MALFORMED, "缺少报文头或签名")
    if header.version != WIRE_VERSION:
        raise Rejected(Reason.UNSUPPORTED_VERSION, str(header.version))
    now = now_ms() if now is None else now
    # 1. key known and valid at the message time
    info = keys.get(header.key_id)
    if info is None:
        raise Rejected(Reason.UNKNOWN_KEY, header.key_id[:80])
    if info.revoked:
        raise Rejected(Reason.KEY_REVOKED, header.key_id)
    if (info.valid_from_ms and header.timestamp_ms < info.valid_from_ms) or (
        info.valid_until_ms and header.timestamp_ms > info.valid_until_ms
    ):
        raise Rejected(Reason.KEY_NOT_VALID, header.key_id)
    # 2. signature over the bytes exactly as received
    try:
        Ed25519PublicKey.from_public_bytes(info.public_key).verify(
            env.signature, sig_input(env.header, env.payload)
        )
    except (InvalidSignature, ValueError):
        raise Rejected(Reason.BAD_SIGNATURE, header.key_id) from None
    # 3. the key belongs to the claimed origin
    if info.node != header.origin_node:
        raise Rejected(Reason.KEY_ORIGIN_MISMATCH, f"{header.key_id} ≠ {header.origin_node[:20]}")
    # 4. addressed to me
    if me is not None and header.destination_node != me:
        raise Rejected(Reason.WRONG_DESTINATION, f"{header.destination_node[:20]} ≠ {me}")
    # 5. time within the skew window
    if header.timestamp_ms > now + skew_ms:
        raise Rejected(Reason.FUTURE_TIMESTAMP, f"{(header.timestamp_ms - now) // 1000} s")
    if check_stale and header.timestamp_ms < now - skew_ms:
        raise Rejected(Reason.STALE_TIMESTAMP, f"{(now - header.timestamp_ms) // 1000} s")
    # 6. payload hash
    if hashlib.sha256(env.payload).digest() != header.payload_sha256:
        raise Rejected(Reason.PAYLOAD_HASH_MISMATCH)
    # 7. payload type known and parseable
    cls = PAYLOAD_TYPES.get(header.payload_type)
    if cls is None:
        raise Rejected(Reason.UNKNOWN_PAYLOAD_TYPE, header.payload_type[:80])
    if not header.message_id or len(header.message_id) > 64:
        raise Rejected(Reason.MALFORMED, "message_id")
    try:
        payload = cls.FromString(env.payload)
    except (DecodeError, ValueError, RuntimeError):
        raise Rejected(Reason.PAYLOAD_MALFORMED, header.payload_type) from None
    # 8. replay cache
    if replay is not None and not replay.check_and_add(
        header.origin_node, header.nonce, header.timestamp_ms, now
    ):
        raise Rejected(Reason.REPLAYED, header.message_id)
    return Verified(
        header=header, payload=payload, raw=raw, header_bytes=env.header, payload_bytes=env.payload
    )


@dataclass(frozen=True)
class Delivery:
    """What a receiver stores: the origin's message, and how it reached us."""

    message: Verified  # the origin's envelope (the inner one when relayed)
    via: str  # the neighbour that handed it over (mTLS peer)
    relayed: bool
    path: tuple[str, ...] = ()


def open_envelope(
    raw: bytes,
    *,
    me: str,
    keys: KeyResolver,
    transport_peer: str | None,
    relay_allowed: Callable[[str, str], bool],
    replay: ReplayCache | None = None,
    now: int | None = None,
    skew_ms: int = DEFAULT_SKEW_MS,
) -> Delivery:
    """Verify an envelope received from `transport_peer` (region from its mTLS certificate).

    A `RelayedEnvelope` is unwrapped: the outer envelope must come from the mTLS peer, and
    `relay_allowed(relay, inner_origin)` must say that peer may relay for the inner origin; the
    inner envelope is verified end to end (signature, key owner, hash, type) but may be addressed
    further on (the caller routes it) and may be older than the skew window.
    """
    now = now_ms() if now is None else now
    outer = verify(raw, me=me, keys=keys, now=now, skew_ms=skew_ms, replay=replay)
    # 9. transport binding
    if transport_peer is None or outer.origin != transport_peer:
        if replay is not None:
            replay.forget(outer.origin, outer.header.nonce)
        raise Rejected(Reason.TRANSPORT_MISMATCH, f"{transport_peer} ≠ {outer.origin}")
    if outer.payload_type != RELAYED_TYPE:
        return Delivery(message=outer, via=transport_peer, relayed=False)
    relayed: pb.RelayedEnvelope = outer.payload  # type: ignore[assignment]
    inner = verify(relayed.envelope, me=None, keys=keys, now=now, skew_ms=skew_ms, check_stale=False)
    if inner.payload_type == RELAYED_TYPE:
        raise Rejected(Reason.MALFORMED, "嵌套转发")
    if inner.origin == me or not relay_allowed(transport_peer, inner.origin):
        if replay is not None:
            replay.forget(outer.origin, outer.header.nonce)
        raise Rejected(Reason.TRANSPORT_MISMATCH, f"{transport_peer} 不能转发 {inner.origin} 的报文")
    if inner.message_id != outer.message_id:
        raise Rejected(Reason.MALFORMED, "转发报文编号不一致")
    return Delivery(message=inner, via=transport_peer, relayed=True, path=tuple(relayed.path))


def rejected_ack(message_id: str, exc: Rejected) -> pb.Ack:
    return pb.Ack(
        message_id=message_id,
        status=pb.Ack.REJECTED,
        reason=exc.reason,  # type: ignore[arg-type]
        detail=exc.detail,
        received_at_ms=int(time.time() * 1000),
    )


def peek_message_id(raw: bytes) -> str:
    """Best-effort message id of unverified bytes, for the Ack of a rejected envelope."""
    try:
        return pb.EnvelopeHeader.FromString(pb.Envelope.FromString(raw).header).message_id[:64]
    except Exception:  # any garbage: the ack just has no id
        return ""
