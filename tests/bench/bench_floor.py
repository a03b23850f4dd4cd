"""Benchmark of the call-centre floor: the push channel and a shift on one 2-core machine.

A. Push channel. One node (SQLite) served by `hotline serve-web` (gunicorn, asgi worker, 2
   workers); staff pages are timed with 0 and then with 200 open /push/stream connections, events
   are published into the database and their arrival at every open stream is timed, and the web
   process's CPU with 200 idle streams is measured. Target: page p95 ≤ 100 ms with 200 streams.
B. A shift. The same node plus Kamailio and 30 engines (+ the busy announcer): 30 agents with
   registered softphones, 60 concurrent calls with recording (every caller asks for an agent:
   30 are bridged, 30 wait in the queue hearing announcements), 60 browser streams open (two per
   agent). Prints caller setup p95 (makeCall → 200 OK), page p95 during the calls, engines' CPU
   per call, screen-pops delivered over the push channel and recordings finalized.

Run: .venv/bin/python -m tests.bench.bench_floor [--streams 200] [--agents 30] [--calls 60] [--hold 20]
Figures are printed, never asserted; the load generator shares the machine with the node.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.bench.bench_telephony import cpu_seconds, group_pids, outcome, place
from tests.bench.harness import PY, hotline, make_node, serving
from tests.bench.push_load import Streams, page_times, pct, wait, web_login

STAFF_PAGES = ["/workstation", "/queues", "/login"]


def _ms(values: list[float]) -> str:
    if not values:
        return "p50 —  p95 —"
    return f"p50 {statistics.median(values) * 1000:6.1f} ms  p95 {pct(values, 0.95) * 1000:6.1f} ms  (n={len(values)})"


def _web_pids(home: Path) -> list[int]:
    master = int((home / "run" / "web.pid").read_text().strip())
    return [master, *group_pids(os.getpgid(master))]


def _bind(home: Path) -> Any:
    from node import db, pii
    from node import settings as node_settings

    settings = node_settings.load(home)
    node_settings.configure(settings)
    pii.configure(settings.data_key)
    db.bind(settings.database_url)
    return settings


def _publish(n: int) -> list[tuple[int, float]]:
    """Publish `n` events to every signed-in agent (role topic); returns (event id, time)."""
    from node import db
    from node.push import service as push

    out = []
    for i in range(n):
        with db.connection():
            push.publish("role:agent", "bench", {"i": i})
            out.append((push.last_id(), time.monotonic()))
        time.sleep(0.2)
    return out


def part_push(home: Path, port: int, streams: int) -> None:
    print(f"A. 推送通道：{streams} 个打开的推送流", flush=True)
    _bind(home)
    cookies = [web_login(port, u, "demo12328") for u in ("agent1", "agent2")]
    leader = web_login(port, "leader", "demo12328")
    page_times(port, cookies[0], STAFF_PAGES, 5)  # warm-up
    base = page_times(port, cookies[0], STAFF_PAGES, 40) + page_times(
        port, leader, ["/telephony/wallboard"], 20
    )
    print(f"  页面（无推送流）              {_ms(base)}", flush=True)
    with Streams(port, cookies, streams) as st:
        print(f"  推送流已打开 {st.opened}，失败 {st.failed}", flush=True)
        pids = _web_pids(home)
        c0, w0 = cpu_seconds(pids), time.monotonic()
        time.sleep(10)
        idle_cpu = 100 * (cpu_seconds(pids) - c0) / (time.monotonic() - w0)
        loaded = page_times(port, cookies[0], STAFF_PAGES, 40) + page_times(
            port, leader, ["/telephony/wallboard"], 20
        )
        print(f"  页面（{st.opened} 个推送流）          {_ms(loaded)}", flush=True)
        sent = _publish(20)
        wait(lambda: all(len(st.arrivals.get(i, [])) >= st.opened for i, _ in sent), 15)
        lat = [t - t0 for i, t0 in sent for t in st.arrivals.get(i, [])]
        got = sum(len(st.arrivals.get(i, [])) for i, _ in sent)
        print(f"  事件送达 {got}/{len(sent) * st.opened}，送达延迟 {_ms(lat)}", flush=True)
        print(f"  Web 进程 CPU（{st.opened} 个空闲推送流）{idle_cpu:5.1f} %（单核）", flush=True)


def part_shift(home: Path, port: int, agents: int, calls: int, hold: float) -> None:
    from node import db
    from node.auth.service import SYSTEM
    from node.telephony import service
    from node.telephony.models import Call, CallLeg, Recording
    from tests import factories
    from tests.telephony.harness import Stack, UserAgent, agent_password, wait_until

    print(f"B. 一个班次：{agents} 名坐席，{calls} 路并发通话（录音），{2 * agents} 个推送流", flush=True)
    settings = _bind(home)
    engines = math.ceil(calls / 2)
    st = Stack(
        home / "sip-bench",
        engines=engines,
        database_url=settings.database_url,
        data_key=settings.data_key,
        ring_timeout_s=10,
        wrapup_s=2,
    )
    names = []
    with db.connection():
        for i in range(agents):
            user = factories.make_user("agent", username=f"seat{i:02d}")
            ext = f"7{i:03d}"
            agent = service.enroll_agent(
                SYSTEM, user.id, ext, password=agent_password(ext), realm=st.cfg.sip_realm
            )
            service.set_agent_state(SYSTEM, agent.id, "ready")
            names.append((user.username, ext))
    uas: list[UserAgent] = []
    seats: list[UserAgent] = []
    try:
        st.start()
        st.sync_credentials()
        time.sleep(2.5)  # dispatcher probes mark every engine active
        for k in range(0, agents, 3):
            group = {ext: {"answer_after": 0.3, "tone": 1400} for _, ext in names[k : k + 3]}
            seats.append(st.agent_ua(group, f"seats{k}"))
        cookies = [web_login(port, u, factories.PASSWORD) for u, _ in names]
        with Streams(port, cookies, 2 * agents) as streams:
            print(f"  坐席软电话已注册 {agents}，推送流已打开 {streams.opened}", flush=True)
            uas = [st.ua(f"callers{i}") for i in range(math.ceil(calls / 4))]
            place(uas, st, calls, "w", 20, "1390000")  # warm-up: first call in every process
            with contextlib.suppress(AssertionError):
                wait_until(lambda: sum(map(len, outcome(uas, "w"))) >= calls, 60, "warm-up")
            for i in range(calls):
                uas[i % len(uas)].send(op="hangup", id=f"w{i}")
            with db.connection():
                wait_until(
                    lambda: not Call.select().where(Call.state != "ended").exists(), 60, "warm-up ended"
                )
            time.sleep(1.0)

            t0 = time.time()
            place(uas, st, calls, "b", 20, "1380000")
            with contextlib.suppress(AssertionError):
                wait_until(lambda: len(outcome(uas, "b")[0]) >= calls, 60, "calls answered")
            confirmed, _ = outcome(uas, "b")
            time.sleep(1.0)
            for i in range(calls):
                uas[i % len(uas)].send(op="dtmf", id=f"b{i}", digits="1")
            with db.connection(), contextlib.suppress(AssertionError):
                wait_until(
                    lambda: CallLeg.select().where(CallLeg.outcome == "talking").count()
                    >= min(agents, calls),
                    90,
                    "agents talking",
                )
            with db.connection():
                talking = CallLeg.select().where(CallLeg.outcome == "talking").count()
            eng = [p.pid for p in st.engines.values()]
            kam = group_pids(st.kamailio.pid) if st.kamailio else []
            web = _web_pids(home)
            c0, w0 = [cpu_seconds(p) for p in (eng, kam, web)], time.monotonic()
            pages = page_times(port, cookies[0], ["/workstation"], 30, threads=2)
            pages += page_times(
                port, web_login(port, "leader", "demo12328"), ["/telephony/wallboard/data"], 20, 2
            )
            time.sleep(max(0.0, hold - (time.monotonic() - w0)))
            c1, w1 = [cpu_seconds(p) for p in (eng, kam, web)], time.monotonic()
            _, gone = outcome(uas, "b")
            pops = 0
            with db.connection():
                from node.push.models import PushEvent

                pop_ids = {e.id for e in PushEvent.select(PushEvent.id).where(PushEvent.kind == "screen_pop")}
            pops = sum(len(streams.arrivals.get(i, [])) for i in pop_ids)
            for i in range(calls):
                uas[i % len(uas)].send(op="hangup", id=f"b{i}")
            with db.connection(), contextlib.suppress(AssertionError):
                wait_until(lambda: not Call.select().where(Call.state != "ended").exists(), 60, "calls ended")
        setups = [e["setup_ms"] / 1000 for e in confirmed]
        cpu = [100 * (b - a) / (w1 - w0) for a, b in zip(c0, c1, strict=True)]
        active = len(confirmed) - len(gone)
        print(f"  接通 {len(confirmed)}/{calls}，掉线 {len(gone)}，同时与坐席通话 {talking}", flush=True)
        print(f"  呼叫建立（主叫 makeCall→200 OK）{_ms(setups)}", flush=True)
        print(f"  通话期间页面                  {_ms(pages)}", flush=True)
        print(
            f"  CPU（单核）：引擎 {cpu[0]:.1f} %（{engines + 1} 个进程，每路 {cpu[0] / max(1, active):.2f} %），"
            f"Kamailio {cpu[1]:.1f} %，Web {cpu[2]:.1f} %",
            flush=True,
        )
        print(f"  弹屏经推送通道送达 {pops} 次（{len(pop_ids)} 个弹屏 × 每名坐席 2 个页面）", flush=True)
    finally:
        for ua in uas + seats:
            ua.close()
        st.stop()
    digests = [
        __import__("node.pii", fromlist=["codec"]).codec().digest(f"1380000{i:04d}") for i in range(calls)
    ]
    with db.connection():
        recs = list(
            Recording.select(Recording)
            .join(Call)
            .where(Call.caller_digest.in_(digests), Call.started_at >= _from(t0))
        )
    good = [r for r in recs if r.status == "finalized" and not r.note]
    print(f"  录音 {len(good)}/{calls} 正常结束（文件头由引擎写入）", flush=True)


def _from(epoch: float) -> Any:
    from node import clock

    return clock.from_epoch_ms(int(epoch * 1000))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=200)
    ap.add_argument("--agents", type=int, default=30)
    ap.add_argument("--calls", type=int, default=60)
    ap.add_argument("--hold", type=float, default=20.0)
    ap.add_argument("--skip-shift", action="store_true")
    args = ap.parse_args()
    print(f"负载（1 分钟）：{os.getloadavg()[0]:.2f}，CPU 核数 {os.cpu_count()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as tmp:
        node = make_node(Path(tmp), f"sqlite:///{tmp}/node.db")
        toml = (node.home / "node.toml").read_text().replace("engines = 20", "engines = 2")
        (node.home / "node.toml").write_text(toml)
        hotline("-c", str(node.home), "demo-data", "--orders", "60")
        with serving([PY, "-m", "node.cli", "-c", str(node.home), "serve-web"], node.port):
            part_push(node.home, node.port, args.streams)
            if not args.skip_shift:
                part_shift(node.home, node.port, args.agents, args.calls, args.hold)


if __name__ == "__main__":
    main()
