"""Helpers for federation tests: in-memory signing keys, several nodes acting on one test database
(`act_as`, the outbox rows they queued, receiver refusals), node homes on disk, and node server
processes started from tests/federation/nodeproc.py (each its own process and database)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from google.protobuf.message import Message

from federation import pki, sender, trust
from federation import seal as sealing
from federation.codec import Count
from federation.envelope import SEALING, SigningKey, key_id_for, seal
from federation.models import InboxMessage, OutboxMessage
from federation.routing import level_of
from federation.server import Receiver
from federation.v1 import federation_pb2 as pb
from node import settings as node_settings
from node.db import open_database

M = TypeVar("M", bound=Message)

ROOT = Path(__file__).resolve().parents[2]


def signing_key(region: str, number: int = 1) -> SigningKey:
    return SigningKey(key_id_for(region, number), region, Ed25519PrivateKey.generate())


def public(key: SigningKey, **kw: int | bool) -> pb.PublicKey:
    return pb.PublicKey(key_id=key.key_id, node=key.node, public_key=key.public_bytes(), **kw)  # type: ignore[arg-type]


def record(key: SigningKey, **kw: int | bool) -> None:
    trust.record_key(public(key, **kw), source="enrolment")


# ---- several nodes on one test database (the `flow` fixture) ----


def act_as(settings: node_settings.Settings, region: str) -> None:
    """Make the engine and the flows run as node `region` from now on."""
    node_settings.configure(replace(settings, region=region, level=level_of(region)))


def outbox(payload_type: type[Message]) -> list[OutboxMessage]:
    name = payload_type.DESCRIPTOR.full_name
    return list(OutboxMessage.select().where(OutboxMessage.payload_type == name).order_by(OutboxMessage.id))


def payload(row: OutboxMessage, cls: type[M]) -> M:
    """What the business queued (before sealing for the destination)."""
    return cls.FromString(sender.plain_payload(row))


def sealed_for(message: M, destination: str) -> M:
    """What a real sender puts on the wire: personal data sealed to the destination's key (the one
    in the trust store, else a throwaway key: a receiver without its keys does not open it)."""
    if not sealing.sealable(message.DESCRIPTOR.full_name) or message.HasField("sealed"):  # type: ignore[attr-defined]
        return message
    recipient = trust.seal_key_for(destination)
    if recipient is None:
        recipient = (key_id_for(destination, 1, SEALING), sealing.public_bytes(X25519PrivateKey.generate()))
    return sealing.seal(message, *recipient)  # type: ignore[return-value]


def deliver(receiver: Receiver, message: Message, key: SigningKey, destination: str) -> pb.Ack:
    """Sign `message` with `key` (sealing its personal data as a sender does) and hand it to
    `receiver` over the key owner's own link."""
    envelope = seal(sealed_for(message, destination), key=key, destination=destination)
    return receiver.receive(envelope.SerializeToString(), key.node)


def refused(receiver: Receiver, message: Message, key: SigningKey, destination: str, reason: str) -> str:
    """Deliver, expect REJECTED with `reason` and nothing stored; returns the ack's detail."""
    ack = deliver(receiver, message, key, destination)
    assert ack.status == pb.Ack.REJECTED and pb.Ack.Reason.Name(ack.reason) == reason, ack.detail
    assert InboxMessage.select().count() == 0 and OutboxMessage.select().count() == 0
    return ack.detail


def until(check: Callable[[], Any], what: str, timeout: float = 60.0, poll: float = 0.3) -> Any:
    """Wait for `check()` to return something true (and return it), or fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"超时：{what}")
        time.sleep(poll)


def sum_counts(counts: Iterable[Count]) -> dict[str, int]:
    """Report counts summed per metric."""
    totals: dict[str, int] = {}
    for metric, _t, _d, _c, value in counts:
        totals[metric] = totals.get(metric, 0) + value
    return totals


def inbox_ids(database_url: str) -> list[str]:
    """Message ids in the inbox of another node's database, in arrival order."""
    database = open_database(database_url)
    try:
        with database.bind_ctx([InboxMessage]):
            return [r.message_id for r in InboxMessage.select().order_by(InboxMessage.id)]
    finally:
        database.close()
        if hasattr(database, "close_all"):
            database.close_all()


def seal_key(region: str, number: int = 1) -> tuple[str, X25519PrivateKey]:
    return key_id_for(region, number, SEALING), X25519PrivateKey.generate()


def record_seal_key(region: str, private: X25519PrivateKey, number: int = 1) -> str:
    """Put a node's sealing key in the trust store (as the directory would); returns its id."""
    key_id = key_id_for(region, number, SEALING)
    trust.record_key(
        pb.PublicKey(key_id=key_id, node=region, public_key=sealing.public_bytes(private)), source="directory"
    )
    return key_id


def write_seal_key(keys_dir: Path, private: X25519PrivateKey, number: int = 1) -> None:
    pki.write_private(pki.tls_dir(keys_dir) / f"seal-{number}.pem", pki.private_pem(private))


@dataclass
class NodeHome:
    """A node directory: node.toml, secrets, TLS files, signing and sealing keys, and trust.json
    for nodeproc."""

    region: str
    home: Path
    database_url: str
    key: SigningKey
    tls: pki.TlsMaterial
    trusted: list[SigningKey] = field(default_factory=list)
    peers: dict[str, str] = field(default_factory=dict)
    seal: X25519PrivateKey = field(default_factory=X25519PrivateKey.generate)
    trusted_seals: dict[str, X25519PrivateKey] = field(default_factory=dict)

    @classmethod
    def create(
        cls, base: Path, region: str, database_url: str, test_pki: pki.TestPki, key: SigningKey | None = None
    ) -> NodeHome:
        home = base / f"node-{region}"
        (home / "keys" / "federation").mkdir(parents=True, exist_ok=True)
        node = cls(region, home, database_url, key or signing_key(region), test_pki.material(region))
        (home / "keys" / "session.key").write_text("test-session-secret")
        (home / "keys" / "data.key").write_text(Fernet.generate_key().decode())
        fed = home / "keys" / "federation"
        pki.write_private(fed / "signing-1.pem", pki.private_pem(node.key.private))
        write_seal_key(home / "keys", node.seal)
        pki.write_private(fed / "tls.key", node.tls.key)
        (fed / "tls.crt").write_bytes(node.tls.chain)
        (fed / "root-ca.crt").write_bytes(node.tls.root)
        node.write()
        return node

    def write(self) -> None:
        (self.home / "node.toml").write_text(
            f'[node]\nregion = "{self.region}"\nlevel = "{level_of(self.region)}"\n'
            f'[database]\nurl = "{self.database_url}"\n'
            '[federation]\nhost = "127.0.0.1"\nport = 0\nmetrics_port = 0\n',
            encoding="utf-8",
        )
        keys = [
            {"key_id": k.key_id, "node": k.node, "public_key": k.public_bytes().hex(), "own": k is self.key}
            for k in [self.key, *self.trusted]
        ]
        keys += [
            {
                "key_id": key_id_for(region, 1, SEALING),
                "node": region,
                "public_key": sealing.public_bytes(private).hex(),
                "own": region == self.region,
            }
            for region, private in {self.region: self.seal, **self.trusted_seals}.items()
        ]
        peers = [{"region": r, "address": a} for r, a in self.peers.items()]
        (self.home / "trust.json").write_text(json.dumps({"keys": keys, "peers": peers}))

    def trust(self, *others: NodeHome | SigningKey) -> None:
        for other in others:
            self.trusted.append(other.key if isinstance(other, NodeHome) else other)
            if isinstance(other, NodeHome):
                self.trusted_seals[other.region] = other.seal
        self.write()


class NodeProcess:
    """A node's federation server in its own process (`nodeproc.py serve`)."""

    def __init__(self, node: NodeHome):
        self.node = node
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.metrics_port = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> NodeProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self._log = open(self.node.home / "server.log", "a")  # noqa: SIM115  closed in _closed()
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("nodeproc.py")), str(self.node.home), "serve"],
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=env,
            cwd=ROOT,
        )
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith("READY"):
                _, port, metrics_port = line.split()
                self.port, self.metrics_port = int(port), int(metrics_port)
                return self
            if not line and self.proc.poll() is not None:
                break
        self.kill()
        log = (self.node.home / "server.log").read_text()[-3000:]
        raise RuntimeError(f"节点进程未能启动：{self.node.region}\n{log}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._closed()

    def _closed(self) -> None:
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._closed()
