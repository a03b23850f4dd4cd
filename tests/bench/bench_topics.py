"""Topic reports (专题) and grouped-by-unit figures (issue #10): the time of a topic's month report
(indicators, trend, breakdowns by domain, region and unit — the engine with its `topic` filter, on
raw rows through the full-text index) over 300,000 orders on SQLite and 1,000,000 on PostgreSQL, and
on a fresh SQLite node (20,000 orders) the breakdown by handling unit without and with the
planner's statistics (`node.db.planner_statistics`). Prints the times; asserts nothing.

Run: .venv/bin/python -m tests.bench.bench_topics [--pg-orders N] [--sqlite-orders M] [--fresh-orders K]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from node import db as node_db
from node import pii
from node import settings as node_settings
from node.catalog import service as catalog
from tests.bench.bench_analytics import MONTH, _at, _fill, _plus, generate
from tests.bench.harness import pg_bench_database


def timed(label: str, fn: Any) -> Any:
    start = time.perf_counter()
    result = fn()
    print(f"  {label}: {time.perf_counter() - start:.2f} s", flush=True)
    return result


def fill(n: int) -> None:
    """The analytics benchmark's orders, their text tokens (one in 20 about taxis refusing fares)
    and a lead assignment to one of 40 units for every dispatched order."""
    from node.catalog.models import Unit
    from node.workflow.models import Assignment, WorkOrder

    generate(n)
    mod = "%" if node_db.is_sqlite() else "%%"  # psycopg reads % as a placeholder
    node_db.database.execute_sql(
        f"UPDATE work_order SET search_text = CASE WHEN id {mod} 20 = 0 THEN '出租 租车 出租车 拒载 司机' "
        f"WHEN id {mod} 20 = 1 THEN '的士 拒绝 载客' ELSE '公交 公交车 晚点' END"
    )
    from node import clock

    for i in range(40):
        Unit.insert(
            code=f"BU{i:02d}", name=f"基准单位{i}", region_code="320102", created_at=clock.now()
        ).execute()
    first = Unit.select(Unit.id).where(Unit.code == "BU00").scalar()
    first_order = WorkOrder.select(WorkOrder.id).order_by(WorkOrder.id).limit(1).scalar()
    dispatched = _at(f"i % {395}", "(i * 7) % 86400")
    _fill(
        Assignment,
        {
            "order": f"{first_order} - 1 + i",
            "unit": f"{first} + i % 40",
            "role": "'lead'",
            "active": "1" if node_db.is_sqlite() else "true",
            "status": "'replied'",
            "dispatched_at": dispatched,
            "sign_due_at": _plus(dispatched, "1"),
        },
        n,
    )


def bench(name: str, url: str, n: int) -> None:
    from node.analytics import compute, parse_period, topics
    from node.analytics.models import Topic
    from node.migrate import upgrade

    database = node_db.bind(url)
    with node_db.connection():
        upgrade(database)  # the full-text index and triggers come with the migrations
        catalog.seed()
        start = time.perf_counter()
        fill(n)
        print(f"\n[{name}] {n:,} 张工单，生成用时 {time.perf_counter() - start:.1f} s", flush=True)
        month = parse_period(MONTH)
        node_db.planner_statistics(force=True)
        timed(
            "按承办单位统计受理量、限时办结率",
            lambda: compute(["volume", "on_time_rate"], month, ["unit"]),
        )
        from node import clock

        now = clock.now()
        topic = Topic.create(
            name="出租车拒载",
            keywords=[["出租车", "的士"], ["拒载", "拒绝载客"]],
            mode="all",
            exclude=[],
            filters={},
            created_at=now,
            updated_at=now,
        )
        from node.text.segment import query_tokens

        timed("分词器加载（每个进程一次）", lambda: query_tokens("出租车拒载"))
        data = timed(
            "专题：本月完整报告（指标、按日趋势、按领域/区划/单位）",
            lambda: topics.report(topic, month, "day"),
        )
        print(f"  专题受理量 {data['share']['volume']:,} / 全部 {data['share']['all']:,}")
        timed("专题：一年按月趋势", lambda: topics.trend(topic, parse_period("2026"), "month"))
    database.close()


def fresh_node(path: Path, n: int) -> None:
    """A fresh SQLite node (statistics never taken): grouped by unit without, then with them. The
    bad plan is quadratic, so this uses a small node (20,000 orders: minutes at 300,000)."""
    from node.analytics import compute, parse_period
    from node.migrate import upgrade

    database = node_db.bind(f"sqlite:///{path}")
    with node_db.connection():
        upgrade(database)
        catalog.seed()
        fill(n)
        node_db.database.execute_sql("DROP TABLE IF EXISTS sqlite_stat1")
        print(f"\n[SQLite 新节点] {n:,} 张工单", flush=True)
        month = parse_period(MONTH)
        timed(
            "无查询规划统计：按承办单位统计受理量、限时办结率",
            lambda: compute(["volume", "on_time_rate"], month, ["unit"]),
        )
        timed("planner_statistics()（ANALYZE）", lambda: node_db.planner_statistics())
        timed(
            "有查询规划统计：按承办单位统计受理量、限时办结率",
            lambda: compute(["volume", "on_time_rate"], month, ["unit"]),
        )
    database.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg-orders", type=int, default=1_000_000)
    ap.add_argument("--sqlite-orders", type=int, default=300_000)
    ap.add_argument("--fresh-orders", type=int, default=20_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        s = node_settings.for_tests(home, "sqlite:///unused.db")
        node_settings.configure(s)
        pii.configure(s.data_key)
        fresh_node(home / "fresh.db", args.fresh_orders)
        bench("SQLite", f"sqlite:///{home / 'bench.db'}", args.sqlite_orders)
        with pg_bench_database("bench_topics") as url:
            bench("PostgreSQL", url, args.pg_orders)


if __name__ == "__main__":
    main()
