"""Work-order throughput over the REST API under gunicorn, on SQLite and PostgreSQL, against a
bare Flask JSON endpoint on the same gunicorn settings (issue: node foundation; #17 item 13).

The bare endpoint and the node run side by side; creation and the bare endpoint are loaded in
alternating rounds (bare, create, bare, create, …) and the ratio is taken between the medians, so a
passing burst of load from elsewhere on the machine tilts one round, not the comparison. Each round
also prints the CPU time the server's processes (gunicorn master and workers) and the load client
spent per request — a figure that noise on a shared machine moves far less than requests per second.
Then orders/s and p95 per phase: review → dispatch → sign → reply → accept → close.
Run: .venv/bin/python -m tests.bench.bench_orders [--orders N] [--rounds R] [--lifecycle M] [--threads T]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import psutil

from node.web_server import PAGE_THREADS
from tests import factories, pg
from tests.bench.harness import PY, Client, LoadResult, free_port, hotline, make_node, run_load, serving

REPLY = {
    "basic": "经查属实",
    "process": "已约谈驾驶员并责令整改",
    "basis": "《巡游出租汽车经营服务管理规定》",
}


def _action_job(number: str, action: str, payload: dict) -> Callable[[Client], int]:
    return lambda c: c.call("POST", f"/api/v1/orders/{number}/actions/{action}", payload)[0]


def _tree_cpu(proc: subprocess.Popen[bytes]) -> float:
    """CPU seconds (user + system) used so far by a server process and all its children."""
    total = 0.0
    root = psutil.Process(proc.pid)
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        total += t.user + t.system
    return total


def _round(
    proc: subprocess.Popen[bytes],
    port: int,
    headers: dict[str, str],
    job: Callable[[Client], int],
    n: int,
    threads: int,
) -> tuple[LoadResult, float, float]:
    """One round of `n` requests: the load, and the server's and the client's CPU ms per request."""
    server0, client0 = _tree_cpu(proc), os.times()
    res = run_load(port, headers, [job] * n, threads)
    server1, client1 = _tree_cpu(proc), os.times()
    client = (client1.user + client1.system) - (client0.user + client0.system)
    return res, (server1 - server0) / n * 1000, client / n * 1000


def bench_backend(
    name: str, url: str, base: Path, orders: int, lifecycle: int, threads: int, workers: int, rounds: int
) -> tuple[float, float]:
    """(median orders created per second, median bare endpoint requests per second) on one backend."""
    node = make_node(base, url, workers=workers)
    cfg = ["-c", str(node.home)]
    for user, role in (
        ("agent", "agent"),
        ("review", "reviewer"),
        ("dispatch", "dispatcher"),
        ("admin", "admin"),
    ):
        hotline(*cfg, "create-user", user, "--role", role, "--password", "bench-pass-1")
    tokens = {u: hotline(*cfg, "issue-token", u).strip() for u in ("agent", "review", "dispatch", "admin")}
    auth = {u: {"Authorization": f"Bearer {t}"} for u, t in tokens.items()}
    print(f"\n[{name}] gunicorn asgi workers={workers} page threads={PAGE_THREADS}, client threads={threads}")
    bare_port = free_port()
    with (
        serving([PY, "-m", "tests.bench.bare_app", str(node.home), str(bare_port)], bare_port) as bare_proc,
        serving([PY, "-m", "node.cli", *cfg, "serve-web"], node.port) as web,
    ):
        admin = Client(node.port, auth["admin"])
        status, _ = admin.call(
            "POST", "/api/v1/units", {"code": "CZC", "name": "出租汽车管理所", "region_code": "320100"}
        )
        assert status == 201
        hotline(
            *cfg, "create-user", "taxi", "--role", "unit_staff", "--unit", "CZC", "--password", "bench-pass-1"
        )
        auth["taxi"] = {"Authorization": "Bearer " + hotline(*cfg, "issue-token", "taxi").strip()}
        body = {**factories.ORDER_DEFAULTS}
        created: list[str] = []

        def create(c: Client) -> int:
            status, data = c.call("POST", "/api/v1/orders", body)
            if status == 201:
                created.append(data["number"])
            return status

        def bare(c: Client) -> int:
            return c.call("POST", "/bare", body)[0]

        run_load(bare_port, auth["agent"], [bare] * 200, threads)  # warm-up
        run_load(node.port, auth["agent"], [create] * 100, threads)
        me = run_load(
            node.port, auth["agent"], [lambda c: c.call("GET", "/api/v1/me")[0]] * (2 * orders), threads
        )
        print(me.line("node stack: GET /api/v1/me (token, no write)"))
        created.clear()
        rates: dict[str, list[float]] = {"bare": [], "create": []}
        cpu: dict[str, list[float]] = {"bare": [], "create": []}
        per_round = max(1, orders // rounds)
        for r in range(1, rounds + 1):
            for label, proc, port, job in (
                ("bare endpoint (POST)", bare_proc, bare_port, bare),
                ("create (受理)", web, node.port, create),
            ):
                res, server_ms, client_ms = _round(proc, port, auth["agent"], job, per_round, threads)
                kind = "bare" if job is bare else "create"
                rates[kind].append(res.rate)
                cpu[kind].append(server_ms)
                print(
                    f"{res.line(f'round {r} {label}')}  server CPU {server_ms:.2f} ms/req, client {client_ms:.2f}"
                )
        bare_rate, create_rate = statistics.median(rates["bare"]), statistics.median(rates["create"])
        bare_cpu, create_cpu = statistics.median(cpu["bare"]), statistics.median(cpu["create"])
        print(
            f"{'median of ' + str(rounds) + ' rounds':42} create {create_rate:.0f}/s, bare {bare_rate:.0f}/s;"
            f" server CPU per request {create_cpu:.2f} vs {bare_cpu:.2f} ms"
            f" (a creation costs {create_cpu / bare_cpu:.1f} bare requests; 40 % needs ≤ 2.5)"
        )
        sample = created[:lifecycle]
        if not sample:
            return create_rate, bare_rate
        steps = [
            ("review", "review", {}),
            ("dispatch", "dispatch", {"lead_unit": "CZC"}),
            ("taxi", "sign", {}),
            ("taxi", "reply", REPLY),
            ("review", "accept_reply", {}),
            ("review", "close", {}),
        ]
        total = 0.0
        for who, action, payload in steps:
            jobs = [_action_job(n, action, payload) for n in sample]
            r = run_load(node.port, auth[who], jobs, threads)
            total += r.seconds
            print(r.line(f"  {action}"))
        print(
            f"{'whole life create→close (6 transitions)':42} {len(sample) / (total + len(sample) / create_rate):8.0f} orders/s"
        )
        r = run_load(
            node.port,
            auth["agent"],
            [lambda c: c.call("GET", "/api/v1/orders?queue=to_review&page_size=20")[0]] * 300,
            threads,
        )
        print(r.line("  queue list (GET /orders?queue=…)"))
    return create_rate, bare_rate


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=2000, help="orders created, over all rounds")
    ap.add_argument("--rounds", type=int, default=3, help="alternating bare/create rounds")
    ap.add_argument("--lifecycle", type=int, default=300, help="0: creation only")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    print("== 工单引擎 REST API 吞吐（同一次运行内测得） ==")
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        rates = {
            "sqlite": bench_backend(
                "SQLite",
                "sqlite:///data/node.db",
                base,
                args.orders,
                args.lifecycle,
                args.threads,
                args.workers,
                args.rounds,
            )
        }
        with pg.throwaway("t_bench") as url:
            rates["postgresql"] = bench_backend(
                "PostgreSQL", url, base, args.orders, args.lifecycle, args.threads, args.workers, args.rounds
            )
    print("\ncreation rate vs the bare endpoint on the same server settings (medians of alternating rounds):")
    for name, (rate, bare) in rates.items():
        print(
            f"  {name:10} {rate:7.0f} orders/s = {rate / bare * 100:5.1f} % of bare ({bare:.0f} req/s)"
            f"  → 300 k orders in {300_000 / rate / 60:.1f} min"
        )
    sqlite, bare = rates["sqlite"]
    print(
        f"  targets (#17): SQLite ≥ 300 orders/s: {'达标' if sqlite >= 300 else '未达标'}（{sqlite:.0f}/s）；"
        f"≥ 40 % of bare: {'达标' if sqlite / bare >= 0.4 else '未达标'}（{sqlite / bare * 100:.1f} %）"
    )


if __name__ == "__main__":
    main()
