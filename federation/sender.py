"""Outbox: enqueue messages in the caller's transaction, and drain them per next hop.

`enqueue()` is called by services inside the same `write_tx()` as the business change, so a
message exists if and only if the change committed. Messages carrying personal data (`seal.py`)
are stored encrypted with this node's data key and sealed to the destination's key at each
attempt. `Sender.drain()` pushes each next hop's rows in FIFO order, signs every attempt afresh
(new timestamp and nonce, same message id), stops that hop's pass at the first transport error
and retries with full-jitter exponential backoff, and parks REJECTED messages for an operator
(`hotline admin outbox list/retry`).

Waiting for a key does not block a queue: a message refused UNKNOWN_KEY (the next hop does not
know our key yet) or NO_ROUTE (the next hop has not linked the destination yet), or whose
destination's sealing key we do not know yet, is *held* and retried on its own with backoff, at
once when a directory or key announcement arrives (`release_held`), and parked after `HOLD_LIMIT`.

Recovery: while a hop's head is backing off, the sender probes the neighbour (gRPC health check,
every `PROBE_SECONDS`); the first success — probe or push — resets the backoff of the whole hop, so
a neighbour that comes back is drained at once instead of after each row's backoff.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from google.protobuf.message import Message

from federation import authority, metrics, pki, seal, trust
from federation.envelope import (
    GRPC_MAX_MESSAGE,
    PAYLOAD_TYPES,
    SigningKey,
    new_message_id,
    seal_bytes,
    wrap_for_relay,
)
from federation.models import OutboxMessage, Peer
from federation.routing import next_hop
from federation.v1 import federation_pb2 as pb
from node import clock
from node.db import write_tx
from node.errors import NotFound, ValidationError

if TYPE_CHECKING:
    import grpc

log = logging.getLogger(__name__)
BASE_BACKOFF = 0.5
MAX_BACKOFF = 300.0
PROBE_SECONDS = 5.0
HOLD_LIMIT = dt.timedelta(days=1)
# refusals that time cures: our key not yet known there (the directory is on its way), or the next
# hop not yet linked to the destination (a node being enrolled)
HELD_REASONS = ("UNKNOWN_KEY", "NO_ROUTE")
SEAL_KEY_UNKNOWN = "SEAL_KEY_UNKNOWN"
# gRPC details of a failed TLS handshake (the peer's certificate refused, or ours refused by it)
_HANDSHAKE_MARKERS = ("handshake", "ssl", "certificate", "tls")


class SealKeyUnknown(Exception):
    """The destination's sealing key is not known here yet."""


def _protect(data: bytes) -> bytes:
    from node import pii

    return pii.codec().encrypt_bytes(data)


def plain_payload(row: OutboxMessage) -> bytes:
    """The payload bytes of one of our own rows as the business queued them (unsealed)."""
    from node import pii

    data = bytes(row.payload)
    return pii.codec().decrypt_bytes(data) if row.protected else data


def enqueue(
    message: Message,
    *,
    origin: str,
    destination: str,
    message_id: str | None = None,
    sign_key_id: str = "",
) -> OutboxMessage:
    """Queue `message` from this node (`origin`) to `destination`; call inside the business
    transaction. The message id is the idempotency key across every retry."""
    if destination == origin:
        raise ValidationError("不能向本节点发送联网报文")
    hop = next_hop(origin, destination)
    now = clock.now()
    payload_type = message.DESCRIPTOR.full_name
    data = message.SerializeToString(deterministic=True)
    protected = seal.sealable(payload_type)
    with write_tx():
        authority.note(payload_type, message)
        return OutboxMessage.create(
            origin=origin,
            message_id=message_id or new_message_id(),
            destination=destination,
            next_hop=hop,
            kind="own",
            payload_type=payload_type,
            payload=_protect(data) if protected else data,
            protected=protected,
            sign_key_id=sign_key_id,
            created_at=now,
            next_attempt_at=now,
        )


def backoff_seconds(attempts: int, rng: random.Random | None = None) -> float:
    """Full jitter: uniform(0, min(cap, base·2^attempts))."""
    return (rng or random).uniform(0, min(MAX_BACKOFF, BASE_BACKOFF * (2 ** min(attempts, 20))))


def _retry_later(row: OutboxMessage, detail: str) -> float:
    """Count a failed attempt and back the row off; returns the delay in seconds."""
    delay = backoff_seconds(row.attempts)
    OutboxMessage.update(
        attempts=OutboxMessage.attempts + 1,
        next_attempt_at=clock.now() + dt.timedelta(seconds=delay),
        last_error=detail[:2000],
    ).where(OutboxMessage.id == row.id).execute()
    return delay


def _hold(row: OutboxMessage, reason: str, detail: str) -> str:
    """Set a row aside until a key arrives (or park it once it has waited `HOLD_LIMIT`); returns
    the status given."""
    if clock.now() - row.created_at > HOLD_LIMIT:
        status = "parked"
        detail = f"等待密钥超过 {HOLD_LIMIT.days} 天：{detail}"
    else:
        status = "held"
    OutboxMessage.update(
        status=status,
        reject_reason=reason,
        attempts=OutboxMessage.attempts + 1,
        next_attempt_at=clock.now() + dt.timedelta(seconds=backoff_seconds(row.attempts)),
        last_error=detail[:2000],
    ).where(OutboxMessage.id == row.id).execute()
    metrics.HELD.labels(row.next_hop, reason).inc()
    return status


def release_held(now_due: bool = True) -> int:
    """Put held rows back in their queues: all of them (a key just arrived), or those whose retry
    time has come (`now_due=False`)."""
    query = OutboxMessage.update(status="pending", next_attempt_at=clock.now()).where(
        OutboxMessage.status == "held"
    )
    if not now_due:
        query = query.where(OutboxMessage.next_attempt_at <= clock.now())
    with write_tx():
        return query.execute()


def _is_handshake(detail: str) -> bool:
    lowered = detail.lower()
    return any(marker in lowered for marker in _HANDSHAKE_MARKERS)


@dataclass
class SendResult:
    sent: int = 0
    duplicates: int = 0
    parked: int = 0
    held: int = 0
    errors: dict[str, str] = field(default_factory=dict)


class Sender:
    """Drains the outbox of node `me` over mTLS channels to its registered peers."""

    def __init__(
        self,
        me: str,
        keys_dir: Path,
        tls: pki.TlsMaterial,
        *,
        timeout: float = 10.0,
        signer: Callable[[str], SigningKey] | None = None,
    ):
        self.me = me
        self.keys_dir = keys_dir
        self.tls = tls
        self.timeout = timeout
        self._signer = signer
        self._channels: dict[str, tuple[str, grpc.Channel]] = {}
        self._lock = threading.Lock()
        self._probed: dict[str, float] = {}  # hop → monotonic time of the last probe
        self._backing_off: set[str] = set()  # hops whose last push failed

    def close(self) -> None:
        with self._lock:
            for _, channel in self._channels.values():
                channel.close()
            self._channels.clear()

    def _channel(self, peer: Peer) -> grpc.Channel:
        import grpc  # not at import: business code queues messages without loading gRPC

        with self._lock:
            cached = self._channels.get(peer.region)
            if cached and cached[0] == peer.address:
                return cached[1]
            if cached:
                cached[1].close()
            options = [
                ("grpc.initial_reconnect_backoff_ms", 500),
                ("grpc.max_reconnect_backoff_ms", 10000),
                ("grpc.max_send_message_length", GRPC_MAX_MESSAGE),
                ("grpc.ssl_target_name_override", pki.san_for(peer.region)),
            ]
            creds = grpc.ssl_channel_credentials(self.tls.root, self.tls.key, self.tls.chain)
            channel = grpc.secure_channel(peer.address, creds, options=options)
            self._channels[peer.region] = (peer.address, channel)
            return channel

    def _key(self, pinned: str) -> SigningKey:
        if pinned:
            return trust.load_signing_key(self.keys_dir, pinned)
        if self._signer is not None:
            return self._signer(self.me)
        return trust.active_signing_key(self.keys_dir, self.me)

    def _payload(self, row: OutboxMessage) -> bytes:
        """The payload to sign: sealed to the destination's current key when it carries personal data."""
        data = plain_payload(row)
        if not row.protected:
            return data
        recipient = trust.seal_key_for(row.destination)
        if recipient is None:
            raise SealKeyUnknown(f"尚未获得 {row.destination} 的加密公钥（等待节点目录）")
        message = PAYLOAD_TYPES[row.payload_type].FromString(data)
        return seal.seal(message, *recipient).SerializeToString(deterministic=True)

    def build(self, row: OutboxMessage) -> pb.Envelope:
        """A freshly signed envelope for one attempt of `row`."""
        key = self._key(row.sign_key_id)
        if row.kind == "relay":
            return wrap_for_relay(
                bytes(row.payload), key=key, next_hop=row.next_hop, message_id=row.message_id
            )
        inner = seal_bytes(
            row.payload_type,
            self._payload(row),
            key=key,
            destination=row.destination,
            message_id=row.message_id,
        )
        if row.next_hop == row.destination:
            return inner
        return wrap_for_relay(
            inner.SerializeToString(deterministic=True),
            key=key,
            next_hop=row.next_hop,
            message_id=row.message_id,
        )

    def due_hops(self) -> list[str]:
        now = clock.now()
        rows = (
            OutboxMessage.select(OutboxMessage.next_hop)
            .where((OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now))
            .distinct()
            .tuples()
        )
        return sorted(r[0] for r in rows)

    def drain(
        self, batch: int = 200, max_rounds: int = 1000, *, result: SendResult | None = None
    ) -> SendResult:
        """One pass over every next hop with due messages (counted into `result`, if given)."""
        result = result if result is not None else SendResult()
        if OutboxMessage.select().where(OutboxMessage.status == "held").exists():
            release_held(now_due=False)
        self.probe_backing_off()
        for hop in self.due_hops():
            self.drain_hop(hop, result, batch=batch, max_rounds=max_rounds)
        return result

    def probe_backing_off(self) -> None:
        """Probe each hop whose queue head is backing off; a neighbour that answers gets its queue
        back at once."""
        now = clock.now()
        rows = (
            OutboxMessage.select(OutboxMessage.next_hop)
            .where((OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at > now))
            .distinct()
            .tuples()
        )
        for (hop,) in rows:
            last = self._probed.get(hop)
            if last is not None and time.monotonic() - last < PROBE_SECONDS:
                continue
            self._probed[hop] = time.monotonic()
            if self.probe(hop):
                self._recovered(hop)

    def probe(self, hop: str) -> bool:
        """A gRPC health check of neighbour `hop` over our mTLS channel (counts handshake failures)."""
        from grpc_health.v1 import health_pb2

        peer = Peer.get_or_none((Peer.region == hop) & (Peer.enabled == True))  # noqa: E712
        if peer is None or not peer.address:
            return False
        check = self._channel(peer).unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=health_pb2.HealthCheckRequest.SerializeToString,
            response_deserializer=health_pb2.HealthCheckResponse.FromString,
        )
        import grpc

        try:
            answer = check(health_pb2.HealthCheckRequest(service="federation.v1.Federation"), timeout=3)
        except grpc.RpcError as exc:
            detail = f"{exc.code().name}: {exc.details()}" if hasattr(exc, "code") else str(exc)
            if _is_handshake(detail):
                metrics.HANDSHAKE_FAILURES.labels(hop).inc()
            return False
        return bool(answer.status == health_pb2.HealthCheckResponse.SERVING)

    def _recovered(self, hop: str) -> None:
        """The neighbour answers again: every row queued for it is due now."""
        self._backing_off.discard(hop)
        with write_tx():
            reset = (
                OutboxMessage.update(next_attempt_at=clock.now())
                .where(
                    (OutboxMessage.next_hop == hop)
                    & (OutboxMessage.status == "pending")
                    & (OutboxMessage.next_attempt_at > clock.now())
                )
                .execute()
            )
        if reset:
            log.info("%s 已恢复，%d 条待发报文立即重发", hop, reset)

    def drain_hop(self, hop: str, result: SendResult, *, batch: int = 200, max_rounds: int = 1000) -> None:
        import grpc

        peer = Peer.get_or_none((Peer.region == hop) & (Peer.enabled == True))  # noqa: E712
        if peer is None or not peer.address:
            result.errors[hop] = f"下一跳 {hop} 未登记或无地址"
            return
        stub_call = self._channel(peer).unary_unary(
            "/federation.v1.Federation/Push",
            request_serializer=lambda e: e.SerializeToString(deterministic=True),
            response_deserializer=pb.Ack.FromString,
        )
        for _ in range(max_rounds):
            rows = list(
                OutboxMessage.select()
                .where((OutboxMessage.next_hop == hop) & (OutboxMessage.status == "pending"))
                .order_by(OutboxMessage.id)
                .limit(batch)
            )
            if not rows:
                return
            if rows[0].next_attempt_at > clock.now():
                return  # the head is backing off: keep FIFO order
            for row in rows:
                try:
                    envelope = self.build(row)
                except SealKeyUnknown as exc:
                    with write_tx():
                        _hold(row, SEAL_KEY_UNKNOWN, str(exc))
                    result.held += 1
                    continue
                except (NotFound, ValidationError) as exc:
                    self._fail(row, peer, f"签名失败：{exc}")
                    result.errors[hop] = str(exc)
                    return
                try:
                    ack = stub_call(envelope, timeout=self.timeout)
                except grpc.RpcError as exc:
                    detail = f"{exc.code().name}: {exc.details()}" if hasattr(exc, "code") else str(exc)
                    self._fail(row, peer, detail)
                    result.errors[hop] = detail
                    return
                self._acked(row, peer, ack, result)
                if ack.status == pb.Ack.REJECTED and ack.reason == pb.Ack.INTERNAL:
                    return

    def _fail(self, row: OutboxMessage, peer: Peer, detail: str) -> None:
        handshake = _is_handshake(detail)
        metrics.SEND_ERRORS.labels(peer.region, "handshake" if handshake else "transport").inc()
        if handshake:
            metrics.HANDSHAKE_FAILURES.labels(peer.region).inc()
        self._backing_off.add(peer.region)
        self._probed[peer.region] = time.monotonic()  # the push was this round's probe
        with write_tx():
            delay = _retry_later(row, detail)
            Peer.update(last_error=detail[:2000]).where(Peer.id == peer.id).execute()
        log.info("推送到 %s 失败（%s），%.1f 秒后重试", peer.region, detail, delay)

    def _acked(self, row: OutboxMessage, peer: Peer, ack: pb.Ack, result: SendResult) -> None:
        status = pb.Ack.Status.Name(ack.status) if ack.status in pb.Ack.Status.values() else "UNKNOWN"
        reason = pb.Ack.Reason.Name(ack.reason) if ack.reason in pb.Ack.Reason.values() else str(ack.reason)
        metrics.SENT.labels(peer.region, status, reason if ack.status == pb.Ack.REJECTED else "").inc()
        if peer.region in self._backing_off:  # it answers again: the rest of its queue is due
            self._recovered(peer.region)
        now = clock.now()
        with write_tx():
            if ack.status in (pb.Ack.ACCEPTED, pb.Ack.DUPLICATE) and ack.message_id == row.message_id:
                OutboxMessage.update(
                    status="sent", sent_at=now, ack_status=status, attempts=OutboxMessage.attempts + 1
                ).where(OutboxMessage.id == row.id).execute()
                Peer.update(last_success_at=now, last_error="").where(Peer.id == peer.id).execute()
                if ack.status == pb.Ack.DUPLICATE:
                    result.duplicates += 1
                else:
                    result.sent += 1
            elif ack.status == pb.Ack.REJECTED and ack.reason == pb.Ack.INTERNAL:
                _retry_later(row, ack.detail)
            elif ack.status == pb.Ack.REJECTED and reason in HELD_REASONS:
                status = _hold(row, reason, ack.detail)
                result.held += status == "held"
                result.parked += status == "parked"
            else:
                detail = ack.detail or f"应答异常：{status} {ack.message_id!r}"
                OutboxMessage.update(
                    status="parked",
                    ack_status=status,
                    reject_reason=reason,
                    last_error=detail[:2000],
                    attempts=OutboxMessage.attempts + 1,
                ).where(OutboxMessage.id == row.id).execute()
                result.parked += 1
                log.warning("报文 %s 被 %s 拒收：%s", row.message_id, peer.region, detail)


def retry_parked(ids: list[int] | None = None) -> int:
    """Operator action: put parked (or held) messages back in the queue (all, or the given ids)."""
    query = OutboxMessage.update(status="pending", next_attempt_at=clock.now()).where(
        OutboxMessage.status.in_(("parked", "held"))
    )
    if ids:
        query = query.where(OutboxMessage.id.in_(ids))
    with write_tx():
        return query.execute()
