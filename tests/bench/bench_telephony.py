"""Benchmark: the largest number of concurrent IVR calls with recording that this machine holds
through Kamailio and a pool of engines, with call setup p95 ≤ 50 ms and no lost calls, and the
CPU per call. Prints figures; asserts nothing about time.

Run: .venv/bin/python tests/bench/bench_telephony.py [--steps 20,40,60] [--per-engine 2]
                                                    [--rate 20] [--hold 15]

Each step starts a fresh stack (Kamailio + ceil(N / per-engine) engine processes + one SQLite
node database) and caller processes (PJSUA2, 4 calls each, all on this machine). A warm-up round
places N calls and hangs them up (first-call set-up in every process), then the measured round
places N calls at --rate calls per second (0 = all at once), keeps every call in the IVR with
recording and media both ways for --hold seconds, hangs up, stops the engines and counts the
finalized recordings of the measured calls.

Setup latency is given three ways:
  caller  makeCall → 200 OK at the caller process (what the pass criterion uses; it includes the
          load generator's own scheduling on the same two cores);
  wire    INVITE sent → 200 OK at the caller;
  node    INVITE in → 200 OK out at Kamailio (the node's front door, from its own log).
`--per-engine 2` is the production setting (each caller may need an agent leg; the PyPI wheel
allows 4 legs per process); `--per-engine 4` packs IVR-only calls.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.telephony.harness import Stack, UserAgent, wait_until

CLK = os.sysconf("SC_CLK_TCK")
TRACE = re.compile(r"hotline-setup (invite|answer) (\S+) (\d+\.\d+)")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total / CLK


def group_pids(pgid: int) -> list[int]:
    """Every process of a process group (Kamailio forks its workers into its own group)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid:
                    out.append(int(d.name))
    return out


def memory_mb(pids: list[int], key: str) -> float:
    """Sum of VmRSS (status) or Pss (smaps_rollup: shared pages split between processes)."""
    total = 0
    for pid in pids:
        src = f"/proc/{pid}/status" if key == "VmRSS" else f"/proc/{pid}/smaps_rollup"
        with contextlib.suppress(OSError):
            for line in Path(src).read_text().splitlines():
                if line.startswith(key + ":"):
                    total += int(line.split()[1])
    return total / 1024


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, math.ceil(q * len(values)) - 1)]


def place(uas: list[UserAgent], st: Stack, n: int, tag: str, rate: float, prefix: str) -> None:
    for i in range(n):
        uas[i % len(uas)].send(
            op="call", id=f"{tag}{i}", uri=st.uri, tone=1000, **{"from": f"{prefix}{i:04d}"}
        )
        if rate > 0:
            time.sleep(1.0 / rate)


def outcome(uas: list[UserAgent], tag: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    mine = [e for ua in uas for e in ua.find(lambda e: str(e.get("id", "")).startswith(tag))]
    return [e for e in mine if e["ev"] == "confirmed"], [
        e for e in mine if e["ev"] in ("disconnected", "error")
    ]


def node_setups(log: Path, since: float) -> list[float]:
    invites: dict[str, float] = {}
    answers: dict[str, float] = {}
    for m in TRACE.finditer(log.read_text(errors="replace")):
        kind, cid, t = m.group(1), m.group(2), float(m.group(3))
        target = invites if kind == "invite" else answers
        target.setdefault(cid, t)
    return [1000 * (answers[c] - t) for c, t in invites.items() if t >= since and c in answers]


def open_calls() -> int:
    from node import db
    from node.telephony.models import Call

    with db.connection():
        return int(Call.select().where(Call.state != "ended").count())


def run_step(n: int, per_engine: int, rate: float, hold: float) -> dict[str, Any]:
    from node import clock, db, pii
    from node.telephony.models import Call, CallEvent, Recording

    engines = max(1, math.ceil(n / per_engine))
    tmp = tempfile.mkdtemp(prefix="bench-tel-")
    try:
        st = Stack(Path(tmp), engines=engines, callers_per_engine=per_engine, trace_setup=True)
        uas: list[UserAgent] = []
        try:
            st.start()
            time.sleep(2.5)  # dispatcher probes mark every engine active
            uas = [st.ua(f"load{i}") for i in range(math.ceil(n / 4))]
            # warm-up: first call in every engine and caller process, then hang up
            place(uas, st, n, "w", rate, "1390000")
            with contextlib.suppress(AssertionError):
                wait_until(lambda: sum(map(len, outcome(uas, "w"))) >= n, 30, "warm-up")
            for i in range(n):
                uas[i % len(uas)].send(op="hangup", id=f"w{i}")
            with contextlib.suppress(AssertionError):
                wait_until(lambda: open_calls() == 0, 20, "warm-up calls ended")
            time.sleep(1.0)

            t_start = time.time()
            load0 = os.getloadavg()[0]
            place(uas, st, n, "b", rate, "1380000")
            with contextlib.suppress(AssertionError):
                wait_until(lambda: sum(map(len, outcome(uas, "b"))) >= n, 30, "all calls answered or failed")
            confirmed, _ = outcome(uas, "b")
            time.sleep(1.0)
            eng_pids = [p.pid for p in st.engines.values()]
            kam_pids = group_pids(st.kamailio.pid) if st.kamailio else []
            ua_pids = [ua.proc.pid for ua in uas]
            c0 = [cpu_seconds(p) for p in (eng_pids, kam_pids, ua_pids)]
            w0 = time.time()
            time.sleep(hold)
            c1 = [cpu_seconds(p) for p in (eng_pids, kam_pids, ua_pids)]
            w1 = time.time()
            _, gone = outcome(uas, "b")
            if gone:
                print("  lost:", sorted({(e["ev"], e.get("code"), e.get("error")) for e in gone}), flush=True)
            rss, pss = memory_mb(eng_pids, "VmRSS"), memory_mb(eng_pids, "Pss")
            load1 = os.getloadavg()[0]
            with db.connection():
                answer_ms = [
                    float((e.data or {}).get("answer_ms") or 0)
                    for e in CallEvent.select().where(
                        CallEvent.kind == "incoming", CallEvent.at >= clock.from_epoch_ms(int(t_start * 1000))
                    )
                ]
            for i in range(n):
                uas[i % len(uas)].send(op="hangup", id=f"b{i}")
            with contextlib.suppress(AssertionError):
                wait_until(lambda: open_calls() == 0, 20, "measured calls ended")
            exits = [ua.close() for ua in uas]
            uas = []
            node = node_setups(st.logs / "kamailio.err", t_start)
        finally:
            for ua in uas:
                ua.close()
            st.stop()  # engines finish: every recording is finalized before they exit
        digests = [pii.codec().digest(f"1380000{i:04d}") for i in range(n)]
        with db.connection():
            recs = list(Recording.select(Recording).join(Call).where(Call.caller_digest.in_(digests)))
        finalized = [r for r in recs if r.status == "finalized" and (r.duration_s or 0) >= hold]
        cpu = [100 * (b - a) / (w1 - w0) for a, b in zip(c0, c1, strict=True)]
        setups = [e["setup_ms"] for e in confirmed]
        wires = [e["wire_ms"] for e in confirmed]
        return {
            "calls": n,
            "engines": engines,
            "answered": len(confirmed),
            "lost": n - len(confirmed) + len(gone),
            "caller_p50": statistics.median(setups) if setups else float("nan"),
            "caller_p95": pct(setups, 0.95),
            "caller_max": max(setups, default=float("nan")),
            "wire_p95": pct(wires, 0.95),
            "node_p50": statistics.median(node) if node else float("nan"),
            "node_p95": pct(node, 0.95),
            "engine_answer_p95": pct(answer_ms, 0.95),
            "cpu_engines": cpu[0],
            "cpu_per_call": cpu[0] / max(1, len(confirmed)),
            "cpu_kamailio": cpu[1],
            "cpu_callers": cpu[2],
            "rss_mb": rss,
            "pss_mb": pss,
            "recordings": len(finalized),
            "ua_crashes": sum(1 for code in exits if code != 0),
            "load": (load0 + load1) / 2,
        }
    finally:
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", default="20,40,60")
    ap.add_argument("--per-engine", type=int, default=2, help="callers per engine (wheel: ≤4 legs)")
    ap.add_argument("--rate", type=float, default=20.0, help="new calls per second (0 = one burst)")
    ap.add_argument("--hold", type=float, default=15.0)
    args = ap.parse_args()
    print(
        f"per engine {args.per_engine} callers, arrival {args.rate or 'burst'} calls/s, hold {args.hold:.0f} s, "
        f"{os.cpu_count()} CPUs shared with the load generator"
    )
    print(
        "calls engines answered lost | setup ms caller p50/p95/max  wire p95  node p50/p95  engine p95 |"
        " CPU% of one core: engines per-call kamailio callers | engine RSS/PSS MB | recordings ua-crash load"
    )
    best = 0
    for n in [int(x) for x in args.steps.split(",")]:
        r = run_step(n, args.per_engine, args.rate, args.hold)
        ok = r["lost"] == 0 and r["caller_p95"] <= 50 and r["recordings"] == n
        print(
            f"{r['calls']:5d} {r['engines']:7d} {r['answered']:8d} {r['lost']:4d} | "
            f"{r['caller_p50']:6.1f} {r['caller_p95']:6.1f} {r['caller_max']:6.1f} {r['wire_p95']:9.1f} "
            f"{r['node_p50']:6.1f} {r['node_p95']:6.1f} {r['engine_answer_p95']:9.2f} | "
            f"{r['cpu_engines']:7.1f} {r['cpu_per_call']:8.3f} {r['cpu_kamailio']:8.1f} {r['cpu_callers']:7.1f} | "
            f"{r['rss_mb']:6.0f} {r['pss_mb']:6.0f} | {r['recordings']:4d}/{n:<4d} {r['ua_crashes']:3d} "
            f"{r['load']:4.1f}  {'OK' if ok else 'FAIL'}",
            flush=True,
        )
        if ok:
            best = max(best, n)
    print(
        f"largest concurrent IVR calls with recording meeting caller-side p95 ≤ 50 ms and no lost calls: {best}"
    )


if __name__ == "__main__":
    main()
