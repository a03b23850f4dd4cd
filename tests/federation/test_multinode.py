"""Seven nodes on 127.0.0.1 — one ministry, two provinces, two cities under each — every node its own
process and database (three on PostgreSQL, four on SQLite), linked by mutual-TLS gRPC.

Shows: a cross-city transfer inside a province and a cross-province transfer through the ministry,
each handled at the destination in its normal flow with every update arriving back at the origin;
daily reports rolled up at province and ministry with totals equal to the sum of the nodes' own
figures; and a province killed (SIGKILL) and restarted during a stream of transfers and reports,
after which nothing is lost and nothing is applied twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from federation import pki
from node import clock
from tests import pg
from tests.federation.helpers import NodeHome, until

pytestmark = pytest.mark.multinode

ROOT = Path(__file__).resolve().parents[2]
MINISTRY, JS, ZJ = "000000", "320000", "330000"
NANJING, WUXI, HANGZHOU, NINGBO = "320100", "320200", "330100", "330200"
TREE = {MINISTRY: None, JS: MINISTRY, ZJ: MINISTRY, NANJING: JS, WUXI: JS, HANGZHOU: ZJ, NINGBO: ZJ}
ON_POSTGRES = {MINISTRY, ZJ, WUXI}
DISTRICT = {NANJING: "320102", WUXI: "320205", HANGZHOU: "330106", NINGBO: "330203"}


class Node:
    """A node process (tests/federation/fullnode.py) and its JSON-lines command channel."""

    def __init__(self, home: NodeHome):
        self.home = home
        self.region = home.region
        self.proc: subprocess.Popen[str] | None = None
        self.port = 0

    def start(self) -> Node:
        self._log = open(self.home.home / "node.log", "a")  # noqa: SIM115  closed in kill/stop
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("fullnode.py")), str(self.home.home)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("READY"):
            self.kill()
            raise RuntimeError(f"节点 {self.region} 未能启动：{line!r}\n{self.log()}")
        self.port = int(line.split()[1])
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def log(self) -> str:
        return (self.home.home / "node.log").read_text(errors="replace")[-4000:]

    def call(self, op: str, **kw: Any) -> Any:
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **kw}, ensure_ascii=False) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"节点 {self.region} 已退出\n{self.log()}")
        reply = json.loads(line)
        if "error" in reply:
            raise AssertionError(f"{self.region} {op}: {reply['error']}\n{reply.get('trace', '')}")
        return reply["ok"]

    def pin_port(self) -> None:
        """Restart on the same port (children keep the registered address)."""
        toml = self.home.home / "node.toml"
        toml.write_text(toml.read_text().replace("port = 0\n", f"port = {self.port}\n"))

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self._close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close()

    def _close(self) -> None:
        if self.proc is not None:
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None and not stream.closed:
                    with contextlib.suppress(BrokenPipeError):
                        stream.close()
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None


@pytest.fixture(scope="module")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Node]]:
    base = tmp_path_factory.mktemp("multinode")
    test_pki = pki.TestPki.create()
    urls = {r: pg.create_database("fedmn") if r in ON_POSTGRES else f"sqlite:///{base / r}.db" for r in TREE}
    homes = {r: NodeHome.create(base, r, urls[r], test_pki) for r in TREE}
    for home in homes.values():  # every node knows every key (the ministry's directory does this)
        home.trust(*[other for other in homes.values() if other is not home])
    nodes = {r: Node(h) for r, h in homes.items()}
    try:
        for node in nodes.values():
            node.start()
        for region, parent in TREE.items():
            if parent is not None:
                nodes[region].call("peer", region=parent, address=nodes[parent].address)
                nodes[parent].call("peer", region=region, address=nodes[region].address)
        for region in (NANJING, WUXI, HANGZHOU, NINGBO):
            nodes[region].call("unit", code=f"U{region}", region=DISTRICT[region])
        yield nodes
    finally:
        for node in nodes.values():
            node.stop()
        for region, url in urls.items():
            if region in ON_POSTGRES:
                pg.drop_database(url)


def transfer(nodes: dict[str, Node], origin: str, destination: str, **fields: Any) -> str:
    number = nodes[origin].call(
        "make_order", state="pending_dispatch", fields={"region_code": DISTRICT[origin], **fields}
    )
    state = nodes[origin].call(
        "perform",
        number=number,
        role="dispatcher",
        action="transfer",
        body={"region_code": DISTRICT[destination], "reason": "事发地属外地，转当地处理"},
    )
    assert state == "transferred"
    return number


def arrived(node: Node, number: str) -> dict[str, Any] | None:
    return node.call("order", number=number)


def handle(node: Node, number: str) -> None:
    """The destination's normal flow: dispatch to a local unit, sign, reply, review, close."""
    unit = f"U{node.region}"
    for role, action, body in [
        ("dispatcher", "dispatch", {"lead_unit": unit}),
        ("unit_staff", "sign", {}),
        ("unit_staff", "reply", {"basic": "经查属实", "process": "已责令整改", "basis": "《道路运输条例》"}),
        ("reviewer", "accept_reply", {}),
        ("reviewer", "close", {}),
    ]:
        node.call("perform", number=number, role=role, action=action, body=body, unit=unit)


REMOTE = [
    "remote_accepted",
    "remote_progress",
    "remote_signed",
    "remote_replied",
    "remote_progress",
    "remote_closed",
]


def remote_events(order: dict[str, Any]) -> list[list[str]]:
    return [e for e in order["events"] if e[0].startswith("remote_")]


def check_round_trip(nodes: dict[str, Node], origin: str, destination: str, number: str) -> None:
    there = until(lambda: arrived(nodes[destination], number), f"{number} 到达 {destination}")
    assert there["state"] == "pending_dispatch" and there["origin_node"] == origin
    assert [a for a, _ in there["events"]][:4] == ["create", "submit", "review", "transfer"]
    assert {n for _, n in there["events"][:4]} == {origin}  # the origin's history, kept as it was
    assert there["contact_phone_masked"].endswith("5678")
    handle(nodes[destination], number)
    back = until(
        lambda: (o := arrived(nodes[origin], number)) and o["state"] == "closed" and o,
        f"{number} 的办结动态回到 {origin}",
    )
    assert [a for a, _ in remote_events(back)] == REMOTE
    assert {n for _, n in remote_events(back)} == {destination}
    assert back["result_basic"] == "经查属实"
    # the origin owns the caller: it calls back
    assert (
        nodes[origin].call(
            "perform",
            number=number,
            role="agent",
            action="callback",
            body={"result_satisfaction": "2", "service_satisfaction": "2"},
        )
        == "visited"
    )


def settled(nodes: dict[str, Node]) -> bool:
    for node in nodes.values():
        state = node.call("state")
        assert not state["inbox_failed"], (node.region, state["inbox_failed"])
        assert state["outbox_parked"] == 0, node.region
        if state["outbox_pending"] or state["inbox_open"]:
            return False
    return True


def test_transfers_reports_and_a_parent_restart(network: dict[str, Node]) -> None:
    nodes = network
    today = clock.today().isoformat()
    # local business in every city
    for region in (NANJING, WUXI, HANGZHOU, NINGBO):
        unit = f"U{region}"
        region_fields = {"region_code": DISTRICT[region]}
        nodes[region].call("make_order", state="closed", unit=unit, fields=region_fields)
        nodes[region].call("make_order", state="dispatched", unit=unit, fields=region_fields)
        nodes[region].call(
            "make_order",
            fields={
                **region_fields,
                "business_type": "2",
                "sub_business": "",
                "immediate_answer": "已当场答复",
            },
        )

    # 1. cross-city inside Jiangsu (through the province) and cross-province (through the ministry)
    inside = transfer(nodes, NANJING, WUXI)
    across = transfer(nodes, NANJING, HANGZHOU)
    check_round_trip(nodes, NANJING, WUXI, inside)
    check_round_trip(nodes, NANJING, HANGZHOU, across)
    # the relays only passed the transfer on: no copy of the order at the province or the ministry
    for relay in (JS, MINISTRY, ZJ):
        assert arrived(nodes[relay], across) is None

    # 2. daily reports: the cities by the worker's catch-up job, provinces and ministry on demand
    tomorrow = (clock.today() + dt.timedelta(days=1)).isoformat()
    for region in (NANJING, WUXI, HANGZHOU, NINGBO):
        assert nodes[region].call("catch_up", today=tomorrow) == [today]
        assert nodes[region].call("catch_up", today=tomorrow) == []  # once per date
    for region in (JS, ZJ, MINISTRY):
        nodes[region].call("report", date=today)
    until(lambda: settled(nodes), "所有报文送达并处理")
    own = {r: nodes[r].call("own", date=today) for r in TREE}

    def summed(regions: list[str]) -> dict[str, int]:
        total: Counter[str] = Counter()
        for r in regions:
            total.update(own[r])
        return {k: v for k, v in total.items() if v}

    js = nodes[JS].call("rollup", date=today)
    assert len(js["nodes_reported"]) == 3
    assert js["totals"] == summed([JS, NANJING, WUXI])
    nation = nodes[MINISTRY].call("rollup", date=today)
    assert sorted(nation["nodes_reported"]) == sorted(TREE)
    assert nation["totals"] == summed(list(TREE))
    assert nation["totals"]["accepted"] == 4 * 3 + 2  # two more orders accepted (and transferred) in Nanjing
    provinces = {c["region"]: c["totals"] for c in nation["children"] if not c["own"]}
    assert provinces == {JS: summed([JS, NANJING, WUXI]), ZJ: summed([ZJ, HANGZHOU, NINGBO])}
    drill = nodes[MINISTRY].call("rollup", date=today, region=ZJ)
    assert {c["region"]: c["totals"] for c in drill["children"] if c["reported"]} == {
        r: own[r] for r in (ZJ, HANGZHOU, NINGBO)
    }
    assert nodes[MINISTRY].call("rollup", date=today, region=WUXI)["totals"] == own[WUXI]
    assert nation["totals"]["transferred_in"] == 2 and nation["totals"]["transferred_out"] == 2

    # 3. Jiangsu dies during a stream of transfers and reports, and comes back on the same port
    nodes[JS].pin_port()
    streamed: list[str] = [transfer(nodes, NANJING, WUXI)]
    nodes[JS].kill()
    streamed += [transfer(nodes, NANJING, WUXI) for _ in range(2)]
    streamed += [transfer(nodes, WUXI, NINGBO)]  # crosses two provinces, the first one down
    nodes[NANJING].call("make_order", state="closed", unit=f"U{NANJING}", fields={"region_code": "320102"})
    nodes[NANJING].call("report", date=today)  # a new revision while the parent is down
    nodes[WUXI].call("report", date=today)
    time.sleep(2)
    nodes[JS].start()
    for number in streamed[:3]:
        check_round_trip(nodes, NANJING, WUXI, number)
    check_round_trip(nodes, WUXI, NINGBO, streamed[3])
    nodes[NANJING].call("report", date=today)  # the callbacks and closures since
    nodes[WUXI].call("report", date=today)
    nodes[NINGBO].call("report", date=today)
    until(lambda: settled(nodes), "重启后所有报文送达并处理", timeout=90)

    # nothing lost, nothing applied twice
    for number in streamed:
        origin = NANJING if number.startswith(NANJING) else WUXI
        events = [a for a, _ in remote_events(arrived(nodes[origin], number))]
        assert events == REMOTE, (number, events)
    own = {r: nodes[r].call("own", date=today) for r in TREE}
    nation = nodes[MINISTRY].call("rollup", date=today)
    assert nation["totals"] == summed(list(TREE))
    js = nodes[JS].call("rollup", date=today)
    assert js["totals"] == summed([JS, NANJING, WUXI])
    latest = {line.split(":")[0]: line for line in nodes[MINISTRY].call("state")["reports"]}
    for region in (NANJING, WUXI):
        mine = [r for r in nodes[region].call("state")["reports"] if r.startswith(region)]
        assert latest[region] == mine[-1]  # the ministry holds the latest revision
    ministry = nodes[MINISTRY].call("state")
    records = Counter(line.split(":")[1] for line in ministry["remote_orders"])
    for number in streamed:  # origin and handling node each report the transferred order once
        assert records[number] == 2
    # the outage was real: the head of the queue to the province failed and was retried (FIFO)
    assert nodes[NANJING].call("state")["outbox_retried"] >= 1
    links = nodes[NANJING].call("state")["links"]
    assert sum(1 for link in links if link.startswith("out:")) == 2 + 3
    assert all(link.endswith(":closed:6") for link in links)


def test_spot_check_down_and_its_progress_back_and_a_bulletin_to_every_node(
    network: dict[str, Node],
) -> None:
    nodes = network
    # a knowledge bulletin for the nation: the ministry → each province → each of its cities
    bulletin = nodes[MINISTRY].call(
        "publish_bulletin",
        scope=MINISTRY,
        title="网约车投诉处理口径",
        body="一、平台责任……",
        category="业务流程",
    )
    # a spot-check test order from the ministry to Wuxi (through Jiangsu)
    check = nodes[MINISTRY].call(
        "spot_check",
        target=WUXI,
        fields={
            "business_type": "1",
            "domain": "04",
            "sub_business": "0403",
            "channel": "01",
            "region_code": DISTRICT[WUXI],
            "content": "（抽检）无锡火车站出租车拒载，请核实处理。",
            "contact_phone": "13900002222",
        },
    )

    def accepted() -> str:
        (item,) = [c for c in nodes[MINISTRY].call("spot_checks") if c["check_id"] == check]
        return str(item["order_number"])

    number = until(accepted, "抽检工单在无锡生成并回报工单编号")
    there = arrived(nodes[WUXI], number)
    assert there is not None and there["origin_node"] == WUXI and there["state"] == "pending_review"
    assert there["events"] == [["receive_spot_check", WUXI]]
    assert arrived(nodes[JS], number) is None  # the province only passed it on
    nodes[WUXI].call("perform", number=number, role="reviewer", action="review")
    handle(nodes[WUXI], number)

    def scored() -> dict[str, Any] | None:
        (item,) = [c for c in nodes[MINISTRY].call("spot_checks") if c["check_id"] == check]
        return item if item["status"] == "closed" else None

    item = until(scored, "抽检工单的办结动态回到部级")
    assert item["on_time"] is True and item["overdue"] is False
    assert None not in (item["accepted_at"], item["signed_at"], item["replied_at"], item["closed_at"])
    assert item["due_at"] is not None  # Wuxi's own time limit, reported with its acceptance

    def holders() -> dict[str, dict[str, Any]]:
        found = {}
        for region in TREE:
            for b in nodes[region].call("bulletins"):
                if b["bulletin_id"] == bulletin:
                    found[region] = b
        return found if len(found) == len(TREE) else {}

    held = until(holders, "知识通报到达每个节点")
    assert {r: b["origin"] for r, b in held.items()} == {
        MINISTRY: MINISTRY,
        JS: MINISTRY,
        ZJ: MINISTRY,
        NANJING: JS,
        WUXI: JS,
        HANGZHOU: ZJ,
        NINGBO: ZJ,
    }
    assert {b["issuer"] for b in held.values()} == {MINISTRY}
    assert {b["title"] for b in held.values()} == {"网约车投诉处理口径"}
    until(lambda: settled(nodes), "所有报文送达并处理")


def test_attacks_from_a_compromised_city_are_refused_over_the_wire(network: dict[str, Node]) -> None:
    """Nanjing's own keys and certificate, used by an attacker against Jiangsu (issue #15): each
    message refused with its reason, nothing stored, the refusals counted on Jiangsu's metrics."""
    import grpc

    from federation import envelope as E
    from federation import seal
    from federation.v1 import federation_pb2 as pb

    nanjing = network[NANJING].home
    channel = grpc.secure_channel(
        network[JS].address,
        grpc.ssl_channel_credentials(nanjing.tls.root, nanjing.tls.key, nanjing.tls.chain),
        options=[("grpc.ssl_target_name_override", pki.san_for(JS))],
    )
    push = channel.unary_unary(
        "/federation.v1.Federation/Push",
        request_serializer=lambda b: b,
        response_deserializer=pb.Ack.FromString,
    )

    def via_jiangsu(message: Any, destination: str) -> str:
        inner = E.seal(message, key=nanjing.key, destination=destination)
        message_id = pb.EnvelopeHeader.FromString(inner.header).message_id
        outer = E.wrap_for_relay(
            inner.SerializeToString(), key=nanjing.key, next_hop=JS, message_id=message_id
        )
        ack = push(outer.SerializeToString(), timeout=10)
        assert ack.status == pb.Ack.REJECTED, ack
        return pb.Ack.Reason.Name(ack.reason)

    def sealed(message: Any, region: str) -> Any:
        return seal.seal(message, f"x25519:{region}:1", seal.public_bytes(network[region].home.seal))

    before = network[JS].call("state")
    hangzhou_order = "330100202503011000001"
    records = pb.OrderRecordBatch(
        records=[
            pb.OrderRecord(
                order_number=hangzhou_order, origin_node=HANGZHOU, handling_node=NANJING, revision=999
            )
        ]
    )
    assert via_jiangsu(records, MINISTRY) == "RECORD_NOT_IN_SUBTREE"
    invented = pb.OrderRecordBatch(
        records=[
            pb.OrderRecord(order_number="330100202503019999999", origin_node=NANJING, handling_node=NANJING)
        ]
    )
    assert via_jiangsu(invented, MINISTRY) == "NUMBER_NOT_ORIGIN"
    wuxi_order = pb.OrderTransfer(
        transfer_id="evil", order_number="320200202503011000001", from_node=NANJING, to_node=HANGZHOU
    )
    assert via_jiangsu(sealed(wuxi_order, HANGZHOU), HANGZHOU) == "TRANSFER_NOT_HELD"
    forged = pb.OrderUpdate(
        order_number=hangzhou_order, transfer_id="never", from_node=NANJING, to_node=HANGZHOU,
        kind=pb.OrderUpdate.CLOSED, sequence=1,
    )  # fmt: skip
    assert via_jiangsu(sealed(forged, HANGZHOU), HANGZHOU) == "UNKNOWN_TRANSFER"
    in_clear = pb.OrderTransfer(
        transfer_id="clear", order_number="320100202503011000001", from_node=NANJING, to_node=HANGZHOU,
        order=pb.OrderDetail(contact_phone="13800000000"),
    )  # fmt: skip
    assert via_jiangsu(in_clear, HANGZHOU) == "SEAL_INVALID"
    channel.close()
    after = network[JS].call("state")
    assert after["remote_orders"] == before["remote_orders"] and not after["inbox_failed"]


def test_monthly_forms_go_up_and_roll_up_through_an_outage(network: dict[str, Node]) -> None:
    """The worker's stats_forms job at each city sends its month's form up; Jiangsu keeps its cities'
    forms, the ministry everyone's; a rollup equals the sum of the forms; a re-sent form replaces
    the earlier one; one sent while the province is down arrives after its restart."""
    nodes = network
    today = clock.today()
    month = today.strftime("%Y-%m")
    next_month = (today.replace(day=28) + dt.timedelta(days=4)).replace(day=1).isoformat()
    for region in (NANJING, WUXI, HANGZHOU, NINGBO):
        for state in ("closed", "dispatched"):
            nodes[region].call(
                "make_order", state=state, unit=f"U{region}", fields={"region_code": DISTRICT[region]}
            )
        written = nodes[region].call("forms_job", today=next_month)
        assert f"12328统计报表-{month}.xlsx" in written
        assert nodes[region].call("forms_job", today=next_month) == []  # once per period
    until(lambda: settled(nodes), "月报送达")
    held = {f["node"] for f in nodes[MINISTRY].call("forms", period=month)}
    assert held == {NANJING, WUXI, HANGZHOU, NINGBO}
    assert {f["node"] for f in nodes[JS].call("forms", period=month)} == {NANJING, WUXI}
    assert {f["node"] for f in nodes[ZJ].call("forms", period=month)} == {HANGZHOU, NINGBO}

    def summary(form: dict[str, Any]) -> dict[str, list[Any]]:
        return {r["cells"][0]: r["cells"] for r in form["sections"][0]["rows"]}

    def channels(form: dict[str, Any]) -> dict[str, Any]:
        return {r["cells"][0]: r["cells"][1] for r in form["sections"][1]["rows"]}

    own = {r: nodes[MINISTRY].call("form_of", node=r, period=month) for r in (NANJING, WUXI)}
    assert own[NANJING] == nodes[JS].call("form_of", node=NANJING, period=month)
    js = nodes[JS].call("form_rollup", period=month)
    assert js["nodes"] == [NANJING, WUXI] and js["missing"] == []
    assert nodes[MINISTRY].call("form_rollup", period=month, region=JS)["sections"] == js["sections"]
    parts = [summary(own[NANJING]), summary(own[WUXI])]
    for name, cells in summary(js).items():
        nums = [p[name][2] for p in parts]
        dens = [p[name][3] for p in parts]
        assert cells[2] == (None if None in nums else sum(nums)), name
        assert cells[3] == (None if None in dens else sum(dens)), name
    assert summary(js)["受理量"][1] == parts[0]["受理量"][1] + parts[1]["受理量"][1] > 0
    for name, count in channels(js).items():
        assert count == channels(own[NANJING]).get(name, 0) + channels(own[WUXI]).get(name, 0), name

    # re-sent: replaces the same node + period; sent while Jiangsu is down: arrives after its restart
    first = {f["node"]: f["revision"] for f in nodes[MINISTRY].call("forms", period=month)}
    nodes[JS].pin_port()
    nodes[JS].kill()
    nodes[NANJING].call("make_order", state="closed", unit=f"U{NANJING}", fields={"region_code": "320102"})
    revision = nodes[NANJING].call("form", period=month)
    assert revision > first[NANJING]
    time.sleep(2)
    nodes[JS].start()

    def revised() -> bool:
        return all(
            {f["node"]: f["revision"] for f in nodes[r].call("forms", period=month)}.get(NANJING) == revision
            for r in (JS, MINISTRY)
        )

    until(revised, "重启后更正的月报送达省和部", timeout=90)
    until(lambda: settled(nodes), "所有报文送达并处理", timeout=90)
    assert len(nodes[MINISTRY].call("forms", period=month)) == 4
    after = nodes[JS].call("form_rollup", period=month)
    assert summary(after)["受理量"][1] == summary(js)["受理量"][1] + 1
