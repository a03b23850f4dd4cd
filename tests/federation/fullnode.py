"""One whole test node in one process: `fullnode.py HOME`.

Prepares the node's own database (every table, the catalog, trusted keys and peers from
HOME/trust.json — what `hotline migrate` and `hotline admin enrol/import` do in production), then
runs the production pieces side by side: the federation gRPC server (`federation.server`) and a
worker loop doing what the worker's `federation_push` job does (`federation.service.worker_pass`:
queue order records, drain the outbox, apply the inbox) as soon as the server stores a message or a
command ran, else every second. Hosting both in one process keeps a 7-node test (and the 32-node
national day) tractable on 2 cores; production runs them as separate processes, the worker on its
2-second schedule.

`--no-catalog` skips seeding the catalog (relay-only nodes of the benchmark).
Commands arrive as JSON lines on stdin and are answered as JSON lines on stdout (`READY port`
first). They call the same services the web application and the CLI call.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from federation import downward, flows, reports, service, trust  # noqa: E402
from federation import forms as upward  # noqa: E402
from federation.models import InboxMessage, NodeReport, OutboxMessage, RemoteOrder, TransferLink  # noqa: E402
from federation.server import ServerParams, create_server  # noqa: E402
from node import db as node_db  # noqa: E402
from node import settings as node_settings  # noqa: E402
from node.auth import service as auth  # noqa: E402
from node.catalog import service as catalog  # noqa: E402
from node.registry import all_models  # noqa: E402
from node.workflow import service as workflow  # noqa: E402
from node.workflow.models import OrderEvent, WorkOrder  # noqa: E402
from tests import factories  # noqa: E402
from tests.federation import nodeproc  # noqa: E402
from tests.federation.helpers import sum_counts  # noqa: E402

_actors: dict[str, auth.Actor] = {}
IDLE_SECONDS = 1.0  # worker pass interval when nothing happens (retries, backoff ends)
_lock = threading.Lock()  # commands and worker passes take turns (one writer per SQLite node)


def actor(role: str, unit_code: str = "") -> auth.Actor:
    key = f"{role}:{unit_code}"
    if key not in _actors:
        unit = catalog.unit_by_code(unit_code) if unit_code else None
        _actors[key] = factories.actor(role, unit)
    return _actors[key]


def handle(settings: Any, cmd: dict[str, Any]) -> Any:
    op = cmd["op"]
    me = settings.region
    if op == "peer":
        return trust.add_peer(cmd["region"], me, address=cmd["address"]).region
    if op == "unit":
        return factories.make_unit(code=cmd["code"], region_code=cmd["region"]).code
    if op == "make_order":  # a local order walked through the engine to `state`
        unit = catalog.unit_by_code(cmd["unit"]) if cmd.get("unit") else None
        return factories.make_order(cmd.get("state", "accepted"), unit=unit, **cmd.get("fields", {})).number
    if op == "perform":
        who = actor(cmd["role"], cmd.get("unit", ""))
        return workflow.perform(who, cmd["number"], cmd["action"], cmd.get("body", {})).state
    if op == "order":
        order = WorkOrder.get_or_none(WorkOrder.number == cmd["number"])
        if order is None:
            return None
        events = OrderEvent.select().where(OrderEvent.order == order).order_by(OrderEvent.id)
        return {
            "state": order.state,
            "origin_node": order.origin_node,
            "region_code": order.region_code,
            "result_basic": order.result_basic,
            "contact_phone_masked": order.contact_phone_masked,
            "events": [[e.action, e.node] for e in events],
        }
    if op == "report":
        return reports.generate(me, reports.parse_date(cmd["date"])).revision
    if op == "catch_up":
        return [d.isoformat() for d in reports.catch_up(me, reports.parse_date(cmd["today"]))]
    if op == "rollup":
        return reports.rollup(me, cmd["date"], cmd.get("region"))
    if op == "own":  # this node's own figures for a date, straight from its tables
        return sum_counts(reports.compute(me, reports.parse_date(cmd["date"])))
    if op == "counts":  # cheap progress figures (the benchmark polls these)
        day = reports.parse_date(cmd["date"])
        return {
            "remote_orders": RemoteOrder.select().count(),
            "reports": NodeReport.select().where(NodeReport.report_date == day).count(),
            "inbox_open": InboxMessage.select().where(InboxMessage.status == "received").count(),
            "inbox_failed": InboxMessage.select().where(InboxMessage.status == "failed").count(),
        }
    if op == "forms_job":  # the worker's stats_forms job: finished periods' forms, the month's sent up
        from node.analytics import jobs

        return [p.name for p in jobs.generate(settings, reports.parse_date(cmd["today"]))]
    if op == "form":  # (re)send a month's form now: a new revision
        from node.analytics import forms as annex
        from node.analytics import periods

        period = periods.parse_period(cmd["period"])
        return upward.generate(me, period.key, annex.build(period, settings.name)).revision
    if op == "forms":
        return upward.list_forms(me, cmd.get("period"))
    if op == "form_of":
        return upward.get_form(me, cmd["node"], cmd["period"])
    if op == "form_rollup":
        return upward.rollup(me, cmd["period"], cmd.get("region"))
    if op == "publish_bulletin":
        return downward.publish_bulletin(
            me, cmd["scope"], title=cmd["title"], body=cmd["body"], category=cmd.get("category", "")
        ).bulletin_id
    if op == "bulletins":
        return downward.list_bulletins(include_withdrawn=True)
    if op == "spot_check":
        return downward.send_spot_check(me, cmd["target"], cmd["fields"], issued_by="测试").check_id
    if op == "spot_checks":
        return downward.list_spot_checks(me)
    if op == "state":
        return {
            "orders": WorkOrder.select().where(WorkOrder.origin_node == me).count(),
            "outbox_pending": OutboxMessage.select()
            .where(OutboxMessage.status.in_(("pending", "held")))
            .count(),
            "outbox_parked": OutboxMessage.select().where(OutboxMessage.status == "parked").count(),
            "outbox_retried": OutboxMessage.select().where(OutboxMessage.attempts > 1).count(),
            "inbox_open": InboxMessage.select()
            .where(InboxMessage.status.in_(("received", "failed")))
            .count(),
            "inbox_failed": [r.error for r in InboxMessage.select().where(InboxMessage.status == "failed")],
            "reports": sorted(f"{r.node}:{r.report_date}:{r.revision}" for r in NodeReport.select()),
            "remote_orders": sorted(f"{r.reporter}:{r.number}:{r.state}" for r in RemoteOrder.select()),
            "links": sorted(
                f"{t.direction}:{t.number}:{t.peer}:{t.status}:{t.last_sequence}"
                for t in TransferLink.select()
            ),
        }
    raise ValueError(f"未知命令：{op}")


def pooled(settings: Any) -> Any:
    """On PostgreSQL, a pool for every thread of this process: the server's 8 threads each keep a
    connection, plus the worker and the command loop (production runs the worker apart)."""
    url = settings.database_url
    if not url.startswith("postgres") or "max_connections=" in url:
        return settings
    return dataclasses.replace(
        settings, database_url=url + ("&" if "?" in url else "?") + "max_connections=12"
    )


def main() -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    home = Path(sys.argv[1])
    light = "--no-catalog" in sys.argv  # a relay-only node (benchmark) needs no catalog
    settings = pooled(node_settings.load(home / "node.toml"))
    node_db.bind(settings.database_url)
    with node_db.connection():
        node_db.database.create_tables(all_models(), safe=True)
        if not light:
            catalog.seed()
    nodeproc.prepare(settings)  # trusted keys and peers
    service.configure(settings)
    server, port = create_server(
        ServerParams.from_settings(settings), f"127.0.0.1:{settings.federation_port}"
    )
    stop = threading.Event()
    sender = service.make_sender(settings)

    arrived = server.receiver.arrived  # set by the server when it stores a new message

    def work() -> None:
        node_db.database.connect(reuse_if_open=True)  # the worker keeps one connection open
        while not stop.is_set():
            arrived.clear()
            busy = False
            try:
                with _lock:
                    result = service.worker_pass(settings, sender)
                busy = any(result[k] for k in ("records", "sent", "duplicates", "processed", "failed"))
            except Exception:
                logging.exception("worker pass failed")
            if not busy:  # idle: sleep until a delivery or a command arrives (retries: every second)
                arrived.wait(IDLE_SECONDS)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    print(f"READY {port}", flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        try:
            with _lock, node_db.connection():
                flows.install()
                result = {"ok": handle(settings, cmd)}
        except Exception as exc:
            result = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-2000:]}
        print(json.dumps(result, ensure_ascii=False, default=str), flush=True)
        arrived.set()  # a command may have queued messages: the worker looks at once
    stop.set()
    arrived.set()
    worker.join(5)
    sender.close()
    server.stop(1).wait()


if __name__ == "__main__":
    main()
