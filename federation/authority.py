"""Subtree authority: a node speaks only for orders of its own subtree, or for orders it holds
because a transfer brought them there.

Every receiver runs these checks before storing a message (`inbox.PRECHECKS`); a refusal leaves no
trace and names its reason (`Ack.Reason`, counted in `federation_rejects_total{reason}`):

- NUMBER_NOT_ORIGIN: an order number is always issued by its origin node (its first six digits), so
  a record or transfer whose number is not its origin's is invented.
- RECORD_NOT_IN_SUBTREE: an order record from node X must be about an order accepted in X's subtree,
  or one handled in X's subtree after a transfer into it.
- TRANSFER_NOT_HELD: a transfer from X carries X's own order, or one X received by transfer.
- UNKNOWN_TRANSFER: an update goes back only from the node a transfer (or spot check) went to, to
  the node it came from.

Facts about transfers come from the route ledger (`TransferRoute`): the clear fields of every
transfer and spot check this node queued, passed on or received (the content itself is sealed to
the destination, see `federation/seal.py`). Every message a node sends leaves through its parent,
and every transfer to it arrives through its parent (or from the parent itself), so the first node
after the sender holds the facts: it checks them (`Claim.direct`). Nodes further on receive the
message from a relay that checked it, over that relay's authenticated link, and check what the
message says about itself only. A transfer handed down by an ancestor of the receiver is taken on
the ancestor's word, as its bulletins and its children's keys are.
"""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf.message import Message

from federation.envelope import Rejected
from federation.models import TransferRoute
from federation.routing import check_node, in_subtree
from federation.v1 import federation_pb2 as pb
from node import clock
from node.errors import ValidationError

Reason = pb.Ack.Reason
TRANSFER_TYPE = pb.OrderTransfer.DESCRIPTOR.full_name
SPOT_CHECK_TYPE = pb.SpotCheckOrder.DESCRIPTOR.full_name
UPDATE_TYPE = pb.OrderUpdate.DESCRIPTOR.full_name


@dataclass(frozen=True)
class Claim:
    """Who says what: the receiving node, the message's origin and destination, and whether the
    origin handed it to us itself (we are the first node to check it)."""

    me: str
    origin: str
    destination: str
    direct: bool


def _node(code: str) -> str | None:
    try:
        return check_node(code)
    except ValidationError:
        return None


def number_origin(number: str) -> str | None:
    """The node that issued a 21-digit order number (its first six digits), if well formed."""
    if len(number) != 21 or not number.isascii() or not number.isdigit():
        return None
    return _node(number[:6])


def within(root: str, node: str) -> bool:
    return _node(node) is not None and in_subtree(root, node)


# ---- the route ledger -----------------------------------------------------------------------------


def note(payload_type: str, payload: Message) -> None:
    """Record the clear facts of a transfer or spot check queued, passed on or received here, and a
    refusal passing back (call inside the transaction that stores or queues the message)."""
    if payload_type == TRANSFER_TYPE:
        assert isinstance(payload, pb.OrderTransfer)
        _add(payload.transfer_id, payload.order_number, payload.from_node, payload.to_node, "transfer")
    elif payload_type == SPOT_CHECK_TYPE:
        assert isinstance(payload, pb.SpotCheckOrder)
        _add(payload.check_id, "", payload.issuer_node, payload.target_node, "spot_check")
    elif payload_type == UPDATE_TYPE:
        assert isinstance(payload, pb.OrderUpdate)
        if payload.kind == pb.OrderUpdate.TRANSFER_REFUSED:
            TransferRoute.update(refused=True).where(
                (TransferRoute.transfer_id == payload.transfer_id)
                & (TransferRoute.to_node == payload.from_node)
            ).execute()


def _add(transfer_id: str, number: str, from_node: str, to_node: str, kind: str) -> None:
    TransferRoute.insert(
        transfer_id=transfer_id[:64],
        number=number[:21],
        from_node=from_node[:6],
        to_node=to_node[:6],
        kind=kind,
        created_at=clock.now(),
    ).on_conflict_ignore().execute()


def holds(node: str, number: str) -> bool:
    """Did order `number` reach `node` by a transfer this node saw (and not refused there)?"""
    return (
        TransferRoute.select()
        .where(
            (TransferRoute.number == number)
            & (TransferRoute.to_node == node)
            & (TransferRoute.refused == False)  # noqa: E712
        )
        .exists()
    )


# ---- checks ---------------------------------------------------------------------------------------


def check_record(claim: Claim, record: pb.OrderRecord) -> None:
    """May `claim.origin` report this order record?"""
    number = record.order_number
    issuer = number_origin(number)
    if issuer is None or issuer != record.origin_node:
        raise Rejected(
            Reason.NUMBER_NOT_ORIGIN, f"工单编号 {number[:24]} 不是由 {record.origin_node[:6]} 编发的"
        )
    handler = _node(record.handling_node)
    if handler is None:
        raise Rejected(Reason.PAYLOAD_MALFORMED, f"工单 {number} 的办理节点无效")
    reporter = claim.origin
    own, handles = in_subtree(reporter, issuer), in_subtree(reporter, handler)
    if not own and not handles:
        raise Rejected(
            Reason.RECORD_NOT_IN_SUBTREE, f"{reporter} 不能报送 {issuer} 受理、{handler} 办理的工单 {number}"
        )
    if not claim.direct:
        return  # the relay that took it from the reporter checked the transfer facts
    if handles and not own and not holds(handler, number):
        raise Rejected(
            Reason.RECORD_NOT_IN_SUBTREE, f"工单 {number} 未转办至 {handler}，{reporter} 不能报送其办理情况"
        )
    if own and not handles and not holds(handler, number):
        raise Rejected(Reason.RECORD_NOT_IN_SUBTREE, f"工单 {number} 未转办至 {handler}，不能报送为由其办理")


def check_transfer(claim: Claim, transfer: pb.OrderTransfer) -> None:
    """May `claim.origin` transfer this order?"""
    number = transfer.order_number
    issuer = number_origin(number)
    if issuer is None:
        raise Rejected(Reason.PAYLOAD_MALFORMED, f"转办缺少工单编号或编号格式错误：{number[:24]!r}")
    if issuer == claim.origin:
        return  # its own order
    if not claim.direct or in_subtree(claim.origin, claim.me):
        return  # checked by the relay before us, or handed down by our own ancestor
    if not holds(claim.origin, number):
        raise Rejected(Reason.TRANSFER_NOT_HELD, f"{claim.origin} 既未受理也未接收过工单 {number}，不能转办")


def check_update(claim: Claim, update: pb.OrderUpdate) -> None:
    """Does this update go back along a transfer (or spot check) that went the other way?"""
    if not claim.direct:
        return
    route = TransferRoute.get_or_none(TransferRoute.transfer_id == update.transfer_id)
    if route is None or route.to_node != claim.origin or route.from_node != claim.destination:
        raise Rejected(
            Reason.UNKNOWN_TRANSFER,
            f"{claim.destination} 没有发往 {claim.origin} 的转办或抽检 {update.transfer_id[:64]}",
        )
    if route.kind == "transfer" and route.number != update.order_number:
        raise Rejected(
            Reason.UNKNOWN_TRANSFER,
            f"转办 {route.transfer_id} 的工单是 {route.number}，不是 {update.order_number[:24]}",
        )
