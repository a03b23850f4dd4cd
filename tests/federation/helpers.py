"""Helpers for federation tests: in-memory signing keys, node homes on disk, and node server
processes started from tests/federation/nodeproc.py (each its own process and database)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from federation import pki, trust
from federation.envelope import SigningKey, key_id_for
from federation.routing import level_of
from federation.v1 import federation_pb2 as pb

ROOT = Path(__file__).resolve().parents[2]


def signing_key(region: str, number: int = 1) -> SigningKey:
    return SigningKey(key_id_for(region, number), region, Ed25519PrivateKey.generate())


def public(key: SigningKey, **kw: int | bool) -> pb.PublicKey:
    return pb.PublicKey(key_id=key.key_id, node=key.node, public_key=key.public_bytes(), **kw)  # type: ignore[arg-type]


def record(key: SigningKey, **kw: int | bool) -> None:
    trust.record_key(public(key, **kw), source="enrolment")


@dataclass
class NodeHome:
    """A node directory: node.toml, secrets, TLS files, signing key, and trust.json for nodeproc."""

    region: str
    home: Path
    database_url: str
    key: SigningKey
    tls: pki.TlsMaterial
    trusted: list[SigningKey] = field(default_factory=list)
    peers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, base: Path, region: str, database_url: str, test_pki: pki.TestPki) -> NodeHome:
        home = base / f"node-{region}"
        (home / "keys" / "federation").mkdir(parents=True, exist_ok=True)
        node = cls(region, home, database_url, signing_key(region), test_pki.material(region))
        (home / "keys" / "session.key").write_text("test-session-secret")
        (home / "keys" / "data.key").write_text(Fernet.generate_key().decode())
        fed = home / "keys" / "federation"
        pki.write_private(fed / "signing-1.pem", pki.ed25519_pem(node.key.private))
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
        peers = [{"region": r, "address": a} for r, a in self.peers.items()]
        (self.home / "trust.json").write_text(json.dumps({"keys": keys, "peers": peers}))

    def trust(self, *others: NodeHome | SigningKey) -> None:
        for other in others:
            self.trusted.append(other.key if isinstance(other, NodeHome) else other)
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
