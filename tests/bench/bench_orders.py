"""Work-order throughput over the REST API under gunicorn, on SQLite and PostgreSQL, against a
bare Flask JSON endpoint on the same gunicorn settings (issue: node foundation).

Prints orders/s and p95 per phase: create → review → dispatch → sign → reply → accept → close.
Run: .venv/bin/python -m tests.bench.bench_orders [--orders N] [--lifecycle M] [--threads T]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

from node.web_server import PAGE_THREADS
from tests import factories, pg
from tests.bench.harness import PY, BenchNode, Client, free_port, hotline, make_node, run_load, serving

REPLY = {
    "basic": "经查属实",
    "process": "已约谈驾驶员并责令整改",
    "basis": "《巡游出租汽车经营服务管理规定》",
}


def _action_job(number: str, action: str, payload: dict) -> Callable[[Client], int]:
    return lambda c: c.call("POST", f"/api/v1/orders/{number}/actions/{action}", payload)[0]


def bare_rate(node: BenchNode, headers: dict[str, str], threads: int, count: int) -> float:
    """The bare endpoint on this node's server settings (tests/bench/bare_app.py), loaded with the
    same client, body, headers (bearer token included) and thread count as the creation phase."""
    port = free_port()
    body = {**factories.ORDER_DEFAULTS}
    with serving([PY, "-m", "tests.bench.bare_app", str(node.home), str(port)], port):
        run_load(port, headers, [lambda c: c.call("POST", "/bare", body)[0]] * 200, threads)
        res = run_load(port, headers, [lambda c: c.call("POST", "/bare", body)[0]] * count, threads)
    print(res.line("bare Flask endpoint, same server (POST)"))
    return res.rate


def bench_backend(
    name: str, url: str, base: Path, orders: int, lifecycle: int, threads: int, workers: int
) -> tuple[float, float]:
    """(orders created per second, bare endpoint requests per second) on one backend."""
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
    bare = bare_rate(node, auth["agent"], threads, 2 * orders)
    with serving([PY, "-m", "node.cli", *cfg, "serve-web"], node.port):
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

        run_load(node.port, auth["agent"], [create] * 100, threads)  # warm-up
        me = run_load(
            node.port, auth["agent"], [lambda c: c.call("GET", "/api/v1/me")[0]] * (2 * orders), threads
        )
        print(me.line("node stack: GET /api/v1/me (token, no write)"))
        created.clear()
        res = run_load(node.port, auth["agent"], [create] * orders, threads)
        print(res.line("create (受理)"))
        create_rate = res.rate
        sample = created[:lifecycle]
        if not sample:
            return create_rate, bare
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
    return create_rate, bare


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=2000)
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
            )
        }
        with pg.throwaway("t_bench") as url:
            rates["postgresql"] = bench_backend(
                "PostgreSQL", url, base, args.orders, args.lifecycle, args.threads, args.workers
            )
    print("\ncreation rate vs the bare endpoint on the same server settings, measured just before it:")
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
