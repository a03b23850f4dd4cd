"""Server-side latency of the staff screens with 100 k orders, on SQLite and PostgreSQL.

Times each request inside the Flask app (the WSGI call, no network): the queue page (tabs with
counts, first and deep pages, phone and word search), the order detail, and the workstation's
intake submit. Prints p50/p95 in ms; targets: queue p95 ≤ 150 ms, intake submit p95 ≤ 100 ms.

The database gets ~1,000 orders through the real engine (every state, history rows) and is then
padded to the target count by copying those rows with new numbers and dates (bulk insert, for
benchmark volume only).
Run: .venv/bin/python -m tests.bench.bench_web [--orders 100000] [--repeat 40] [--backends sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from node import db as node_db
from node import pii
from node import settings as node_settings
from node.catalog import service as catalog
from node.demo import DEMO_PASSWORD
from tests import pg

# the states the engine-made orders stop in (along node.demo.MAIN_PATH)
STATES_WALK = [
    "accepted",
    "pending_review",
    "pending_dispatch",
    "dispatched",
    "handling",
    "replied",
    "closed",
]
SAMPLES = [
    ("1", "04", "0403", "出租车拒载，司机态度恶劣，车牌苏A{n}。"),
    ("1", "04", "0401", "{n}路公交车不按站停靠，乘客等候很久。"),
    ("2", "04", "0402", "地铁{n}号线末班车几点？"),
    ("1", "01", "0107", "国道{n}公里处路面坑洼，夜间危险。"),
    ("3", "04", "0401", "建议在新建小区附近增设{n}路公交线路。"),
    ("1", "03", "0305", "汽修厂{n}号工位乱收费。"),
]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


def line(name: str, ms: list[float]) -> str:
    return f"  {name:<34} p50 {statistics.median(ms):7.1f} ms   p95 {pct(ms, 0.95):7.1f} ms   (n={len(ms)})"


def seed(settings: node_settings.Settings, total: int, engine_orders: int) -> list[str]:
    """Orders through the engine, then bulk copies up to `total`. Returns the engine-made numbers."""
    from node.auth import service as auth
    from node.auth.models import User
    from node.demo import load_demo, walk
    from node.migrate import upgrade
    from node.workflow import service
    from node.workflow.models import WorkOrder

    database = node_db.database.obj
    upgrade(database)
    catalog.seed()
    load_demo(settings, orders=0)

    def who(name: str) -> auth.Actor:
        return auth.actor_for(User.get(User.username == name))

    agent = who("agent1")
    by_role = {"agent": agent, "reviewer": who("review"), "dispatcher": who("dispatch"), "unit": who("taxi")}
    reply = {"reply": {"basic": "属实", "process": "已处理", "basis": "规定"}}
    rng = random.Random(12328)
    made = []
    started = time.perf_counter()
    for i in range(engine_orders):
        btype, domain, sub, text = SAMPLES[i % len(SAMPLES)]
        order = service.create_order(
            agent,
            {
                "business_type": btype,
                "domain": domain,
                "sub_business": sub,
                "region_code": "320102",
                "content": text.format(n=rng.randrange(1, 999)),
                "caller_phone": f"139{rng.randrange(10**8):08d}",
                "submit": False,
            },
        )
        order = walk(order, STATES_WALK[i % len(STATES_WALK)], by_role.__getitem__, "CZC", reply)
        made.append(order.number)
    print(f"  engine orders: {engine_orders} in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    templates = list(WorkOrder.select().dicts())
    fields = [f.name for f in WorkOrder._meta.sorted_fields if f.name != "id"]
    need = total - len(templates)
    base_day = dt.datetime(2025, 1, 1, 8, 0)
    batch: list[dict[str, Any]] = []
    with node_db.database.atomic():
        for i in range(need):
            t = templates[i % len(templates)]
            accepted = base_day + dt.timedelta(minutes=5 * i)
            row = {k: t[k] for k in fields}
            row.update(
                number=f"320100{accepted:%Y%m%d}9{i:06d}"[:21],
                accepted_at=accepted,
                created_at=accepted,
                updated_at=accepted,
                due_at=accepted + dt.timedelta(days=15) if t["due_at"] else None,
                parent=None,
                master=None,
                contact_id=None,
            )
            if row["caller_phone_cipher"]:
                p = pii.codec().protect(f"138{i:08d}")
                row.update(
                    caller_phone_cipher=p.cipher, caller_phone_digest=p.digest, caller_phone_masked=p.masked
                )
            batch.append(row)
            if len(batch) == 1000:
                WorkOrder.insert_many(batch).execute()
                batch.clear()
        if batch:
            WorkOrder.insert_many(batch).execute()
    # what autovacuum does after a bulk load on PostgreSQL (visibility map → index-only COUNTs)
    node_db.database.execute_sql("ANALYZE" if node_db.is_sqlite() else "VACUUM ANALYZE work_order")
    print(
        f"  bulk copies: {need} in {time.perf_counter() - started:.1f} s; total {WorkOrder.select().count()}"
    )
    return made


def timed(client: Any, method: str, path: str, repeat: int, **kw: Any) -> list[float]:
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        resp = client.open(path, method=method, **kw)
        out.append((time.perf_counter() - start) * 1000)
        assert resp.status_code < 400, (path, resp.status_code, resp.get_data(as_text=True)[:300])
    return out


def run_backend(name: str, url: str, total: int, repeat: int, engine_orders: int) -> None:
    from node.app import create_app

    print(f"\n== {name}: {total:,} orders ==")
    with tempfile.TemporaryDirectory() as tmp:
        settings = node_settings.for_tests(Path(tmp), url)
        node_settings.configure(settings)
        pii.configure(settings.data_key)
        node_db.bind(url)
        with node_db.connection():
            numbers = seed(settings, total, engine_orders)
        node_db.database.close()
        app = create_app(settings)
        client = app.test_client()
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        client.post("/login", data={"username": "leader", "password": DEMO_PASSWORD, "csrf_token": token})
        token = re.search(
            r'name="csrf_token" value="([^"]+)"', client.get("/no-screen").get_data(as_text=True)
        ).group(1)
        timed(client, "GET", "/queues", 3)  # warm caches
        rows = [
            ("queue: all orders, page 1", "/queues"),
            ("queue: 待分派 tab", "/queues?queue=to_dispatch"),
            ("queue: 已超期 tab", "/queues?queue=overdue"),
            ("queue: page 2,000 (deep)", "/queues?page=2000"),
            ("queue: filter type+domain", "/queues?business_type=1&domain=04"),
            ("queue: search phone", "/queues?q=13800012345"),
            ("queue: search number", f"/queues?q={numbers[0]}"),
            ("queue: search word 拒载", "/queues?q=拒载"),
        ]
        for label, path in rows:
            print(line(label, timed(client, "GET", path, repeat)))
        from node.auth import service as auth
        from node.auth.models import User
        from node.web import views
        from node.workflow import service

        leader = auth.actor_for(User.get(User.username == "leader"))
        tabs = views.queue_tabs(leader)
        uncached = []
        with app.app_context(), node_db.connection():
            for _ in range(repeat):
                start = time.perf_counter()
                service.count_queues(leader, tabs)
                uncached.append((time.perf_counter() - start) * 1000)
        print(line(f"tab counts uncached ({len(tabs)} tabs)", uncached))
        rng = random.Random(7)
        detail = []
        for _ in range(repeat):
            detail += timed(client, "GET", f"/orders/{rng.choice(numbers)}", 1)
        print(line("order detail", detail))
        body = {
            "caller_phone": "13912340000",
            "business_type": "1",
            "domain": "04",
            "sub_business": "0403",
            "region_code": "320102",
            "content": "出租车拒载，要求处理。",
            "outcome": "order",
            "csrf_token": token,
        }
        print(
            line(
                "intake submit (contact + order)",
                timed(client, "POST", "/workstation", repeat, data=body, headers={"HX-Request": "true"}),
            )
        )
        dup = timed(
            client,
            "POST",
            "/workstation/duplicates",
            repeat,
            data={
                "content": "出租车拒载司机态度恶劣",
                "domain": "04",
                "region_code": "320102",
                "respondent_plate": "苏A12345",
                "csrf_token": token,
            },
        )
        print(line("duplicates panel while typing", dup))
        node_db.database.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=40)
    ap.add_argument("--engine-orders", type=int, default=700)
    ap.add_argument("--backends", default="sqlite,postgresql")
    args = ap.parse_args()
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                run_backend(
                    "SQLite", f"sqlite:///{tmp}/bench.db", args.orders, args.repeat, args.engine_orders
                )
        elif backend == "postgresql":
            url = pg.create_database("bench_web")
            try:
                run_backend("PostgreSQL", url, args.orders, args.repeat, args.engine_orders)
            finally:
                if hasattr(node_db.database.obj, "close_all"):
                    node_db.database.obj.close_all()
                pg.drop_database(url)


if __name__ == "__main__":
    main()
