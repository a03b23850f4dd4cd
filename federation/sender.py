"""Outbox: enqueue messages in the caller's transaction, and drain them per next hop.

`enqueue()` is called by services inside the same `write_tx()` as the business change, so a
message exists if and only if the change committed. `Sender.drain()` pushes each next hop's rows
in FIFO order, signs every attempt afresh (new timestamp and nonce, same message id), stops that
hop's pass at the first transport error and retries with full-jitter exponential backoff, and
parks REJECTED messages for an operator (`hotline admin outbox list/retry`).
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.protobuf.message import Message

from federation import metrics, pki, trust
from federation.envelope import GRPC_MAX_MESSAGE, SigningKey, new_message_id, seal_bytes, wrap_for_relay
from federation.models import OutboxMessage, Peer
from federation.routing import next_hop
from federation.v1 import federation_pb2 as pb
from node import clock
from node.db import write_tx
from node.errors import NotFound, ValidationError

log = logging.getLogger(__name__)
BASE_BACKOFF = 0.5
MAX_BACKOFF = 300.0


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
    with write_tx():
        return OutboxMessage.create(
            origin=origin,
            message_id=message_id or new_message_id(),
            destination=destination,
            next_hop=hop,
            kind="own",
            payload_type=message.DESCRIPTOR.full_name,
            payload=message.SerializeToString(deterministic=True),
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


@dataclass
class SendResult:
    sent: int = 0
    duplicates: int = 0
    parked: int = 0
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

    def close(self) -> None:
        with self._lock:
            for _, channel in self._channels.values():
                channel.close()
            self._channels.clear()

    def _channel(self, peer: Peer) -> grpc.Channel:
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

    def build(self, row: OutboxMessage) -> pb.Envelope:
        """A freshly signed envelope for one attempt of `row`."""
        key = self._key(row.sign_key_id)
        if row.kind == "relay":
            return wrap_for_relay(
                bytes(row.payload), key=key, next_hop=row.next_hop, message_id=row.message_id
            )
        inner = seal_bytes(
            row.payload_type,
            bytes(row.payload),
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
        for hop in self.due_hops():
            self.drain_hop(hop, result, batch=batch, max_rounds=max_rounds)
        return result

    def drain_hop(self, hop: str, result: SendResult, *, batch: int = 200, max_rounds: int = 1000) -> None:
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
        metrics.SEND_ERRORS.labels(peer.region).inc()
        with write_tx():
            delay = _retry_later(row, detail)
            Peer.update(last_error=detail[:2000]).where(Peer.id == peer.id).execute()
        log.info("推送到 %s 失败（%s），%.1f 秒后重试", peer.region, detail, delay)

    def _acked(self, row: OutboxMessage, peer: Peer, ack: pb.Ack, result: SendResult) -> None:
        status = pb.Ack.Status.Name(ack.status) if ack.status in pb.Ack.Status.values() else "UNKNOWN"
        metrics.SENT.labels(peer.region, status).inc()
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
            else:
                reason = (
                    pb.Ack.Reason.Name(ack.reason)
                    if ack.reason in pb.Ack.Reason.values()
                    else str(ack.reason)
                )
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
    """Operator action: put parked messages back in the queue (all, or the given ids)."""
    query = OutboxMessage.update(status="pending", next_attempt_at=clock.now()).where(
        OutboxMessage.status == "parked"
    )
    if ids:
        query = query.where(OutboxMessage.id.in_(ids))
    with write_tx():
        return query.execute()
