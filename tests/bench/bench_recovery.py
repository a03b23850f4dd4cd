"""Benchmark: recovery after an outage, and the command line's start-up time.

(a) A city queues 1,000 order records (one envelope each) for its province while the province's
    federation server (a separate process, mTLS, SQLite inbox) is down for 100 s; the city's sender
    keeps its production rhythm (a pass every 2 s, backoff per row, a probe of the neighbour while
    its queue backs off). The province comes back on the same port. Printed: seconds from the
    restart to the first successful push, and from the first success until the queue is empty
    (target ≤ 10 s: a success resets the backoff of the whole queue).
(b) `hotline --help`, `hotline admin --help` and a simple command on a node
    (`hotline -c NODE admin outbox list`), median of 5 runs each (target ≤ 1 s).

    .venv/bin/python -m tests.bench.bench_recovery [--outage 100] [--records 1000] [--part a|b|all]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

PROV, CITY = "320000", "320100"
PASS_SECONDS = 2.0  # the worker's federation_push interval


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def recovery(outage: float, records: int) -> None:
    from peewee import fn

    from federation import pki, sender, trust
    from federation.models import OutboxMessage
    from federation.v1 import federation_pb2 as pb
    from node import clock
    from node import db as node_db
    from node.registry import all_models
    from tests.federation.helpers import NodeHome, NodeProcess, record, signing_key

    work = Path(tempfile.mkdtemp(prefix="bench-recovery-"))
    test_pki = pki.TestPki.create()
    node_db.bind(f"sqlite:///{work / 'city.db'}")
    with node_db.connection():
        node_db.database.create_tables(all_models())
        city_key = signing_key(CITY)
        record(city_key)
    province = NodeHome.create(work, PROV, f"sqlite:///{work / 'province.db'}", test_pki)
    province.trust(city_key)
    province.peers = {CITY: "127.0.0.1:1"}
    province.write()
    port = free_port()
    toml = province.home / "node.toml"
    toml.write_text(toml.read_text().replace("port = 0\n", f"port = {port}\n", 1))
    proc = NodeProcess(province)
    out = sender.Sender(CITY, work, test_pki.material(CITY), timeout=5, signer=lambda me: city_key)
    with node_db.connection():
        trust.add_peer(PROV, CITY, address=f"127.0.0.1:{port}")
        for i in range(records):
            rec = pb.OrderRecord(
                order_number=f"320100202503011{i:06d}", origin_node=CITY, handling_node=CITY, revision=1
            )
            sender.enqueue(pb.OrderRecordBatch(records=[rec]), origin=CITY, destination=PROV)

    def left() -> int:
        return OutboxMessage.select().where(OutboxMessage.status != "sent").count()

    print(
        f"province down; {records} records queued; sender passes every {PASS_SECONDS:.0f} s for {outage:.0f} s"
    )
    start = time.monotonic()
    with node_db.connection():
        while time.monotonic() - start < outage:
            out.drain()
            time.sleep(PASS_SECONDS)
        head = OutboxMessage.select().order_by(OutboxMessage.id).first()
        wait = (head.next_attempt_at - clock.now()).total_seconds()
        print(f"head of the queue: {head.attempts} failed attempts, its own backoff ends in {wait:.0f} s")
        proc.start()
        back = clock.now()
        while left():
            out.drain()
            if left():
                time.sleep(PASS_SECONDS)
        first, last = (
            OutboxMessage.select(fn.MIN(OutboxMessage.sent_at), fn.MAX(OutboxMessage.sent_at)).tuples().get()
        )
    out.close()
    proc.stop()
    print(
        f"restart → first success      {(first - back).total_seconds():6.1f} s  (the server starting, then a probe)"
    )
    print(f"first success → queue empty  {(last - first).total_seconds():6.1f} s  (target ≤ 10 s)")
    print(f"restart → queue empty        {(last - back).total_seconds():6.1f} s  ({records} envelopes)")


def timed(argv: list[str], runs: int = 5) -> tuple[float, float]:
    """Median wall seconds and CPU seconds (user + system) of `runs` runs: on a loaded machine the
    wall time mostly says how long the process waited for a core."""
    import resource

    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, capture_output=True, check=True)
        walls.append(time.perf_counter() - t0)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def startup() -> None:
    hotline = str(ROOT / ".venv" / "bin" / "hotline")
    home = Path(tempfile.mkdtemp(prefix="bench-cli-")) / "node"
    subprocess.run(
        [hotline, "init", str(home), "--level", "city", "--region", "320100"], check=True, capture_output=True
    )
    subprocess.run([hotline, "-c", str(home), "migrate"], check=True, capture_output=True)
    for label, argv in (
        ("hotline --help", [hotline, "--help"]),
        ("hotline admin --help", [hotline, "admin", "--help"]),
        ("hotline -c NODE admin outbox list", [hotline, "-c", str(home), "admin", "outbox", "list"]),
        ("hotline -c NODE admin peers list", [hotline, "-c", str(home), "admin", "peers", "list"]),
    ):
        wall, cpu = timed(argv)
        print(f"{label:36s} {wall:5.2f} s wall, {cpu:5.2f} s CPU  (median of 5; target ≤ 1 s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--outage", type=float, default=100.0)
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--part", choices=["a", "b", "all"], default="all")
    args = parser.parse_args()
    print("load average before:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    if args.part in ("b", "all"):
        startup()
    if args.part in ("a", "all"):
        recovery(args.outage, args.records)


if __name__ == "__main__":
    main()
