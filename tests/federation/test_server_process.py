"""A real federation server in its own process (mTLS on 127.0.0.1, port 0), on SQLite and on
PostgreSQL: what it accepts, what it refuses at the TLS layer and at the envelope layer."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from federation import envelope as E
from federation import pki
from federation.server import ServerParams, create_server
from federation.v1 import federation_pb2 as pb
from tests.federation.helpers import NodeHome, NodeProcess, inbox_ids, signing_key

PROV, CITY, CITY2 = "320000", "320100", "320200"


class Client:
    def __init__(self, address: str, material: pki.TlsMaterial | None, server_region: str = PROV):
        if material is None:
            creds = grpc.ssl_channel_credentials(root_certificates=None)
        else:
            creds = grpc.ssl_channel_credentials(material.root, material.key, material.chain)
        self.channel = grpc.secure_channel(
            address, creds, options=[("grpc.ssl_target_name_override", pki.san_for(server_region))]
        )
        self.push = self.channel.unary_unary(
            "/federation.v1.Federation/Push",
            request_serializer=lambda b: b,
            response_deserializer=pb.Ack.FromString,
        )

    def send(self, raw: bytes) -> pb.Ack:
        return self.push(raw, timeout=10)


@pytest.fixture
def province(
    tmp_path: Path, node_db_url: str, test_pki: pki.TestPki
) -> Iterator[tuple[NodeProcess, NodeHome]]:
    node = NodeHome.create(tmp_path, PROV, node_db_url, test_pki)
    city = signing_key(CITY)
    city2 = signing_key(CITY2)
    node.trust(city, city2)
    node.peers = {CITY: "127.0.0.1:1", CITY2: "127.0.0.1:2"}
    node.write()
    node.city_key, node.city2_key = city, city2  # type: ignore[attr-defined]
    proc = NodeProcess(node).start()
    yield proc, node
    proc.stop()


def report(node: str = CITY) -> pb.DailyReport:
    return pb.DailyReport(node=node, report_date="2025-03-01", counts=[pb.Count(metric="accepted", value=1)])


def test_mtls_push_and_refusals(province: tuple[NodeProcess, NodeHome], test_pki: pki.TestPki) -> None:
    proc, node = province
    city_key, city2_key = node.city_key, node.city2_key  # type: ignore[attr-defined]
    client = Client(proc.address, test_pki.material(CITY))

    ack = client.send(E.seal(report(), key=city_key, destination=PROV, message_id="a-1").SerializeToString())
    assert ack.status == pb.Ack.ACCEPTED, ack.detail
    again = client.send(
        E.seal(report(), key=city_key, destination=PROV, message_id="a-1").SerializeToString()
    )
    assert again.status == pb.Ack.DUPLICATE
    assert len(inbox_ids(node.database_url)) == 1

    # envelope layer, over a genuine mTLS link of city 320100
    forged = E.seal(report(), key=city_key, destination=PROV)
    forged.signature = bytes(64)
    refusals = {
        "BAD_SIGNATURE": forged.SerializeToString(),
        "KEY_ORIGIN_MISMATCH": E.seal(
            report(CITY2), key=E.SigningKey(city_key.key_id, CITY2, city_key.private), destination=PROV
        ).SerializeToString(),
        "TRANSPORT_MISMATCH": E.seal(report(CITY2), key=city2_key, destination=PROV).SerializeToString(),
        "WRONG_DESTINATION": E.seal(report(), key=city_key, destination="330000").SerializeToString(),
        "UNKNOWN_KEY": E.seal(report(), key=signing_key(CITY, 7), destination=PROV).SerializeToString(),
        "MALFORMED": b"\x00\x01garbage",
    }
    for reason, raw in refusals.items():
        ack = client.send(raw)
        assert ack.status == pb.Ack.REJECTED and pb.Ack.Reason.Name(ack.reason) == reason, (reason, ack)
    assert len(inbox_ids(node.database_url)) == 1

    # TLS layer: a client certificate from another CA, or none at all, never gets through
    foreign = pki.TestPki.create()
    for material in (foreign.material(CITY), None):
        bad = Client(proc.address, material) if material else Client(proc.address, None)
        with pytest.raises(grpc.RpcError) as exc:
            bad.send(E.seal(report(), key=city_key, destination=PROV).SerializeToString())
        assert exc.value.code() == grpc.StatusCode.UNAVAILABLE
        bad.channel.close()
    # a server certificate for another node is refused by the client (name check)
    wrong_name = Client(proc.address, test_pki.material(CITY), server_region="330000")
    with pytest.raises(grpc.RpcError):
        wrong_name.send(b"")
    wrong_name.channel.close()
    assert len(inbox_ids(node.database_url)) == 1

    # still healthy after all that, and the metrics tell what was refused
    health = health_pb2_grpc.HealthStub(client.channel)
    resp = health.Check(health_pb2.HealthCheckRequest(service="federation.v1.Federation"), timeout=5)
    assert resp.status == health_pb2.HealthCheckResponse.SERVING
    text = urllib.request.urlopen(f"http://127.0.0.1:{proc.metrics_port}/metrics", timeout=5).read().decode()
    assert 'federation_rejects_total{reason="BAD_SIGNATURE"} 1.0' in text
    assert 'federation_rpcs_total{code="OK",method="Push"}' in text
    assert "federation_signing_key_expiry_seconds" in text
    assert "federation_tls_cert_expiry_seconds" in text
    client.channel.close()


def test_push_stream(province: tuple[NodeProcess, NodeHome], test_pki: pki.TestPki) -> None:
    proc, node = province
    city_key = node.city_key  # type: ignore[attr-defined]
    client = Client(proc.address, test_pki.material(CITY))
    stream = client.channel.stream_stream(
        "/federation.v1.Federation/PushStream",
        request_serializer=lambda b: b,
        response_deserializer=pb.Ack.FromString,
    )
    raws = [
        E.seal(report(), key=city_key, destination=PROV, message_id=f"s-{i}").SerializeToString()
        for i in range(20)
    ]
    raws.append(b"junk")
    acks = list(stream(iter(raws), timeout=20))
    assert [a.status for a in acks[:20]] == [pb.Ack.ACCEPTED] * 20
    assert [a.message_id for a in acks[:20]] == [f"s-{i}" for i in range(20)]
    assert acks[20].status == pb.Ack.REJECTED
    assert len(inbox_ids(node.database_url)) == 20
    client.channel.close()


def test_second_server_cannot_share_the_port(
    province: tuple[NodeProcess, NodeHome], test_pki: pki.TestPki
) -> None:
    proc, _ = province
    with pytest.raises(RuntimeError):
        create_server(ServerParams(me=PROV, tls=test_pki.material(PROV)), proc.address)


def scrape(proc: NodeProcess) -> str:
    return urllib.request.urlopen(f"http://127.0.0.1:{proc.metrics_port}/metrics", timeout=5).read().decode()


def test_counters_of_every_process_survive_a_restart(
    province: tuple[NodeProcess, NodeHome], test_pki: pki.TestPki, tmp_path: Path
) -> None:
    """The federation process exports what the worker counted (here: this test process playing the
    province's worker on the province's database), handshake failures included, and the counts
    of both survive a restart of the federation process."""
    from federation import metrics, trust
    from federation.sender import Sender
    from node import db as node_db

    proc, node = province
    client = Client(proc.address, test_pki.material(CITY))
    forged = E.seal(report(CITY2), key=node.city_key, destination=PROV)  # type: ignore[attr-defined]
    assert client.send(forged.SerializeToString()).status == pb.Ack.REJECTED
    client.channel.close()

    node_db.bind(node.database_url)
    try:
        with node_db.connection():
            trust.add_peer(CITY, PROV, address=proc.address)  # pushing to ourselves: a mis-certified link
        foreign = Sender(PROV, tmp_path, pki.TestPki.create().material(PROV), timeout=5)
        assert not foreign.probe(CITY)  # the server refuses a certificate from another hierarchy
        foreign.close()
        metrics.flush()
    finally:
        node_db.database.close()
        if hasattr(node_db.database.obj, "close_all"):
            node_db.database.obj.close_all()

    def counted(text: str) -> dict[str, float]:
        wanted = (
            'federation_rejects_total{reason="NOT_AUTHORISED"}',
            'federation_handshake_failures_total{peer="320100"}',
        )
        return {
            w: float(line.split()[-1]) for line in text.splitlines() for w in wanted if line.startswith(w)
        }

    seen = counted(scrape(proc))
    assert len(seen) == 2 and all(v >= 1 for v in seen.values()), seen
    proc.stop()
    proc.start()
    assert counted(scrape(proc)) == seen  # the server flushed its counts on the way out
