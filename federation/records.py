"""Read side of the federation business tables: order records received from the subtree (the
order-level drill-down under a rollup) and the cross-region transfer links of an order."""

from __future__ import annotations

import datetime as dt
from typing import Any

from federation.models import RemoteOrder, TransferLink
from federation.reports import day_bounds, parse_date
from federation.routing import check_node, in_subtree, subtree_prefix
from node.errors import PermissionDenied
from node.workflow.present import iso


def list_records(
    me: str, day: str | dt.date, region: str | None = None, page: int = 1, page_size: int = 50
) -> tuple[list[dict[str, Any]], int]:
    """Records of orders accepted on `day` whose matter lies in `region` (default: our subtree)."""
    day = parse_date(day)
    region = check_node(region or me)
    if not in_subtree(me, region):
        raise PermissionDenied(f"本节点（{me}）无权查看 {region} 的工单记录")
    start, end = day_bounds(day)
    query = RemoteOrder.select().where(RemoteOrder.accepted_at >= start, RemoteOrder.accepted_at < end)
    prefix = subtree_prefix(region)
    if prefix:
        query = query.where(RemoteOrder.region_code.startswith(prefix))
    total = query.count()
    rows = query.order_by(RemoteOrder.accepted_at, RemoteOrder.number, RemoteOrder.reporter).paginate(
        page, page_size
    )
    return [
        {
            "number": r.number,
            "reporter": r.reporter,
            "origin_node": r.origin_node,
            "handling_node": r.handling_node,
            "region_code": r.region_code,
            "business_type": r.business_type,
            "domain": r.domain,
            "channel": r.channel,
            "state": r.state,
            "category": r.category,
            "accepted_at": iso(r.accepted_at),
            "closed_at": iso(r.closed_at),
            "revision": r.revision,
        }
        for r in rows
    ], total


def transfer_links(number: str) -> list[dict[str, Any]]:
    return [
        {
            "transfer_id": link.transfer_id,
            "direction": link.direction,
            "peer": link.peer,
            "status": link.status,
            "last_sequence": link.last_sequence,
            "created_at": iso(link.created_at),
            "updated_at": iso(link.updated_at),
        }
        for link in TransferLink.select().where(TransferLink.number == number).order_by(TransferLink.id)
    ]
