"""Monthly report forms (月报, JT/T 1019.5 annex A) sent upward, kept by province and ministry.

When the worker's `stats_forms` job writes a finished month's form (`node.analytics.jobs`), it
calls `generate`: the form (`node.analytics.forms.build` data) is stored as this node's own and
queued to the ministry as a `MonthlyForm` over the signed outbox, exactly like a daily report — the
province relays it and keeps a copy (a tap), so a province holds its cities' forms and the ministry
everyone's. A received form replaces the stored one of the same node and period only with a higher
revision (re-sending is idempotent; an older revision arriving late changes nothing). The receiver
checks that the form is in the sender's own name, goes up, names a month and has the form's shape
(`flows._check_form`), and that the node lies in its subtree (`apply_form`).

`rollup` sums the stored forms of a region's subtree into one form (`node.analytics.forms.rollup`:
summed numerators and denominators, counts and growth bases — never averaged rates).
"""

from __future__ import annotations

from typing import Any

import peewee as pw

from federation import codec, sender
from federation.models import NodeForm, Peer
from federation.routing import MINISTRY, check_node, in_subtree, parent_of, subtree_prefix
from federation.v1 import federation_pb2 as pb
from node import clock
from node.db import write_tx
from node.errors import NotFound, PermissionDenied, ValidationError

_tick = [0]


def _revision() -> int:
    _tick[0] = (_tick[0] + 1) % 1000
    return clock.to_epoch_ms(clock.now()) * 1000 + _tick[0]


def check_month(period: str) -> str:
    import re

    if not isinstance(period, str) or not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", period):
        raise ValidationError(f"月报周期应为年-月，如 2026-11：{str(period)[:20]}")
    return period


def store(node: str, period: str, revision: int, generated_at_ms: int, form: dict[str, Any]) -> bool:
    """Keep a form unless one with the same or a higher revision is stored. True if stored."""
    with write_tx():
        existing = NodeForm.get_or_none((NodeForm.node == node) & (NodeForm.period == period))
        if existing is not None:
            if existing.revision >= revision:
                return False
            NodeForm.update(
                revision=revision, generated_at_ms=generated_at_ms, received_at=clock.now(), form=form
            ).where(NodeForm.id == existing.id).execute()
        else:
            NodeForm.create(
                node=node,
                period=period,
                revision=revision,
                generated_at_ms=generated_at_ms,
                received_at=clock.now(),
                form=form,
            )
    return True


def generate(me: str, period: str, form: dict[str, Any], *, send: bool = True) -> pb.MonthlyForm:
    """Store this node's form of a month and (unless this is the ministry) queue it upward. Every
    call is a new revision that replaces the earlier one everywhere."""
    check_month(period)
    with write_tx():
        message = codec.monthly_form(me, period, form, _revision())
        store(me, period, message.revision, message.generated_at_ms, form)
        if send and parent_of(me) is not None:
            sender.enqueue(message, origin=me, destination=MINISTRY)
    return message


def apply_form(me: str, origin: str, message: pb.MonthlyForm) -> None:
    """Inbox handler: store a form of a node in our subtree (the receiver checked its name)."""
    if message.node != origin or not in_subtree(me, origin):
        raise ValueError(f"月报节点 {message.node} 与发送节点 {origin} 不符")
    store(
        origin,
        check_month(message.period),
        message.revision,
        message.generated_at_ms,
        codec.form_data(message),
    )


# ---- reading ----------------------------------------------------------------------------------------


def _scope(me: str, region: str | None) -> str:
    region = check_node(region or me)
    if not in_subtree(me, region):
        raise PermissionDenied(f"本节点（{me}）无权查看 {region} 的报表")
    return region


def list_forms(me: str, period: str | None = None, region: str | None = None) -> list[dict[str, Any]]:
    """The forms held for `region`'s subtree (default: ours), newest period first."""
    region = _scope(me, region)
    query = NodeForm.select(
        NodeForm.node, NodeForm.period, NodeForm.revision, NodeForm.received_at, NodeForm.generated_at_ms
    )
    prefix = subtree_prefix(region)
    if prefix:
        query = query.where(NodeForm.node.startswith(prefix))
    if period:
        query = query.where(NodeForm.period == check_month(period))
    return [
        {
            "node": r.node,
            "period": r.period,
            "revision": r.revision,
            "received_at": r.received_at.isoformat(sep=" ", timespec="seconds"),
            "own": r.node == me,
        }
        for r in query.order_by(NodeForm.period.desc(), NodeForm.node)
    ]


def get_form(me: str, node: str, period: str) -> dict[str, Any]:
    node = _scope(me, node)
    row = NodeForm.get_or_none((NodeForm.node == node) & (NodeForm.period == check_month(period)))
    if row is None:
        raise NotFound(f"没有 {node} {period} 的月报")
    return dict(row.form)


def rollup(me: str, period: str, region: str | None = None) -> dict[str, Any]:
    """The forms of every node in `region`'s subtree for `period`, summed into one form, with which
    nodes it includes and which subordinates (linked children) have not sent theirs."""
    from node.analytics import forms
    from node.catalog import service as catalog

    region = _scope(me, region)
    check_month(period)
    query = NodeForm.select().where(NodeForm.period == period)
    prefix = subtree_prefix(region)
    if prefix:
        query = query.where(NodeForm.node.startswith(prefix))
    rows = list(query.order_by(NodeForm.node))
    if not rows:
        raise NotFound(f"{catalog.region_name(region) or region} 还没有 {period} 的月报")
    included = [r.node for r in rows]
    expected = set()
    if region == me:
        expected = {p.region for p in Peer.select(Peer.region).where(Peer.relation == "child")}
    name = catalog.region_name(region) or ("全国" if region == MINISTRY else region)
    data = forms.rollup(
        [r.form for r in rows],
        f"{name}汇总统计月报（{rows[0].form['period_label']}）",
        rows[0].form["period_label"],
    )
    data["nodes"] = included
    data["missing"] = sorted(expected - set(included))
    return data


def subordinates(me: str) -> list[str]:
    """Nodes below us whose forms we hold or expect (linked children), for the screen's chooser."""
    prefix = subtree_prefix(me)
    held = NodeForm.select(pw.fn.DISTINCT(NodeForm.node))
    if prefix:
        held = held.where(NodeForm.node.startswith(prefix))
    nodes = {n for (n,) in held.tuples()} | {
        p.region for p in Peer.select(Peer.region).where(Peer.relation == "child")
    }
    nodes.discard(me)
    return sorted(nodes)
