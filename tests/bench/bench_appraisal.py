"""Monthly appraisal run over 200 agents, 300 units and 300,000 orders on SQLite (issue #14).

Builds the month in a throwaway SQLite node (orders with their lead-unit assignments, call legs,
phone ratings, urges, returns, scored QA inspections), then times `runs.score_period` for the agents
and for the units (target: ≤ 60 s for the monthly run). Prints the figures.
Run: .venv/bin/python -m tests.bench.bench_appraisal [--orders N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import tempfile
import time
from pathlib import Path

from node import clock, db, pii
from node import settings as node_settings
from node.appraisal import runs
from node.appraisal.models import Inspection, Result
from node.auth.models import User
from node.catalog import service as catalog
from node.catalog.models import Unit
from node.registry import all_models
from node.telephony.models import Agent, Call, CallLeg, PhoneRating
from node.workflow.models import Assignment, Urge, WorkOrder

START = dt.datetime(2026, 11, 1)


def _chunks(rows: list[dict], n: int = 2000):  # type: ignore[no-untyped-def]
    for i in range(0, len(rows), n):
        yield rows[i : i + n]


def build(orders: int, agents: int, units: int, calls: int) -> None:
    rnd = random.Random(14)
    now = START
    with db.database.atomic():
        for chunk in _chunks(
            [
                {"code": f"B{i:04d}", "name": f"承办单位{i}", "region_code": "320102", "created_at": now}
                for i in range(units)
            ]
        ):
            Unit.insert_many(chunk).execute()
        unit_ids = [u.id for u in Unit.select(Unit.id).where(Unit.code.startswith("B"))]
        User.insert_many(
            [
                {
                    "username": f"agent{i}",
                    "display_name": f"话务员{i}",
                    "password_hash": "x",
                    "roles": "agent",
                    "created_at": now,
                }
                for i in range(agents)
            ]
        ).execute()
        user_ids = [u.id for u in User.select(User.id).where(User.roles == "agent")]
        Agent.insert_many(
            [{"user": uid, "extension": f"8{n:03d}", "state_since": now} for n, uid in enumerate(user_ids)]
        ).execute()
        seat = {a.user_id: a.id for a in Agent.select()}
        rows = []
        for i in range(orders):
            at = START + dt.timedelta(seconds=rnd.randrange(29 * 86400))
            closed = at + dt.timedelta(days=rnd.randrange(1, 9)) if rnd.random() < 0.8 else None
            rows.append(
                {
                    "number": f"320100{at:%Y%m%d}1{i:06d}",
                    "origin_node": "320100",
                    "channel": "01",
                    "business_type": "1",
                    "domain": "04",
                    "region_code": "320102",
                    "title": "出租车拒载",
                    "content": "拒载",
                    "query_code": "123456",
                    "state": "closed" if closed else "handling",
                    "agent": rnd.choice(user_ids),
                    "accepted_at": at,
                    "dispatched_at": at,
                    "due_at": at + dt.timedelta(days=5),
                    "closed_at": closed,
                    "callback_at": closed + dt.timedelta(hours=3) if closed and rnd.random() < 0.5 else None,
                    "callback_result_satisfaction": rnd.choice("1123") if closed else "",
                    "created_at": at,
                    "updated_at": at,
                }
            )
        for chunk in _chunks(rows):
            WorkOrder.insert_many(chunk).execute()
        ids = list(WorkOrder.select(WorkOrder.id, WorkOrder.accepted_at).tuples())
        assigns, urges = [], []
        for oid, at in ids:
            unit = rnd.choice(unit_ids)
            assigns.append(
                {
                    "order": oid,
                    "unit": unit,
                    "role": "lead",
                    "status": "signed",
                    "dispatched_at": at,
                    "sign_due_at": at + dt.timedelta(hours=2),
                    "signed_at": at + dt.timedelta(minutes=rnd.randrange(10, 200)),
                }
            )
            if rnd.random() < 0.05:
                urges.append(
                    {"order": oid, "unit": unit, "at": at + dt.timedelta(days=1), "automatic": False}
                )
        for chunk in _chunks(assigns):
            Assignment.insert_many(chunk).execute()
        for chunk in _chunks(urges):
            Urge.insert_many(chunk).execute()
        call_rows = []
        for i in range(calls):
            at = START + dt.timedelta(seconds=rnd.randrange(29 * 86400))
            uid = rnd.choice(user_ids)
            call_rows.append(
                {
                    "uuid": f"b{i:010d}",
                    "engine": "bench",
                    "started_at": at,
                    "answered_at": at,
                    "agent": seat[uid],
                    "state": "ended",
                }
            )
        for chunk in _chunks(call_rows):
            Call.insert_many(chunk).execute()
        legs, ratings, inspections = [], [], []
        for cid, at, aid in Call.select(Call.id, Call.started_at, Call.agent).tuples():
            wait = rnd.uniform(1, 40)
            uid = next(u for u, a in seat.items() if a == aid) if False else None
            legs.append(
                {
                    "call": cid,
                    "seq": 1,
                    "day": at.date(),
                    "origin": "ivr",
                    "entered_at": at,
                    "answered_at": at + dt.timedelta(seconds=wait),
                    "wait_s": wait,
                    "talk_s": rnd.uniform(60, 600),
                    "wrapup_s": 20,
                    "outcome": "answered",
                    "agent": aid,
                    "user": uid,
                }
            )
            if rnd.random() < 0.6:
                ratings.append(
                    {
                        "call": cid,
                        "agent": aid,
                        "score": rnd.choice((1, 1, 2, 3)),
                        "at": at + dt.timedelta(minutes=5),
                    }
                )
        by_seat = {a: u for u, a in seat.items()}
        for leg in legs:
            leg["user"] = by_seat[leg["agent"]]
        for chunk in _chunks(legs):
            CallLeg.insert_many(chunk).execute()
        for chunk in _chunks(ratings):
            PhoneRating.insert_many(chunk).execute()
        first = {}
        for cid, aid in Call.select(Call.id, Call.agent).tuples():
            first.setdefault(aid, []).append(cid)
        for aid, cids in first.items():
            for cid in cids[:5]:
                inspections.append(
                    {
                        "call": cid,
                        "agent_user": by_seat[aid],
                        "period": "2026-11",
                        "reason": "random",
                        "status": "scored",
                        "total": rnd.uniform(70, 100),
                        "sampled_at": START,
                    }
                )
        for chunk in _chunks(inspections):
            Inspection.insert_many(chunk).execute()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=300_000)
    ap.add_argument("--agents", type=int, default=200)
    ap.add_argument("--units", type=int, default=300)
    ap.add_argument("--calls", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = node_settings.for_tests(Path(tmp), f"sqlite:///{tmp}/bench.db")
        node_settings.configure(settings)
        pii.configure(settings.data_key)
        database = db.bind(settings.database_url)
        with db.connection():
            database.create_tables(all_models())
            catalog.seed()
            t0 = time.perf_counter()
            build(args.orders, args.agents, args.units, args.calls)
            print(
                f"数据准备：{args.orders:,} 件工单、{args.calls:,} 通电话、{args.agents} 名话务员、{args.units} 个承办单位，用时 {time.perf_counter() - t0:.1f} 秒"
            )
            with clock.frozen(dt.datetime(2026, 12, 1, 2, 30)):
                total = 0.0
                for population in ("agent", "unit"):
                    t = time.perf_counter()
                    run = runs.score_period(None, population, "2026-11")
                    took = time.perf_counter() - t
                    total += took
                    n = Result.select().where(Result.run == run).count()
                    print(f"月度评分 {population}: {n} 个对象，用时 {took:.2f} 秒")
            print(
                f"月度评分合计（SQLite）：{total:.2f} 秒（目标 ≤ 60 秒）{'达标' if total <= 60 else '未达标'}"
            )


if __name__ == "__main__":
    main()
