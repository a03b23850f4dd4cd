"""Indicator engine speed (issue #10): the dashboard's queries for one month over 1,000,000 orders
on PostgreSQL and 300,000 on SQLite (target ≤ 2 s each), and historical import throughput
(target ≥ 2,000 rows/s, on a generated Boston-shaped file: the benchmark does not need
../shared/data).

Rows are generated inside the database (INSERT … SELECT over a number series): orders over 13
months with every state, due and closure times, callback ratings; one call leg per three orders.
Run: .venv/bin/python -m tests.bench.bench_analytics [--pg-orders N] [--sqlite-orders M]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import tempfile
import time
from pathlib import Path
from typing import Any

import peewee as pw

from node import db as node_db
from node import pii
from node import settings as node_settings
from node.catalog import service as catalog
from node.registry import all_models
from tests.bench.harness import pg_bench_database

MONTH = "2026-11"
BASE = "2025-11-01"
DAYS = 395  # 2025-11-01 … 2026-11-30


def _series(n: int) -> str:
    if node_db.is_sqlite():
        return f"WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) SELECT {{cols}} FROM s"
    return f"SELECT {{cols}} FROM generate_series(1, {n}) AS s(i)"


def _at(days: str, seconds: str, base: str = BASE) -> str:
    """SQL for `base` + days + seconds (SQL expressions) on either database."""
    if node_db.is_sqlite():
        return f"datetime('{base}', '+' || ({days}) || ' days', '+' || ({seconds}) || ' seconds')"
    return f"(TIMESTAMP '{base}' + ({days}) * INTERVAL '1 day' + ({seconds}) * INTERVAL '1 second')"


def _plus(expr: str, days: str) -> str:
    if node_db.is_sqlite():
        return f"datetime({expr}, '+' || ({days}) || ' days')"
    return f"({expr} + ({days}) * INTERVAL '1 day')"


def _fill(model: type[pw.Model], exprs: dict[str, str], n: int) -> None:
    """INSERT … SELECT n generated rows; columns not given get their model default."""
    false = "0" if node_db.is_sqlite() else "false"
    cols, values = [], []
    for f in model._meta.sorted_fields:
        if f.name == "id":
            continue
        if f.name in exprs:
            value = exprs[f.name]
        elif f.null:
            continue
        elif isinstance(f, pw.BooleanField):
            value = false
        elif isinstance(f, (pw.IntegerField, pw.FloatField)):
            value = str(f.default or 0)
        else:
            value = "'" + str(f.default or "") + "'"
        cols.append(f'"{f.column_name}"')
        values.append(value)
    sql = f'INSERT INTO "{model._meta.table_name}" ({", ".join(cols)}) ' + _series(n).format(
        cols=", ".join(values)
    )
    if not node_db.is_sqlite():
        sql = sql.replace("%", "%%")  # psycopg reads % as a placeholder
    node_db.database.execute_sql(sql)


def generate(n: int) -> None:
    from node.telephony.models import Call, CallLeg
    from node.workflow.models import WorkOrder

    accepted = _at(f"i % {DAYS}", "(i * 7) % 86400")
    closed_state = "(i % 10 >= 2)"
    _fill(
        WorkOrder,
        {
            "number": "'B' || CAST(i AS TEXT)",
            "origin_node": "'320100'",
            "channel": "'0' || CAST(1 + i % 6 AS TEXT)",
            "business_type": "CAST(1 + i % 3 AS TEXT)",
            "domain": "'0' || CAST(1 + i % 4 AS TEXT)",
            "road_class": "CASE WHEN i % 5 = 0 THEN '高速' ELSE '普通' END",
            "region_code": "'32010' || CAST(2 + i % 4 AS TEXT)",
            "title": "'测试工单'",
            "content": "'测试内容'",
            "query_code": "'123456'",
            "state": "CASE WHEN i % 10 = 0 THEN 'handling' WHEN i % 10 = 1 THEN 'answered' WHEN i % 10 = 2 THEN 'visited' ELSE 'closed' END",
            "immediate_answer": "CASE WHEN i % 10 = 1 THEN '已答复' ELSE '' END",
            "accepted_at": accepted,
            "due_at": _plus(accepted, "5"),
            "dispatched_at": f"CASE WHEN i % 10 = 1 THEN NULL ELSE {accepted} END",
            "closed_at": f"CASE WHEN i % 10 = 1 THEN {accepted} WHEN {closed_state} THEN {_plus(accepted, 'i % 8')} ELSE NULL END",
            "callback_at": f"CASE WHEN i % 10 = 2 THEN {_plus(accepted, '9')} ELSE NULL END",
            "callback_result_satisfaction": "CASE WHEN i % 10 = 2 THEN CAST(1 + i % 3 AS TEXT) ELSE '' END",
            "callback_service_satisfaction": "CASE WHEN i % 10 = 2 THEN CAST(1 + (i / 10) % 3 AS TEXT) ELSE '' END",
            "created_at": accepted,
            "updated_at": accepted,
        },
        n,
    )
    calls = n // 3
    _fill(
        Call,
        {
            "uuid": "'c' || CAST(i AS TEXT)",
            "engine": "'bench'",
            "started_at": accepted,
            "business": "CAST(1 + i % 3 AS TEXT)",
        },
        calls,
    )
    first = Call.select(pw.fn.MIN(Call.id)).scalar()
    day = f"date({accepted})" if node_db.is_sqlite() else f"CAST({accepted} AS DATE)"
    _fill(
        CallLeg,
        {
            "call": f"{first} - 1 + i",
            "seq": "1",
            "day": day,
            "direction": "'inbound'",
            "origin": "'ivr'",
            "queue": "CAST(1 + i % 3 AS TEXT)",
            "entered_at": accepted,
            "answered_at": f"CASE WHEN i % 8 = 0 THEN NULL ELSE {accepted} END",
            "wait_s": "CAST(i % 40 AS REAL)" if node_db.is_sqlite() else "CAST(i % 40 AS DOUBLE PRECISION)",
            "talk_s": "CASE WHEN i % 8 = 0 THEN NULL ELSE 120 + i % 200 END",
            "wrapup_s": "15",
            "outcome": "CASE WHEN i % 8 = 0 THEN 'abandoned' ELSE 'answered' END",
        },
        calls,
    )
    if not node_db.is_sqlite():
        node_db.database.execute_sql("ANALYZE")


def timed(label: str, fn: Any) -> float:
    start = time.perf_counter()
    fn()
    took = time.perf_counter() - start
    print(f"  {label}: {took:.2f} s {'✓' if took <= 2 else '✗ 超过 2 s'}", flush=True)
    return took


def dashboard_queries() -> float:
    """What /stats runs (today and the month, daily trend, by business type) and a breakdown."""
    from node.analytics import compute, periods
    from node.analytics.views import DASHBOARD

    month = periods.parse_period(MONTH)
    today = periods.parse_period("2026-11-20")
    total = 0.0
    total += timed("看板：本月全部指标（14 项）", lambda: compute(DASHBOARD, month))
    total += timed("看板：今日全部指标", lambda: compute(DASHBOARD, today))
    total += timed(
        "看板：本月每日趋势",
        lambda: compute(["volume", "closed", "on_time_rate", "connection_rate"], month, ["day"]),
    )
    total += timed("看板：按业务类型", lambda: compute(["volume"], month, ["business_type"]))
    total += timed(
        "分类统计：按渠道（含同比、环比、满意率）",
        lambda: compute(
            ["volume", "volume_mom", "volume_yoy", "on_time_rate", "result_satisfaction"], month, ["channel"]
        ),
    )
    print(f"  看板合计：{total:.2f} s")
    return total


def bench_backend(name: str, url: str, n: int, home: Path) -> None:
    database = node_db.bind(url)
    with node_db.connection():
        database.create_tables(all_models())
        catalog.seed()
        start = time.perf_counter()
        generate(n)
        print(
            f"\n[{name}] {n:,} 张工单、{n // 3:,} 通通话，生成用时 {time.perf_counter() - start:.1f} s",
            flush=True,
        )
        print("直接查询原始数据：")
        dashboard_queries()
        from node.analytics import facts, periods

        start = time.perf_counter()
        rows = facts.refresh(periods.parse_period(f"{BASE}~2026-11-30").days_list())
        took = time.perf_counter() - start
        print(f"统计日表：{rows:,} 行，全部重算用时 {took:.1f} s（工作进程每 5 分钟只重算变动的日期）")
        start = time.perf_counter()
        facts.refresh([dt.date(2026, 11, 20)])
        print(f"  重算一天：{time.perf_counter() - start:.2f} s")
        print("读取统计日表（看板实际使用）：")
        dashboard_queries()


def bench_import(home: Path, rows: int) -> None:
    """Throughput of `importer.run` on a generated Boston-shaped CSV (SQLite node)."""
    from node.analytics import importer

    path = home / "boston_like.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "case_id",
                "open_dt",
                "target_dt",
                "closed_dt",
                "case_status",
                "case_title",
                "subject",
                "reason",
                "type",
                "source",
                "location",
            ]
        )
        base = dt.datetime(2015, 1, 1)
        sources = ["Constituent Call", "Citizens Connect App", "Self Service", "City Worker App"]
        for i in range(rows):
            opened = base + dt.timedelta(minutes=i * 4)
            closed = opened + dt.timedelta(hours=i % 200) if i % 5 else None
            w.writerow(
                [
                    101001000000 + i,
                    opened.strftime("%Y-%m-%d %H:%M:%S"),
                    (opened + dt.timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S") if i % 4 else "",
                    closed.strftime("%Y-%m-%d %H:%M:%S") if closed else "",
                    "Closed" if closed else "Open",
                    "Street Light Outages",
                    "Public Works Department",
                    "Street Lights",
                    "Street Light Outages",
                    sources[i % 4],
                    f"{i} Beacon St  Boston  MA  02108",
                ]
            )
    mapping = Path(__file__).resolve().parents[2] / "node/analytics/mappings/boston311.toml"
    database = node_db.bind(f"sqlite:///{home / 'import.db'}")
    with node_db.connection():
        database.create_tables(all_models())
        catalog.seed()
        result = importer.run(path, mapping, me="320100")
    print(
        f"\n[导入] {result.imported:,} 行，用时 {result.seconds:.1f} s，{result.rate:,.0f} 行/秒 {'✓' if result.rate >= 2000 else '✗ 低于 2,000'}"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg-orders", type=int, default=1_000_000)
    ap.add_argument("--sqlite-orders", type=int, default=300_000)
    ap.add_argument("--import-rows", type=int, default=120_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        s = node_settings.for_tests(home, "sqlite:///unused.db")
        node_settings.configure(s)
        pii.configure(s.data_key)
        bench_backend("SQLite", f"sqlite:///{home / 'bench.db'}", args.sqlite_orders, home)
        with pg_bench_database("bench_stats") as url:
            bench_backend("PostgreSQL", url, args.pg_orders, home)
        bench_import(home, args.import_rows)


if __name__ == "__main__":
    main()
