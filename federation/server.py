"""The federation gRPC server: mutual TLS, verify every envelope, store it in the inbox, ack.

The servicer is thin: it receives the raw request bytes (no generated deserializer runs before
verification), asks `envelope.open_envelope` to check them in the documented order, stores the
delivery, and answers ACCEPTED, DUPLICATE or REJECTED with a reason. Garbage never raises out of
a handler: it is acked REJECTED/MALFORMED.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from federation import inbox, metrics, pki, trust
from federation.envelope import (
    DEFAULT_SKEW_MS,
    GRPC_MAX_MESSAGE,
    KeyResolver,
    Rejected,
    ReplayCache,
    open_envelope,
    peek_message_id,
    rejected_ack,
)
from federation.routing import relay_allowed
from federation.v1 import federation_pb2 as pb
from node.db import database

log = logging.getLogger(__name__)
SERVICE = "federation.v1.Federation"


@dataclass
class ServerParams:
    me: str
    tls: pki.TlsMaterial | None  # None: Receiver only (unit tests); create_server requires TLS
    skew_ms: int = DEFAULT_SKEW_MS
    max_workers: int = 8
    keys: KeyResolver = field(default_factory=trust.DbKeyResolver)
    keys_dir: Path | None = None  # our sealing keys: sealed content for us is opened before storing

    @classmethod
    def from_settings(cls, settings: Any) -> ServerParams:
        return cls(me=settings.region, tls=pki.load_material(settings.keys_dir), keys_dir=settings.keys_dir)


class PeerCache:
    """Registered neighbours, re-read at most every `ttl` seconds — and at once (at most every
    `miss_ttl` seconds) when a neighbour not in the cache knocks: one just enrolled must not be
    refused for the cache's age."""

    def __init__(self, ttl: float = 2.0, miss_ttl: float = 0.2):
        self.ttl = ttl
        self.miss_ttl = miss_ttl
        self._at = -1e9
        self._peers: set[str] = set()
        self._lock = threading.Lock()

    def get(self, knocking: str | None = None) -> set[str]:
        with self._lock:
            age = time.monotonic() - self._at
            if age > self.ttl or (
                knocking is not None and knocking not in self._peers and age > self.miss_ttl
            ):
                self._peers = trust.peer_regions()
                self._at = time.monotonic()
            return self._peers


def transport_peer(context: grpc.ServicerContext) -> str | None:
    """The region named by the mTLS client certificate's SAN, if any."""
    auth = context.auth_context() or {}
    for raw in auth.get("x509_subject_alternative_name", []):
        name = raw.decode() if isinstance(raw, bytes) else str(raw)
        if (region := pki.region_from_san(name)) is not None:
            return region
    return None


class Receiver:
    """Verification + inbox for one node; usable without gRPC (the fuzz tests call `receive`)."""

    def __init__(self, params: ServerParams):
        from federation import flows

        flows.install()  # content prechecks and the upward tap need the business flows registered
        self.params = params
        self.replay = ReplayCache(params.skew_ms)
        self.peers = PeerCache()
        self._relay_allowed = relay_allowed(params.me)
        # Set whenever a new message is stored: a worker in the same process waits on it instead of
        # polling (tests/federation/fullnode.py); the production worker polls on its schedule.
        self.arrived = threading.Event()

    def receive(self, raw: bytes, peer: str | None) -> pb.Ack:
        me = self.params.me
        try:
            database.connect(reuse_if_open=True)  # one connection per server thread, kept open
            peers = self.peers.get(peer)
            registered = peer is not None and peer in peers
            delivery = open_envelope(
                raw,
                me=me,
                keys=self.params.keys,
                transport_peer=peer if registered else None,
                relay_allowed=self._relay_allowed,
                replay=self.replay,
                skew_ms=self.params.skew_ms,
            )
            message_id = delivery.message.message_id
            inbox.precheck(delivery, me, self.params.keys_dir)
            try:
                fresh = inbox.store(delivery, me, peers)
            except inbox.NoRoute as exc:
                raise Rejected(pb.Ack.NO_ROUTE, str(exc)) from None
            if fresh:
                self.arrived.set()
            status = pb.Ack.ACCEPTED if fresh else pb.Ack.DUPLICATE
            metrics.ACKS.labels(pb.Ack.Status.Name(status)).inc()
            return pb.Ack(message_id=message_id, status=status, received_at_ms=int(time.time() * 1000))
        except Rejected as exc:
            if exc.reason == pb.Ack.TRANSPORT_MISMATCH and peer is not None and peer not in self.peers.get():
                exc = Rejected(pb.Ack.TRANSPORT_MISMATCH, f"对端 {peer} 未登记为本节点的上下级节点")
            metrics.REJECTS.labels(exc.reason_name).inc()
            metrics.ACKS.labels("REJECTED").inc()
            log.warning("拒收报文 from=%s reason=%s %s", peer, exc.reason_name, exc.detail)
            return rejected_ack(peek_message_id(raw), exc)
        except Exception:
            log.exception("接收报文失败")
            metrics.REJECTS.labels("INTERNAL").inc()
            return rejected_ack(peek_message_id(raw), Rejected(pb.Ack.INTERNAL))


@contextlib.contextmanager
def _observed(method: str) -> Iterator[None]:
    """Count one RPC by method and outcome and observe its latency."""
    start = time.perf_counter()
    code = "OK"
    try:
        yield
    except Exception:
        code = "UNKNOWN"
        raise
    finally:
        metrics.RPCS.labels(method, code).inc()
        metrics.RPC_SECONDS.labels(method).observe(time.perf_counter() - start)


class MetricsInterceptor(grpc.ServerInterceptor):
    """Counts RPCs by method and status code and observes their latency."""

    def intercept_service(self, continuation: Callable[..., Any], details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        method = details.method.rsplit("/", 1)[-1]
        if handler.unary_unary is not None:
            inner = handler.unary_unary

            def unary(request: Any, context: grpc.ServicerContext) -> Any:
                with _observed(method):
                    return inner(request, context)

            return handler._replace(unary_unary=unary)
        if handler.stream_stream is not None:
            inner_s = handler.stream_stream

            def stream(requests: Iterator[Any], context: grpc.ServicerContext) -> Iterator[Any]:
                with _observed(method):
                    yield from inner_s(requests, context)

            return handler._replace(stream_stream=stream)
        return handler


def _handlers(receiver: Receiver) -> grpc.GenericRpcHandler:
    def push(raw: bytes, context: grpc.ServicerContext) -> pb.Ack:
        return receiver.receive(raw, transport_peer(context))

    def push_stream(requests: Iterator[bytes], context: grpc.ServicerContext) -> Iterator[pb.Ack]:
        peer = transport_peer(context)
        for raw in requests:
            yield receiver.receive(raw, peer)

    identity: Callable[[bytes], bytes] = lambda b: b  # noqa: E731  raw bytes reach the verifier
    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Push": grpc.unary_unary_rpc_method_handler(
                push, request_deserializer=identity, response_serializer=pb.Ack.SerializeToString
            ),
            "PushStream": grpc.stream_stream_rpc_method_handler(
                push_stream, request_deserializer=identity, response_serializer=pb.Ack.SerializeToString
            ),
        },
    )


def create_server(
    params_or_settings: Any, address: str = "127.0.0.1:0", *, receiver: Receiver | None = None
) -> tuple[grpc.Server, int]:
    """Build and start a federation server (mutual TLS only) bound to `address`; returns
    (server, port). The database proxy must already be bound (node.db.bind) in this process.
    `receiver` replaces the verifying receiver (the benchmark's unsigned baseline does)."""
    params = (
        params_or_settings
        if isinstance(params_or_settings, ServerParams)
        else ServerParams.from_settings(params_or_settings)
    )
    if params.tls is None:
        raise ValueError("联网服务必须使用双向 TLS（mTLS）")
    receiver = receiver or Receiver(params)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=params.max_workers, thread_name_prefix="fed"),
        interceptors=[MetricsInterceptor()],
        options=[
            ("grpc.so_reuseport", 0),
            ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE),
            ("grpc.max_send_message_length", GRPC_MAX_MESSAGE),
        ],
    )
    server.add_generic_rpc_handlers((_handlers(receiver),))
    health_servicer = health.HealthServicer()
    health_servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    health_servicer.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    creds = grpc.ssl_server_credentials(
        [(params.tls.key, params.tls.chain)], root_certificates=params.tls.root, require_client_auth=True
    )
    port = server.add_secure_port(address, creds)
    if port == 0:
        raise RuntimeError(f"无法绑定联网服务地址：{address}")
    server.start()
    server.receiver = receiver  # type: ignore[attr-defined]  (tests and tools inspect it)
    return server, port
