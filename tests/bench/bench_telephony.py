"""Benchmark: the largest number of concurrent IVR calls with recording that this machine holds
through Kamailio and a pool of engines, with call setup p95 ≤ 50 ms and no lost calls, and the
CPU per call. Prints figures; asserts nothing about time.

Run: .venv/bin/python tests/bench/bench_telephony.py [--steps 20,40,60,80] [--hold 20]
Each step starts a fresh stack with N/2 engines (2 callers per engine, the wheel's limit with a
free agent leg), places N calls in bursts from caller processes (4 calls each), keeps every call
in the IVR menu with media flowing both ways for --hold seconds, then measures setup latency
(INVITE → 200 OK at the caller), lost calls, recordings written and engine CPU over the window.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.telephony.harness import Stack, wait_until

CLK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total / CLK


def rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def run_step(n: int, hold: float) -> dict[str, float]:
    from node import db
    from node.telephony.models import Call, Recording

    engines = max(1, (n + 1) // 2)
    tmp = tempfile.mkdtemp(prefix="bench-tel-")
    try:
        st = Stack(Path(tmp), engines=engines, callers_per_engine=2)
        try:
            st.start()
            time.sleep(2.5)  # dispatcher probes mark every engine active
            uas = [st.ua(f"load{i}") for i in range((n + 3) // 4)]
            # warm-up round: every engine and caller process takes its first call (lazy PJSIP set-up),
            # then hangs up; the measured round below runs on warm long-lived engines.
            for i in range(n):
                uas[i // 4].send(op="call", id=f"w{i}", uri=st.uri, **{"from": f"1390000{i:04d}"})
            with contextlib.suppress(AssertionError):
                wait_until(
                    lambda: sum(len(ua.find(lambda e: e["ev"] == "confirmed")) for ua in uas) >= n, 20, "warm"
                )
            cold = sorted(e["setup_ms"] for ua in uas for e in ua.find(lambda e: e["ev"] == "confirmed"))
            for ua in uas:
                ua.close()  # fresh caller processes for the measured round; the engines stay warm
            uas = [st.ua(f"load{i}b") for i in range((n + 3) // 4)]
            time.sleep(2.0)
            t_start = time.time()
            sent: dict[str, float] = {}
            for i in range(n):
                cid = f"b{i}"
                sent[cid] = time.time()
                uas[i // 4].send(op="call", id=cid, uri=st.uri, tone=1000, **{"from": f"1380000{i:04d}"})
                if i % 4 == 3:
                    time.sleep(0.01)

            def confirmed() -> list[dict]:
                return [e for ua in uas for e in ua.find(lambda e: e["ev"] in ("confirmed", "disconnected"))]

            with contextlib.suppress(AssertionError):
                wait_until(lambda: len(confirmed()) >= n, 30, "all calls answered or failed")
            setups = [e["setup_ms"] for e in confirmed() if e["ev"] == "confirmed"]
            answered = len(setups)
            pids = [p.pid for p in st.engines.values()]
            time.sleep(1.0)
            c0, w0 = cpu_seconds(pids), time.time()
            time.sleep(hold)
            c1, w1 = cpu_seconds(pids), time.time()
            gone = [e for ua in uas for e in ua.find(lambda e: e["ev"] in ("disconnected", "error"))]
            dropped = len(gone)
            if gone:
                print("  lost:", sorted({(e["ev"], e.get("code"), e.get("error")) for e in gone}), flush=True)
            rss = rss_mb(pids)
            for ua in uas:
                ua.close()
            time.sleep(1.5)
            with db.connection():
                calls = Call.select().where(Call.started_at.is_null(False)).count()
                recs = Recording.select().where(Recording.status == "finalized").count() - len(cold)
            cpu_pct = 100 * (c1 - c0) / (w1 - w0)
            setups.sort()
            return {
                "calls": n,
                "engines": engines,
                "answered": answered,
                "lost": n - answered + dropped,
                "setup_p50_ms": statistics.median(setups) if setups else float("nan"),
                "setup_p95_ms": setups[int(0.95 * (len(setups) - 1))] if setups else float("nan"),
                "setup_max_ms": setups[-1] if setups else float("nan"),
                "engine_cpu_pct": cpu_pct,
                "cpu_per_call_pct": cpu_pct / max(1, answered),
                "engine_rss_mb": rss,
                "db_calls": calls,
                "recordings_finalized": recs,
                "wall_s": time.time() - t_start,
                "cold_p95_ms": cold[int(0.95 * (len(cold) - 1))] if cold else float("nan"),
            }
        finally:
            st.stop()
    finally:
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", default="20,40,60,80")
    ap.add_argument("--hold", type=float, default=15.0)
    args = ap.parse_args()
    best = 0
    print("calls engines answered lost p50_ms p95_ms max_ms cpu%(1 core) cpu%/call rss_MB recordings")
    for n in [int(x) for x in args.steps.split(",")]:
        r = run_step(n, args.hold)
        ok = r["lost"] == 0 and r["setup_p95_ms"] <= 50 and r["recordings_finalized"] == n
        print(
            f"{r['calls']:5d} {r['engines']:7d} {r['answered']:8d} {r['lost']:4d} {r['setup_p50_ms']:6.1f} "
            f"{r['setup_p95_ms']:6.1f} {r['setup_max_ms']:6.1f} {r['engine_cpu_pct']:12.1f} "
            f"{r['cpu_per_call_pct']:9.3f} {r['engine_rss_mb']:6.0f} {r['recordings_finalized']:10d}"
            f"  {'OK' if ok else 'FAIL'}",
            flush=True,
        )
        if ok:
            best = max(best, n)
    print(f"largest concurrent IVR calls with recording meeting p95 ≤ 50 ms and no lost calls: {best}")


if __name__ == "__main__":
    main()
