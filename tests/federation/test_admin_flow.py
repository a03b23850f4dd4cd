"""Operator flow through `hotline`, three real nodes (ministry, province, city) on 127.0.0.1:
init → migrate → admin keygen → enrol by the parent → import → servers in their own processes →
key rotation announced by the city, notarised by the province, forwarded to the ministry →
ministry directory issued and relayed down to the city."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from federation import directory, service
from federation.models import InboxMessage, NodeKey, OutboxMessage
from node import db as node_db
from node import settings as node_settings
from node.audit.models import AuditEntry
from tests.test_cli import hotline as cli

ROOT = Path(__file__).resolve().parents[2]
NODES = {"000000": "ministry", "320000": "province", "320100": "city"}


def hotline(home: Path, *args: str) -> str:
    return cli("-c", str(home), *args).stdout


class Server:
    def __init__(self, home: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "-c", str(home), "serve-federation"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert "端口" in line, line
        self.port = int(line.split("端口 ")[1].split("，")[0])

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(15)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


def worker_pass(home: Path) -> dict[str, object]:
    settings = node_settings.load(home)
    node_db.bind(settings.database_url)
    sender = service.make_sender(settings)
    try:
        return service.worker_pass(settings, sender)
    finally:
        sender.close()
        node_db.database.close()


def query(home: Path, fn):  # type: ignore[no-untyped-def]
    node_db.bind(node_settings.load(home).database_url)
    with node_db.connection():
        return fn()


@pytest.fixture
def homes(tmp_path: Path) -> Iterator[dict[str, Path]]:
    homes = {region: tmp_path / region for region in NODES}
    for region, level in NODES.items():
        cli(
            "init", str(homes[region]), "--level", level, "--region", region,
            "--federation-port", "0", "--metrics-port", "0",
        )  # fmt: skip
        hotline(homes[region], "migrate")
        hotline(homes[region], "admin", "keygen")
    yield homes


def test_enrol_rotate_and_directory(homes: dict[str, Path], tmp_path: Path) -> None:
    m, p, c = homes["000000"], homes["320000"], homes["320100"]
    req = lambda home: str(home / "keys" / "federation" / "enrol-request.json")  # noqa: E731
    hotline(m, "admin", "enrol", req(p), "-o", str(tmp_path / "p.json"))
    hotline(p, "admin", "import", str(tmp_path / "p.json"))
    hotline(p, "admin", "enrol", req(c), "-o", str(tmp_path / "c.json"))
    hotline(c, "admin", "import", str(tmp_path / "c.json"))
    # a city cannot be enrolled by a province it does not belong to, nor a province by a city
    bad = cli("-c", str(c), "admin", "enrol", req(p), check=False)
    assert bad.returncode != 0 and "不是本节点" in bad.stderr

    servers = {region: Server(homes[region]) for region in ("000000", "320000", "320100")}
    try:
        hotline(c, "admin", "peers", "add", "320000", f"127.0.0.1:{servers['320000'].port}")
        hotline(p, "admin", "peers", "add", "000000", f"127.0.0.1:{servers['000000'].port}")
        hotline(p, "admin", "peers", "add", "320100", f"127.0.0.1:{servers['320100'].port}")
        hotline(m, "admin", "peers", "add", "320000", f"127.0.0.1:{servers['320000'].port}")
        assert "320000" in hotline(c, "admin", "peers", "list")

        # the province vouched for the city's enrolment keys (signing, sealing) towards the ministry
        assert worker_pass(p)["sent"] == 2
        worker_pass(m)
        assert query(m, lambda: NodeKey.get(NodeKey.key_id == "ed25519:320100:1").notary) == "320000"
        assert query(m, lambda: NodeKey.get(NodeKey.key_id == "x25519:320100:1").notary) == "320000"

        out = hotline(c, "admin", "rotate", "--activate-after-hours", "0", "--overlap-days", "1")
        assert "ed25519:320100:2" in out
        # the new signing key and the sealing keys (old one shortened, new one), signed with key 1
        assert worker_pass(c)["sent"] == 3
        worker_pass(p)  # province records them as notary and forwards them up
        worker_pass(p)
        # nobody issues the directory: the ministry sees the new keys and sends it down at once
        assert worker_pass(m)["sent"] == 2
        new = query(m, lambda: NodeKey.get(NodeKey.key_id == "ed25519:320100:2"))
        assert (new.node, new.notary, new.source) == ("320100", "320000", "announcement")
        worker_pass(p)  # applies its own copy, relays the city's
        assert worker_pass(c)["processed"] >= 1  # signed by the ministry, relayed by the province
        serial = lambda: directory.current().serial  # noqa: E731
        assert query(c, serial) == query(m, serial) == 2  # at enrolment, and after the rotation
        rows = query(c, lambda: [(r.payload_type, r.status, r.via) for r in InboxMessage.select()])
        assert ("federation.v1.NodeDirectory", "processed", "320000") in rows
        known = query(c, lambda: {k.key_id for k in NodeKey.select()})
        assert {"ed25519:000000:1", "x25519:000000:1", "x25519:320000:1", "x25519:320100:2"} <= known
        assert worker_pass(m)["sent"] == 0  # nothing changed since
        assert "2 个节点" in hotline(m, "admin", "directory", "issue")  # an operator may still force one
        # after rotation the city signs with key 2, which every level now knows
        hotline(c, "admin", "revoke", "ed25519:320100:1")
        assert worker_pass(c)["sent"] == 1
        worker_pass(p)
        assert query(p, lambda: NodeKey.get(NodeKey.key_id == "ed25519:320100:1").revoked)
        assert query(c, lambda: OutboxMessage.select().where(OutboxMessage.status != "sent").count()) == 0
        listing = hotline(c, "admin", "outbox", "list")
        assert "KeyAnnouncement" in listing
        # every key and peer operation is in each node's audit log, which still verifies
        events = lambda: [(e.event, e.target) for e in AuditEntry.select().order_by(AuditEntry.seq)]  # noqa: E731
        city = query(c, events)
        for entry in [
            ("federation.key_generated", "node:320100"),
            ("federation.bundle_imported", "node:320000"),
            ("federation.peer_changed", "node:320000"),
            ("federation.key_rotated", "key:ed25519:320100:2"),
            ("federation.key_revoked", "key:ed25519:320100:1"),
        ]:
            assert entry in city, entry
        assert ("federation.enrolled", "node:320100") in query(p, events)
        assert ("federation.directory_issued", "node:000000") in query(m, events)
        assert query(
            m, lambda: AuditEntry.get(AuditEntry.event == "federation.enrolled").actor_name
        ).startswith("命令行")
        assert "审计日志完整" in hotline(c, "audit", "verify")
    finally:
        for server in servers.values():
            server.stop()
