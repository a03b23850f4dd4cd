"""Benchmark (a): signed envelopes per second over one mTLS link, against the same link without
signatures, measured in one run (issue 4 target: signed ≥ 60 % of unsigned).

Both modes use the same server process layout (a separate process on 127.0.0.1, port 0, mTLS with
client certificates, SQLite inbox with UNIQUE(origin, message_id)) and the same client loop of
sequential unary Push calls. Signed: the client seals each message (Ed25519, fresh nonce) and the
server runs every receiver check. Unsigned: the client sends header + payload without a signature
and the server only parses the header and stores the row.

    .venv/bin/python tests/bench/bench_federation.py [--messages 2000] [--rounds 3] [--part a|b|all]

Benchmark (b), the simulated national day, lives in tests/bench/national_day.py (`--part b` or the
default `all` runs it after (a) with its defaults).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402

from federation import envelope as E  # noqa: E402
from federation import pki  # noqa: E402
from federation.v1 import federation_pb2 as pb  # noqa: E402
from tests.federation.helpers import signing_key  # noqa: E402

PROV, CITY = "320000", "320100"


def serve(mode: str, workdir: Path) -> None:
    """Server process: bind SQLite, trust the city key, serve until stdin closes."""
    from federation import inbox, trust
    from federation.envelope import Delivery, Verified
    from federation.models import MODELS
    from federation.server import Receiver, ServerParams, create_server
    from node import db as node_db

    spec = json.loads((workdir / "spec.json").read_text())
    node_db.bind(f"sqlite:///{workdir / (mode + '.db')}")
    node_db.database.connect()
    node_db.database.create_tables(MODELS)
    trust.record_key(
        pb.PublicKey(key_id=spec["key_id"], node=CITY, public_key=bytes.fromhex(spec["public_key"])),
        source="enrolment",
    )
    trust.add_peer(CITY, PROV, address="127.0.0.1:1")
    tls = pki.TlsMaterial(**{k: bytes.fromhex(v) for k, v in spec["tls"].items()})
    params = ServerParams(me=PROV, tls=tls)

    class Unsigned(Receiver):
        def receive(self, raw: bytes, peer: str | None) -> pb.Ack:
            node_db.database.connect(reuse_if_open=True)
            env = pb.Envelope.FromString(raw)
            header = pb.EnvelopeHeader.FromString(env.header)
            fake = Verified(header, pb.OrderRecordBatch(), raw, env.header, env.payload)
            fresh = inbox.store(Delivery(message=fake, via=peer or "", relayed=False), PROV, {CITY})
            return pb.Ack(message_id=header.message_id, status=pb.Ack.ACCEPTED if fresh else pb.Ack.DUPLICATE)

    server, port = create_server(params, receiver=Unsigned(params) if mode == "unsigned" else None)
    print(f"READY {port}", flush=True)
    sys.stdin.read()
    server.stop(0)


def payload(i: int) -> pb.OrderRecordBatch:
    return pb.OrderRecordBatch(
        records=[
            pb.OrderRecord(
                order_number=f"3201002025030110{i:05d}",
                origin_node=CITY,
                handling_node=CITY,
                region_code="320102",
                business_type=pb.COMPLAINT,
                domain_code="04",
                sub_business_code="0403",
                channel_code="01",
                state="dispatched",
                state_category=pb.STATE_OPEN,
                accepted_at_ms=1_700_000_000_000 + i,
                title="出租车拒载投诉",
                revision=1,
            )
        ]
    )


def run_mode(mode: str, workdir: Path, n: int, key: E.SigningKey, client_tls: pki.TlsMaterial) -> float:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", mode, str(workdir)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert proc.stdout is not None and proc.stdin is not None
    line = proc.stdout.readline()
    if not line.startswith("READY"):
        proc.kill()
        raise RuntimeError(f"server failed: {line!r}")
    port = int(line.split()[1])
    creds = grpc.ssl_channel_credentials(client_tls.root, client_tls.key, client_tls.chain)
    channel = grpc.secure_channel(
        f"127.0.0.1:{port}", creds, options=[("grpc.ssl_target_name_override", pki.san_for(PROV))]
    )
    push = channel.unary_unary(
        "/federation.v1.Federation/Push",
        request_serializer=lambda b: b,
        response_deserializer=pb.Ack.FromString,
    )
    payloads = [payload(i).SerializeToString(deterministic=True) for i in range(n + 50)]

    def build(i: int) -> bytes:
        mid = f"{mode}-{os.getpid()}-{time.monotonic_ns()}-{i}"
        if mode == "signed":
            env = E.seal_bytes(
                "federation.v1.OrderRecordBatch", payloads[i], key=key, destination=PROV, message_id=mid
            )
        else:
            header = pb.EnvelopeHeader(
                version=1,
                payload_type="federation.v1.OrderRecordBatch",
                origin_node=CITY,
                destination_node=PROV,
                timestamp_ms=E.now_ms(),
                nonce=os.urandom(16),
                message_id=mid,
                payload_sha256=hashlib.sha256(payloads[i]).digest(),
            ).SerializeToString(deterministic=True)
            env = pb.Envelope(header=header, payload=payloads[i])
        return env.SerializeToString()

    for i in range(50):  # warm-up: connection, TLS handshake, SQLite pages
        assert push(build(n + i), timeout=10).status == pb.Ack.ACCEPTED
    start = time.perf_counter()
    for i in range(n):
        ack = push(build(i), timeout=10)
        if ack.status != pb.Ack.ACCEPTED:
            raise RuntimeError(f"{mode}: {ack}")
    elapsed = time.perf_counter() - start
    channel.close()
    proc.stdin.close()
    proc.wait(10)
    (workdir / f"{mode}.db").unlink(missing_ok=True)
    return n / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--part", choices=["a", "b", "all"], default="all")
    parser.add_argument("--serve", nargs=2, metavar=("MODE", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], Path(args.serve[1]))
        return
    if args.part in ("a", "all"):
        link_rates(args)
    if args.part in ("b", "all"):
        print("\n(b) 模拟全国一天", flush=True)
        subprocess.run([sys.executable, "-m", "tests.bench.national_day"], cwd=ROOT, check=True)


def link_rates(args: argparse.Namespace) -> None:
    test_pki = pki.TestPki.create()
    server_tls, client_tls = test_pki.material(PROV), test_pki.material(CITY)
    key = signing_key(CITY)
    rates: dict[str, list[float]] = {"signed": [], "unsigned": []}
    with tempfile.TemporaryDirectory(prefix="fed-bench-") as tmp:
        workdir = Path(tmp)
        spec = {
            "key_id": key.key_id,
            "public_key": key.public_bytes().hex(),
            "tls": {
                "key": server_tls.key.hex(),
                "chain": server_tls.chain.hex(),
                "root": server_tls.root.hex(),
            },
        }
        (workdir / "spec.json").write_text(json.dumps(spec))
        for r in range(args.rounds):  # alternate so both modes see the same machine load
            for mode in ("unsigned", "signed") if r % 2 == 0 else ("signed", "unsigned"):
                rate = run_mode(mode, workdir, args.messages, key, client_tls)
                rates[mode].append(rate)
                print(f"round {r + 1} {mode:8s} {rate:8.0f} msg/s", flush=True)
    signed, unsigned = statistics.median(rates["signed"]), statistics.median(rates["unsigned"])
    print(f"median signed   {signed:8.0f} msg/s  (mTLS, Ed25519 seal + all receiver checks, SQLite inbox)")
    print(f"median unsigned {unsigned:8.0f} msg/s  (same link and inbox, no signature or checks)")
    print(f"ratio signed/unsigned = {signed / unsigned:.1%}  (target ≥ 60 %)")


if __name__ == "__main__":
    main()
