"""Follow-up at volume (issue #12): on SQLite and PostgreSQL, with N orders generated inside the
database (INSERT … SELECT, as bench_analytics does) — most closed with their callback decision,
a share of them still to be called back, 1 % with a 不满意 case, some open orders dispatched to units:

- the sampling decision and callback task at closure (`followup.sample_closure`, one transaction
  per order, as the engine's close does it) for `--closures` closed orders;
- the 待回访 queue (`/queues?queue=to_callback`) and the 不满意整改 queue (`/followup/dissatisfied`)
  as pages (Flask test client, signed in as a shift leader), and the 待回访 list and count as queries;
- the unit desk's 有催办/督办 filter (`/unit?urged=any&sort=urged`) for a unit with every open order;
- the worker's deadline jobs over the open orders (`tracking_scan`: order, sign-for and co-handler
  deadlines) — the first run that writes the urges and an idle run after it — and `callback_due`;
- the outbox sending to the test SMSC (`tests/smsc.py`) and to the test WeChat API (`tests/wxapi.py`),
  both real processes on 127.0.0.1: messages per second over `--messages` messages.

Prints medians and p95; asserts nothing about speed.
Run: .venv/bin/python -m tests.bench.bench_followup [--sqlite-orders 300000] [--pg-orders 300000]
     [--open 2000] [--closures 1000] [--messages 600] [--repeat 15] [--no-pg]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from node import clock, pii
from node import db as node_db
from node import settings as node_settings
from node.catalog import service as catalog
from node.registry import all_models
from tests import factories
from tests.bench.bench_analytics import _at as analytics_at
from tests.bench.bench_analytics import _fill, _plus
from tests.bench.harness import pg_bench_database

NOW = dt.datetime(2026, 11, 20, 10, 0)
BASE = "2026-11-01"  # open orders are accepted from here on (deadlines at every stage by NOW)


def _at(days: str, seconds: str) -> str:
    return analytics_at(days, seconds, BASE)


def _minutes(expr: str, minutes: int) -> str:
    if node_db.is_sqlite():
        return f"datetime({expr}, '+{minutes} minutes')"
    return f"({expr} + INTERVAL '{minutes} minutes')"


def figures(label: str, seconds: list[float], unit: str = "ms") -> None:
    xs = sorted(seconds)
    p95 = xs[min(len(xs) - 1, int(len(xs) * 0.95))]
    print(
        f"  {label:44} p50 {statistics.median(xs) * 1000:8.1f} ms  p95 {p95 * 1000:8.1f} ms  n={len(xs)}",
        flush=True,
    )


def repeat(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def generate(n: int, open_n: int, closures: int, unit_id: int) -> None:
    """Orders 1..open_n handling (lead unit `unit_id`, a quarter not signed for), the rest closed:
    the last `closures` without a callback decision yet, the others decided (1 % pending callback,
    29 % done, 70 % not sampled); 1 % of the closed with a 不满意 case (a third still open)."""
    from node.followup.models import Dissatisfaction, VisitTask
    from node.workflow.models import Assignment, WorkOrder

    true = "1" if node_db.is_sqlite() else "true"
    opened = _at("i % 19", "(i * 37) % 86400")  # 0…18 days before NOW: every warning level
    closed_at = _at("i % 19", "(i * 37) % 86400")
    _fill(
        WorkOrder,
        {
            "number": "'F' || CAST(i AS TEXT)",
            "origin_node": "'320100'",
            "channel": "'01'",
            "business_type": "CAST(1 + i % 3 AS TEXT)",
            "domain": "'0' || CAST(1 + i % 4 AS TEXT)",
            "region_code": "'320102'",
            "title": "'测试工单'",
            "content": "'测试内容'",
            "query_code": "'123456'",
            "state": f"CASE WHEN i <= {open_n} THEN 'handling' ELSE 'closed' END",
            "accepted_at": opened,
            "due_at": _plus(opened, "10"),
            "dispatched_at": opened,
            "closed_at": f"CASE WHEN i <= {open_n} THEN NULL ELSE {closed_at} END",
            "created_at": opened,
            "updated_at": opened,
        },
        n,
    )
    _fill(
        Assignment,
        {
            "order": "i",
            "unit": str(unit_id),
            "role": "'lead'",
            "status": "CASE WHEN i % 4 = 0 THEN 'dispatched' ELSE 'signed' END",
            "active": true,
            "dispatched_at": opened,
            "sign_due_at": _minutes(opened, 30),
            "signed_at": f"CASE WHEN i % 4 = 0 THEN NULL ELSE {_minutes(opened, 20)} END",
            "due_at": _plus(opened, "10"),
        },
        open_n,
    )
    decided = n - open_n - closures
    state = "CASE WHEN i % 100 = 0 THEN 'pending' WHEN i % 10 < 3 THEN 'done' ELSE 'skipped' END"
    _fill(
        VisitTask,
        {
            "order": f"{open_n} + i",
            "share_percent": "30",
            "draw": "CAST(i % 100 AS REAL)" if node_db.is_sqlite() else "CAST(i % 100 AS DOUBLE PRECISION)",
            "sampled": f"CASE WHEN i % 100 = 0 OR i % 10 < 3 THEN {true} ELSE NOT {true} END",
            "state": state,
            "created_at": closed_at,
            "due_at": f"CASE WHEN i % 100 = 0 OR i % 10 < 3 THEN {_plus(closed_at, '7')} ELSE NULL END",
            "finished_at": f"CASE WHEN i % 100 <> 0 AND i % 10 < 3 THEN {_plus(closed_at, '2')} ELSE NULL END",
        },
        decided,
    )
    _fill(
        Dissatisfaction,
        {
            "order": f"{open_n} + i * 100",
            "source": "'callback'",
            "dimensions": "'result'",
            "unit": str(unit_id),
            "opened_at": closed_at,
            "state": "CASE WHEN i % 3 = 0 THEN 'open' ELSE 'reopened' END",
        },
        decided // 100,
    )
    if not node_db.is_sqlite():
        node_db.database.execute_sql("ANALYZE")


def signed_in(app: Any, role: str, unit: Any = None) -> Any:
    from tests.web.conftest import post_login

    client = app.test_client()
    user = factories.make_user(role, unit)
    assert post_login(client, user.username).status_code == 302
    return client


def bench_backend(name: str, url: str, args: argparse.Namespace, home: Path) -> None:
    from node.app import create_app
    from node.auth import service as auth
    from node.followup import service as followup
    from node.followup import supervision
    from node.outbox import service as outbox
    from node.tracking import service as tracking
    from node.workflow import service as workflow
    from node.workflow.models import Urge, WorkOrder

    n = args.sqlite_orders if name == "SQLite" else args.pg_orders
    database = node_db.bind(url)
    with node_db.connection():
        database.create_tables(all_models())
        catalog.seed()
        unit = factories.make_unit(code="BENCHU", name="基准承办单位")
        for role in ("shift_leader", "dispatcher", "dispatcher"):
            factories.make_user(role)
        for _ in range(2):
            factories.make_user("unit_staff", unit)
        t0 = time.perf_counter()
        generate(n, args.open, args.closures, unit.id)
        print(
            f"\n[{name}] {n:,} 张工单（{args.open:,} 张办理中，{n - args.open:,} 张已办结），"
            f"生成用时 {time.perf_counter() - t0:.1f} s",
            flush=True,
        )
        followup.install()
        supervision.install()
        outbox.install()

        print("办结时抽样并建回访任务（每单一个事务）：")
        todo = list(
            WorkOrder.select()
            .where(WorkOrder.number.startswith("F"))
            .order_by(WorkOrder.id.desc())
            .limit(args.closures)
        )
        took, sampled = [], 0
        with clock.frozen(NOW):
            for order in todo:
                t0 = time.perf_counter()
                with node_db.write_tx():
                    task = followup.sample_closure(order)
                took.append(time.perf_counter() - t0)
                sampled += task.sampled
        figures(f"sample_closure × {len(todo):,}", took)
        print(
            f"  {len(todo) / sum(took):,.0f} 单/秒，抽中 {sampled / len(todo):.1%}（投诉 100 %，其他 10 %）"
        )

        print("队列（班长，第 1 页 30 条）：")
        settings = node_settings.current()
        app = create_app(settings, manage_connections=False)
        app.config["TESTING"] = True
        with clock.frozen(NOW):
            leader = signed_in(app, "shift_leader")
            actor = auth.actor_for(factories.make_user("shift_leader"))
            flt = workflow.OrderFilter(queue="to_callback")
            total = workflow.list_orders(actor, flt, 1, 30)[1]
            figures(
                f"待回访 查询（共 {total:,} 单）",
                repeat(lambda: workflow.list_orders(actor, flt, 1, 30), args.repeat),
            )
            figures(
                "待回访 页面 /queues?queue=to_callback",
                repeat(lambda: leader.get("/queues?queue=to_callback").status_code, args.repeat),
            )
            from node.followup.models import Dissatisfaction

            open_cases = Dissatisfaction.select().where(Dissatisfaction.state == "open").count()
            figures(
                f"不满意整改 页面（待处理 {open_cases:,} 件）",
                repeat(lambda: leader.get("/followup/dissatisfied").status_code, args.repeat),
            )

        print(f"服务跟踪（{args.open:,} 张办理中工单，承办单位 3 人）：")
        with clock.frozen(NOW):
            staff = signed_in(app, "unit_staff", unit)  # one of the unit's staff: told of every urge
            t0 = time.perf_counter()
            first = tracking.scan_all(NOW)
            took_first = time.perf_counter() - t0
            written = sum(v for v in first.values() if isinstance(v, int))
            print(f"  tracking_scan 首次（写入 {written:,} 条预警/催办）  {took_first:8.1f} s", flush=True)
            figures("tracking_scan 再次（无新预警）", repeat(lambda: tracking.scan_all(NOW), 3))
            t0 = time.perf_counter()
            warned = followup.warn_due(NOW)
            print(
                f"  callback_due 首次（{warned:,} 条回访时限预警）      {time.perf_counter() - t0:8.1f} s",
                flush=True,
            )
            figures("callback_due 再次（无新预警）", repeat(lambda: followup.warn_due(NOW), 3))
            urged = Urge.select().where(Urge.unit == unit.id).count()
            figures(
                f"单位工作台 有催办/督办、按催办排序（{urged:,} 条）",
                repeat(lambda: staff.get("/unit?tab=all&urged=any&sort=urged").status_code, args.repeat),
            )
            figures(
                "单位工作台 有未读催办/督办",
                repeat(lambda: staff.get("/unit?tab=all&urged=unread").status_code, args.repeat),
            )

        print(f"告知市民发送（{args.messages:,} 条，测试短信中心 / 测试微信接口进程）：")
        bench_outbox(home / name, args.messages)
    database.close()
    if hasattr(database, "close_all"):
        database.close_all()


def _queue(channel: str, m: int) -> None:
    from node.outbox.models import CitizenMessage

    codec, now = pii.codec(), clock.now()
    rows = []
    for i in range(m):
        to = f"139{i:08d}" if channel == "sms" else f"oWX_bench_{i:06d}"
        rows.append(
            {
                "key": f"bench:{channel}:{i}",
                "event": "receipt",
                "channel": channel,
                "to_cipher": codec.protect(to).cipher
                if channel == "sms"
                else codec.encrypt_bytes(to.encode()).decode(),
                "to_masked": to[-4:],
                "body": "【12328】您反映的问题已受理，工单号320100202611200000001，查询码123456。"
                if channel == "sms"
                else '{"first": {"value": "您反映的问题已受理。"}, "keyword1": {"value": "320100202611200000001"}}',
                "next_try_at": now,
                "created_at": now,
            }
        )
    with node_db.write_tx():
        for chunk in range(0, m, 500):
            CitizenMessage.insert_many(rows[chunk : chunk + 500]).execute()


def bench_outbox(home: Path, m: int) -> None:
    from node.outbox import service as outbox
    from node.outbox.wechat_send import NodeWeChatClient
    from tests.outbox.conftest import Smsc, WxApi

    smsc = Smsc(home / "smsc")
    try:
        _queue("sms", m)
        runs, sent, t0 = [], 0, time.perf_counter()
        while sent < m:
            r0 = time.perf_counter()
            sent += outbox.run(clock.now(), smsc.config())["sent"]
            runs.append(time.perf_counter() - r0)
        took = time.perf_counter() - t0
        print(f"  短信（SMPP，每轮绑定一次、{outbox.BATCH} 条）  {m / took:8.0f} 条/秒  共 {took:.1f} s")
        figures("  每轮（绑定、发送、收上行、解绑）", runs)
    finally:
        smsc.stop()
    wx = WxApi(home / "wxapi")
    try:
        _queue("wechat", m)
        cfg = wx.config()
        client = NodeWeChatClient(cfg)
        runs, sent, t0 = [], 0, time.perf_counter()
        while sent < m:
            r0 = time.perf_counter()
            sent += outbox.run_wechat(clock.now(), client, cfg)["sent"]
            runs.append(time.perf_counter() - r0)
        took = time.perf_counter() - t0
        print(f"  微信模板消息（HTTP，令牌缓存）               {m / took:8.0f} 条/秒  共 {took:.1f} s")
        figures("  每轮（50 条）", runs)
    finally:
        wx.stop()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sqlite-orders", type=int, default=300_000)
    ap.add_argument("--pg-orders", type=int, default=300_000)
    ap.add_argument("--open", type=int, default=2_000)
    ap.add_argument("--closures", type=int, default=1_000)
    ap.add_argument("--messages", type=int, default=600)
    ap.add_argument("--repeat", type=int, default=15)
    ap.add_argument("--no-pg", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        s = node_settings.for_tests(home, "sqlite:///unused.db")
        node_settings.configure(s)
        pii.configure(s.data_key)
        bench_backend("SQLite", f"sqlite:///{home / 'bench.db'}", args, home)
        if args.no_pg:
            return
        with pg_bench_database("bench_followup") as url:
            bench_backend("PostgreSQL", url, args, home)


if __name__ == "__main__":
    main()
