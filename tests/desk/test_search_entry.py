"""#17 item 3: an order is found by full-text search however it entered the node — agent intake,
API, the portal, Open311, demo data or the CLI (no text module installed), a federation transfer,
a spot check, a split — and orders stored before the fix are re-segmented by migration 0070."""

from __future__ import annotations

import datetime as dt
import importlib
from typing import Any

import pytest
from flask.testing import FlaskClient

from node import db as node_db
from node.portal import service as portal
from node.workflow import service as workflow
from node.workflow.models import WorkOrder
from tests import factories

TEXT = "在南京火车站打出租车被拒载，司机态度恶劣"


def _found(word: str) -> set[str]:
    orders, _ = workflow.list_orders(factories.actor("shift_leader"), workflow.OrderFilter(q=word), 1, 100)
    return {o.number for o in orders}


def _fields(number: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {
        "business_type": "1",
        "domain": "04",
        "sub_business": "0403",
        "channel": "01",
        "region_code": "320102",
        "content": TEXT,
        "contact_phone": "13912345678",
        "title": "",
    }
    if number:
        out.update(number=number, accepted_at=dt.datetime(2026, 11, 30, 9, 0), origin_node="320200")
    return out


def test_every_way_in_is_searchable(
    client: FlaskClient, db: str, token_for: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # as in the CLI, demo data, import and the worker: the text module is not installed
    monkeypatch.setattr(workflow, "SEARCH_TOKENS", [])
    numbers: dict[str, str] = {}
    numbers["engine"] = factories.make_order(content=TEXT).number
    numbers["portal"] = portal.submit(
        "127.0.0.1",
        {"business_type": "1", "region_code": "320102", "content": TEXT, "caller_phone": "13812345678"},
        limit=False,
    ).number
    agent = factories.actor("agent")
    numbers["transfer"] = workflow.receive_transfer(
        agent, _fields("320200202611301000001"), [], from_node="320200"
    ).number
    numbers["spot_check"] = workflow.receive_spot_check(
        agent, _fields(), from_node="320000", check_id="c1"
    ).number
    resp = client.post(
        "/api/v1/orders",
        json={**factories.ORDER_DEFAULTS, "content": TEXT},
        headers=token_for("agent"),
    )
    assert resp.status_code == 201, resp.get_json()
    numbers["api"] = resp.get_json()["number"]
    parent = factories.make_order("pending_review", content="两件事：公交车不停站；另外" + TEXT)
    workflow.perform(
        factories.actor("shift_leader"),
        parent.number,
        "split",
        {
            "parts": [
                {"content": "公交车不停站", "business_type": "1", "domain": "04", "sub_business": "0401"},
                {"content": TEXT, "business_type": "1", "domain": "04", "sub_business": "0403"},
            ]
        },
    )
    child = WorkOrder.get(WorkOrder.parent == parent.id, WorkOrder.content == TEXT)
    numbers["split"] = child.number
    for word in ("拒载", "火车站", "态度恶劣"):
        found = _found(word)
        missing = {k: v for k, v in numbers.items() if v not in found}
        assert not missing, f"{word} 未检索到：{missing}"
    assert numbers["portal"] not in _found("公交车")


def test_migration_resegments_orders_stored_as_raw_text(db: str) -> None:
    old = [factories.make_order(content=TEXT) for _ in range(3)]
    ids = [o.id for o in old]
    # what a node holding orders from before the fix has: raw, unsegmented text
    WorkOrder.update(search_text=WorkOrder.content).where(WorkOrder.id.in_(ids)).execute()
    if node_db.is_sqlite():
        from node.workflow.search import backend

        backend().rebuild()
    assert not {o.number for o in old} & _found("火车站")
    migration = importlib.import_module("node.migrations.0070_order_search_retokenise")
    with node_db.write_tx():
        migration.up(None, node_db.database)
    assert {o.number for o in old} <= _found("火车站")
    assert {o.number for o in old} <= _found("拒载")
