"""Hub-and-spoke routing by GB/T 2260 region code (JT/T 1019.1).

Nodes form a tree: ministry `000000` → provinces `xx0000` → cities `xxxx00`. A message goes up
to the lowest common ancestor of origin and destination, then down. Routes are symmetric, so the
neighbour a message from `origin` must arrive through is `next_hop(me, origin)`: that is the only
peer allowed to relay it to us.
"""

from __future__ import annotations

import re

from node.errors import ValidationError

MINISTRY = "000000"
_CODE = re.compile(r"^\d{6}$")


def check_node(node: str) -> str:
    """Validate a node id (a ministry, province or city region code) and return it."""
    if not isinstance(node, str) or not _CODE.match(node):
        raise ValidationError(f"节点代码必须为6位数字：{node!r}")
    if node != MINISTRY and node[2:4] == "00" and node[4:] != "00":
        raise ValidationError(f"不是有效的节点代码：{node}")
    if node != MINISTRY and node[4:] != "00":
        raise ValidationError(f"节点代码应为部、省（xx0000）或市（xxxx00）级：{node}")
    return node


def level_of(node: str) -> str:
    check_node(node)
    if node == MINISTRY:
        return "ministry"
    return "province" if node[2:] == "0000" else "city"


def parent_of(node: str) -> str | None:
    level = level_of(node)
    if level == "ministry":
        return None
    return MINISTRY if level == "province" else node[:2] + "0000"


def ancestors(node: str) -> list[str]:
    """The node and its ancestors, nearest first: 320100 → [320100, 320000, 000000]."""
    chain = [node]
    while (up := parent_of(chain[-1])) is not None:
        chain.append(up)
    return chain


def node_for_region(region: str) -> str:
    """The node responsible for a (possibly county-level) region code: 320102 → 320100."""
    if not isinstance(region, str) or not _CODE.match(region):
        raise ValidationError(f"行政区划代码必须为6位数字：{region!r}")
    if region == MINISTRY or region[2:] == "0000":
        return region
    return region[:4] + "00"


def in_subtree(root: str, node: str) -> bool:
    return root in ancestors(node)


def subtree_prefix(node: str) -> str:
    """The prefix every region code (node or county) in the subtree of `node` starts with:
    000000 → "", 320000 → "32", 320100 → "3201"."""
    level = level_of(node)
    return "" if level == "ministry" else node[:2] if level == "province" else node[:4]


def lowest_common_ancestor(a: str, b: str) -> str:
    up_b = set(ancestors(b))
    return next(n for n in ancestors(a) if n in up_b)


def next_hop(me: str, destination: str) -> str:
    """The neighbour of `me` on the way to `destination`."""
    check_node(destination)
    if me == destination:
        raise ValidationError(f"目的节点就是本节点：{me}")
    if in_subtree(me, destination):
        chain = ancestors(destination)
        return chain[chain.index(me) - 1]
    parent = parent_of(me)
    assert parent is not None  # the ministry's subtree is everything
    return parent


def path(origin: str, destination: str) -> list[str]:
    """Every node a message visits, origin and destination included."""
    hops = [origin]
    while hops[-1] != destination:
        hops.append(next_hop(hops[-1], destination))
    return hops


def relay_allowed(me: str):  # type: ignore[no-untyped-def]
    """A predicate for `open_envelope`: may `relay` hand us a message that `origin` signed?"""

    def allowed(relay: str, origin: str) -> bool:
        try:
            return origin != me and next_hop(me, origin) == relay
        except ValidationError:
            return False

    return allowed
